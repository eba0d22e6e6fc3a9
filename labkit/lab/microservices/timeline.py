"""What the notebook plots: each order's saga over time, and how far the view lags while orders keep coming."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pandas as pd

from labkit.services.client import LabClient

DECISIONS = {"OrderApproved": "APPROVED", "OrderRejected": "REJECTED"}


def saga_timeline(client: LabClient) -> pd.DataFrame:
    """One row per order: when it was placed, when its credit was answered, when it was decided, and the outcome.

    Times are seconds after the first order was placed, from the services' own event records.
    """
    placed: dict[str, datetime] = {}
    decided: dict[str, tuple[datetime, str]] = {}
    for event in client.events("order"):
        at = datetime.fromisoformat(event["recorded_at"])
        if event["event_type"] == "OrderCreated":
            placed[event["aggregate_id"]] = at
        elif event["event_type"] in DECISIONS:
            decided[event["aggregate_id"]] = (at, DECISIONS[event["event_type"]])
    answered = {
        e["event_data"]["order_id"]: datetime.fromisoformat(e["recorded_at"])
        for e in client.events("customer")
        if e["event_type"] in ("CreditReserved", "CreditLimitExceeded")
    }
    if not placed:
        return pd.DataFrame(columns=["order_id", "placed_s", "credit_s", "decided_s", "outcome", "saga_ms"])
    start = min(placed.values())

    def seconds(moment: datetime | None) -> float | None:
        return None if moment is None else (moment - start).total_seconds()

    rows = []
    for order_id, at in sorted(placed.items(), key=lambda item: item[1]):
        decision = decided.get(order_id)
        rows.append(
            {
                "order_id": order_id,
                "placed_s": seconds(at),
                "credit_s": seconds(answered.get(order_id)),
                "decided_s": seconds(decision[0]) if decision else None,
                "outcome": decision[1] if decision else "PENDING",
                "saga_ms": (decision[0] - at).total_seconds() * 1000 if decision else None,
            }
        )
    return pd.DataFrame(rows)


class LagSampler:
    """`sample_lag` in the background while the notebook does something else (`with LagSampler(client) as s:`)."""

    def __init__(self, client: LabClient, *, interval: float = 0.05) -> None:
        self.client, self.interval = client, interval
        self._stop = threading.Event()
        self.rows: list[dict[str, float | None]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        with LabClient(self.client.urls, timeout=2.0) as client:
            while not self._stop.is_set():
                sample: dict[str, float | None] = {"t_s": time.monotonic() - started}
                try:
                    sample["order_head"] = client.health("order")["head_position"]
                    status = client.status("history")
                    sample["view_position"] = next(
                        c["position"] for c in status["consumers"] if c["name"].endswith("<-order")
                    )
                except Exception:  # the history service is down: no sample of its position
                    sample.setdefault("order_head", None)
                    sample["view_position"] = None
                self.rows.append(sample)
                self._stop.wait(self.interval)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def frame(self) -> pd.DataFrame:
        """The samples: time, Order service head, view position (the last known one while the view is down), lag."""
        frame = pd.DataFrame(self.rows, columns=["t_s", "order_head", "view_position"])
        frame["view_up"] = frame["view_position"].notna()
        # A stopped view keeps its checkpoint: its position is where it stopped until it runs again.
        frame["view_position"] = frame["view_position"].ffill()
        frame["order_head"] = frame["order_head"].ffill()
        frame["lag_events"] = frame["order_head"] - frame["view_position"]
        return frame
