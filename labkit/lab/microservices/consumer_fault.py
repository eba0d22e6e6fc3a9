"""A consumer killed mid-stream: kill -9 a service that reads its peers' events while orders stream in, restart it.

The kill waits until the victim has work in flight. Over NATS JetStream that is messages the broker delivered to it
and it has not acked: the restarted service takes them over at its start and they come again at once (a consumer
that did not restart would get them `ack_wait` after their first delivery); its checkpoint makes sure each is
applied once. Over the HTTP feeds it is events its peer holds that
it has not applied yet: nothing is redelivered, the restarted consumer pulls again after its checkpoint. What
varies from run to run (how many were held, redelivered) is kept apart from what must not vary (nothing lost, the
invariants), so notebook 07 prints the second; `labkit bench services --transport nats` reports both.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from labkit.errors import UsageError
from labkit.services import ServiceRunner, check_invariants, create_customers, order_plan, place_orders
from labkit.services.invariants import InvariantReport, wait_until_settled

CONSUMERS = (
    "customer",
    "history",
)  # the services whose consumers read a peer's events (the order service takes orders)


@dataclass(frozen=True)
class ConsumerFault:
    """What the kill cost and what it did not."""

    victim: str
    transport: str
    orders: int
    accepted: int
    held_at_kill: int  # work in flight at the kill: unacked deliveries (nats), or events not yet applied (http)
    redelivered: int | None  # deliveries the restarted victim got a second time (None: the HTTP feed redelivers none)
    duplicates: int | None  # deliveries it dropped because its checkpoint covered them (None: as above)
    settled_seconds: float  # from the restart until every order was decided and every consumer caught up
    report: InvariantReport

    def summary(self) -> str:
        """The run in sentences that hold on every run (the counts that vary are in the fields)."""
        lost = self.orders - self.accepted
        lines = [f"killed the {self.victim} service while it had work in flight: {self.held_at_kill > 0}"]
        if self.redelivered is not None:
            lines.append(f"what it held came again to its restart (redelivered > 0): {self.redelivered > 0}")
        lines += [
            f"orders placed {self.orders}, lost {lost}, decided {sum(self.report.states.values())}",
            f"invariants hold (no credit reserved twice, the view equal to the services): {self.report.ok}",
        ]
        return "\n".join(lines)


def kill_a_consumer_mid_stream(
    runner: ServiceRunner, *, victim: str = "customer", orders: int = 40, seed: int = 31, prefix: str = "fault"
) -> ConsumerFault:
    """Stream `orders` orders (4 in flight), kill -9 `victim` once it has work in flight, restart it, wait until
    everything settled, and check the invariants."""
    if victim not in CONSUMERS:
        raise UsageError(f"victim {victim!r}: kill a service that consumes its peers' events, {' or '.join(CONSUMERS)}")
    client = runner.client
    customers = create_customers(client, 5, seed=seed, prefix=f"{prefix}-customer")
    plan = order_plan(customers, orders, seed=seed, prefix=f"{prefix}-order")
    placed: dict[str, tuple[list[str], int, float]] = {}
    stream = threading.Thread(target=lambda: placed.update(result=place_orders(client, plan, concurrency=4)))
    stream.start()
    held = crash_with_work_in_flight(runner, victim, stream)
    restarted = time.perf_counter()
    runner.start(victim)
    stream.join(120)
    wait_until_settled(client, timeout=120)
    settled = time.perf_counter() - restarted
    consumers = client.status(victim)["consumers"]
    accepted = placed["result"][0] if "result" in placed else []
    over_broker = runner.broker is not None
    return ConsumerFault(
        victim,
        runner.transport,
        orders,
        len(accepted),
        held,
        sum(c["redelivered"] + c["taken_over"] for c in consumers) if over_broker else None,
        sum(c["duplicates"] for c in consumers) if over_broker else None,
        round(settled, 2),
        check_invariants(client, accepted_orders=accepted),
    )


def crash_with_work_in_flight(runner: ServiceRunner, victim: str, stream: threading.Thread) -> int:
    """kill -9 `victim` at a moment it has work in flight (or when 30 s or the stream ran out); that work.

    Over the broker the victim is frozen (SIGSTOP) while the broker is asked what it holds, so the crash lands on
    exactly that: a consumer that acked in between would leave nothing to take over. Over HTTP the lag is read from
    the victim itself, which must answer, so it runs; its unapplied events wait at the peer either way."""
    held, deadline = 0, time.monotonic() + 30
    while held == 0 and stream.is_alive() and time.monotonic() < deadline:
        if runner.broker is not None:
            runner.pause(victim)
            held = in_flight(runner, victim)
            if held == 0:
                runner.resume(victim)
                time.sleep(0.002)
        else:
            held = in_flight(runner, victim)
    runner.kill(victim)
    return held


def in_flight(runner: ServiceRunner, victim: str) -> int:
    """The victim's work in flight right now: unacked deliveries on the broker, or events its peers hold that it
    has not applied (its consumers' lag)."""
    if runner.broker is not None:
        return runner.broker.unacked((victim,))
    return sum(c["lag"] for c in runner.client.status(victim)["consumers"])
