-- tarn: materialization_strategy=REPLACE
-- Trips and average fare per pickup zone, from the cleaned trips.
select
    pickup_zone,
    count(*) as trips,
    round(avg(fare), 2) as avg_fare,
    round(avg(fare_per_mile), 2) as avg_fare_per_mile
from clean_trips
group by pickup_zone
order by trips desc
