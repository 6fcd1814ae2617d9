-- tarn: materialization_strategy=REPLACE
-- Trips and fares per borough: cleaned trips joined with the lake table zones.
select
    z.borough,
    count(*) as trips,
    round(avg(t.fare), 2) as avg_fare,
    round(avg(t.fare_per_mile), 2) as avg_fare_per_mile
from clean_trips t
join zones z on z.zone = t.pickup_zone
group by z.borough
order by trips desc
