"""The message broker measured: server start, publish with ack, fetch + ack (NATS JetStream, one run, one client).

A server of its own in a temporary folder (started and stopped here, whatever happens): the time from spawn to
JetStream ready (empty store; then a restart after kill -9 that recovers the published store); `--messages`
publishes, each with a msg_id and each awaiting its ack before the next (one sequential client, the way a relay
publishes); the same messages read by a durable pull consumer, `--batch` per fetch, each batch acked and the acks
confirmed by the broker before the next fetch.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from labkit.arguments import whole
from labkit.jetstream import BrokerError, JetStream, NatsServer, StreamSettings

STREAM = StreamSettings("BENCH", subjects=("bench.>",), duplicate_window=120.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Upper bounds so a typo is refused before a server starts: NATS takes bodies up to 1 MB by default.
    parser.add_argument(
        "--messages",
        type=whole(minimum=1, maximum=10**7),
        default=5000,
        help="messages published, then consumed (default 5000)",
    )
    parser.add_argument(
        "--batch", type=whole(minimum=1, maximum=10_000), default=100, help="messages per fetch (default 100)"
    )
    parser.add_argument(
        "--size", type=whole(minimum=1, maximum=2**20), default=200, help="bytes per message body (default 200)"
    )
    parser.add_argument(
        "--starts",
        type=whole(minimum=1, maximum=100),
        default=5,
        help="server starts timed, median reported (default 5)",
    )


def time_starts(folder: Path, starts: int) -> float:
    """Median seconds from spawning nats-server to JetStream ready, each on a fresh store."""
    seconds = []
    for n in range(starts):
        server = NatsServer(folder / f"start-{n}")
        started = time.perf_counter()
        server.up()
        seconds.append(time.perf_counter() - started)
        server.down()
    return statistics.median(seconds)


def measure(folder: Path, *, messages: int, batch: int, size: int, starts: int, progress: bool = True) -> pd.DataFrame:
    """One row per measurement: how many messages, seconds, and messages/s (for the rows that move messages)."""
    rows = [_row("server start, empty store (median)", 0, time_starts(folder, starts))]
    server = NatsServer(folder / "broker").up()
    try:
        body = b"x" * size
        with JetStream.connect(server.url()) as broker:
            broker.ensure_stream(STREAM)
            broker.publish("bench.warmup", body, msg_id="warmup")
            started = time.perf_counter()
            for n in tqdm(range(messages), desc="publish", disable=not progress):
                broker.publish("bench.orders", body, msg_id=f"order-{n}")
            rows.append(_row("publish, each awaiting its ack", messages, time.perf_counter() - started))

            consumer = broker.pull_consumer(STREAM.name, "bench")
            consumer.ack(*consumer.fetch(1))  # the warm-up message
            consumed = 0
            started = time.perf_counter()
            with tqdm(total=messages, desc="fetch + ack", disable=not progress) as bar:
                while consumed < messages:
                    deliveries = consumer.fetch(batch, timeout=2.0)
                    if not deliveries:
                        raise BrokerError(f"the bench consumer got {consumed} of {messages} messages")
                    consumer.ack(*deliveries)
                    consumed += len(deliveries)
                    bar.update(len(deliveries))
            rows.append(_row(f"fetch {batch} + ack each (confirmed)", consumed, time.perf_counter() - started))
        server.kill()
        started = time.perf_counter()
        server.up()
        rows.append(_row(f"restart after kill -9, {messages + 1} messages stored", 0, time.perf_counter() - started))
        with JetStream.connect(server.url()) as broker:
            kept = broker.stream_state(STREAM.name).messages
        if kept != messages + 1:
            raise BrokerError(f"the restarted broker holds {kept} messages, not {messages + 1}")
    finally:
        server.down()
    return pd.DataFrame(rows).set_index("measurement").astype({"messages/s": "Int64"})


def _row(measurement: str, messages: int, seconds: float) -> dict[str, object]:
    rate = round(messages / seconds) if messages else None
    return {"measurement": measurement, "messages": messages, "seconds": round(seconds, 4), "messages/s": rate}


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="labkit-bench-broker-") as scratch:
        frame = measure(Path(scratch), messages=args.messages, batch=args.batch, size=args.size, starts=args.starts)
    print(f"\nNATS JetStream (file storage, loopback), one sequential client, {args.size}-byte messages")
    print(frame.astype(object).fillna("").to_string())
    return 0
