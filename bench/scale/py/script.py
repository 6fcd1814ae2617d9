"""The baseline: the benchmark's models as plain pyarrow, reading the table's Parquet data files
with the dataset scanner and writing the result as Parquet.

    python script.py agg|sample|sample_table OUT.parquet FILE...

Prints one line: rows read, rows written, seconds.
"""

import sys
import time
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

COLUMNS = ["l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount"]


def tenth(batch):
    k = pc.add(batch.column("l_orderkey").cast(pa.int64()), batch.column("l_linenumber").cast(pa.int64()))
    return pc.equal(pc.subtract(k, pc.multiply(pc.divide(k, 10), 10)), 0)


def main(variant, out, files):
    start = time.perf_counter()
    dataset = ds.dataset(files, format="parquet")
    if variant == "agg":
        # a literal of the column's type (an int literal against a decimal fails in pyarrow)
        quantity = dataset.schema.field("l_quantity").type
        bound = pa.scalar(Decimal(24), quantity) if pa.types.is_decimal(quantity) else 24
        table = dataset.to_table(columns=COLUMNS, filter=pc.field("l_quantity") < bound)
        result = table.group_by(["l_returnflag", "l_linestatus"]).aggregate(
            [("l_quantity", "sum"), ("l_extendedprice", "sum"), ("l_discount", "mean"), ("l_quantity", "count")]
        )
        pq.write_table(result, out)
        read, written = table.num_rows, result.num_rows
    elif variant == "sample":  # streaming: batches in, batches out
        writer = None
        read = written = 0
        for batch in dataset.to_batches():
            kept = batch.filter(tenth(batch))
            if writer is None:
                writer = pq.ParquetWriter(out, kept.schema)
            writer.write_batch(kept)
            read += batch.num_rows
            written += kept.num_rows
        writer.close()
    elif variant == "sample_table":  # (b)'s own form, for reference: the whole table in memory
        table = dataset.to_table()
        kept = table.filter(tenth(table))
        pq.write_table(kept, out)
        read, written = table.num_rows, kept.num_rows
    else:
        raise SystemExit(f"unknown variant {variant}")
    print(f"rows_read={read} rows_written={written} seconds={time.perf_counter() - start:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
