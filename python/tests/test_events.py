"""Run events render as the shared vectors (testdata/events) say, as in the CLI."""

import json
from pathlib import Path

import pytest

from tarn import _client_types as ct

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "testdata" / "events" / "cases.json").read_text())


def test_kinds_and_states_are_the_vectors():
    assert list(ct.EVENT_KINDS) == VECTORS["kinds"]
    assert list(ct.STEP_STATES) == VECTORS["step_states"]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"{c['event'].get('kind')}-{c['event'].get('state', '')}")
def test_format_event(case):
    assert ct.format_event(case["event"]) == case["line"]
