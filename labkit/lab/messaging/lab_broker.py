"""A broker for a notebook or a benchmark run: the one named in $LABKIT_NATS_URL, else a NATS server of its own
under the run's folder, stopped when the run ends (a `with` block, or `stop()` in a notebook's last cell)."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from labkit.jetstream import URL_VARIABLE, BrokerServerError, NatsServer


class LabBroker:
    """The run's broker: `url`; `stop()` stops the server it started (none when $LABKIT_NATS_URL names one)."""

    def __init__(self, folder: Path | str) -> None:
        named = os.environ.get(URL_VARIABLE)
        self.server = None if named else NatsServer(folder).up()
        self.url = named or self.server.url()  # type: ignore[union-attr]

    def stop(self) -> None:
        """Stop the server this run started (by its pid), if any."""
        if self.server is not None:
            self.server.down()
            self.server = None

    def __enter__(self) -> LabBroker:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def start_broker(folder: Path | str) -> LabBroker:
    """A notebook's broker; when no server can be started (nats-server missing), one plain sentence and a stop."""
    try:
        return LabBroker(folder)
    except BrokerServerError as exc:
        print(f"This notebook needs a NATS server and cannot start one: {exc}")
        raise SystemExit(1) from None
