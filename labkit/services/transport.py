"""How events travel between the services: each service's HTTP feed (pulled by position), or NATS JetStream.

`http` (the default): a consumer pulls its peer's `GET /events` feed after its checkpoint; nothing runs between
the services. `nats`: each service forwards its event table to a stream of its own on the broker (`EventForwarder`)
and each consumer is a durable JetStream consumer with explicit acks (`BrokerConsumer`). Both keep the consumer's
checkpoint in its own database, in the transaction that applies the events, so both deliver every event to the
handlers once and in order. The default stays `http` because it needs no other server: `nats` adds one, and with
it what a broker gives (the producer does not serve its readers; acks, redelivery and a de-duplication window).

The names on the broker: a stream per producing service, `<NAMESPACE>_<SERVICE>_EVENTS`, on the subject
`<namespace>.<service>.events`; a durable consumer per reader and peer, `<reader>-from-<peer>`. A run on a shared
broker gets a namespace of its own (the runner derives one from its folder), so two runs never read each other's events.
"""

from __future__ import annotations

import re

from labkit.jetstream import StreamSettings
from labkit.services.errors import SettingsError

TRANSPORTS = ("http", "nats")
DEFAULT_NAMESPACE = "labkit"
NAMESPACE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")

# A message not acked this long after its delivery comes again. Long enough for a batch to commit under load,
# short enough that a consumer restarted after a crash gets what the dead one held within seconds.
ACK_WAIT_SECONDS = 5.0
# A republished event within this window is dropped by the broker (a forwarder that crashed between the broker's
# ack and its own checkpoint); after it, the consumer's checkpoint drops it.
DUPLICATE_WINDOW_SECONDS = 120.0


def check_transport(transport: str) -> str:
    """`transport` if it is one of TRANSPORTS; SettingsError naming the choices otherwise."""
    if transport not in TRANSPORTS:
        raise SettingsError(f"transport {transport!r}: use one of {', '.join(TRANSPORTS)}")
    return transport


def check_namespace(namespace: str) -> str:
    """`namespace` if it can prefix stream and subject names; SettingsError otherwise."""
    if not isinstance(namespace, str) or not NAMESPACE_PATTERN.fullmatch(namespace):
        raise SettingsError(
            f"broker namespace {namespace!r}: use 1-40 lowercase letters, digits or '_', starting with a letter"
        )
    return namespace


def event_subject(service: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """The subject a service's events are published on."""
    return f"{namespace}.{service}.events"


def event_stream(service: str, namespace: str = DEFAULT_NAMESPACE) -> StreamSettings:
    """The stream that keeps a service's events on the broker (on disk, for every reader, de-duplicated by id)."""
    return StreamSettings(
        f"{namespace.upper()}_{service.upper()}_EVENTS",
        subjects=(event_subject(service, namespace),),
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


def durable_name(reader: str, peer: str) -> str:
    """The durable consumer through which `reader` reads `peer`'s events."""
    return f"{reader}-from-{peer}"
