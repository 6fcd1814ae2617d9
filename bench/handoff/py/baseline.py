"""bench/handoff baselines, run with the same environment's python (no sandbox).

  baseline.py copy    ARROW_FILE           memcpy-style: copy every column buffer (numpy) of the table
  baseline.py pqwrite ARROW_FILE PARQUET   Parquet write of the same table (pyarrow defaults: snappy)
  baseline.py pqread  PARQUET              Parquet read back into a pyarrow Table, then read every byte

Prints one line "BENCH {json}".
"""
import json
import sys
import time


def _mem():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:", "RssAnon:", "RssShmem:", "RssFile:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0]) * 1024
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Rss", "Pss", "Pss_Anon", "Pss_Shmem", "Pss_File"):
                out[k] = int(v.split()[0]) * 1024
    return out


def _touch(table):
    import pyarrow.compute as pc

    for col in table.columns:
        for chunk in col.chunks:
            pc.sum(chunk)


def main():
    import pyarrow as pa

    mode = sys.argv[1]
    out = {"role": mode}
    if mode == "copy":
        import numpy as np

        table = pa.ipc.open_file(pa.memory_map(sys.argv[2], "r")).read_all()
        _touch(table)  # fault the source pages in first: time the copy alone
        t0 = time.perf_counter()
        copies = []
        for col in table.columns:
            for chunk in col.chunks:
                for buf in chunk.buffers():
                    if buf is not None:
                        copies.append(np.frombuffer(buf, dtype=np.uint8).copy())
        out["copy_seconds"] = time.perf_counter() - t0
        out["copied_bytes"] = sum(c.nbytes for c in copies)
    elif mode == "pqwrite":
        import pyarrow.parquet as pq

        table = pa.ipc.open_file(pa.memory_map(sys.argv[2], "r")).read_all()
        t0 = time.perf_counter()
        pq.write_table(table, sys.argv[3])
        out["write_seconds"] = time.perf_counter() - t0
    elif mode == "pqread":
        import os
        import pyarrow.parquet as pq

        t0 = time.perf_counter()
        table = pq.read_table(sys.argv[2])
        out["read_seconds"] = time.perf_counter() - t0
        out["parquet_bytes"] = os.path.getsize(sys.argv[2])
        t0 = time.perf_counter()
        _touch(table)
        out["touch_seconds"] = time.perf_counter() - t0
        out["nbytes"] = table.nbytes
    out["mem"] = _mem()
    print("BENCH " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
