"""Step 2: derived columns. The benchmark edits LONG_TRIP_MILES before each re-run."""
import time

import pyarrow.compute as pc

import tarn

LONG_TRIP_MILES = 10.0


@tarn.model(materialization_strategy="REPLACE")
def enriched_trips(trips=tarn.Model("clean_trips")):
    print("@mark start", time.time_ns(), flush=True)
    out = trips.append_column("fare_per_mile", pc.round(pc.divide(trips["fare"], trips["miles"]), 2))
    out = out.append_column("tip_pct", pc.round(pc.multiply(pc.divide(trips["tip"], trips["fare"]), 100), 1))
    out = out.append_column("hour", pc.hour(trips["pickup_at"]))
    out = out.append_column("is_long", pc.greater(trips["miles"], LONG_TRIP_MILES))
    print("@mark end", time.time_ns(), flush=True)
    return out
