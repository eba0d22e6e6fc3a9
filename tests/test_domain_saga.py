"""The saga's reactions run each command once, even when the causing event is delivered twice."""

from __future__ import annotations

from labkit.domain import APPROVED, CANCELLED, REJECTED, Customer, Order, saga_reaction
from labkit.events import EventStore, Repository, Subscription


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
