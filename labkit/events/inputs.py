"""The checks of what a caller hands the store: positions, versions, limits, moments, ids and JSON values.

Every back-end runs its arguments through these before any SQL, so a bad one is a `StoreArgumentError` (or a
`MalformedEventError` for a value inside an event) that names the parameter and the value, the same on DuckDB and
PostgreSQL, instead of whatever the database driver happens to raise; and the store is never touched.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from labkit.events.errors import StoreArgumentError

MAX_POSITION = 2**63 - 1  # positions are BIGINT
MAX_VERSION = 2**31 - 1  # versions are INTEGER on both back-ends
INT64 = (-(2**63), 2**63 - 1)  # the integers a JSON value may hold: both back-ends read them back as 64-bit
MAX_DEPTH = 64  # nesting of a metadata value; deeper is a mistake, not a record


def whole(value: object, name: str, *, minimum: int = 0, maximum: int = MAX_POSITION) -> int:
    """A whole number within [minimum, maximum] (a bool or a numeric string is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoreArgumentError(name, value, f"a whole number from {minimum} to {maximum}")
    if not minimum <= value <= maximum:
        raise StoreArgumentError(name, value, f"a whole number from {minimum} to {maximum}")
    return value


def flag(value: object, name: str) -> bool:
    """True or False (None or 0 would quietly mean False: a switch such as `validate` must be said)."""
    if not isinstance(value, bool):
        raise StoreArgumentError(name, value, "True or False")
    return value


def version(value: object, name: str) -> int:
    """A stream version (0 to the last one a stream holds)."""
    return whole(value, name, maximum=MAX_VERSION)


def optional_version(value: object, name: str) -> int | None:
    return None if value is None else version(value, name)


def text(value: object, name: str) -> str:
    """A non-empty string that can be stored (UTF-8: no lone surrogate)."""
    if not isinstance(value, str) or not value:
        raise StoreArgumentError(name, value, "a non-empty string")
    if not _encodes(value):
        raise StoreArgumentError(name, value, "text without lone surrogates (it cannot be stored as UTF-8)")
    return value


def optional_text(value: object, name: str) -> str | None:
    return None if value is None else text(value, name)


def moment(value: object, name: str = "moment") -> datetime:
    """A datetime (naive means UTC) whose UTC time a table can hold."""
    if not isinstance(value, datetime):
        raise StoreArgumentError(name, value, "a datetime (naive ones are taken as UTC)")
    try:
        value.astimezone(UTC) if value.tzinfo else value
    except OverflowError:
        raise StoreArgumentError(name, value, "a datetime whose UTC time is within the years 1 to 9999") from None
    return value


def event_id(value: object, name: str = "event_id") -> UUID:
    """An event id: a uuid.UUID (uuid4() for a new event, `derived_event_id` for a reaction)."""
    if not isinstance(value, UUID):
        raise StoreArgumentError(name, value, "a uuid.UUID (give new events uuid4())")
    return value


# ---- the read calls' arguments, checked the same way on every back-end ----------------------------------------------


def stream_arguments(aggregate_id: object, from_version: object, to_version: object) -> tuple[str, int, int]:
    """`read_stream`'s arguments: (aggregate id, first version, last version; the last a stream holds for None)."""
    last = optional_version(to_version, "to_version")
    return (
        text(aggregate_id, "aggregate_id"),
        version(from_version, "from_version"),
        MAX_VERSION if last is None else last,
    )


def page_arguments(after_position: object, limit: object, aggregate_type: object) -> tuple[int, int, str | None]:
    """`read_all`'s arguments: (after which position, at most how many, of which aggregate type or None)."""
    return (
        whole(after_position, "after_position"),
        whole(limit, "limit"),
        optional_text(aggregate_type, "aggregate_type"),
    )


def json_problem(value: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    """Where a value stops being JSON that reads back as it was written, and why (None: it is fine).

    orjson writes NaN and infinities as null, and integers beyond 64 bits cannot be read back as written: each is
    refused here with its path (metadata.retries, event_data.amount) rather than stored wrong or blamed on the
    whole document.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT64[0] <= value <= INT64[1] else (path, f"{value} does not fit in 64 bits")
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, f"{value} is not a finite number (JSON has no NaN or Infinity)")
    if isinstance(value, str):
        return None if _encodes(value) else (path, f"{value!r} holds a lone surrogate (not UTF-8)")
    if depth >= MAX_DEPTH:
        return (path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return (path, f"key {key!r} is not a string")
            problem = json_problem(item, f"{path}.{key}", depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            problem = json_problem(item, f"{path}[{i}]", depth + 1)
            if problem is not None:
                return problem
        return None
    return (path, f"{type(value).__name__} {repr(value)[:40]} is not a JSON value")


def parse_json(text: str | bytes) -> Any:
    """JSON text as a strict reader sees it: ValueError for NaN or Infinity, a key given twice, or nesting too deep.

    Two readers of one document must agree: DuckDB's JSON functions take the first of a repeated key and orjson the
    last, and DuckDB accepts NaN where orjson refuses it. Integers stay exact (orjson would turn 2**70 into a float).
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError(f"key {next(k for k in keys if keys.count(k) > 1)!r} is given twice")
        return dict(items)

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON value")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None


def _encodes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
