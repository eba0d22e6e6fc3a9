"""The settings the lab chooses for a stream, checked before they reach the broker and compared with what it holds.

JetStream refuses to change a stream by creating it again with other settings; `ensure_stream` compares first, so
the refusal names each setting that differs; durable consumers (`ConsumerSettings`) are compared the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nats.js import api

from labkit.errors import UsageError

MSG_ID = "Nats-Msg-Id"  # the header JetStream de-duplicates publishes on, within a stream's duplicate_window
NAME_FORBIDDEN = set(" \t\r\n.*>/\\")  # characters a stream or consumer name cannot hold


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
        check_name("stream", self.name)
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
            "storage": setting_value(existing.storage),
            "retention": setting_value(existing.retention),
        }
        here = {**there, "subjects": tuple(sorted(self.subjects))}
        here.update({name: getattr(self, name) for name in there if name != "subjects"})
        return setting_differences(there, here)


@dataclass(frozen=True)
class ConsumerSettings:
    """A durable pull consumer with explicit acks, delivering the stream from its first message."""

    durable: str
    ack_wait: float = 30.0  # seconds after a delivery without an ack before the message is delivered again
    max_deliver: int = -1  # deliveries at most (-1: no cap)
    filter_subject: str | None = None  # only messages on this subject (None: the whole stream)

    def __post_init__(self) -> None:
        check_name("consumer", self.durable)
        if not self.ack_wait > 0:
            raise UsageError(f"consumer {self.durable}: ack_wait {self.ack_wait} must be > 0 seconds")
        if self.max_deliver == 0 or self.max_deliver < -1:
            raise UsageError(f"consumer {self.durable}: max_deliver {self.max_deliver} must be -1 (no cap) or >= 1")

    def config(self) -> api.ConsumerConfig:
        """The consumer as JetStream's API takes it."""
        return api.ConsumerConfig(
            durable_name=self.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            filter_subject=self.filter_subject,
        )

    def differences(self, existing: api.ConsumerConfig) -> list[str]:
        """Each setting in which `existing` differs from these."""
        there = {
            "ack_policy": setting_value(existing.ack_policy),
            "ack_wait": existing.ack_wait,
            "max_deliver": existing.max_deliver,
            "filter_subject": existing.filter_subject or None,
        }
        here = {"ack_policy": "explicit", "ack_wait": self.ack_wait, "max_deliver": self.max_deliver,
                "filter_subject": self.filter_subject}  # fmt: skip
        return setting_differences(there, here)


def check_name(kind: str, name: str) -> None:
    """UsageError unless `name` can name a stream or consumer."""
    if not isinstance(name, str) or not name or NAME_FORBIDDEN & set(name):
        raise UsageError(f"{kind} name {name!r} must be a non-empty word without spaces, '.', '*', '>', '/' or '\\'")


def setting_value(setting: Any) -> Any:
    """A setting as the broker reports it, without nats-py's enum wrapping ('file', not StorageType.FILE)."""
    return getattr(setting, "value", setting)


def setting_differences(there: dict[str, Any], here: dict[str, Any]) -> list[str]:
    """'NAME is THERE there, HERE here' for each setting whose values differ (seconds compared to the microsecond)."""

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
