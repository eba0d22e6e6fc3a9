"""Measuring the four methods: latency over repeated runs, what crosses service boundaries, and staleness.

Staleness is measured while orders keep shipping at a set rate: a writer thread ships prepared orders (each adds a
row to the true answer) through both layouts' Order services; the view follows in its own thread; the reader
asks each method in turn. A query that starts at time t should contain every order whose shipping committed
before t: the orders it lacks are how far behind it is, in rows (events) and in milliseconds.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from labkit.lab.databases.served import HTTP_COMPOSITION, HTTP_TITLE, ServedLayout, api_composition_http
from labkit.layouts.database import SERVICE_CLOCK
from labkit.layouts.errors import LayoutError, ServiceOfflineError
from labkit.layouts.layout import PerServiceLayout, SharedLayout
from labkit.layouts.queries import (
    METHOD_TITLES,
    METHODS,
    Answer,
    all_methods,
    api_composition,
    attach_join,
    attached,
    check_agreement,
    cqrs_view,
    shared_join,
)
from labkit.views import creation_cutoff, order_threshold

T = TypeVar("T")

# Every method measured here, in table order: the four of the query module, API composition over HTTP beside the
# in-process one when real services serve the data.
ALL_METHODS = ("shared_join", "api_composition", HTTP_COMPOSITION, "cqrs_view", "attach_join")
TITLES = {**METHOD_TITLES, HTTP_COMPOSITION: HTTP_TITLE}


@dataclass(frozen=True)
class Latency:
    """One method's latency over repeated runs, and what one answer moved between services."""

    method: str
    runs: int
    median_ms: float
    p95_ms: float
    rows: int
    calls: int
    rows_moved: int
    bytes_moved: int
    offline_ms: float  # how long the services were unavailable for one answer (the ATTACH join only)


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    values = np.array(seconds) * 1000
    return float(np.median(values)), float(np.percentile(values, 95))


def measure_latency(
    shared: SharedLayout,
    per_service: PerServiceLayout,
    threshold: object,
    created_after: object,
    *,
    repeats: int = 20,
    served: ServedLayout | None = None,
    progress: bool = False,
) -> list[Latency]:
    """Each method `repeats` times after one warm-up run; the answers must agree (MethodsDisagreeError).

    `served`: the same data served by the real services (`served_layout`): API composition over HTTP is measured
    too, in the same round-robin (their copies must hold what the layouts hold: serve them after any writes).
    """
    if repeats < 1:
        raise LayoutError(f"repeats={repeats!r}: measure at least 1 run")
    order_threshold(threshold), creation_cutoff(created_after)
    per_service.view.catch_up()
    runners: dict[str, Callable[[], Answer]] = {
        "shared_join": lambda: shared_join(shared, threshold, created_after),
        "api_composition": lambda: api_composition(per_service, threshold, created_after),
        "cqrs_view": lambda: cqrs_view(per_service, threshold, created_after),
    }
    if served is not None:
        runners[HTTP_COMPOSITION] = lambda: api_composition_http(served.client, threshold, created_after)
    answers: dict[str, Answer] = {method: run() for method, run in runners.items()}  # warm-up: caches, first touch
    timings: dict[str, list[float]] = {method: [] for method in runners}
    offline: list[float] = []
    with tqdm(total=(len(runners) + 1) * repeats, disable=not progress, desc="latency", unit="query") as bar:
        # Round-robin, so a busy moment of the machine slows every method alike.
        for _ in range(repeats):
            for method, run in runners.items():
                answers[method] = run()
                timings[method].append(answers[method].seconds)
            bar.update(len(runners))
        # The ATTACH join runs repeatedly inside one offline window; the full window is measured separately.
        with attached(per_service) as services:
            services.join(threshold, created_after)
            timings["attach_join"] = [services.join(threshold, created_after).seconds for _ in range(repeats)]
        for _ in range(3):
            answers["attach_join"] = attach_join(per_service, threshold, created_after)
            offline.append(answers["attach_join"].offline_seconds)
        bar.update(repeats)
    measured = [m for m in ALL_METHODS if m in answers]
    check_agreement({m: answers[m] for m in measured})
    rows = []
    for method in measured:
        median, p95 = _percentiles(timings[method])
        answer = answers[method]
        rows.append(
            Latency(
                method,
                repeats,
                median,
                p95,
                answer.rows.num_rows,
                answer.calls,
                answer.rows_moved,
                answer.bytes_moved,
                float(np.median(offline)) * 1000 if method == "attach_join" else 0.0,
            )
        )
    return rows


def latency_frame(rows: list[Latency], *, as_text: bool = False) -> pd.DataFrame:
    """The latency measurements as a table indexed by method title (`as_text`: times as "1.2 ms" strings)."""
    frame = pd.DataFrame([r.__dict__ for r in rows])
    frame.insert(0, "method", frame.pop("method").map(TITLES))
    if as_text:
        for column in ("median_ms", "p95_ms", "offline_ms"):
            frame[column.removesuffix("_ms")] = [f"{v:.1f} ms" if v else "-" for v in frame.pop(column)]
    return frame.set_index("method")


# ---- staleness ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """One query during the writer's run: when it started, and how far behind its answer was."""

    method: str
    at_seconds: float  # since the writer started
    rows_behind: int
    ms_behind: float
    view_lag_events: int | None  # the view's own lag when the query started (all sources); None: not the view


@dataclass(frozen=True)
class Staleness:
    """What the staleness run measured."""

    observations: list[Observation]
    rate: float  # ships per second asked for
    achieved_rate: float
    shipped: int
    seconds: float
    writes_refused: int  # ships the Order service refused because the ATTACH join held its file
    offline_ms: list[float] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Per method: queries asked, rows and milliseconds behind (median and max)."""
        data = pd.DataFrame([o.__dict__ for o in self.observations])
        summary = data.groupby("method", sort=False).agg(
            queries=("rows_behind", "size"),
            median_rows_behind=("rows_behind", "median"),
            max_rows_behind=("rows_behind", "max"),
            median_ms_behind=("ms_behind", "median"),
            max_ms_behind=("ms_behind", "max"),
            max_view_lag_events=("view_lag_events", "max"),
        )
        summary = summary.reindex([m for m in METHODS if m in set(data["method"])])
        summary["ships_per_s_achieved"] = self.achieved_rate
        summary["writes_refused"] = self.writes_refused
        summary.index = summary.index.map(METHOD_TITLES)
        summary.index.name = "method"
        return summary


def _achieved_rate(times: list[float]) -> float:
    """Ships per second between the first and the last ship."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


def _until_online(call: Callable[[], T]) -> tuple[T, int]:
    """Call, retrying while a service is offline (the ATTACH join holds its file); the result and the refusals."""
    refused = 0
    while True:
        try:
            return call(), refused
        except ServiceOfflineError:
            refused += 1
            time.sleep(0.001)


def _prepare_orders(
    shared: SharedLayout, per_service: PerServiceLayout, threshold: object, count: int
) -> tuple[str, list[str]]:
    """A new customer (created now) with `count` approved orders over the threshold, in both layouts."""
    token = uuid.uuid4().hex[:8]
    customer_id = f"customer-live-{token}"
    first_total = math.floor(order_threshold(threshold)) + 1
    totals = [max(1, first_total + i) for i in range(count)]
    order_ids = [f"order-live-{token}-{i}" for i in range(count)]
    with SERVICE_CLOCK.pinned(datetime.now(UTC)):  # one creation time in both layouts, so answers can agree
        for layout in (shared, per_service):
            layout.customers.register(customer_id, "Live Customer", sum(totals))
    for layout in (shared, per_service):
        # The saga's steps, each service's in one group commit: preparing is not what is measured.
        with layout.orders.batch():
            for order_id, total in zip(order_ids, totals, strict=True):
                layout.orders.place(order_id, customer_id, total)
        with layout.customers.batch():
            for order_id, total in zip(order_ids, totals, strict=True):
                if not layout.customers.reserve_credit(customer_id, order_id, total):
                    raise LayoutError(f"credit for {order_id} was refused while preparing the staleness run")
        with layout.orders.batch():
            for order_id in order_ids:
                layout.orders.approve(order_id)
    return customer_id, order_ids


def _follow(layout: PerServiceLayout, stop: threading.Event, poll_seconds: float, failures: list) -> None:
    """Keep the view caught up until `stop`; a service taken offline is waited for, any other error is handed on."""
    try:
        while not stop.is_set():
            try:
                if layout.view.catch_up(max_events=1000) == 0:
                    stop.wait(poll_seconds)
            except ServiceOfflineError:
                stop.wait(poll_seconds)
    except BaseException as exc:
        failures.append(exc)


def measure_staleness(
    shared: SharedLayout,
    per_service: PerServiceLayout,
    threshold: object,
    created_after: object,
    *,
    rate: float = 20.0,
    seconds: float = 2.0,
    poll_seconds: float = 0.05,
    methods: tuple[str, ...] = ("shared_join", "api_composition", "cqrs_view"),
    progress: bool = False,
) -> Staleness:
    """Ship orders at `rate` per second for `seconds` while each method answers in turn; how far behind each was.

    The ATTACH join is left out by default: each of its answers takes the files from the services, which stalls
    the writer (measure it alone, `methods=("attach_join",)`, to see by how much).
    """
    if rate <= 0 or seconds <= 0:
        raise LayoutError(f"rate={rate!r} and seconds={seconds!r} must both be positive")
    cutoff = creation_cutoff(created_after)
    if cutoff >= datetime.now(UTC).replace(tzinfo=None):
        raise LayoutError(
            f"created_after={cutoff.isoformat()} is in the future: the orders shipped during the run belong to a "
            "customer created now, who must count as recent; pick an earlier date"
        )
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise LayoutError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    count = max(1, round(rate * seconds))
    _, order_ids = _prepare_orders(shared, per_service, threshold, count)
    per_service.view.catch_up()

    shipped: list[tuple[str, float]] = []
    shipped_lock = threading.Lock()
    refused = [0]
    stop_view = threading.Event()
    started = time.perf_counter()

    failures: list[BaseException] = []

    def write() -> None:
        try:
            for i, order_id in enumerate(order_ids):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                shared.orders.ship(order_id)
                refused[0] += _until_online(lambda o=order_id: per_service.orders.ship(o))[1]
                with shipped_lock:
                    shipped.append((order_id, time.perf_counter()))
        except BaseException as exc:  # handed to the main thread, which raises it
            failures.append(exc)

    runners: dict[str, Callable[[], Answer]] = {
        "shared_join": lambda: shared_join(shared, threshold, cutoff),
        "api_composition": lambda: _until_online(lambda: api_composition(per_service, threshold, cutoff))[0],
        "cqrs_view": lambda: cqrs_view(per_service, threshold, cutoff),
        "attach_join": lambda: attach_join(per_service, threshold, cutoff),
    }
    follower = threading.Thread(target=_follow, args=(per_service, stop_view, poll_seconds, failures), daemon=True)
    writer = threading.Thread(target=write, daemon=True)
    follower.start()
    writer.start()
    observations: list[Observation] = []
    offline: list[float] = []
    with tqdm(total=count, disable=not progress, desc="shipping", unit="order") as bar:
        while writer.is_alive() and not failures:
            for method in methods:
                query_start = time.perf_counter()
                with shipped_lock:
                    committed = dict(shipped)
                view_lag = sum(per_service.view.lag().values()) if method == "cqrs_view" else None
                answer = runners[method]()
                present = set(answer.order_ids)
                missing = [t for order_id, t in committed.items() if order_id not in present]
                observations.append(
                    Observation(
                        method,
                        query_start - started,
                        len(missing),
                        (query_start - min(missing)) * 1000 if missing else 0.0,
                        view_lag,
                    )
                )
                if answer.offline_seconds:
                    offline.append(answer.offline_seconds * 1000)
            bar.n = len(shipped)
            bar.refresh()
    writer.join()
    stop_view.set()
    follower.join(timeout=30)
    if failures:
        raise failures[0]
    elapsed = shipped[-1][1] - started if shipped else 0.0
    check_agreement(all_methods(shared, per_service, threshold, cutoff))  # consistent again once writes stop
    return Staleness(
        observations,
        rate,
        _achieved_rate([t for _, t in shipped]),
        len(shipped),
        elapsed,
        refused[0],
        offline,
    )
