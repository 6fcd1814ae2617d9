"""The same pipeline as a plain local script: read Parquet, run the three
model functions (the very files tarn runs, imported as modules and called
as plain functions), write each output as Parquet.

usage: python local_run.py PROJECT_DIR INPUT.parquet OUT_DIR
"""
import json
import os
import sys
import time

t_start = time.perf_counter()
import pyarrow.parquet as pq

project, src, out_dir = sys.argv[1:4]
sys.path.insert(0, os.path.join(project, "models"))
import clean  # noqa: E402
import enrich  # noqa: E402
import stats  # noqa: E402

timing = {}
t = time.perf_counter()
trips = pq.read_table(src)
timing["read_s"] = time.perf_counter() - t
table = trips
for name, fn in (("clean_trips", clean.clean_trips), ("enriched_trips", enrich.enriched_trips), ("zone_hour_stats", stats.zone_hour_stats)):
    t = time.perf_counter()
    table = fn(table)
    timing[name + "_compute_s"] = time.perf_counter() - t
    t = time.perf_counter()
    pq.write_table(table, os.path.join(out_dir, name + ".parquet"))
    timing[name + "_write_s"] = time.perf_counter() - t
    timing[name + "_rows"] = table.num_rows
timing["total_in_script_s"] = time.perf_counter() - t_start
print("BENCH " + json.dumps(timing), flush=True)
