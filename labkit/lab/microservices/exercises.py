"""Notebook 07's exercise: write the saga's compensation, the reaction that gives back a cancelled order's credit.

The learner writes `compensate(event)`: for an `OrderCancelled` event, the `Reaction` that runs
`Customer.release_credit` for that order (with the event as its cause); for any other event, None. `check_compensation`
judges it by its reactions and by running it for real: on an event store in memory, an approved order is cancelled
and the cancellation delivered twice, as an at-least-once feed may deliver it.
"""

from __future__ import annotations

from collections.abc import Callable

from labkit.domain import Customer, Order
from labkit.domain.saga import Reaction, saga_reaction
from labkit.events import EventStore, RecordedEvent, Repository
from labkit.lab.exercises import Case, Failed, Verdict, check, expect

Compensation = Callable[[RecordedEvent], Reaction | None]


def _cancelled_order() -> tuple[Repository, RecordedEvent]:
    """Customer 7 (limit 1000) with Order 101 (250) approved by the saga, then cancelled: the store and the event."""
    repository = Repository(EventStore(":memory:"))
    repository.save(Customer.register("customer-7", "Customer 7", 1000))
    placed = repository.save(Order.place("order-101", "customer-7", 250)).appended[0]
    reserved = saga_reaction(placed).execute(repository).appended[0]  # type: ignore[union-attr]
    saga_reaction(reserved).execute(repository)  # type: ignore[union-attr]
    order = repository.load(Order, "order-101")
    order.cancel("the customer changed their mind")
    return repository, repository.save(order).appended[0]


def _names_the_release(answer: Compensation) -> None:
    _, cancelled = _cancelled_order()
    reaction = answer(cancelled)
    expect(isinstance(reaction, Reaction), f"for OrderCancelled return a Reaction, not {reaction!r}")
    assert reaction is not None
    target = (reaction.aggregate_type, reaction.aggregate_id, reaction.command)
    expect(
        target == ("Customer", "customer-7", "release_credit"),
        f"the compensation runs release_credit on the cancelled order's customer (Customer, customer-7); got {target}",
    )
    expect(
        reaction.arguments == {"order_id": "order-101"},
        f"release_credit takes the cancelled order's id: arguments={{'order_id': 'order-101'}}, not {reaction.arguments}",
    )


def _ignores_the_rest(answer: Compensation) -> None:
    repository, _ = _cancelled_order()
    for event in repository.store.read_all():
        if event.event_type != "OrderCancelled":
            reaction = answer(event)
            expect(reaction is None, f"only OrderCancelled is compensated; for {event.event_type} return None")


def _releases_once(answer: Compensation) -> None:
    repository, cancelled = _cancelled_order()
    for delivery in (1, 2):  # the feed delivers the cancellation twice
        reaction = answer(cancelled)
        assert reaction is not None
        try:
            reaction.execute(repository)
        except Exception as error:
            raise Failed(
                f"delivery {delivery} failed ({type(error).__name__}); give the event as the Reaction's cause, so "
                "the released event's id derives from it and a second delivery appends nothing"
            ) from None
    customer = repository.load(Customer, "customer-7")
    releases = [e for e in repository.store.read_stream("customer-7") if e.event_type == "CreditReleased"]
    expect(len(releases) == 1, f"the credit must be released once, not {len(releases)} times")
    expect(customer.reserved_credit == 0, f"customer 7 should hold no reserved credit, not {customer.reserved_credit}")
    expect(
        releases[0].metadata.get("causation_id") == str(cancelled.event_id),
        "the CreditReleased event should name the cancellation as its cause (give the event as the Reaction's cause)",
    )


COMPENSATION_CASES = (
    Case("given OrderCancelled, when compensating, then release_credit on its customer", _names_the_release),
    Case("given any other event of the saga, when compensating, then nothing", _ignores_the_rest),
    Case("given OrderCancelled delivered twice, when run, then the credit is released once", _releases_once),
)


def check_compensation(answer: Compensation) -> Verdict:
    """Judge a `compensate(event)` function: passed, or the first case it fails with a hint."""
    if not callable(answer):
        verdict = Verdict()
        verdict.failed, verdict.hint = "the answer", f"give the function itself (got {answer!r})"
        return verdict
    return check(answer, COMPENSATION_CASES)
