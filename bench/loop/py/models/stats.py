"""Step 3: aggregate per pickup zone and hour. The benchmark edits MIN_TRIPS to measure a re-run after editing the last step."""
import time

import pyarrow.compute as pc

import tarn

MIN_TRIPS = 0


@tarn.model(materialization_strategy="REPLACE")
def zone_hour_stats(trips=tarn.Model("enriched_trips")):
    print("@mark start", time.time_ns(), flush=True)
    out = trips.group_by(["pickup_zone", "hour"]).aggregate([
        ("trip_id", "count"), ("fare", "mean"), ("tip_pct", "mean"), ("miles", "sum"), ("is_long", "sum"),
    ])
    out = out.filter(pc.greater(out["trip_id_count"], MIN_TRIPS))
    print("@mark end", time.time_ns(), flush=True)
    return out
