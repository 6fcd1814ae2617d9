"""bench/handoff models: produce builds a table of N GiB, consume receives it.

Both run as real tarn workers (python -m tarn._worker SPEC.json through
runtime.RunWorker, sandboxed like a tarn run). Figures go to stdout as one
line "BENCH {json}" that the Go side picks out of the worker's output.
"""
import json
import os
import time

import tarn


def _mem():
    """This process's memory (bytes): peak RSS, and RSS/PSS split from smaps_rollup."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:", "RssAnon:", "RssShmem:", "RssFile:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0]) * 1024
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Pss", "Pss_Anon", "Pss_Shmem", "Pss_File", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


@tarn.model()
def produce(gib=tarn.Parameter("gib"), ncols=tarn.Parameter("ncols")):
    """ncols int64/float64 columns totalling gib GiB, built without copies (numpy -> Arrow buffers)."""
    import numpy as np
    import pyarrow as pa

    t0 = time.perf_counter()
    rows = int(float(gib) * 2**30) // (8 * int(ncols))
    arrays, names = [], []
    for i in range(int(ncols)):
        if i % 2 == 0:
            a = np.arange(rows, dtype=np.int64)
            a *= i + 1
            typ = pa.int64()
        else:
            a = np.arange(rows, dtype=np.float64)
            a *= 0.5 + i
            typ = pa.float64()
        # zero-copy: the Arrow array points at numpy's buffer
        arrays.append(pa.Array.from_buffers(typ, rows, [None, pa.py_buffer(a)]))
        names.append(f"c{i}")
    table = pa.Table.from_arrays(arrays, names=names)
    print("BENCH " + json.dumps({"role": "produce", "rows": rows, "nbytes": table.nbytes,
                                 "gen_seconds": time.perf_counter() - t0, "mem": _mem()}), flush=True)
    return table


@tarn.model()
def consume(data=tarn.Model("produce")):
    """Receives the table (memory-mapped by the worker), then reads every byte once."""
    first_line_ns = time.time_ns()
    import pyarrow.compute as pc

    mem_received = _mem()
    t0 = time.perf_counter()
    for col in data.columns:
        for chunk in col.chunks:
            pc.sum(chunk)
    touch = time.perf_counter() - t0
    print("BENCH " + json.dumps({"role": "consume", "first_line_ns": first_line_ns, "rows": data.num_rows,
                                 "nbytes": data.nbytes, "touch_seconds": touch,
                                 "mem_received": mem_received, "mem": _mem()}), flush=True)
    import pyarrow as pa
    return pa.table({"rows": [data.num_rows]})
