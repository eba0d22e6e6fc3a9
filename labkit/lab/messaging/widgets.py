"""The pause/resume control of the CQRS notebook: pause the projections while orders are written, watch the read
model fall behind, resume and watch it catch up.

The widget is a thin front end over `ProjectionControl`, a plain object (unit-tested) that owns the runner's
background thread and a writer. Its status table changes only when something happens (a click, then the writes
and the catch-up it causes) and holds still otherwise, so what a browser test reads is stable.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable

from labkit.lab.messaging.lag import OrderWriter
from labkit.patterns.projection_runner import ProjectionRunner

RUNNING, PAUSED = "running", "paused"


class ProjectionControl:
    """Pause and resume a runner that follows in a background thread; write orders in bursts; report both sides."""

    def __init__(
        self, runner: ProjectionRunner, writer: OrderWriter, *, orders_per_click: int = 300, per_second: float = 150.0
    ) -> None:
        self.runner, self.writer = runner, writer
        self.orders_per_click, self.per_second = orders_per_click, per_second
        self.refreshers: list[Refresher] = []
        self._closed = False
        runner.catch_up()
        runner.start()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def mode(self) -> str:
        return PAUSED if self.runner.paused else RUNNING

    def set_mode(self, mode: str) -> None:
        """ "running" applies events as they come; "paused" stops applying them (writes go on)."""
        if mode == PAUSED:
            self.runner.pause()
        else:
            self.runner.resume()

    def write_orders(self) -> None:
        """Start writing a burst of orders in the background (ignored while a burst is still being written)."""
        if not self.writer.busy:
            self.writer.start(self.orders_per_click, self.per_second)

    def settled(self) -> bool:
        """Nothing will change until the next click: no writes in flight, and paused or caught up (or closed)."""
        if self.closed:
            return True
        return not self.writer.busy and (self.runner.paused or all(s.lag_events == 0 for s in self.runner.status()))

    def orders_seen(self) -> tuple[int, int]:
        """(orders in the orders_per_customer read model, orders in the event store): the two sides of CQRS."""
        read = self.runner.query("SELECT coalesce(sum(orders), 0)::BIGINT AS n FROM orders_per_customer")
        with self.runner.store.transaction() as connection:
            row = connection.execute("SELECT count(*) FROM events WHERE event_type = 'OrderCreated'").fetchone()
        return int(read["n"].iloc[0]), int(row[0]) if row else 0

    def status_html(self) -> str:
        """What the widget shows: mode, writer, orders on each side, and the status table."""
        read, written = self.orders_seen()
        writer = "writing orders" if self.writer.busy else "idle"
        return (
            f'<p class="labkit-projection-mode"><b>projection: {self.mode}</b> &middot; writer: {writer} &middot; '
            f"orders in the event store: {written} &middot; orders in the read model: {read}</p>"
            + self.runner.status_table().to_html(classes="labkit-projection-status")
        )

    def wait_until_settled(self, timeout: float = 60.0) -> bool:
        """Block until `settled()` (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while not self.settled():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        """Wait for writes in flight, stop refreshing and stop the runner's thread."""
        self.writer.join()
        self._closed = True
        for refresher in self.refreshers:
            refresher.join()
        self.runner.stop()


class Refresher:
    """Calls `show(control.status_html())` while things move after each `kick()`, and once more when they settle."""

    def __init__(self, control: ProjectionControl, show: Callable[[str], None], *, every_seconds: float = 0.2) -> None:
        self.control, self.show, self.every_seconds = control, show, every_seconds
        control.refreshers.append(self)
        self._kicked = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def kick(self) -> None:
        """Something changed: refresh until settled (one thread at a time; a kick during a refresh extends it)."""
        self._kicked.set()
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._follow, name="projection-control-refresh", daemon=True)
            self._thread.start()

    def _follow(self) -> None:
        while True:
            self._kicked.clear()
            time.sleep(0.05)  # let the click's effect start (a writer thread, a resumed runner)
            while not self.control.settled():
                self.show(self.control.status_html())
                time.sleep(self.every_seconds)
            if self.control.closed:
                return
            self.show(self.control.status_html())
            with self._lock:
                if not self._kicked.is_set():
                    self._thread = None
                    return

    def join(self, timeout: float = 60.0) -> None:
        """Wait until the refreshing stops (for tests and scripts)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def projection_control(control: ProjectionControl):
    """The widget: a running/paused toggle, a "write orders" button, and the status, refreshed while things move."""
    import ipywidgets as widgets

    toggle = widgets.ToggleButtons(options=[RUNNING, PAUSED], value=control.mode, description="projection")
    button = widgets.Button(description=f"write {control.orders_per_click} orders", icon="pencil")
    status = widgets.HTML(value=control.status_html())
    box = widgets.VBox([widgets.HBox([toggle, button]), status])
    box.add_class("labkit-projection-control")
    refresher = Refresher(control, lambda text: setattr(status, "value", text))

    def on_toggle(change: dict) -> None:
        control.set_mode(change["new"])
        refresher.kick()

    def on_click(_button: object) -> None:
        control.write_orders()
        refresher.kick()

    toggle.observe(on_toggle, names="value")
    button.on_click(on_click)
    return box


def status_text(html_text: str) -> str:
    """The widget's status as plain text (tags removed), for tests and logs."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_text)).split())
