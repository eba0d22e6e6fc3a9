"""Notebook 04's exercise checker: two different correct answers pass, wrong ones fail on the case that shows it."""

from __future__ import annotations

from labkit.domain import Order
from labkit.domain.errors import RuleViolationError, require
from labkit.events import on
from labkit.lab.eventsourcing.exercises import HOLD_CASES, OrderHeld, check_hold


class RequireAnswer(Order):
    """The notebook's solution: `require` for the rules, the previous state kept by the handler."""

    held_from: str = ""

    def hold(self, reason: str) -> None:
        require(
            self.state in ("PENDING", "APPROVED"), self.id, "only a PENDING or APPROVED order can be held", self.state
        )
        require(bool(reason), self.id, "a hold needs a reason", "no reason given")
        self.emit(OrderHeld(reason=reason))

    @on(OrderHeld)
    def _held(self, event: OrderHeld) -> None:
        self.held_from, self.state = self.state, "ON_HOLD"


class RaiseAnswer(Order):
    """Another correct answer: the rules as explicit raises, in the other order, a set of refused states."""

    held_from: str = ""
    last_hold_reason: str = ""

    def hold(self, reason: str) -> None:
        if not reason.strip():
            raise RuleViolationError(self.id, "say why the order is held", "empty reason")
        if self.state in {"SHIPPED", "REJECTED", "CANCELLED", "ON_HOLD"}:
            raise RuleViolationError(self.id, "too late to hold", f"it is {self.state}")
        self.emit(OrderHeld(reason=reason))

    @on(OrderHeld)
    def _on_hold(self, event: OrderHeld) -> None:
        previous = self.state
        self.state = "ON_HOLD"
        self.held_from = previous
        self.last_hold_reason = event.reason


def test_two_different_correct_answers_pass_every_case():
    for answer in (RequireAnswer, RaiseAnswer):
        verdict = check_hold(answer)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(HOLD_CASES) == 7
        assert str(verdict).startswith("passed: all 7 cases")


def test_holding_a_shipped_order_fails_on_that_case_with_the_hint():
    class TooLenient(RequireAnswer):
        def hold(self, reason: str) -> None:
            self.emit(OrderHeld(reason=reason))

    verdict = check_hold(TooLenient)
    assert not verdict.ok
    assert verdict.failed == "given a SHIPPED order, when hold, then it is refused"
    assert "raise RuleViolationError" in (verdict.hint or "")
    assert len(verdict.passed) == 2


def test_a_rule_checked_after_emitting_fails_as_emitting_something():
    class EmitsFirst(RequireAnswer):
        def hold(self, reason: str) -> None:
            self.emit(OrderHeld(reason=reason))
            require(self.held_from in ("PENDING", "APPROVED"), self.id, "too late", self.held_from)

    verdict = check_hold(EmitsFirst)
    assert verdict.failed == "given a SHIPPED order, when hold, then it is refused"
    assert "must emit nothing" in (verdict.hint or "")


def test_a_handler_that_forgets_the_previous_state_fails_with_what_it_should_be():
    class Forgetful(Order):
        held_from: str = ""

        def hold(self, reason: str) -> None:
            require(self.state in ("PENDING", "APPROVED"), self.id, "no", self.state)
            require(bool(reason), self.id, "no reason", "")
            self.emit(OrderHeld(reason=reason))

        @on(OrderHeld)
        def _held(self, event: OrderHeld) -> None:
            self.state = "ON_HOLD"

    verdict = check_hold(Forgetful)
    assert verdict.failed == "given a PENDING order, when hold, then OrderHeld and ON_HOLD"
    assert "held_from should remember 'PENDING'" in (verdict.hint or "")


def test_a_missing_handler_is_named_not_a_traceback():
    class NoHandler(Order):
        held_from: str = ""

        def hold(self, reason: str) -> None:
            self.emit(OrderHeld(reason=reason))

    verdict = check_hold(NoHandler)
    assert verdict.failed == "given a PENDING order, when hold, then OrderHeld and ON_HOLD"
    assert (verdict.hint or "").startswith("your code raised UnknownEventTypeError")


def test_an_answer_that_is_not_an_order_class_is_named():
    verdict = check_hold(RequireAnswer("x"))  # an instance, not the class
    assert not verdict.ok and "give the class itself" in (verdict.hint or "")
    assert verdict._repr_html_().startswith('<p><b style="color:#cf222e">failed</b>')
