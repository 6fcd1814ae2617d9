"""Clean the raw trips: drop short and free trips, add the fare per mile."""
import tarn


@tarn.model(materialization_strategy="REPLACE", partitioned_by=["day(pickup_at)"])
@tarn.python("3.11", pip={"pandas": "2.2.3"})
def clean_trips(
    trips=tarn.Model("trips", columns=["trip_id", "pickup_at", "pickup_zone", "miles", "fare"], filter="fare > 0"),
    min_miles=tarn.Parameter("min_miles"),
):
    df = trips.to_pandas()
    print(f"{len(df)} trips in, keeping those of at least {min_miles} miles")
    df = df[df.miles >= min_miles].copy()
    df["fare_per_mile"] = (df.fare / df.miles).round(2)
    return df


@tarn.expectation()
def trips_are_clean(trips=tarn.Model("clean_trips", columns=["trip_id", "fare"])):
    return tarn.expectations.all_unique(trips, "trip_id") and tarn.expectations.min_between(trips, "fare", min=0.01)
