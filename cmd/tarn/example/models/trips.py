"""Example models: load the sample trips, clean them, check them."""
from pathlib import Path

import pyarrow.csv as csv

import tarn


@tarn.model(materialization_strategy="REPLACE")
def raw_trips():
    """The sample CSV shipped with the project, as a table."""
    return csv.read_csv(Path(__file__).parent.parent / "data" / "trips.csv")


@tarn.model(materialization_strategy="REPLACE", partitioned_by=["day(pickup_at)"])
@tarn.python("3.11", pip={"pandas": "2.2.3"})
def clean_trips(
    trips=tarn.Model("raw_trips", columns=["trip_id", "pickup_at", "pickup_zone", "miles", "fare"], filter="fare > 0"),
    min_miles=tarn.Parameter("min_miles"),
):
    """Trips of at least min_miles, with the fare per mile."""
    df = trips.to_pandas()
    print(f"{len(df)} trips in, keeping those of at least {min_miles} miles")
    df = df[df.miles >= min_miles].copy()
    df["fare_per_mile"] = (df.fare / df.miles).round(2)
    return df


@tarn.expectation()
def fares_are_positive(trips=tarn.Model("clean_trips", columns=["fare", "trip_id"])):
    """Every cleaned trip has a positive fare and a unique id."""
    return tarn.expectations.min_between(trips, "fare", min=0.01) and tarn.expectations.all_unique(trips, "trip_id")
