"""A durable pull consumer's client end: fetch a batch, ack (confirmed) or nak each delivery, ask the broker for its view.

The broker keeps a durable consumer's position and its unacked messages, so a consumer process that dies loses
nothing: what it fetched and did not ack comes back, `ack_wait` seconds later, with a higher `delivery_count`. This
end remembers what it holds, so an ack of a delivery it never fetched, or a second ack of one, is refused by name
(the broker itself would accept either without a word).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.aio.msg import Msg

from labkit.errors import UsageError
from labkit.jetstream.errors import AckError
from labkit.jetstream.settings import MSG_ID

SETTLED_MEMORY = 10_000  # how many settled deliveries a consumer remembers, to name a second ack as such
Run = Callable[[Coroutine[Any, Any, Any]], Any]  # JetStream.run: one coroutine on the connection's loop


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


class PullConsumer:
    """A durable consumer's client end: `fetch` a batch, then `ack` (or `nak`) each delivery; `info()` the broker's
    view of it. Made by `JetStream.pull_consumer`."""

    def __init__(self, run: Run, stream: str, durable: str, subscription: Any) -> None:
        self.stream = stream
        self.durable = durable
        self._run = run
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
            except (nats.errors.TimeoutError, TimeoutError):  # a batch fetch times out with asyncio's own error
                return []

        deliveries = []
        for message in self._run(fetch()):
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

    def ack(self, *deliveries: Delivery, timeout: float = 2.0, confirm: bool = True) -> None:
        """Acknowledge deliveries this consumer fetched; returns once the broker confirmed each. AckError, before
        anything is sent, for a delivery it does not hold (never fetched here, or settled already); AckError after,
        for those the broker did not confirm (they stay held: ack again, or they come back after ack_wait).

        `confirm=False` sends the acks and returns without waiting for the broker's confirmations (a round trip per
        message saved): for a consumer that drops repeats itself, since a lost ack means the message comes again."""
        messages = self._take(deliveries)
        if not confirm:
            self._run(_send_acks(messages))
            for message in messages:
                self._settle(message)
            return

        async def confirm_all() -> list[BaseException | None]:
            answers = await asyncio.gather(*(m.ack_sync(timeout=timeout) for m in messages), return_exceptions=True)
            return [answer if isinstance(answer, BaseException) else None for answer in answers]

        failures = []
        for message, error in zip(messages, self._run(confirm_all()), strict=True):
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
        self._run(message.nak(delay=delay))
        self._settle(message)

    def info(self) -> ConsumerState:
        """The broker's view of this consumer: pending, ack pending, redelivered, ack floor."""
        info = self._run(self._subscription.consumer_info())
        return ConsumerState(
            info.num_pending or 0, info.num_ack_pending, info.num_redelivered, info.ack_floor.stream_seq
        )

    def close(self) -> None:
        """Stop receiving here; the durable consumer stays on the broker, unacked messages come back after
        ack_wait."""
        self._run(self._subscription.unsubscribe())

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


async def _send_acks(messages: list[Msg]) -> None:
    """Publish each message's ack, unconfirmed, and flush them out together."""
    for message in messages:
        await message.ack()
