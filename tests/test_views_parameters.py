"""Query parameters: numbers and dates accepted in their usual forms; anything else refused, naming the parameter."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from labkit.errors import UsageError
from labkit.views import QueryParameterError, creation_cutoff, order_threshold
from labkit.views import parameters as parameters_module


def test_the_docstring_examples_hold():
    assert doctest.testmod(parameters_module).failed == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(100000, 100000), (2.5, 2.5), ("100000", 100000), (" 99.5 ", 99.5), (Decimal("7"), 7), (10.0, 10), (-1, -1)],
)
def test_thresholds_in_their_usual_forms(value, expected):
    result = order_threshold(value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("value", ["lots", "", "1e400", "nan", float("inf"), True, None, [100], object()])
def test_a_threshold_that_is_not_a_finite_number_is_refused_naming_the_parameter(value):
    with pytest.raises(QueryParameterError) as raised:
        order_threshold(value)
    assert raised.value.parameter == "threshold"
    assert str(raised.value).startswith("threshold=")
    assert "number" in str(raised.value)
    assert isinstance(raised.value, UsageError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-01", datetime(2025, 1, 1)),
        ("2025-01-01T12:30:00", datetime(2025, 1, 1, 12, 30)),
        ("2025-01-01T12:30:00+02:00", datetime(2025, 1, 1, 10, 30)),
        (date(2025, 3, 4), datetime(2025, 3, 4)),
        (datetime(2025, 3, 4, 5, tzinfo=UTC), datetime(2025, 3, 4, 5)),
        (datetime(2025, 3, 4, 5, tzinfo=timezone(timedelta(hours=-1))), datetime(2025, 3, 4, 6)),
        (datetime(2025, 3, 4, 5), datetime(2025, 3, 4, 5)),
    ],
)
def test_cutoffs_become_naive_utc(value, expected):
    assert creation_cutoff(value) == expected


@pytest.mark.parametrize("value", ["2025-02-30", "yesterday", "01/02/2025", "", 20250101, None])
def test_a_date_that_does_not_parse_is_refused_naming_the_parameter(value):
    with pytest.raises(QueryParameterError, match=r"^created_after=.* ISO 8601"):
        creation_cutoff(value)
