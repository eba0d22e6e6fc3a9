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
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import api

from labkit.errors import UsageError
from labkit.jetstream.consumer import ConsumerState, PullConsumer
from labkit.jetstream.errors import (
    BrokerError,
    BrokerUnreachableError,
    MessageTooLargeError,
    PublishError,
    SettingsMismatchError,
    UnknownStreamError,
)
from labkit.jetstream.loop import BackgroundLoop
from labkit.jetstream.server import URL_VARIABLE, broker_url
from labkit.jetstream.settings import MSG_ID, ConsumerSettings, StreamSettings

T = TypeVar("T")
MESSAGE_TOO_LARGE = 10054  # JetStream's error code: over the stream's max_msg_size


@dataclass(frozen=True)
class PublishAck:
    """The broker's answer to a publish: the stream that stored the message, its sequence there, and whether it
    was a duplicate (its msg_id came before, within the duplicate window: not stored again)."""

    stream: str
    sequence: int
    duplicate: bool


@dataclass(frozen=True)
class OutgoingMessage:
    """One message for `publish_many`: its subject, its body, and the id JetStream de-duplicates it by."""

    subject: str
    data: bytes
    msg_id: str | None = None


@dataclass(frozen=True)
class StreamState:
    """How many messages a stream holds, and its first and last sequence."""

    messages: int
    first_sequence: int
    last_sequence: int


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
        differing = settings.differences(existing)
        if differing:
            raise SettingsMismatchError(
                f"stream {settings.name} exists with other settings: {'; '.join(differing)}. Ask for the "
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

    def publish_many(self, messages: Sequence[OutgoingMessage], *, timeout: float = 5.0) -> list[PublishAck]:
        """Publish `messages` in order, pipelined (all sent, then every ack awaited), and return their acks in order.
        PublishError if any ack does not come: then some may be stored and some not; publish them all again with
        the same msg_ids (the stored ones come back as duplicates)."""
        for message in messages:
            if not isinstance(message, OutgoingMessage):
                raise UsageError(f"publish_many takes OutgoingMessage values, not {type(message).__name__}")
            size = len(message.data) + _header_size({MSG_ID: message.msg_id} if message.msg_id else {})
            if size > self.max_payload:
                raise MessageTooLargeError(
                    f"a message of {size:,} bytes to {message.subject} is over the broker's max_payload of "
                    f"{self.max_payload:,} bytes: publish a reference instead of the body"
                )

        async def publish_all() -> list[Any]:
            sends = [
                self._js.publish(
                    m.subject, bytes(m.data), timeout=timeout, headers={MSG_ID: m.msg_id} if m.msg_id else None
                )
                for m in messages
            ]
            # gather starts them in order: each writes its message to the connection before the next one runs.
            return await asyncio.gather(*sends, return_exceptions=True)

        try:
            answers = self.run(publish_all())
        except BrokerUnreachableError as exc:
            raise PublishError(f"no acks for {len(messages)} messages ({exc}): publish them again") from None
        failed = [a for a in answers if isinstance(a, BaseException)]
        if failed:
            raise PublishError(
                f"{len(failed)} of {len(messages)} messages got no ack ({type(failed[0]).__name__}: {failed[0]}): "
                "some may be stored; publish them all again with the same msg_ids (the stored ones are dropped as "
                "duplicates within the stream's duplicate window)"
            )
        return [PublishAck(a.stream, a.seq, bool(a.duplicate)) for a in answers]

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
        settings = ConsumerSettings(durable, ack_wait=ack_wait, max_deliver=max_deliver, filter_subject=filter_subject)
        self._stream_info(stream)  # UnknownStreamError before anything is created
        try:
            existing = self.run(self._js.consumer_info(stream, durable)).config
        except nats.js.errors.NotFoundError:
            self.run(self._js.add_consumer(stream, config=settings.config()))
        else:
            differing = settings.differences(existing)
            if differing:
                raise SettingsMismatchError(
                    f"consumer {durable} of stream {stream} exists with other settings: {'; '.join(differing)}. Ask "
                    "for the settings it has, or choose another durable name (its position starts from the stream's "
                    "first message)"
                )
        subscription = self.run(self._js.pull_subscribe_bind(durable=durable, stream=stream))
        return PullConsumer(self.run, stream, durable, subscription)

    def take_over(self, stream: str, durable: str) -> int:
        """For a consumer's successor (the one process reading `durable` restarted after a crash): what its dead
        predecessor fetched and never acked would come again only `ack_wait` after its delivery. Recreate the
        durable consumer, with its settings, to deliver from its ack floor: those messages come at once and in
        stream order (any acked above the floor come again too, as duplicates). How many were held (0: nothing is
        changed). Only for a durable that one process reads: another live reader would get its messages again."""
        self._stream_info(stream)  # UnknownStreamError first
        try:
            info = self.run(self._js.consumer_info(stream, durable))
        except nats.js.errors.NotFoundError:
            return 0  # never created: nothing was held
        held = int(info.num_ack_pending)
        if held == 0:
            return 0
        config = info.config
        config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = int(info.ack_floor.stream_seq) + 1
        self.run(self._js.delete_consumer(stream, durable))
        self.run(self._js.add_consumer(stream, config=config))
        return held

    def consumer_state(self, stream: str, durable: str) -> ConsumerState:
        """The broker's view of a durable consumer, read from outside it (nothing is fetched): pending, ack
        pending, redelivered, ack floor. UnknownStreamError / BrokerError if the stream or consumer does not exist."""
        self._stream_info(stream)
        try:
            info = self.run(self._js.consumer_info(stream, durable))
        except nats.js.errors.NotFoundError:
            raise BrokerError(f"stream {stream} has no durable consumer {durable!r}") from None
        return ConsumerState(
            info.num_pending or 0, info.num_ack_pending, info.num_redelivered, info.ack_floor.stream_seq
        )


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
