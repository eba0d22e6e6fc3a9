"""A load of orders placed concurrently, and what it measured: accepted orders/s, saga latency, view lag.

Times come from the services' own records: an order's saga latency is from its OrderCreated to its
OrderApproved or OrderRejected (both recorded by the Order service); the view lag is from the Order service
recording an order's decision to the history service applying it to the view.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx
import numpy as np
import orjson
from tqdm.auto import tqdm

from labkit.errors import UsageError
from labkit.services.client import LabClient
from labkit.services.invariants import check_invariants, wait_until_settled

T = TypeVar("T")


@dataclass
class LoadResult:
    """What one load run measured."""

    orders: int
    accepted: int
    refused: int
    seconds: float
    settle_seconds: float
    saga_ms: np.ndarray
    view_lag_ms: np.ndarray
    violations: list[str] = field(default_factory=list)
    commands_per_transaction: float = 0.0
    cpu_ms_per_order: dict[str, float] = field(default_factory=dict)  # per process, when the caller measured it
    # After a killed consumer, when the caller caused one: what its restart was redelivered (None: a transport that
    # redelivers nothing, the HTTP feed) and the seconds from its restart until everything settled.
    redelivered: int | None = None
    catch_up_seconds: float | None = None

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def row(self) -> dict[str, float | int | str]:
        """The result as one table row (milliseconds and counts)."""
        return {
            "orders": self.orders,
            "accepted": self.accepted,
            "accepted/s": round(self.accepted_per_second, 1),
            "saga median ms": round(float(np.median(self.saga_ms)), 1) if self.saga_ms.size else float("nan"),
            "saga p99 ms": round(float(np.percentile(self.saga_ms, 99)), 1) if self.saga_ms.size else float("nan"),
            "view lag median ms": round(float(np.median(self.view_lag_ms)), 1)
            if self.view_lag_ms.size
            else float("nan"),
            "view lag p99 ms": round(float(np.percentile(self.view_lag_ms, 99)), 1)
            if self.view_lag_ms.size
            else float("nan"),
            "commands/commit": round(self.commands_per_transaction, 1),
            **(
                {
                    "redelivered after kill -9": "n/a" if self.redelivered is None else self.redelivered,
                    "settled after restart s": self.catch_up_seconds,
                }
                if self.catch_up_seconds is not None
                else {}
            ),
            "lost or broken": len(self.violations),
        }


def create_customers(client: LabClient, count: int, *, seed: int = 7, prefix: str = "customer") -> list[str]:
    """`count` customers with seeded credit limits (some generous, some tight, so the saga both approves and rejects)."""
    rng = np.random.default_rng(seed)
    limits = (rng.integers(5, 60, count) * 100).tolist()
    ids = [f"{prefix}-{i + 1}" for i in range(count)]
    for customer_id, limit in zip(ids, limits, strict=True):
        client.create_customer(customer_id, f"Customer {customer_id.rsplit('-', 1)[-1]}", int(limit))
    return ids


def order_plan(customers: list[str], count: int, *, seed: int = 7, prefix: str = "order") -> list[tuple[str, str, int]]:
    """Seeded orders: (order_id, customer_id, total), totals heavy-tailed like the workload generator's."""
    rng = np.random.default_rng(seed + 1)
    who = rng.integers(0, len(customers), count).tolist()
    totals = np.maximum(1, np.rint(rng.lognormal(np.log(120), 0.8, count))).astype(int).tolist()
    return [(f"{prefix}-{i + 1}", customers[c], t) for i, (c, t) in enumerate(zip(who, totals, strict=True))]


class _Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and reads the status: a load generator's client.

    httpx costs a few milliseconds of CPU per request, as much as the service spends answering it; on a shared
    2-core machine the load generator would then measure itself. This writes the request bytes and reads the
    answer's status line and Content-Length body, nothing more.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
        self.writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _place_all(
    order_url: str, plan: list[tuple[str, str, int]], concurrency: int, progress: bool
) -> tuple[list[str], int]:
    """POST every order with `concurrency` requests in flight; retries on connection errors (the same id is safe)."""
    accepted: list[str] = []
    refused = 0
    queue: asyncio.Queue[tuple[str, str, int]] = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    url = httpx.URL(order_url)
    with tqdm(total=len(plan), disable=not progress, desc="orders", unit="order", mininterval=1.0) as bar:

        async def worker() -> None:
            nonlocal refused
            connection = _Connection(url.host, url.port or 80)
            try:
                while not queue.empty():
                    order_id, customer_id, total = queue.get_nowait()
                    body = orjson.dumps({"order_id": order_id, "customer_id": customer_id, "order_total": total})
                    status = 0
                    for attempt in range(50):
                        try:
                            status = await asyncio.wait_for(connection.post("/orders", body), 30)
                        except (OSError, EOFError, ValueError, IndexError, TimeoutError, asyncio.IncompleteReadError):
                            connection.close()  # the service went away mid-request: reconnect and retry
                            await asyncio.sleep(0.1 * (attempt + 1))
                            continue
                        if status >= 500:  # the service is restarting: the same id is safe to retry
                            await asyncio.sleep(0.1 * (attempt + 1))
                            continue
                        break
                    if status in (200, 201):
                        accepted.append(order_id)
                    else:
                        refused += 1
                    bar.update(1)
            finally:
                connection.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, refused


def place_orders(
    client: LabClient, plan: list[tuple[str, str, int]], *, concurrency: int = 32, progress: bool = False
) -> tuple[list[str], int, float]:
    """Place the planned orders concurrently: (accepted order ids, refused count, seconds)."""
    started = time.perf_counter()
    accepted, refused = _run(_place_all(client.urls["order"], plan, concurrency, progress))
    return accepted, refused, time.perf_counter() - started


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from a notebook (whose thread already runs an event loop: then in a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def measured_latencies(client: LabClient, order_ids: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Saga latency and view lag of each order, in milliseconds, from the services' records."""
    created: dict[str, datetime] = {}
    decided: dict[str, datetime] = {}
    for event in client.events("order"):
        order_id = event["aggregate_id"]
        if order_id not in order_ids:
            continue
        at = datetime.fromisoformat(event["recorded_at"])
        if event["event_type"] == "OrderCreated":
            created[order_id] = at
        elif event["event_type"] in ("OrderApproved", "OrderRejected"):
            decided[order_id] = at
    saga = np.array([(decided[o] - created[o]).total_seconds() * 1000 for o in decided if o in created])
    lags = []
    for row in client.view():
        if row["order_id"] in order_ids and row["state"] in ("APPROVED", "REJECTED"):
            recorded = datetime.fromisoformat(row["state_recorded_at"])
            applied = datetime.fromisoformat(row["view_updated_at"])
            lags.append((applied - recorded).total_seconds() * 1000)
    return saga, np.array(lags)


def run_load(
    client: LabClient,
    *,
    orders: int,
    customers: int = 50,
    concurrency: int = 32,
    seed: int = 7,
    prefix: str = "load",
    progress: bool = False,
    settle_timeout: float = 120.0,
) -> LoadResult:
    """Create customers, place `orders` orders concurrently, wait for the sagas, measure and check the invariants."""
    for name, value in (("orders", orders), ("customers", customers), ("concurrency", concurrency)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name}={value!r}: a load needs a whole number of at least 1")
    customer_ids = create_customers(client, customers, seed=seed, prefix=f"{prefix}-customer")
    plan = order_plan(customer_ids, orders, seed=seed, prefix=f"{prefix}-order")
    accepted, refused, seconds = place_orders(client, plan, concurrency=concurrency, progress=progress)
    settle = wait_until_settled(client, timeout=settle_timeout)
    saga, lag = measured_latencies(client, set(accepted))
    report = check_invariants(client, accepted_orders=accepted)
    stats = client.status("order")["group_commit"]
    return LoadResult(
        orders,
        len(accepted),
        refused,
        seconds,
        settle,
        saga,
        lag,
        [str(v) for v in report.violations],
        stats["commands_per_transaction"],
    )
