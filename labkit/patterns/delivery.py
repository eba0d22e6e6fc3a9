"""Unreliable delivery, on purpose: a seeded feed that repeats and delays events, as at-least-once transports do.

`unreliable_delivery(events, seed=, duplicate_rate=, delay_rate=, max_delay=)` returns the events in the order a
consumer would receive them: some twice (the repeat comes a few deliveries later, as after a redelivery), some
delayed past the events behind them (so a later version of an aggregate can arrive before an earlier one).
`DeliveryFeed(deliveries)` serves such a list to a pull subscriber: delivery i is at position i (1-based), so a
checkpoint over the feed is honest while the events themselves keep their ids and versions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from labkit.events import RecordedEvent
from labkit.patterns.errors import PatternsError


def unreliable_delivery(
    events: Sequence[RecordedEvent],
    *,
    seed: int,
    duplicate_rate: float = 0.1,
    delay_rate: float = 0.1,
    max_delay: int = 5,
) -> list[RecordedEvent]:
    """The events as a flaky transport delivers them: seeded repeats and delays (the same seed, the same order)."""
    for name, rate in (("duplicate_rate", duplicate_rate), ("delay_rate", delay_rate)):
        if not 0.0 <= rate <= 1.0:
            raise PatternsError(f"{name} must be between 0 and 1, got {rate}")
    if max_delay < 1:
        raise PatternsError(f"max_delay must be 1 or more deliveries, got {max_delay}")
    rng = random.Random(seed)
    # Each delivery gets a sort key: its index, plus a delay for the unlucky ones; repeats come after the original.
    keyed: list[tuple[float, int, RecordedEvent]] = []
    for index, event in enumerate(events):
        delay = rng.randint(1, max_delay) + 0.5 if rng.random() < delay_rate else 0.0
        keyed.append((index + delay, len(keyed), event))
        if rng.random() < duplicate_rate:
            keyed.append((index + delay + rng.randint(1, max_delay) + 0.25, len(keyed), event))
    return [event for _, _, event in sorted(keyed, key=lambda item: (item[0], item[1]))]


def out_of_order_count(deliveries: Sequence[RecordedEvent]) -> int:
    """How many deliveries come before an earlier version of their aggregate that was not delivered yet."""
    seen: dict[str, set[int]] = {}
    early = 0
    for event in deliveries:
        versions = seen.setdefault(event.aggregate_id, set())
        if any(v not in versions for v in range(1, event.version)):
            early += 1
        versions.add(event.version)
    return early


class DeliveryFeed:
    """A list of deliveries as a pull source: `read_all(after_position=, limit=)`, delivery i at position i."""

    def __init__(self, deliveries: Sequence[RecordedEvent]) -> None:
        self.deliveries = [replace(event, position=i) for i, event in enumerate(deliveries, start=1)]

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to `limit` deliveries after `after_position`."""
        return self.deliveries[after_position : after_position + limit]

    def head_position(self) -> int:
        """The position of the last delivery."""
        return len(self.deliveries)
