"""A small synchronous client for NATS JetStream: streams, publishing with a message id, durable pull consumers.

The broker in four calls (nats-py underneath, asyncio in a thread of its own, so any code can call it):

    with JetStream.connect() as broker:  # $LABKIT_NATS_URL, or the server of `labkit broker up`
        broker.ensure_stream(StreamSettings("ORDERS", subjects=("orders.>",)))
        ack = broker.publish("orders.placed", b'{"order": 101}', msg_id="order-101-placed")
        ack.sequence, ack.duplicate  # where the stream keeps it; True: that msg_id came already
        consumer = broker.pull_consumer("ORDERS", "history")  # durable: the broker remembers its acks
        for delivery in consumer.fetch(10):
            handle(delivery.data)  # idempotently: the same message may come again
            consumer.ack(delivery)  # returns once the broker confirmed it

What the broker guarantees, and what it leaves to you: a publish that returned is stored (on disk, in order). A
publish that raised PublishError may or may not be: publish it again with the same msg_id, and within the stream's
duplicate window the repeat is dropped and reported as a duplicate; after the window it is a second message. A
fetched message that is not acked within `ack_wait` (the consumer crashed, or was slow) is delivered again, with a
higher `delivery_count`: delivery is at least once, so consumers must tolerate repeats.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from labkit.errors import UsageError
from labkit.jetstream.errors import (
    AckError,
    BrokerError,
    BrokerUnreachableError,
    MessageTooLargeError,
    PublishError,
    SettingsMismatchError,
    UnknownStreamError,
)
from labkit.jetstream.loop import BackgroundLoop
from labkit.jetstream.server import URL_VARIABLE, broker_url

T = TypeVar("T")
MSG_ID = "Nats-Msg-Id"  # the header JetStream de-duplicates publishes on
STREAM_NAME_FORBIDDEN = set(" \t\r\n.*>/\\")  # characters a stream or consumer name cannot hold
MESSAGE_TOO_LARGE = 10054  # JetStream's error code: over the stream's max_msg_size
SETTLED_MEMORY = 10_000  # how many settled deliveries a consumer remembers, to name a second ack as such


@dataclass(frozen=True)
class StreamSettings:
    """The settings of a stream that the lab chooses (JetStream's defaults for the rest)."""

    name: str
    subjects: tuple[str, ...]
    duplicate_window: float = 120.0  # seconds during which a repeated msg_id is dropped as a duplicate
    max_age: float = 0.0  # seconds a message is kept (0: as long as the stream exists)
    max_msg_size: int = -1  # bytes (-1: up to the server's max_payload)
    storage: str = "file"  # "file" survives a restart of the server; "memory" does not
    retention: str = "limits"  # "limits": messages stay for every consumer (and for replay); or "workqueue"

    def __post_init__(self) -> None:
        if isinstance(self.subjects, str):  # ("orders.>") without its comma is a string, not a tuple
            object.__setattr__(self, "subjects", (self.subjects,))
        object.__setattr__(self, "subjects", tuple(self.subjects))
        _check_name("stream", self.name)
        if not self.subjects or not all(isinstance(s, str) and s.strip() for s in self.subjects):
            raise UsageError(f"stream {self.name}: subjects {self.subjects!r} must be one or more subjects")
        if not self.duplicate_window > 0:
            raise UsageError(f"stream {self.name}: duplicate_window {self.duplicate_window} must be > 0 seconds")
        if self.max_age < 0 or (self.max_age > 0 and self.duplicate_window > self.max_age):
            raise UsageError(
                f"stream {self.name}: max_age {self.max_age} must be 0 (no limit) or at least duplicate_window "
                f"{self.duplicate_window}"
            )
        if self.storage not in ("file", "memory"):
            raise UsageError(f"stream {self.name}: storage {self.storage!r} must be 'file' or 'memory'")
        if self.retention not in ("limits", "workqueue", "interest"):
            raise UsageError(f"stream {self.name}: retention {self.retention!r} must be limits, workqueue or interest")

    def config(self) -> api.StreamConfig:
        """The stream as JetStream's API takes it."""
        return api.StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            duplicate_window=self.duplicate_window,
            max_age=self.max_age,
            max_msg_size=self.max_msg_size,
            storage=api.StorageType(self.storage),
            retention=api.RetentionPolicy(self.retention),
        )

    def differences(self, existing: api.StreamConfig) -> list[str]:
        """Each setting in which `existing` differs from these: 'NAME is THERE there, HERE here'."""
        there = {
            "subjects": tuple(sorted(existing.subjects or ())),
            "duplicate_window": existing.duplicate_window or 0.0,
            "max_age": existing.max_age or 0.0,
            "max_msg_size": existing.max_msg_size if existing.max_msg_size is not None else -1,
            "storage": _value(existing.storage),
            "retention": _value(existing.retention),
        }
        here = {**there, "subjects": tuple(sorted(self.subjects))}
        here.update({name: getattr(self, name) for name in there if name != "subjects"})
        return _differences(there, here)


@dataclass(frozen=True)
class PublishAck:
    """The broker's answer to a publish: the stream that stored the message, its sequence there, and whether it
    was a duplicate (its msg_id came before, within the duplicate window: not stored again)."""

    stream: str
    sequence: int
    duplicate: bool


@dataclass(frozen=True)
class StreamState:
    """How many messages a stream holds, and its first and last sequence."""

    messages: int
    first_sequence: int
    last_sequence: int


@dataclass(frozen=True)
class Delivery:
    """One message as a pull consumer received it."""

    subject: str
    data: bytes
    msg_id: str | None
    stream_sequence: int  # its place in the stream (1, 2, ...): the same on every delivery of it
    delivery_count: int  # 1 the first time; more when redelivered (not acked within ack_wait, or nak'ed)
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    token: str = field(default="", repr=False)  # the broker's ack subject for this very delivery


@dataclass(frozen=True)
class ConsumerState:
    """What the broker knows of a durable consumer (JetStream's names)."""

    num_pending: int  # messages in the stream not yet delivered to it
    num_ack_pending: int  # delivered, not yet acked
    num_redelivered: int  # delivered more than once and not yet acked
    ack_floor: int  # the stream sequence up to which every message is acked


class JetStream:
    """A connection to a NATS server with JetStream; `JetStream.connect()` opens one, `close()` (or `with`) ends it."""

    def __init__(self, url: str, loop: BackgroundLoop, client: Client) -> None:
        self.url = url
        self._loop = loop
        self._client = client
        self._js = client.jetstream()
        self._closed = False

    @classmethod
    def connect(cls, url: str | None = None, *, timeout: float = 2.0, name: str = "labkit") -> JetStream:
        """Connect to the broker at `url` (default: $LABKIT_NATS_URL, else the lab's own server); it reconnects by
        itself if the connection drops later (a restarted server, say)."""
        url = url or broker_url()
        _check_url(url)
        loop = BackgroundLoop(f"jetstream {name}")
        client = Client()

        async def connect() -> None:
            async def quiet(error: Exception) -> None:
                """nats-py logs each failed (re)connect with a traceback; the caller gets one error instead."""

            try:
                options = {"connect_timeout": timeout, "reconnect_time_wait": 0.5, "max_reconnect_attempts": -1}
                await asyncio.wait_for(client.connect(servers=[url], name=name, error_cb=quiet, **options), timeout)
            except (TimeoutError, OSError, nats.errors.Error):
                await client.close()
                raise BrokerUnreachableError(
                    f"no NATS server answers at {url} within {timeout:g} s: start one with `labkit broker up`, "
                    f"or name a running one in ${URL_VARIABLE}"
                ) from None
            try:
                await client.jetstream().account_info()  # JetStream's API answers only where JetStream is on
            except (nats.errors.NoRespondersError, nats.js.errors.ServiceUnavailableError):
                await client.close()
                raise BrokerUnreachableError(
                    f"the NATS server at {url} runs without JetStream: start it with JetStream on (`nats-server -js`; "
                    f"`labkit broker up` does), or name another in ${URL_VARIABLE}"
                ) from None

        try:
            loop.run(connect())
        except BrokerError:
            loop.stop()
            raise
        return cls(url, loop, client)

    def __enter__(self) -> JetStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush what is buffered and close the connection (streams and durable consumers stay on the broker)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run(self._client.close())
        except (OSError, nats.errors.Error):
            pass  # the server went away first: there is nothing left to flush or to close
        finally:
            self._loop.stop()

    @property
    def max_payload(self) -> int:
        """The largest message body the server accepts, in bytes (its max_payload; 1 MiB by default)."""
        return int(self._client.max_payload)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one nats-py coroutine on this connection's loop; connection failures become BrokerUnreachableError."""
        if self._closed:
            coroutine.close()
            raise BrokerUnreachableError(f"this connection to {self.url} is closed: connect again")
        try:
            return self._loop.run(coroutine)
        except (nats.errors.ConnectionClosedError, nats.errors.OutboundBufferLimitError) as exc:
            raise BrokerUnreachableError(f"the connection to {self.url} is gone ({exc}): connect again") from None
        except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
            raise BrokerUnreachableError(
                f"the broker at {self.url} did not answer in time: is it running (`labkit broker status`)?"
            ) from None

    # ---- streams ------------------------------------------------------------------------------------------------

    def ensure_stream(self, settings: StreamSettings) -> bool:
        """Create the stream, or accept the existing one if its settings are these; whether it was created.
        SettingsMismatchError (naming each difference) if it exists with other settings: nothing is changed."""
        existing = self._stream_config(settings.name)
        if existing is None:
            try:
                self.run(self._js.add_stream(settings.config()))
                return True
            except nats.js.errors.BadRequestError as exc:
                existing = self._stream_config(settings.name)  # another client may have created it meanwhile
                if existing is None:
                    raise UsageError(
                        f"the broker refused stream {settings.name}: {exc.description} (JetStream error "
                        f"{exc.err_code}); change the settings it names"
                    ) from None
        differences = settings.differences(existing)
        if differences:
            raise SettingsMismatchError(
                f"stream {settings.name} exists with other settings: {'; '.join(differences)}. Ask for the "
                f"settings it has, choose another stream name, or delete it (JetStream.delete_stream("
                f"{settings.name!r}), which drops its messages) and ensure it again"
            )
        return False

    def _stream_config(self, name: str) -> api.StreamConfig | None:
        try:
            return self.run(self._js.stream_info(name)).config
        except nats.js.errors.NotFoundError:
            return None

    def stream_state(self, name: str) -> StreamState:
        """How many messages the stream holds, and its first and last sequence."""
        state = self._stream_info(name).state
        return StreamState(state.messages, state.first_seq, state.last_seq)

    def delete_stream(self, name: str) -> bool:
        """Delete the stream with its messages and consumers; whether it existed."""
        try:
            return bool(self.run(self._js.delete_stream(name)))
        except nats.js.errors.NotFoundError:
            return False

    def _stream_info(self, name: str) -> api.StreamInfo:
        try:
            return self.run(self._js.stream_info(name))
        except nats.js.errors.NotFoundError:
            raise UnknownStreamError(f"the broker has no stream {name!r}: create it with ensure_stream()") from None

    # ---- publishing ---------------------------------------------------------------------------------------------

    def publish(
        self,
        subject: str,
        data: bytes,
        *,
        msg_id: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 2.0,
    ) -> PublishAck:
        """Publish `data` to `subject` and wait for the stream's ack. With `msg_id`, a repeat within the stream's
        duplicate window is not stored again (the ack says duplicate=True). PublishError if no ack comes in
        `timeout` seconds: then it may or may not be stored; publish again with the same msg_id."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise UsageError(f"data must be bytes, not {type(data).__name__}: encode it (e.g. json.dumps(x).encode())")
        all_headers = {**(headers or {}), **({MSG_ID: msg_id} if msg_id is not None else {})}
        # The server counts the headers in max_payload, and closes the connection on a message over it: check here.
        size = len(data) + _header_size(all_headers)
        if size > self.max_payload:
            raise MessageTooLargeError(
                f"a message of {size:,} bytes (body and headers) to {subject} is over the broker's max_payload of "
                f"{self.max_payload:,} bytes: publish a reference (an id to fetch the body by) instead of the body, "
                "or raise max_payload in the server's configuration"
            )
        try:
            ack = self.run(self._js.publish(subject, bytes(data), timeout=timeout, headers=all_headers or None))
        except BrokerUnreachableError as exc:
            raise PublishError(
                f"no ack for the message{_id_text(msg_id)} to {subject} within {timeout:g} s ({exc}): it may or may "
                "not be stored; publish it again with the same msg_id (a repeat within the duplicate window is "
                "dropped)"
            ) from None
        except nats.js.errors.NoStreamResponseError:
            raise PublishError(
                f"no stream takes subject {subject}: create one whose subjects match it (ensure_stream) first"
            ) from None
        except nats.js.errors.APIError as exc:
            if exc.err_code == MESSAGE_TOO_LARGE:
                raise MessageTooLargeError(
                    f"a message of {len(data):,} bytes to {subject} is over its stream's max_msg_size "
                    f"({exc.description}): publish a reference instead of the body, or raise max_msg_size"
                ) from None
            raise PublishError(f"the broker refused the message to {subject}: {exc.description}") from None
        return PublishAck(ack.stream, ack.seq, bool(ack.duplicate))

    # ---- consuming ----------------------------------------------------------------------------------------------

    def pull_consumer(
        self,
        stream: str,
        durable: str,
        *,
        filter_subject: str | None = None,
        ack_wait: float = 30.0,
        max_deliver: int = -1,
    ) -> PullConsumer:
        """A durable pull consumer with explicit acks: created on first use; the broker keeps its position and its
        unacked messages across restarts of the consumer (and of the broker). `ack_wait` seconds after a delivery
        without an ack, the message is delivered again; `max_deliver` caps the deliveries (-1: no cap)."""
        _check_name("consumer", durable)
        if not ack_wait > 0:
            raise UsageError(f"consumer {durable}: ack_wait {ack_wait} must be > 0 seconds")
        self._stream_info(stream)  # UnknownStreamError before anything is created
        wanted = api.ConsumerConfig(
            durable_name=durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            filter_subject=filter_subject,
        )
        try:
            existing = self.run(self._js.consumer_info(stream, durable)).config
            there = {
                "ack_wait": existing.ack_wait,
                "max_deliver": existing.max_deliver,
                "filter_subject": existing.filter_subject or None,
                "ack_policy": _value(existing.ack_policy),
            }
            here = {"ack_wait": ack_wait, "max_deliver": max_deliver, "filter_subject": filter_subject}
            differences = _differences(there, {**there, **here, "ack_policy": "explicit"})
            if differences:
                raise SettingsMismatchError(
                    f"consumer {durable} of stream {stream} exists with other settings: {'; '.join(differences)}. Ask "
                    f"for the settings it has, or choose another durable name (its position starts from the stream's "
                    f"first message)"
                )
        except nats.js.errors.NotFoundError:
            self.run(self._js.add_consumer(stream, config=wanted))
        subscription = self.run(self._js.pull_subscribe_bind(durable=durable, stream=stream))
        return PullConsumer(self, stream, durable, subscription)


class PullConsumer:
    """A durable consumer's client end: `fetch` a batch, then `ack` (or `nak`) each delivery; `info()` the broker's
    view of it. Made by `JetStream.pull_consumer`."""

    def __init__(self, broker: JetStream, stream: str, durable: str, subscription: Any) -> None:
        self.stream = stream
        self.durable = durable
        self._broker = broker
        self._subscription = subscription
        self._held: dict[str, Msg] = {}  # fetched, not yet acked or nak'ed: token -> message
        self._settled: dict[str, None] = {}  # the last SETTLED_MEMORY acked or nak'ed tokens, oldest first

    def fetch(self, batch: int = 1, *, timeout: float = 1.0) -> list[Delivery]:
        """Up to `batch` messages; waits up to `timeout` seconds for the first; [] if none came."""
        if batch < 1 or not timeout > 0:
            raise UsageError(f"fetch(batch={batch}, timeout={timeout}): batch must be >= 1 and timeout > 0 seconds")

        async def fetch() -> list[Msg]:
            try:
                return await self._subscription.fetch(batch, timeout=timeout)
            except nats.errors.TimeoutError:
                return []

        deliveries = []
        for message in self._broker.run(fetch()):
            metadata = message.metadata
            headers = dict(message.headers or {})
            self._held[message.reply] = message
            deliveries.append(
                Delivery(
                    subject=message.subject,
                    data=message.data,
                    msg_id=headers.get(MSG_ID),
                    stream_sequence=metadata.sequence.stream,
                    delivery_count=metadata.num_delivered,
                    headers=headers,
                    token=message.reply,
                )
            )
        return deliveries

    def ack(self, *deliveries: Delivery, timeout: float = 2.0) -> None:
        """Acknowledge deliveries this consumer fetched; returns once the broker confirmed each. AckError, before
        anything is sent, for a delivery it does not hold (never fetched here, or settled already); AckError after,
        for those the broker did not confirm (they stay held: ack again, or they come back after ack_wait)."""
        messages = self._take(deliveries)

        async def confirm_all() -> list[BaseException | None]:
            answers = await asyncio.gather(*(m.ack_sync(timeout=timeout) for m in messages), return_exceptions=True)
            return [answer if isinstance(answer, BaseException) else None for answer in answers]

        failures = []
        for message, error in zip(messages, self._broker.run(confirm_all()), strict=True):
            if error is None:
                self._settle(message)
            else:
                failures.append((message, error))
                self._held[message.reply] = message  # still ours: ack it again, or it comes back after ack_wait
        if failures:
            sequences = ", ".join(str(m.metadata.sequence.stream) for m, _ in failures)
            raise AckError(
                f"the broker did not confirm the ack of message(s) {sequences} of {self.stream} within {timeout:g} s "
                f"({failures[0][1]!r}): ack them again; if none gets through they are delivered again after ack_wait"
            )

    def nak(self, delivery: Delivery, *, delay: float | None = None) -> None:
        """Hand a delivery back: the broker delivers it again (after `delay` seconds, if given)."""
        (message,) = self._take((delivery,))
        self._broker.run(message.nak(delay=delay))
        self._settle(message)

    def info(self) -> ConsumerState:
        """The broker's view of this consumer: pending, ack pending, redelivered, ack floor."""
        info = self._broker.run(self._subscription.consumer_info())
        return ConsumerState(
            info.num_pending or 0, info.num_ack_pending, info.num_redelivered, info.ack_floor.stream_seq
        )

    def close(self) -> None:
        """Stop receiving here; the durable consumer stays on the broker, unacked messages come back after
        ack_wait."""
        self._broker.run(self._subscription.unsubscribe())

    def _take(self, deliveries: tuple[Delivery, ...]) -> list[Msg]:
        """The held messages of `deliveries`, taken out of `held`; AckError (and nothing taken) if one is not held."""
        tokens = [delivery.token for delivery in deliveries]
        for delivery in deliveries:
            if delivery.token in self._settled or tokens.count(delivery.token) > 1:
                raise AckError(
                    f"message {delivery.stream_sequence} of {self.stream} (delivery {delivery.delivery_count}) was "
                    f"acked or nak'ed already by consumer {self.durable}: settle each delivery once"
                )
            if delivery.token not in self._held:
                raise AckError(
                    f"message {delivery.stream_sequence} of {self.stream} was not fetched by this consumer "
                    f"({self.durable}): ack a delivery with the consumer whose fetch returned it"
                )
        return [self._held.pop(token) for token in tokens]

    def _settle(self, message: Msg) -> None:
        self._settled[message.reply] = None
        if len(self._settled) > SETTLED_MEMORY:
            del self._settled[next(iter(self._settled))]


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not name or STREAM_NAME_FORBIDDEN & set(name):
        raise UsageError(f"{kind} name {name!r} must be a non-empty word without spaces, '.', '*', '>', '/' or '\\'")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("nats", "tls") or not parts.hostname or port is None:
        raise UsageError(f"{url!r} is not a NATS URL: write nats://HOST:PORT (e.g. nats://127.0.0.1:4222)")


def _header_size(headers: dict[str, str]) -> int:
    """The bytes the headers take on the wire: 'NATS/1.0' CRLF, 'key: value' CRLF each, CRLF."""
    if not headers:
        return 0
    return len(b"NATS/1.0\r\n\r\n") + sum(len(f"{key}: {value}\r\n".encode()) for key, value in headers.items())


def _id_text(msg_id: str | None) -> str:
    return f" {msg_id!r}" if msg_id is not None else ""


def _value(setting: Any) -> Any:
    return getattr(setting, "value", setting)


def _differences(there: dict[str, Any], here: dict[str, Any]) -> list[str]:
    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) or isinstance(b, float):
            return a is not None and b is not None and math.isclose(a, b, abs_tol=1e-6)
        return a == b

    return [
        f"{name} is {_shown(there[name])} there, {_shown(here[name])} here"
        for name in there
        if not same(there[name], here[name])
    ]


def _shown(value: Any) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)
