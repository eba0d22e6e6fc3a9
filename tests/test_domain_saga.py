"""The saga's reactions run each command once, even when the causing event is delivered twice."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from labkit.domain import APPROVED, CANCELLED, REJECTED, Customer, Order, saga_reaction
from labkit.domain.saga import Reaction
from labkit.events import EventStore, RecordedEvent, Repository, Subscription, derived_event_id


def run_saga(repository: Repository, store: EventStore) -> None:
    def react(events, connection):
        for event in events:
            reaction = saga_reaction(event)
            if reaction is not None:
                reaction.execute(repository)

    while Subscription("saga", store, store, react).run():
        pass


def test_the_choreography_approves_rejects_and_releases():
    store = EventStore(":memory:")
    repository = Repository(store)
    repository.save(Customer.register("customer-7", "Ada Lovelace", 300))
    repository.save(Order.place("order-1", "customer-7", 200))
    repository.save(Order.place("order-2", "customer-7", 200))
    run_saga(repository, store)
    first, second = repository.load(Order, "order-1"), repository.load(Order, "order-2")
    assert (first.state, second.state) == (APPROVED, REJECTED)
    first.cancel("changed my mind")
    repository.save(first)
    run_saga(repository, store)
    customer = repository.load(Customer, "customer-7")
    assert (repository.load(Order, "order-1").state, customer.reserved_credit) == (CANCELLED, 0)
    released = store.read_stream("customer-7")[-1]
    cancelled = store.read_stream("order-1")[-1]
    assert released.event_type == "CreditReleased"
    assert released.metadata["causation_id"] == str(cancelled.event_id)


def test_a_reaction_delivered_twice_appends_nothing_the_second_time():
    store = EventStore(":memory:")
    repository = Repository(store)
    repository.save(Customer.register("customer-7", "Ada Lovelace", 300))
    repository.save(Order.place("order-1", "customer-7", 200))
    created = store.read_stream("order-1")[0]
    reaction = saga_reaction(created)
    assert reaction is not None and reaction.command == "reserve_credit"
    assert reaction.execute(repository) is not None
    assert reaction.execute(repository) is None
    assert repository.load(Customer, "customer-7").reserved_credit == 200
    assert saga_reaction(store.read_stream("customer-7")[0]) is None  # CustomerCreated starts nothing


def recorded(event_type: str, aggregate_id: str, data: dict, metadata: dict | None = None) -> RecordedEvent:
    return RecordedEvent(
        position=7,
        aggregate_id=aggregate_id,
        aggregate_type="Customer" if event_type.startswith("Credit") else "Order",
        version=2,
        event_id=UUID("00000000-0000-4000-8000-000000000007"),
        event_type=event_type,
        event_data=data,
        metadata=metadata or {},
        recorded_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_each_event_of_the_saga_triggers_its_command_caused_by_that_event():
    created = recorded("OrderCreated", "order-1", {"customer_id": "customer-7", "order_total": 200})
    reserved = recorded("CreditReserved", "customer-7", {"order_id": "order-1", "amount": 200})
    exceeded = recorded(
        "CreditLimitExceeded", "customer-7", {"order_id": "order-2", "amount": 500, "available_credit": 100}
    )
    cancelled = recorded("OrderCancelled", "order-1", {"customer_id": "customer-7", "reason": "changed my mind"})
    assert saga_reaction(created) == Reaction(
        "Customer", "customer-7", "reserve_credit", {"order_id": "order-1", "amount": 200}, created
    )
    assert saga_reaction(reserved) == Reaction("Order", "order-1", "approve", {}, reserved)
    rejection = saga_reaction(exceeded)
    assert rejection is not None and (rejection.aggregate_type, rejection.aggregate_id, rejection.command) == (
        "Order",
        "order-2",
        "reject",
    )
    assert rejection.cause == exceeded
    assert "500" in rejection.arguments["reason"] and "100" in rejection.arguments["reason"]
    assert saga_reaction(cancelled) == Reaction(
        "Customer", "customer-7", "release_credit", {"order_id": "order-1"}, cancelled
    )
    assert saga_reaction(recorded("OrderShipped", "order-1", {})) is None


def test_a_reaction_names_each_emitted_event_by_its_cause_command_and_rank():
    cause = recorded("OrderCreated", "order-1", {"customer_id": "customer-7", "order_total": 200})
    reaction = saga_reaction(cause)
    assert reaction is not None
    again = Reaction("Customer", "customer-7", "reserve_credit", {}, cause)
    other = Reaction("Customer", "customer-7", "release_credit", {}, cause)
    # Stored ids: the scheme (cause, command, rank) must not change from one release to the next, or a reaction
    # retried after an upgrade would append its events again (the services derive them the same way).
    assert reaction.event_id(0) == again.event_id(0) == derived_event_id(cause.event_id, "reserve_credit:0")
    assert len({reaction.event_id(0), reaction.event_id(1), other.event_id(0)}) == 3
    assert Reaction("Order", "order-1", "approve").event_id(0) is None


def test_reaction_events_carry_the_cause_as_causation_and_keep_its_correlation():
    store = EventStore(":memory:")
    repository = Repository(store)
    repository.save(Customer.register("customer-7", "Ada Lovelace", 300))
    repository.save(Order.place("order-1", "customer-7", 200), metadata={"correlation_id": "request-42"})
    repository.save(Order.place("order-2", "customer-7", 50))
    for order_id in ("order-1", "order-2"):
        created = store.read_stream(order_id)[0]
        result = saga_reaction(created).execute(repository)
        assert result is not None
        (reserved,) = result.appended
        assert reserved.event_id == derived_event_id(created.event_id, "reserve_credit:0")
        correlation = "request-42" if order_id == "order-1" else str(created.event_id)
        assert reserved.metadata == {"correlation_id": correlation, "causation_id": str(created.event_id)}
        assert store.read_stream("customer-7")[-1] == reserved


def test_a_reaction_without_a_cause_runs_with_fresh_ids_and_no_causation():
    store = EventStore(":memory:")
    repository = Repository(store)
    repository.save(Order.place("order-1", "customer-7", 200))
    result = Reaction("Order", "order-1", "approve").execute(repository)
    assert result is not None
    (approved,) = result.appended
    assert (approved.event_type, approved.version, approved.metadata) == ("OrderApproved", 2, {})
    assert repository.load(Order, "order-1").state == APPROVED
