"""How one service process is configured: command-line options, each with an environment variable as fallback.

The contract the container image and the Helm chart rely on:
`python -m labkit.services <customer|order|history> --host 0.0.0.0 --port 8000 --data-dir /data`, peers given by
`--customer-url/--order-url` or LABKIT_CUSTOMER_URL/LABKIT_ORDER_URL, health at GET /health, OpenAPI at /docs.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit.arguments import CommandLineParser, folder, port, whole
from labkit.services.errors import SettingsError, UnknownServiceError
from labkit.services.transport import DEFAULT_NAMESPACE, TRANSPORTS, check_namespace, check_transport

SERVICES = ("customer", "order", "history")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# A PostgreSQL URL: the customer and order services keep their databases there (the chart sets it with postgres on).
DATABASE_URL_VARIABLE = "LABKIT_DATABASE_URL"

# Which peers' event feeds each service consumes.
PEERS: dict[str, tuple[str, ...]] = {"customer": ("order",), "order": ("customer",), "history": ("customer", "order")}


@dataclass(frozen=True)
class ServiceSettings:
    """Everything one service process needs to start."""

    service: str
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data/services")
    customer_url: str | None = None
    order_url: str | None = None
    log_level: str = "INFO"
    feed_poll_timeout: float = 10.0  # seconds a consumer long-polls a peer's feed
    feed_batch_size: int = 500  # events a consumer asks for per poll
    feed_max_wait: float = 30.0  # the longest a feed request may wait for new events
    group_commit_max: int = 256  # commands committed together at most
    database_url: str | None = None  # a PostgreSQL server: the service keeps its database in a schema there
    parent_pid: int | None = None  # exit when this process is gone (services started from a notebook kernel)
    transport: str = "http"  # how events reach the peers: their HTTP feeds, or NATS JetStream (`transport.py`)
    broker_url: str | None = None  # the NATS server, with transport "nats"
    broker_namespace: str = DEFAULT_NAMESPACE  # prefixes the streams' and subjects' names on the broker

    def __post_init__(self) -> None:
        if self.service not in SERVICES:
            raise UnknownServiceError(f"unknown service {self.service!r}: use one of {', '.join(SERVICES)}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise SettingsError(f"port {self.port!r} is not a TCP port (1-65535, or 0 for any free one)")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"log level {self.log_level!r}: use one of {', '.join(LOG_LEVELS)}")
        check_transport(self.transport)
        check_namespace(self.broker_namespace)
        if self.transport == "nats" and not self.broker_url:
            raise SettingsError(
                f"the {self.service} service uses the NATS transport: pass --broker-url nats://HOST:PORT or set "
                "LABKIT_NATS_URL"
            )
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise SettingsError(f"data folder {self.data_dir} is a file: give --data-dir a folder")

    def require_peers(self) -> None:
        """Refuse to start without the URL of every peer whose feed this service consumes."""
        for peer in PEERS[self.service]:
            self.peer_url(peer)

    @property
    def database_path(self) -> Path:
        """The service's own DuckDB file: no other process opens it."""
        return self.data_dir / f"{self.service}.duckdb"

    def peer_url(self, peer: str) -> str:
        """The base URL of a peer service whose feed this one consumes."""
        url = {"customer": self.customer_url, "order": self.order_url}.get(peer)
        if not url:
            raise UnknownServiceError(
                f"the {self.service} service needs the {peer} service's URL: pass --{peer}-url or set "
                f"LABKIT_{peer.upper()}_URL"
            )
        return url.rstrip("/")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLineParser(prog="python -m labkit.services", description="Run one of the lab's services.")
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--host", default=None, help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=None, help="port to listen on (default 8000)")
    parser.add_argument("--data-dir", type=folder, default=None, help="folder of the service's DuckDB file")
    parser.add_argument("--customer-url", default=None, help="the Customer service (env LABKIT_CUSTOMER_URL)")
    parser.add_argument("--order-url", default=None, help="the Order service (env LABKIT_ORDER_URL)")
    parser.add_argument(
        "--log-level", type=str.upper, choices=LOG_LEVELS, default=None, help="(env LABKIT_LOG_LEVEL, default INFO)"
    )
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL URL: keep the database there (env LABKIT_DATABASE_URL)"
    )
    parser.add_argument("--parent-pid", type=whole(minimum=1), default=None, help="exit when this process ends")
    parser.add_argument(
        "--transport", choices=TRANSPORTS, default=None, help="events between services: http feeds (default) or nats"
    )
    parser.add_argument(
        "--broker-url", default=None, help="the NATS server, for --transport nats (env LABKIT_NATS_URL)"
    )
    parser.add_argument(
        "--broker-namespace", default=None, help="prefix of the stream names on the broker (default labkit)"
    )
    return parser


def settings_from(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> ServiceSettings:
    """Settings from command-line options, falling back to LABKIT_* environment variables, then defaults."""
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ

    def number(name: str, default: float) -> float:
        raw = env.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a number of seconds or events") from None
        if not 0 < value < float("inf"):
            raise SettingsError(f"{name}={raw!r} must be above 0 and finite")
        return value

    return ServiceSettings(
        service=args.service,
        host=args.host or env.get("LABKIT_HOST") or "127.0.0.1",
        port=args.port if args.port is not None else _port_from(env.get("LABKIT_PORT")),
        data_dir=args.data_dir or Path(env.get("LABKIT_DATA_DIR") or "data/services"),
        customer_url=args.customer_url or env.get("LABKIT_CUSTOMER_URL") or None,
        order_url=args.order_url or env.get("LABKIT_ORDER_URL") or None,
        log_level=(args.log_level or env.get("LABKIT_LOG_LEVEL") or "INFO").upper(),
        feed_poll_timeout=number("LABKIT_FEED_POLL_TIMEOUT_S", 10.0),
        feed_batch_size=int(number("LABKIT_FEED_BATCH_SIZE", 500)),
        feed_max_wait=number("LABKIT_FEED_MAX_WAIT_S", 30.0),
        group_commit_max=int(number("LABKIT_GROUP_COMMIT_MAX", 256)),
        database_url=args.database_url or env.get(DATABASE_URL_VARIABLE) or None,
        parent_pid=args.parent_pid,
        transport=args.transport or env.get("LABKIT_TRANSPORT") or "http",
        broker_url=args.broker_url or env.get("LABKIT_NATS_URL") or None,
        broker_namespace=args.broker_namespace or env.get("LABKIT_BROKER_NAMESPACE") or DEFAULT_NAMESPACE,
    )


def _port_from(raw: str | None) -> int:
    """LABKIT_PORT, or 8000."""
    if not raw:
        return 8000
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"LABKIT_PORT={raw!r} is not a port number") from None
