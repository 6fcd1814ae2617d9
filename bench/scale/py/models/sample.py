"""(b) every column, the whole table in, a 10% sample out."""

import tarn
from common import tenth


@tarn.model(materialization_strategy="REPLACE")
def sample(li=tarn.Model("lineitem")):
    return li.filter(tenth(li))
