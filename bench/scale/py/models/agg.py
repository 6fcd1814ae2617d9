"""(a) 5 columns, a filter pushed into the scan, a group-by."""

import tarn


@tarn.model(materialization_strategy="REPLACE")
def agg(li=tarn.Model("lineitem", columns=["l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount"], filter="l_quantity < 24")):
    return li.group_by(["l_returnflag", "l_linestatus"]).aggregate(
        [("l_quantity", "sum"), ("l_extendedprice", "sum"), ("l_discount", "mean"), ("l_quantity", "count")]
    )
