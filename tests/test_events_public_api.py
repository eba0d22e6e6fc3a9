"""The event store's public API and the "recent, valuable customers" queries under generated bad arguments (issue 19).

Each generated case gets one argument wrong (a wrong type, None, a negative or out-of-range number, a string for a
number, NaN or an infinity, an integer beyond 64 bits, a lone surrogate, an empty string, a moment that is no
datetime or whose UTC time falls outside the years 1 to 9999) and the rest right. Every case must be refused with a
`LabkitError` subclass (never a raw DuckDB, pyarrow or Python error) whose one-line message names the parameter and
the value, and the store must hold what it held before (its tables compared whole: a file's bytes may change when
DuckDB checkpoints). Then one test per item of the issue's lists that concerns the store and the queries.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from labkit.domain import Customer, CustomerCreated, Order, OrderApproved, OrderCreated, OrderShipped
from labkit.errors import LabkitError
from labkit.events import (
    DuplicateEventError,
    Event,
    EventStore,
    MalformedEventError,
    NewEvent,
    Repository,
    StoreArgumentError,
    StoreOpenError,
    Subscription,
    WrongAggregateTypeError,
    bulk_load,
)
from labkit.events.event import EVENT_TYPES
from labkit.events.inputs import MAX_POSITION, MAX_VERSION
from labkit.events.postgres import PostgresEventStore
from labkit.layouts import PerServiceLayout, SharedLayout
from labkit.layouts.queries import (
    METHODS,
    all_methods,
    api_composition,
    attach_join,
    check_agreement,
    cqrs_view,
    shared_join,
)
from labkit.views import ANSWER_SCHEMA, QueryParameterError
from labkit.views.parameters import MAX_THRESHOLD
from tests.pg_schemas import fresh_schema

STORE_EXAMPLES = 70  # generated cases per store call: 10 calls, so 700 on DuckDB and 700 on PostgreSQL
BULK_EXAMPLES = 300
QUERY_EXAMPLES = 60  # per query method: 5 methods, 300 in all
# Each property test asserts it tried its cases: 1,300 on DuckDB alone, the 1,000 a run needs at least (issue 19).

CUSTOMER = NewEvent.of(
    "customer-1",
    "Customer",
    CustomerCreated(name="Ada", credit_limit=1000),
    event_id=UUID("00000000-0000-4000-8000-000000000001"),
    metadata={"correlation_id": "c-1", "attempt": 1},
)
ORDER = [
    NewEvent.of(
        "order-1",
        "Order",
        event,
        event_id=UUID(f"00000000-0000-4000-8000-00000000001{i}"),
        metadata={"correlation_id": "c-1", "ratio": 0.5},
    )
    for i, event in enumerate(
        [OrderCreated(customer_id="customer-1", order_total=250), OrderApproved(), OrderShipped()]
    )
]
NEW_ORDER = NewEvent.of("order-9", "Order", OrderCreated(customer_id="customer-1", order_total=100))


def seeded(store: Any) -> Any:
    store.append([CUSTOMER], expected_version=0)
    store.append(ORDER, expected_version=0)
    return store


def dump(store: Any) -> list:
    """Every row of the events and snapshots tables, in order: what 'the store is unchanged' compares."""
    if isinstance(store, Layouts):
        return store.dump()
    if isinstance(store, EventStore):
        with store.locked() as connection:
            return (
                connection.execute(
                    """SELECT position, aggregate_id, aggregate_type, version, event_id, event_type, event_data::VARCHAR,
                          metadata::VARCHAR, recorded_at FROM events ORDER BY position"""
                ).fetchall()
                + connection.execute("SELECT * FROM snapshots ORDER BY ALL").fetchall()
            )
    tables = [
        sql.SQL("SELECT * FROM {}.{} ORDER BY 1, 2").format(sql.Identifier(store.schema), sql.Identifier(t))
        for t in ("events", "snapshots")
    ]
    return [row for query in tables for row in store.connection.execute(query).fetchall()]


# ---- the bad values, by what the parameter takes ----------------------------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "order-\udfff", "\udc00x"])
HUGE = st.sampled_from([2**63, 2**64, 2**70, -(2**63) - 1, 10**30])
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
OTHER_OBJECTS = st.sampled_from([object(), {1, 2}, Decimal("1"), b"\x00", (1,), [1], {"a": 1}])


def not_whole(maximum: int) -> st.SearchStrategy:
    """What a whole-number parameter (0 to maximum) must refuse."""
    return st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=maximum + 1, max_value=maximum * 2**70),
        HUGE.filter(lambda v: v > maximum or v < 0),
        st.floats(),  # 1.0 too: a float is not a position
        NON_FINITE,
        st.booleans(),
        st.none(),
        st.integers(0, 10**6).map(str),  # a string for a number
        st.text(max_size=6),
        OTHER_OBJECTS,
    )


def not_optional_whole(maximum: int) -> st.SearchStrategy:
    return not_whole(maximum).filter(lambda v: v is not None)


NOT_TEXT = st.one_of(
    st.none(),
    st.just(""),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.binary(max_size=4),
    SURROGATES,
    st.uuids(),
    OTHER_OBJECTS,
)
NOT_OPTIONAL_TEXT = NOT_TEXT.filter(lambda v: v is not None)
EXTREME_MOMENTS = st.one_of(
    # before midnight of year 1 in UTC: an hour earlier than the offset
    st.builds(
        lambda h, m: datetime(1, 1, 1, h - 1, m, tzinfo=timezone(timedelta(hours=h))),
        st.integers(1, 23),
        st.integers(0, 59),
    ),
    st.builds(
        lambda h, m: datetime(9999, 12, 31, 23, m % 60, tzinfo=timezone(timedelta(hours=-h))),
        st.integers(1, 23),
        st.integers(0, 59),
    ),
)
NOT_MOMENT = st.one_of(
    st.just("2020"),
    st.text(max_size=12),
    st.dates(),
    st.integers(),
    st.floats(),
    st.none(),
    EXTREME_MOMENTS,
    OTHER_OBJECTS,
)
NOT_UUID = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex),
    st.text(max_size=8),
    st.integers(),
    st.none(),
    st.binary(min_size=16, max_size=16),
    SURROGATES,
)
NOT_JSON_VALUE = st.one_of(
    NON_FINITE,
    HUGE,
    SURROGATES,
    OTHER_OBJECTS.filter(lambda v: not isinstance(v, list | tuple | dict)),
)


@dataclass(frozen=True)
class Case:
    """One call with one bad argument, and what the refusal must name."""

    operation: str
    call: Callable[[Any], object]
    parameter: str  # as the message names it
    value: object
    kind: str
    names_value: bool = True  # False where the value is no value at all (a missing field)

    def __repr__(self) -> str:
        return f"{self.operation}({self.parameter}={self.value!r}) [{self.kind}]"


def escaped(text: str) -> str:
    """Text as a one-line message shows it: characters that do not print (a newline, \\x1f) as their escapes."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def shown(value: object) -> list[str]:
    """The ways a message may show a value (its repr or str, escaped or not, at their start: long ones are cut)."""
    if isinstance(value, float) and not math.isfinite(value):
        return [str(value)]
    return [repr(value)[:30], str(value)[:30], escaped(str(value))[:30]]


def judge(store: Any, case: Case) -> None:
    """The case is refused by a LabkitError naming the parameter and the value, and the store is unchanged."""
    before = dump(store)
    try:
        case.call(store)
    except LabkitError as refused:
        message = str(refused)
        assert case.parameter in message or escaped(case.parameter) in message, (
            f"{case}: the message does not name {case.parameter}: {message}"
        )
        if case.names_value:
            assert any(text in message for text in shown(case.value)), f"{case}: no value in: {message}"
        assert "\n" not in message, f"{case}: more than one line: {message}"
    except Exception as raw:
        pytest.fail(f"{case}: raw {type(raw).__module__}.{type(raw).__name__}: {raw}")
    else:
        pytest.fail(f"{case}: accepted")
    assert dump(store) == before, f"{case}: the store changed"


def try_cases(target: Any, cases: st.SearchStrategy[Case], examples: int, tally: Callable[[Case], None]) -> None:
    """Judge `examples` generated cases against `target` (a store or the layouts), tallying each one tried."""

    # No per-case deadline: on a loaded machine one case measured 1.7 s of wall time, the next 0.13 s.
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def refused(case: Case) -> None:
        judge(target, case)
        tally(case)

    refused()


# ---- the store calls, one bad argument at a time -----------------------------------------------------------------


def envelope(**changes: object) -> NewEvent:
    """The new order's event with fields replaced (NewEvent is frozen: `replace` builds it without checks)."""
    return replace(NEW_ORDER, **changes)


def append_cases(store: Any) -> st.SearchStrategy[Case]:
    def appending(parameter: str, value: object, kind: str, events: object, expected: object = 0, **kw: Any) -> Case:
        return Case("append", lambda s: s.append(events, expected_version=expected), parameter, value, kind, **kw)

    def data(field: str, value: object) -> dict[str, object]:
        return {**NEW_ORDER.event_data, field: value}

    return st.one_of(
        st.one_of(st.none(), st.just(NEW_ORDER), st.text(max_size=4), st.integers(), st.just({"a": 1})).map(
            lambda v: appending("events", v, "events not a list", v)
        ),
        st.one_of(st.none(), st.integers(), st.text(max_size=4), st.just(CUSTOMER.event_data)).map(
            lambda v: appending("events", v, "not an envelope", [NEW_ORDER, v])
        ),
        NOT_TEXT.map(lambda v: appending("aggregate_id", v, "aggregate_id", [envelope(aggregate_id=v)])),
        NOT_TEXT.map(lambda v: appending("aggregate_type", v, "aggregate_type", [envelope(aggregate_type=v)])),
        st.sampled_from(["Customer"]).map(
            lambda v: appending("OrderCreated", v, "event its aggregate does not apply", [envelope(aggregate_type=v)])
        ),
        st.one_of(st.text(max_size=8).filter(lambda t: t not in {"OrderCreated"}), st.none(), st.integers())
        .filter(lambda v: v not in EVENT_TYPES)
        .map(lambda v: appending("event type", v, "unknown event type", [envelope(event_type=v)])),
        st.one_of(st.none(), st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2)).map(
            lambda v: appending("event_data", v, "event_data not an object", [envelope(event_data=v)])
        ),
        st.one_of(NON_FINITE, HUGE, st.floats(allow_nan=False), st.booleans(), st.none(), st.integers().map(str)).map(
            lambda v: appending("order_total", v, "order_total", [envelope(event_data=data("order_total", v))])
        ),
        st.one_of(SURROGATES, st.integers(), st.none(), st.booleans(), NON_FINITE).map(
            lambda v: appending("customer_id", v, "customer_id", [envelope(event_data=data("customer_id", v))])
        ),
        st.sampled_from(["customer_id", "order_total"]).map(
            lambda f: appending(
                f,
                None,
                "missing field",
                [envelope(event_data={k: v for k, v in NEW_ORDER.event_data.items() if k != f})],
                names_value=False,
            )
        ),
        st.text(min_size=1, max_size=8)
        .filter(lambda k: k not in NEW_ORDER.event_data)
        .map(lambda k: appending(k, k, "unknown field", [envelope(event_data=data(k, 1))])),
        NOT_UUID.map(lambda v: appending("event_id", v, "event_id", [envelope(event_id=v)])),
        st.one_of(st.none(), st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2)).map(
            lambda v: appending("metadata", v, "metadata not an object", [envelope(metadata=v)])
        ),
        NOT_JSON_VALUE.map(lambda v: appending("metadata", v, "metadata value", [envelope(metadata={"k": v})])),
        st.one_of(st.integers(), st.none(), st.uuids()).map(
            lambda key: appending("metadata", key, "metadata key not a string", [envelope(metadata={key: 1})])
        ),
        st.integers(65, 80).map(
            lambda depth: appending(
                "metadata", "deeper", "metadata nested too deep", [envelope(metadata={"k": nested(depth)})]
            )
        ),
        not_optional_whole(MAX_VERSION).map(
            lambda v: appending("expected_version", v, "expected_version", [NEW_ORDER], v)
        ),
        st.just(CUSTOMER).map(
            lambda v: appending(
                "customer-1",
                "order-9",
                "two aggregates in one call",
                [NEW_ORDER, replace(v, event_id=UUID("00000000-0000-4000-8000-000000000099"))],
            )
        ),
    )


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def read_cases(store: Any) -> st.SearchStrategy[Case]:
    def stream(parameter: str, value: object, **arguments: object) -> Case:
        aggregate_id = arguments.pop("aggregate_id", "order-1")
        return Case("read_stream", lambda s: s.read_stream(aggregate_id, **arguments), parameter, value, parameter)

    def page(parameter: str, value: object) -> Case:
        return Case("read_all", lambda s: s.read_all(**{parameter: value}), parameter, value, parameter)

    def version_at(parameter: str, value: object, aggregate_id: object = "order-1", moment: object = None) -> Case:
        when = datetime(2030, 1, 1, tzinfo=UTC) if moment is None else moment
        return Case("version_at", lambda s: s.version_at(aggregate_id, when), parameter, value, parameter)

    contains = (
        [  # an EventStore call PostgreSQL's store does not have
            NOT_UUID.map(lambda v: Case("contains", lambda s: s.contains(v), "event_id", v, "event_id"))
        ]
        if hasattr(store, "contains")
        else []
    )
    return st.one_of(
        *contains,
        NOT_TEXT.map(lambda v: stream("aggregate_id", v, aggregate_id=v)),
        not_whole(MAX_VERSION).map(lambda v: stream("from_version", v, from_version=v)),
        not_optional_whole(MAX_VERSION).map(lambda v: stream("to_version", v, to_version=v)),
        not_whole(MAX_POSITION).map(lambda v: page("after_position", v)),
        not_whole(MAX_POSITION).map(lambda v: page("limit", v)),
        NOT_OPTIONAL_TEXT.map(lambda v: page("aggregate_type", v)),
        NOT_TEXT.map(lambda v: version_at("aggregate_id", v, aggregate_id=v)),
        NOT_MOMENT.filter(lambda v: v is not None).map(lambda v: version_at("moment", v, moment=v)),
        NOT_OPTIONAL_TEXT.map(
            lambda v: Case("count", lambda s: s.count(aggregate_type=v), "aggregate_type", v, "type")
        ),
        NOT_TEXT.map(lambda v: Case("stream_version", lambda s: s.stream_version(v), "aggregate_id", v, "id")),
    )


STORE_CALLS = {"append": append_cases, "reads": read_cases}


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A seeded store on each back-end: a DuckDB file, a schema of the session's PostgreSQL server."""
    if request.param == "duckdb":
        with EventStore(tmp_path_factory.mktemp("store") / "events.duckdb") as opened:
            yield seeded(opened)
        return
    url = request.getfixturevalue("postgres_url")
    schema = fresh_schema("public_api")
    PostgresEventStore(url, schema=schema).drop()
    opened = PostgresEventStore(url, schema=schema)
    try:
        yield seeded(opened)
    finally:
        opened.drop()
        opened.close()


def test_every_bad_argument_of_the_store_calls_is_refused_by_name(store: Any) -> None:
    tried: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for name, cases in STORE_CALLS.items():
        examples = STORE_EXAMPLES * (6 if name == "append" else 4)

        def tally(case: Case) -> None:
            tried[case.operation] += 1
            kinds[case.kind] += 1

        try_cases(store, cases(store), examples, tally)
    backend = "DuckDB" if isinstance(store, EventStore) else "PostgreSQL"
    total = sum(tried.values())
    print(f"\npublic API cases tried on {backend}: {total} ({dict(tried)}); raw errors: 0, store changes: 0")
    assert total >= STORE_EXAMPLES * 10, tried
    assert len(kinds) >= 20, kinds  # the kinds of bad value all came up
    assert store.count() == 4 and store.read_stream("order-1")[-1].version == 3  # still readable, as seeded


# ---- bulk_load ---------------------------------------------------------------------------------------------------


def bulk_rows() -> dict[str, list]:
    """Three good rows: a new customer and two events of a new order."""
    return {
        "aggregate_id": ["customer-9", "order-9", "order-9"],
        "aggregate_type": ["Customer", "Order", "Order"],
        "version": [1, 1, 2],
        "event_id": [f"00000000-0000-4000-8000-00000000009{i}" for i in range(3)],
        "event_type": ["CustomerCreated", "OrderCreated", "OrderApproved"],
        "event_data": ['{"name": "Bo", "credit_limit": 10}', '{"customer_id": "customer-9", "order_total": 5}', "{}"],
        "metadata": ['{"correlation_id": "c-9"}'] * 3,
    }


def with_cell(column: str, row: int, value: object) -> pa.Table:
    columns = bulk_rows()
    columns[column][row] = value
    return pa.table(columns)


BAD_CELLS: dict[str, st.SearchStrategy] = {
    "aggregate_id": st.sampled_from(["", None]),
    "aggregate_type": st.sampled_from(["", None]),
    "event_type": st.sampled_from(["", None]),
    "version": st.sampled_from([None, 0, -1, 3, 7, MAX_VERSION + 1]),
    "event_id": st.one_of(st.sampled_from(["", "abc", "123", "00000000-0000"]), st.text(max_size=8)),
    "event_data": st.sampled_from(
        [
            "",
            "not json",
            "[1]",
            "null",
            '{"x": 1}',
            '{"order_total": NaN}',
            '{"credit_limit": 1e999}',
            '{"name": "a", "name": "b", "credit_limit": 1}',
            '{"customer_id": "c", "order_total": 123456789012345678901}',
            '{"customer_id": "c", "order_total": "5"}',
            '{"customer_id": "c"}',
            '{"name": "a", "credit_limit": Infinity}',
        ]
    ),
    "metadata": st.sampled_from(
        [
            None,
            "[]",
            "1",
            "null",
            '"text"',
            "not json",
            '{"a": NaN}',
            '{"a": -Infinity}',
            '{"a": 1e999}',
            '{"a": 123456789012345678901}',
            '{"a": [1, {"b": NaN}]}',
        ]
    ),
}


def bulk_cases(scratch: Path) -> st.SearchStrategy[Case]:
    def loading(parameter: str, value: object, kind: str, events: object, names_value: bool = True) -> Case:
        return Case("bulk_load", lambda s: bulk_load(s, events), parameter, value, kind, names_value)

    not_json_file = scratch / "events.txt"
    not_json_file.write_text("these are no events\n")
    cell = st.sampled_from(sorted(BAD_CELLS)).flatmap(
        lambda column: st.tuples(st.just(column), st.integers(0, 2), BAD_CELLS[column])
    )
    columns = bulk_rows()
    wrong_types = {
        "aggregate_id": pa.array([1, 2, 3]),
        "aggregate_type": pa.array([True, False, True]),
        "version": pa.array(["1", "1", "2"]),
        "event_type": pa.array([1.5, 2.5, 3.5]),
        "event_data": pa.array([b"{}", b"{}", b"{}"]),
        "event_id": pa.array([1, 2, 3]),
        "metadata": pa.array([[1], [2], [3]]),
        "recorded_at": pa.array(["2025-01-01"] * 3),
    }
    return st.one_of(
        st.one_of(st.none(), st.integers(), st.just([{"a": 1}]), st.just({"aggregate_id": ["x"]})).map(
            lambda v: loading("events", v, "events not a table", v)
        ),
        st.sampled_from([scratch / "missing.parquet", str(scratch / "none.parquet"), not_json_file, scratch]).map(
            lambda p: loading("events", str(p), "not a Parquet file", p)
        ),
        st.tuples(
            st.sampled_from(["validate", "indexes", "progress"]),
            st.one_of(st.none(), st.integers(), st.text(max_size=4), st.floats(), OTHER_OBJECTS),
        ).map(
            lambda switch: Case(
                "bulk_load", lambda s: bulk_load(s, pa.table(columns), **dict([switch])), *switch, "switch not a bool"
            )
        ),
        st.sampled_from(["aggregate_id", "aggregate_type", "version", "event_type", "event_data"]).map(
            lambda c: loading(c, "missing", "missing column", pa.table({k: v for k, v in columns.items() if k != c}))
        ),
        st.sampled_from(sorted(wrong_types)).map(
            lambda c: loading(
                c,
                str(wrong_types[c].type),
                "column of a wrong type",
                pa.table({**columns, c: wrong_types[c]}),
            )
        ),
        # A bad cell is named by its row, and its column (event_data's by the event type and the field in it).
        cell.map(
            lambda c: loading(
                f"row {c[1]}",
                columns["event_type"][c[1]] if c[0] == "event_data" else c[0],
                f"bad {c[0]} cell",
                with_cell(*c),
            )
        ),
        st.just(pa.table({**columns, "aggregate_type": ["Customer"] * 3})).map(
            lambda table: loading("Customer", "OrderCreated", "event its aggregate does not apply", table)
        ),
    )


def test_every_bad_input_of_bulk_load_is_refused_by_name(tmp_path: Path) -> None:
    tried: Counter[str] = Counter()
    with EventStore(tmp_path / "events.duckdb") as store:
        seeded(store)

        def tally(case: Case) -> None:
            tried[case.kind] += 1

        try_cases(store, bulk_cases(tmp_path), BULK_EXAMPLES, tally)
        assert store.has_indexes() and bulk_load(store, pa.table(bulk_rows())) == 3  # good rows still load
    total = sum(tried.values())
    print(f"\npublic API cases tried on bulk_load: {total} over {len(tried)} kinds; raw errors: 0, store changes: 0")
    assert total >= BULK_EXAMPLES and len(tried) >= 10, tried


def test_a_refused_bulk_load_into_an_empty_store_leaves_it_with_its_indexes(tmp_path: Path) -> None:
    with EventStore(tmp_path / "events.duckdb") as store:
        with pytest.raises(MalformedEventError, match="row 2: "):
            bulk_load(store, with_cell("metadata", 2, '{"a": NaN}'))
        assert store.count() == 0 and store.has_indexes()


# ---- the queries -------------------------------------------------------------------------------------------------

CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)

NOT_THRESHOLD = st.one_of(
    NON_FINITE,
    st.sampled_from([1e300, -1e300, 10**20, -(10**16), 2**70, 10**15 + 1]),
    st.floats(min_value=1e15, exclude_min=True),
    st.sampled_from(["nan", "inf", "-Infinity", "1e400", "1e300", ""]),
    st.text(alphabet="abcxyz ,", max_size=6),
    SURROGATES,
    st.none(),
    st.booleans(),
    OTHER_OBJECTS.filter(lambda v: not isinstance(v, Decimal)),
    st.just(Decimal("NaN")),
    st.just(Decimal("1e300")),
)
NOT_CUTOFF = st.one_of(
    st.sampled_from(["", "2025-13-01", "2025-02-30", "yesterday", "0001-01-01T00:00+01:00", "9999-12-31T23:59-01:00"]),
    EXTREME_MOMENTS,
    st.text(alphabet="abcxyz -:", max_size=8),
    SURROGATES,
    st.integers(),
    st.floats(),
    st.none(),
    OTHER_OBJECTS,
)


class Layouts:
    """Both layouts of a tiny data set: a customer, an order shipped over the threshold, one not shipped."""

    def __init__(self, folder: Path) -> None:
        def clock() -> datetime:  # one time for both layouts: their answers then agree to the microsecond
            return CUTOFF + timedelta(days=30)

        self.shared = SharedLayout(folder / "shared.duckdb", clock=clock)
        self.per_service = PerServiceLayout(folder / "customers.duckdb", folder / "orders.duckdb", clock=clock)
        for layout in (self.shared, self.per_service):
            layout.customers.register("customer-1", "Ada", 10**6)
            for order_id in ("order-1", "order-2"):
                layout.orders.place(order_id, "customer-1", 5000)
                layout.orders.approve(order_id)
            layout.orders.ship("order-1")
        self.per_service.view.catch_up()

    def dump(self) -> list[tuple]:
        databases = [self.shared._database, self.per_service._customers_database, self.per_service._orders_database]
        rows = [database.query("SELECT * FROM events ORDER BY position").to_pylist() for database in databases]
        view = self.per_service.view
        return [rows, view.row_count(), view.recent_valuable_customers(0, "2000-01-01").to_pylist()]

    def close(self) -> None:
        self.shared.close()
        self.per_service.close()


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layouts]:
    built = Layouts(tmp_path_factory.mktemp("layouts"))
    yield built
    built.close()


QUERIES: dict[str, Callable[[Layouts, object, object], object]] = {
    "shared_join": lambda ls, t, c: shared_join(ls.shared, t, c),
    "api_composition": lambda ls, t, c: api_composition(ls.per_service, t, c),
    "cqrs_view": lambda ls, t, c: cqrs_view(ls.per_service, t, c),
    "attach_join": lambda ls, t, c: attach_join(ls.per_service, t, c),
    "recent_valuable_customers": lambda ls, t, c: ls.per_service.view.recent_valuable_customers(t, c),
}


def query_cases(method: str) -> st.SearchStrategy[Case]:
    query = QUERIES[method]
    return st.one_of(
        NOT_THRESHOLD.map(lambda v: Case(method, lambda ls: query(ls, v, CUTOFF), "threshold", v, "threshold")),
        NOT_CUTOFF.map(lambda v: Case(method, lambda ls: query(ls, 1000, v), "created_after", v, "created_after")),
    )


def test_every_bad_parameter_of_the_queries_is_refused_by_name(layouts: Layouts) -> None:
    tried: Counter[str] = Counter()
    for method in QUERIES:

        def tally(case: Case) -> None:
            tried[f"{case.operation}.{case.parameter}"] += 1

        try_cases(layouts, query_cases(method), QUERY_EXAMPLES, tally)
    total = sum(tried.values())
    print(f"\npublic API cases tried on the queries: {total} ({dict(tried)}); raw errors: 0, changes: 0")
    assert total >= QUERY_EXAMPLES * len(QUERIES) and len(tried) == 2 * len(QUERIES), tried


# ---- issue 19's items, one test each ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicApiGauged(Event):
    """An event with a float field: NaN and infinities must not pass as null."""

    reading: float


def gauged(reading: float) -> NewEvent:
    return NewEvent.of("gauge-1", "Gauge", PublicApiGauged(reading=reading))


ISSUE_ITEMS: list[tuple[str, Callable[[EventStore], object], type[LabkitError], str]] = [
    (
        "NaN in event data",
        lambda s: s.append([gauged(math.nan)], expected_version=0),
        MalformedEventError,
        "PublicApiGauged.reading: nan is not a finite number",
    ),
    (
        "+inf in event data",
        lambda s: s.append([gauged(math.inf)], expected_version=0),
        MalformedEventError,
        "reading: inf is not a finite number",
    ),
    (
        "-inf in metadata",
        lambda s: s.append([envelope(metadata={"ratio": -math.inf})], expected_version=0),
        MalformedEventError,
        "metadata.ratio: -inf is not a finite number",
    ),
    (
        "OrderShipped to a Customer stream",
        lambda s: s.append([NewEvent.of("customer-1", "Customer", OrderShipped())], expected_version=1),
        WrongAggregateTypeError,
        "customer-1: a Customer does not apply OrderShipped events",
    ),
    (
        "empty aggregate_type",
        lambda s: s.append([envelope(aggregate_type="")], expected_version=0),
        MalformedEventError,
        "OrderCreated.aggregate_type: expected a non-empty str, got ''",
    ),
    (
        "non-string aggregate_type",
        lambda s: s.append([envelope(aggregate_type=7)], expected_version=0),
        MalformedEventError,
        "aggregate_type: expected a non-empty str, got 7",
    ),
    (
        "aggregate_type=None",
        lambda s: s.append([envelope(aggregate_type=None)], expected_version=0),
        MalformedEventError,
        "aggregate_type: expected a non-empty str, got None",
    ),
    (
        "bulk_load: a repeated key",
        lambda s: bulk_load(s, with_cell("event_data", 1, '{"customer_id": "c", "order_total": 2, "order_total": 1}')),
        MalformedEventError,
        "row 1: not JSON (key 'order_total' is given twice)",
    ),
    (
        "bulk_load: metadata that is no object",
        lambda s: bulk_load(s, with_cell("metadata", 2, "[1, 2]")),
        MalformedEventError,
        "(bulk input).metadata: row 2: expected a JSON object (a dict), got [1, 2]",
    ),
    (
        "a non-UUID event id",
        lambda s: s.append([envelope(event_id="abc")], expected_version=0),
        MalformedEventError,
        "event_id: expected a uuid.UUID, got 'abc'",
    ),
    ("contains a non-UUID", lambda s: s.contains("abc"), StoreArgumentError, "event_id='abc' is not a uuid.UUID"),
    (
        "read_all(limit=-1)",
        lambda s: s.read_all(limit=-1),
        StoreArgumentError,
        "limit=-1 is not a whole number from 0 to",
    ),
    (
        'read_all(after_position="abc")',
        lambda s: s.read_all(after_position="abc"),
        StoreArgumentError,
        "after_position='abc' is not a whole number",
    ),
    (
        'read_stream(from_version="x")',
        lambda s: s.read_stream("order-1", from_version="x"),
        StoreArgumentError,
        "from_version='x' is not a whole number",
    ),
    (
        'version_at(id, "2020")',
        lambda s: s.version_at("order-1", "2020"),
        StoreArgumentError,
        "moment='2020' is not a datetime",
    ),
    (
        "bulk_load: bad columns",
        lambda s: bulk_load(s, pa.table({**bulk_rows(), "version": ["1", "1", "2"]})),
        MalformedEventError,
        "(bulk input).version: the column is string, expected integer",
    ),
    (
        "bulk_load: a missing file",
        lambda s: bulk_load(s, "/nonexistent/events.parquet"),
        StoreArgumentError,
        "events='/nonexistent/events.parquet' is not the path of a Parquet file (there is none)",
    ),
    (
        "append(None)",
        lambda s: s.append(None, expected_version=0),
        StoreArgumentError,
        "events=None is not a list of NewEvent envelopes",
    ),
    (
        "an integer above 64 bits in event data",
        lambda s: s.append([envelope(event_data={"customer_id": "c", "order_total": 2**70})], expected_version=0),
        MalformedEventError,
        f"OrderCreated.order_total: {2**70} does not fit in 64 bits",
    ),
    (
        'expected_version="0"',
        lambda s: s.append([NEW_ORDER], expected_version="0"),
        StoreArgumentError,
        "expected_version='0' is not a whole number",
    ),
    (
        "a retry under another aggregate type",
        lambda s: s.append([replace(ORDER[0], aggregate_type="LegacyOrder")], expected_version=None),
        DuplicateEventError,
        "is already stored for a different event (OrderCreated of Order order-1 at position 2)",
    ),
    (
        "a retry with other metadata",
        lambda s: s.append([replace(ORDER[0], metadata={"correlation_id": "c-2"})], expected_version=None),
        DuplicateEventError,
        "is already stored for the same event with other metadata",
    ),
]


@pytest.mark.parametrize(
    ("call", "refusal", "says"), [item[1:] for item in ISSUE_ITEMS], ids=[item[0] for item in ISSUE_ITEMS]
)
def test_each_store_item_of_issue_19_is_refused_by_name(tmp_path: Path, call, refusal, says) -> None:
    with EventStore(tmp_path / "events.duckdb") as store:
        before = dump(seeded(store))
        with pytest.raises(refusal) as refused:
            call(store)
        assert says in str(refused.value) and "\n" not in str(refused.value)
        assert dump(store) == before
        # What the refusals protect: every stream still loads, and every replay of all customers and orders runs.
        repository = Repository(store)
        assert repository.load(Customer, "customer-1").version == 1
        assert repository.load(Order, "order-1").version == 3
        assert [e.event() for e in store.read_all()]


def test_the_four_methods_agree_on_no_rows_when_no_order_is_over_the_threshold(layouts: Layouts) -> None:
    """API composition's empty fallback table once had an untyped column (ArrowInvalid in the join)."""
    answers = all_methods(layouts.shared, layouts.per_service, MAX_THRESHOLD, CUTOFF)
    assert list(answers) == list(METHODS)
    assert all(answer.rows.num_rows == 0 and answer.rows.schema == ANSWER_SCHEMA for answer in answers.values())
    assert check_agreement(answers).num_rows == 0
    assert check_agreement(all_methods(layouts.shared, layouts.per_service, 1000, CUTOFF - timedelta(days=1))).num_rows


@pytest.mark.parametrize("method", list(QUERIES))
def test_a_threshold_of_1e300_is_named_not_a_128_bit_overflow(layouts: Layouts, method: str) -> None:
    with pytest.raises(QueryParameterError, match=r"^threshold=1e\+300 is not a number .*between -1e\+15 and 1e\+15"):
        QUERIES[method](layouts, 1e300, CUTOFF)


def _hold_open(path: str, opened: Any, release: Any) -> None:
    with EventStore(path):
        opened.set()
        release.wait(30)


def test_a_store_held_by_another_process_is_named_with_its_pid(tmp_path: Path) -> None:
    path = str(tmp_path / "events.duckdb")
    EventStore(path).close()
    context = multiprocessing.get_context("spawn")
    opened, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_open, args=(path, opened, release))
    holder.start()
    try:
        assert opened.wait(30)
        with pytest.raises(StoreOpenError, match=rf"is open in another process \(pid {holder.pid}\)"):
            EventStore(path)
    finally:
        release.set()
        holder.join(30)
    assert holder.exitcode == 0
    with EventStore(path) as store:  # and once it let go, the file opens here
        assert store.count() == 0


def test_two_subscriptions_on_one_connection_in_two_threads_both_catch_up(tmp_path: Path) -> None:
    source = seeded(EventStore(tmp_path / "events.duckdb"))
    target = duckdb.connect(str(tmp_path / "target.duckdb"))
    seen: dict[str, int] = {}
    errors: list[BaseException] = []

    def follow(name: str) -> None:
        def handler(events: Any, connection: duckdb.DuckDBPyConnection) -> None:
            connection.execute(f"CREATE TABLE IF NOT EXISTS {name} (position BIGINT)")
            connection.executemany(f"INSERT INTO {name} VALUES (?)", [[e.position] for e in events])

        try:
            subscription = Subscription(name, source, target, handler, batch_size=1)
            for _ in range(50):
                subscription.run()
            seen[name] = subscription.position
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=follow, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert not errors, errors
        assert seen == {"first": 4, "second": 4}
        assert [target.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in seen] == [4, 4]
    finally:
        target.close()
        source.close()
