"""The decomposition table is read from the code; every issue links to a notebook of the catalog."""

from __future__ import annotations

from labkit.catalog import entry
from labkit.domain import Customer, Order
from labkit.layouts.decomposition import ISSUES, decomposition_frame, issues_markdown


def test_each_service_lists_its_aggregates_commands_and_events():
    frame = decomposition_frame()
    assert list(frame.index) == ["Customer service", "Order service"]
    orders = frame.loc["Order service"]
    assert orders["owns aggregate"] == "Order"
    assert set(orders["commands"].split(", ")) == {"place", "approve", "reject", "ship", "cancel"}
    assert all(hasattr(Order, command) for command in orders["commands"].split(", "))
    customers = frame.loc["Customer service"]
    assert all(hasattr(Customer, command) for command in customers["commands"].split(", "))
    assert "CreditReserved" in customers["publishes events"] and "OrderShipped" in orders["publishes events"]


def test_five_issues_each_linked_to_the_notebooks_that_address_them():
    assert len(ISSUES) == 5
    table = issues_markdown()
    for issue in ISSUES:
        for number in issue.notebooks:
            assert f"]({entry(number).filename})" in table
    assert table.count("\n") == len(ISSUES) + 1
