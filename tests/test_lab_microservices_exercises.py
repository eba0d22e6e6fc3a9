"""Notebook 07's exercise checker: two different correct compensations pass, wrong ones fail with the hint."""

from __future__ import annotations

from labkit.domain.saga import Reaction
from labkit.lab.microservices.exercises import COMPENSATION_CASES, check_compensation


def compensate_by_fields(event):
    if event.event_type != "OrderCancelled":
        return None
    return Reaction(
        "Customer", event.event_data["customer_id"], "release_credit", {"order_id": event.aggregate_id}, event
    )


RELEASES = {"OrderCancelled": "release_credit"}


def compensate_by_table(event):
    command = RELEASES.get(event.event_type)
    return (
        Reaction(
            aggregate_type="Customer",
            aggregate_id=event.event_data["customer_id"],
            command=command,
            arguments={"order_id": event.aggregate_id},
            cause=event,
        )
        if command
        else None
    )


def test_two_different_correct_compensations_pass():
    for answer in (compensate_by_fields, compensate_by_table):
        verdict = check_compensation(answer)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(COMPENSATION_CASES) == 3


def test_a_compensation_without_its_cause_releases_twice_and_is_told_why():
    def no_cause(event):
        if event.event_type == "OrderCancelled":
            return Reaction(
                "Customer", event.event_data["customer_id"], "release_credit", {"order_id": event.aggregate_id}
            )
        return None

    verdict = check_compensation(no_cause)
    assert verdict.failed == "given OrderCancelled delivered twice, when run, then the credit is released once"
    assert "give the event as the Reaction's cause" in (verdict.hint or "")
    assert len(verdict.passed) == 2


def test_releasing_the_wrong_order_or_reacting_to_everything_fail_on_their_case():
    def wrong_order(event):
        if event.event_type == "OrderCancelled":
            return Reaction(
                "Customer", event.event_data["customer_id"], "release_credit", {"order_id": "order-1"}, event
            )
        return None

    verdict = check_compensation(wrong_order)
    assert verdict.failed == "given OrderCancelled, when compensating, then release_credit on its customer"
    assert "arguments={'order_id': 'order-101'}" in (verdict.hint or "")

    def everything(event):
        return Reaction("Customer", "customer-7", "release_credit", {"order_id": event.aggregate_id}, event)

    verdict = check_compensation(everything)
    assert verdict.failed == "given any other event of the saga, when compensating, then nothing"


def test_an_answer_that_is_not_a_function_is_named():
    verdict = check_compensation(None)
    assert not verdict.ok and "give the function itself" in (verdict.hint or "")
