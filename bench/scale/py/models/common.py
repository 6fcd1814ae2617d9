"""What the benchmark's models share with each other (script.py has its own copy)."""

import pyarrow as pa
import pyarrow.compute as pc


def tenth(batch):
    """A deterministic 10% sample: (l_orderkey + l_linenumber) % 10 == 0."""
    k = pc.add(batch.column("l_orderkey").cast(pa.int64()), batch.column("l_linenumber").cast(pa.int64()))
    return pc.equal(pc.subtract(k, pc.multiply(pc.divide(k, 10), 10)), 0)
