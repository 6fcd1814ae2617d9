"""(c) as (b), batch by batch: memory stays flat in the table's size."""

from typing import Iterator

import pyarrow as pa
import tarn
from common import tenth


@tarn.model(materialization_strategy="REPLACE")
def sample_batches(li: Iterator[pa.RecordBatch] = tarn.Model("lineitem")) -> Iterator[pa.RecordBatch]:
    for batch in li:
        yield batch.filter(tenth(batch))
