"""Step 3: aggregate per pickup zone and hour."""
import time

import tarn


@tarn.model(materialization_strategy="REPLACE")
def zone_hour_stats(trips=tarn.Model("enriched_trips")):
    print("@mark start", time.time_ns(), flush=True)
    out = trips.group_by(["pickup_zone", "hour"]).aggregate([
        ("trip_id", "count"), ("fare", "mean"), ("tip_pct", "mean"), ("miles", "sum"), ("is_long", "sum"),
    ])
    print("@mark end", time.time_ns(), flush=True)
    return out
