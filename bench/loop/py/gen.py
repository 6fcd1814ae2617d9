"""Generate the loop benchmark's input: taxi-like trips, about GB gigabytes as Arrow in memory.

usage: python gen.py OUT.parquet GB
Written in row groups of 1M rows; prints one line "BENCH {json}".
"""
import json
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

out, gb = sys.argv[1], float(sys.argv[2])
ZONES = pa.array([f"zone_{i:03d}" for i in range(265)])
PAYMENTS = pa.array(["card", "cash", "other"])
BATCH = 1_000_000
rng = np.random.default_rng(42)
t0 = time.perf_counter()
rows = nbytes = 0
writer = None
start_us = 1_767_225_600_000_000  # 2026-01-01
while nbytes < gb * 1e9:
    n = BATCH
    miles = rng.gamma(2.0, 1.6, n)
    miles[rng.random(n) < 0.03] = 0.0                    # broken rows the clean step drops
    fare = 3.0 + miles * 2.5 + rng.normal(0, 1.5, n)
    fare[rng.random(n) < 0.02] = -1.0
    passengers = rng.integers(0, 6, n)
    batch = pa.record_batch({
        "trip_id": pa.array(np.arange(rows, rows + n, dtype=np.int64)),
        "pickup_at": pa.array(start_us + np.sort(rng.integers(0, 30 * 86_400_000_000, n)), pa.timestamp("us")),
        "pickup_zone": ZONES.take(pa.array(rng.integers(0, 265, n))),
        "dropoff_zone": ZONES.take(pa.array(rng.integers(0, 265, n))),
        "passengers": pa.array(passengers),
        "miles": pa.array(np.round(miles, 2)),
        "fare": pa.array(np.round(fare, 2)),
        "tip": pa.array(np.round(np.maximum(0, fare) * rng.uniform(0, 0.3, n), 2)),
        "payment": PAYMENTS.take(pa.array(rng.integers(0, 3, n))),
    })
    if writer is None:
        writer = pq.ParquetWriter(out, batch.schema)
    writer.write_batch(batch, row_group_size=BATCH)
    rows += n
    nbytes += batch.nbytes
writer.close()
print("BENCH " + json.dumps({"rows": rows, "arrow_bytes": nbytes, "seconds": time.perf_counter() - t0}))
