"""The operations of the dual-write runs: seeded "place order" commands, the same list for every design."""

from __future__ import annotations

import random
from dataclasses import dataclass

from labkit.patterns.errors import PatternsError


@dataclass(frozen=True)
class PlaceOrder:
    """Place order `order_id` for `customer_id` with a total in whole currency units."""

    order_id: str
    customer_id: str
    order_total: int


def place_order_commands(count: int, *, seed: int = 7, customers: int = 40) -> list[PlaceOrder]:
    """`count` orders (ids order-1...) of `customers` customers, totals between 10 and 500, from `seed`.

    >>> place_order_commands(2, seed=1)[1]
    PlaceOrder(order_id='order-2', customer_id='customer-5', order_total=170)
    """
    if count < 0 or customers < 1:
        raise PatternsError(f"need 0 or more orders and 1 or more customers, got {count} and {customers}")
    rng = random.Random(seed)
    return [
        PlaceOrder(f"order-{i}", f"customer-{rng.randint(1, customers)}", rng.randint(1, 50) * 10)
        for i in range(1, count + 1)
    ]
