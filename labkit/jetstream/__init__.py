"""The message broker: NATS JetStream, a real server the lab starts itself (or one named in $LABKIT_NATS_URL).

In the order a message travels:

Server (`labkit.jetstream.server`)
    `NatsServer(folder)`: `up(port=)`, `down()`, `kill()` (a crash, for fault experiments), `url()`, `status()`;
    `labkit broker up | status | down` on the command line. `broker_url()`: $LABKIT_NATS_URL, else that server.

Settings (`labkit.jetstream.settings`), checked before they reach the broker
    `StreamSettings(name, subjects, duplicate_window=, max_age=, max_msg_size=, storage=, retention=)`,
    `ConsumerSettings(durable, ack_wait=, max_deliver=, filter_subject=)`: each `differences(existing)`.

Client (`labkit.jetstream.client`): synchronous, usable from any thread, process or notebook
    `JetStream.connect(url=)`: `ensure_stream(StreamSettings(...))` (creates it, or accepts it with the same
    settings), `publish(subject, data, msg_id=)` -> `PublishAck(stream, sequence, duplicate)`,
    `publish_many([OutgoingMessage(subject, data, msg_id)])` (pipelined, acks in order),
    `stream_state(name)`, `delete_stream(name)`, `pull_consumer(stream, durable, ack_wait=, max_deliver=)`,
    `consumer_state(stream, durable)` (read from outside), `take_over(stream, durable)` (a restarted reader gets
    what its dead predecessor held at once, not `ack_wait` later).

Consumer (`labkit.jetstream.consumer`)
    `PullConsumer`: `fetch(batch)` -> [`Delivery`(subject, data, msg_id, stream_sequence, delivery_count)],
    `ack(*deliveries)` (confirmed by the broker), `nak(delivery, delay=)`,
    `info()` -> `ConsumerState(num_pending, num_ack_pending, num_redelivered, ack_floor)`.

Errors (`labkit.jetstream.errors`), all `LabkitError`s: `BrokerServerError`, `BrokerUnreachableError`,
`SettingsMismatchError`, `UnknownStreamError`, `PublishError`, `MessageTooLargeError`, `AckError`.
"""

from labkit.jetstream.client import JetStream, OutgoingMessage, PublishAck, StreamState
from labkit.jetstream.consumer import ConsumerState, Delivery, PullConsumer
from labkit.jetstream.errors import (
    AckError,
    BrokerError,
    BrokerServerError,
    BrokerUnreachableError,
    MessageTooLargeError,
    PublishError,
    SettingsMismatchError,
    UnknownStreamError,
)
from labkit.jetstream.server import URL_VARIABLE, NatsServer, broker_url
from labkit.jetstream.settings import ConsumerSettings, StreamSettings

__all__ = [
    "URL_VARIABLE",
    "AckError",
    "BrokerError",
    "BrokerServerError",
    "BrokerUnreachableError",
    "ConsumerSettings",
    "ConsumerState",
    "Delivery",
    "JetStream",
    "MessageTooLargeError",
    "NatsServer",
    "OutgoingMessage",
    "PublishAck",
    "PublishError",
    "PullConsumer",
    "SettingsMismatchError",
    "StreamSettings",
    "StreamState",
    "UnknownStreamError",
    "broker_url",
]
