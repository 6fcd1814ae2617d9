"""Step 1: drop broken trips."""
import time

import pyarrow.compute as pc

import tarn


@tarn.model(materialization_strategy="REPLACE")
def clean_trips(trips=tarn.Model("trips")):
    print("@mark start", time.time_ns(), flush=True)
    keep = pc.and_(pc.and_(pc.greater(trips["miles"], 0), pc.greater(trips["fare"], 0)), pc.greater(trips["passengers"], 0))
    out = trips.filter(keep)
    print("@mark end", time.time_ns(), flush=True)
    return out
