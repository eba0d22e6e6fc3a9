"""What can go wrong with the message broker: one type per kind of failure, each message saying what to do."""

from labkit.errors import LabkitError


class BrokerError(LabkitError):
    """The message broker (NATS JetStream) refused or failed something."""


class BrokerServerError(BrokerError):
    """The lab's own NATS server could not be started or stopped."""


class BrokerUnreachableError(BrokerError):
    """No NATS server answers at the URL (or the connection to it is gone)."""


class SettingsMismatchError(BrokerError):
    """A stream or durable consumer exists already, with settings other than those asked for."""


class PublishError(BrokerError):
    """A publish was refused, or not acknowledged in time (it may or may not be stored)."""


class MessageTooLargeError(PublishError):
    """A message is over the broker's max_payload (or its stream's max_msg_size)."""


class AckError(BrokerError):
    """An acknowledgement names a message this consumer does not hold (unknown, or settled already), or was not
    confirmed by the broker."""


class UnknownStreamError(BrokerError):
    """The broker has no stream of that name."""
