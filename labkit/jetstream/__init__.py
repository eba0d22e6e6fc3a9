"""The message broker: NATS JetStream, a real server the lab starts itself (or one named in $LABKIT_NATS_URL).

In the order a message travels:

Server (`labkit.jetstream.server`)
    `NatsServer(folder)`: `up(port=)`, `down()`, `kill()` (a crash, for fault experiments), `url()`, `status()`;
    `labkit broker up | status | down` on the command line. `broker_url()`: $LABKIT_NATS_URL, else that server.

Client (`labkit.jetstream.client`): synchronous, usable from any thread, process or notebook
    `JetStream.connect(url=)`: `ensure_stream(StreamSettings(name, subjects, duplicate_window=, ...))`,
    `publish(subject, data, msg_id=)` -> `PublishAck(stream, sequence, duplicate)`, `stream_state(name)`,
    `delete_stream(name)`, `pull_consumer(stream, durable, ack_wait=, max_deliver=)` -> `PullConsumer`.
    `PullConsumer`: `fetch(batch)` -> [`Delivery`(subject, data, msg_id, stream_sequence, delivery_count)],
    `ack(*deliveries)` (confirmed by the broker), `nak(delivery, delay=)`,
    `info()` -> `ConsumerState(num_pending, num_ack_pending, num_redelivered, ack_floor)`.

Errors (`labkit.jetstream.errors`), all `LabkitError`s: `BrokerServerError`, `BrokerUnreachableError`,
`SettingsMismatchError`, `UnknownStreamError`, `PublishError`, `MessageTooLargeError`, `AckError`.
"""

from labkit.jetstream.client import (
    ConsumerState,
    Delivery,
    JetStream,
    PublishAck,
    PullConsumer,
    StreamSettings,
    StreamState,
)
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

__all__ = [
    "URL_VARIABLE",
    "AckError",
    "BrokerError",
    "BrokerServerError",
    "BrokerUnreachableError",
    "ConsumerState",
    "Delivery",
    "JetStream",
    "MessageTooLargeError",
    "NatsServer",
    "PublishAck",
    "PublishError",
    "PullConsumer",
    "SettingsMismatchError",
    "StreamSettings",
    "StreamState",
    "UnknownStreamError",
    "broker_url",
]
