//go:build integration

package integration

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// stepStates runs a project with -o json and returns each step's state.
func stepStates(t *testing.T, home, dir string) (map[string]string, runOut) {
	t.Helper()
	r := tarnRun(t, home, "run", "-p", dir, "--dry-run", "-o", "json")
	var res struct {
		Steps []struct{ Name, State, Error string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("run -o json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	states := map[string]string{}
	for _, s := range res.Steps {
		states[s.Name] = s.State
	}
	return states, r
}

// TestPipeline_StepOutcomes: each step reports its own outcome: the one
// that failed says failed, one stopped because of it cancelled, one whose
// input failed skipped.
func TestPipeline_StepOutcomes(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	dir := project(t, map[string]string{"m.py": `import time
import tarn
import pyarrow as pa

@tarn.model()
def bad():
    time.sleep(1)
    raise ValueError("bad input")

@tarn.model()
def child(b=tarn.Model("bad")):
    return b

@tarn.model()
def slow():
    time.sleep(60)
    return pa.table({"x": [1]})
`})
	states, r := stepStates(t, home, dir)
	want := map[string]string{"bad": "failed", "child": "skipped", "slow": "cancelled"}
	for step, state := range want {
		if states[step] != state {
			t.Fatalf("step %s is %q, want %q (all: %v)\n%s", step, states[step], state, states, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, "ValueError: bad input") || !strings.Contains(r.stderr, "- child skipped (an input failed)") {
		t.Fatalf("the run does not show the failure and the skip:\n%s", r.stderr)
	}
}

// TestPipeline_EveryExpectation: failed expectations stop nothing; every
// failure is listed.
func TestPipeline_EveryExpectation(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	dir := project(t, map[string]string{"m.py": `import tarn
import pyarrow as pa

@tarn.model()
def m():
    return pa.table({"x": [1, None, 3]})

@tarn.expectation()
def has_rows(t=tarn.Model("m")):
    return t.num_rows > 0

@tarn.expectation()
def no_nulls(t=tarn.Model("m")):
    return t.column("x").null_count == 0

@tarn.expectation()
def small(t=tarn.Model("m")):
    return max(v for v in t.column("x").to_pylist() if v is not None) < 2
`})
	states, r := stepStates(t, home, dir)
	want := map[string]string{"m": "done", "has_rows": "done", "no_nulls": "failed", "small": "failed"}
	for step, state := range want {
		if states[step] != state {
			t.Fatalf("step %s is %q, want %q (all: %v)\n%s", step, states[step], state, states, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, "2 steps failed") || !strings.Contains(r.stderr, "expectation no_nulls failed") || !strings.Contains(r.stderr, "expectation small failed") {
		t.Fatalf("the run does not list every failed expectation:\n%s", r.stderr)
	}
}
