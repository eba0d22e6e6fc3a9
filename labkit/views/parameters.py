"""The parameters of "find recent, valuable customers": a total threshold and a creation cutoff, checked once.

Every method of the query (SQL join, API composition, CQRS view, ATTACH) takes its parameters through these two
functions, so a bad value fails the same way everywhere, naming the parameter, before any SQL runs.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import Decimal

from labkit.events.codec import to_utc_naive
from labkit.views.errors import QueryParameterError

# Order totals are 64-bit integers; a threshold far beyond any total would only overflow the SQL that compares them.
MAX_THRESHOLD = 10**15


def order_threshold(value: object, *, parameter: str = "threshold") -> int | float:
    """The order-total threshold as a number (an int when it is whole), from a number or a numeric string.

    >>> order_threshold("100000"), order_threshold(2.5), order_threshold(Decimal("7"))
    (100000, 2.5, 7)
    >>> order_threshold("lots")
    Traceback (most recent call last):
    ...
    labkit.views.errors.QueryParameterError: threshold='lots' is not a number (an order total such as 100000)
    """
    expected = "a number (an order total such as 100000)"
    if isinstance(value, bool):
        raise QueryParameterError(parameter, value, expected)
    if isinstance(value, str):
        try:
            number: float | int = float(value.strip())
        except ValueError:
            raise QueryParameterError(parameter, value, expected) from None
    elif isinstance(value, int | float | Decimal):
        number = float(value) if isinstance(value, Decimal) else value
    else:
        raise QueryParameterError(parameter, value, expected)
    if isinstance(number, float) and not math.isfinite(number):
        raise QueryParameterError(parameter, value, expected + ", finite")
    if not -MAX_THRESHOLD <= number <= MAX_THRESHOLD:
        raise QueryParameterError(parameter, value, f"{expected}, between -{MAX_THRESHOLD:.0e} and {MAX_THRESHOLD:.0e}")
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def creation_cutoff(value: object, *, parameter: str = "created_after") -> datetime:
    """The customer-creation cutoff as a naive UTC datetime (how the tables store time), from a datetime, a date or
    an ISO 8601 string; a date means its midnight UTC, an aware datetime is converted to UTC.

    >>> creation_cutoff("2025-01-01")
    datetime.datetime(2025, 1, 1, 0, 0)
    >>> creation_cutoff("2025-02-30")
    Traceback (most recent call last):
    ...
    labkit.views.errors.QueryParameterError: created_after='2025-02-30' is not a date or time in ISO 8601 form, such as 2025-01-01 or 2025-01-01T12:00:00+00:00
    """
    expected = "a date or time in ISO 8601 form, such as 2025-01-01 or 2025-01-01T12:00:00+00:00"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise QueryParameterError(parameter, value, expected) from None
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        raise QueryParameterError(parameter, value, expected)
    try:
        return to_utc_naive(moment)
    except OverflowError:  # year 1 or 9999 with an offset: in UTC it falls outside the years a datetime holds
        raise QueryParameterError(
            parameter, value, expected + ", whose UTC time is within the years 1 to 9999"
        ) from None
