"""How Docker's builder reads argument values: ports, stop signals, durations, working directories, stage names.

Each function follows the engine's rule and raises InvalidInstructionError with Docker's own wording when the
engine would refuse the value; the caller adds the line number.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import signal

from labkit.containers.errors import InvalidInstructionError

PROTOCOLS = ("tcp", "udp", "sctp")
STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
# An image reference as Docker accepts it: lowercase repository path, optional tag and digest.
IMAGE_REFERENCE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
NANOSECONDS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9}
NANOSECONDS["h"] = 3600 * 10**9
MINIMUM_HEALTHCHECK_NS = 1_000_000


def _port_range(text: str) -> tuple[int, int]:
    """Docker's ParsePortRange: `80` or `8000-8002`, each an unsigned 16-bit number."""
    if not text:
        raise ValueError("empty port")
    parts = text.split("-") if "-" in text else [text, text]
    start, end = (int(part, 10) for part in parts[:2]) if all(p.isdigit() for p in parts[:2]) else (-1, -1)
    if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
        raise ValueError(text)
    return start, end


def exposed_ports(spec: str) -> list[str]:
    """The `port/protocol` keys one EXPOSE word adds (`8000-8001/udp` gives two; `ip:host:port` keeps the port)."""
    parts = spec.split(":")
    container = parts[-1]
    host = parts[-2] if len(parts) >= 2 else ""
    ip = ":".join(parts[:-2]) if len(parts) >= 3 else ""
    port, _, protocol = container.partition("/")
    protocol = protocol or "tcp"
    ip = ip.strip("[]")
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidInstructionError(f"Invalid ip address: {ip}") from None
    if not port:
        raise InvalidInstructionError(f"No port specified: {spec}<empty>")
    try:
        start, end = _port_range(port)
    except ValueError:
        raise InvalidInstructionError(f"Invalid containerPort: {port}") from None
    if host:
        try:
            host_start, host_end = _port_range(host)
        except ValueError:
            raise InvalidInstructionError(f"Invalid hostPort: {host}") from None
        if end != start and (end - start) != (host_end - host_start):
            raise InvalidInstructionError(f"Invalid ranges specified for container and host Ports: {port} and {host}")
    if protocol.lower() not in PROTOCOLS:
        raise InvalidInstructionError(f"Invalid proto: {protocol}")
    return [f"{number}/{protocol.lower()}" for number in range(start, end + 1)]


def _signal_names() -> frozenset[str]:
    names = {member.name.removeprefix("SIG") for member in signal.Signals if not member.name.startswith("SIG_")}
    # Linux also names the real-time signals RTMIN+n and RTMAX-n.
    names.update(f"RTMIN+{n}" for n in range(1, 16))
    names.update(f"RTMAX-{n}" for n in range(1, 15))
    names.update({"RTMIN", "RTMAX", "IOT", "POLL", "PWR", "STKFLT", "UNUSED", "CLD"})
    return frozenset(names)


SIGNAL_NAMES = _signal_names()


def check_stop_signal(value: str) -> str:
    """A STOPSIGNAL value is kept as written; Docker only checks that it names a signal or is a number."""
    if value.isdigit():
        if int(value) == 0:
            raise InvalidInstructionError(f"Invalid signal: {value}")
        return value
    if value.upper().removeprefix("SIG") not in SIGNAL_NAMES:
        raise InvalidInstructionError(f"Invalid signal: {value}")
    return value


def duration_ns(text: str, flag: str) -> int:
    """A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds; a HEALTHCHECK interval must be at least 1ms."""
    body = text[1:] if text[:1] in "+-" else text
    position, total = 0, 0.0
    if body == "0":
        total = 0.0
    else:
        for match in DURATION_PART.finditer(body):
            if match.start() != position:
                break
            total += float(match.group(1)) * NANOSECONDS[match.group(2)]
            position = match.end()
        if not body or position != len(body):
            raise InvalidInstructionError(f'time: invalid duration "{text}" (on --{flag}); write it like 30s or 1m30s')
    nanoseconds = -int(total) if text.startswith("-") else int(total)
    if nanoseconds < MINIMUM_HEALTHCHECK_NS:
        raise InvalidInstructionError(f'Interval "{flag}" cannot be less than 1ms')
    return nanoseconds


def go_clean(path: str) -> str:
    """Go's path.Clean: like posixpath.normpath, except that a leading `//` becomes `/`."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def working_dir(current: str, requested: str) -> str:
    """WORKDIR: an absolute path is taken as written; a relative one is joined to the current one and cleaned."""
    if not requested:
        raise InvalidInstructionError("cannot normalize nothing (WORKDIR is empty after substitution)")
    if requested.startswith("/"):
        return requested
    return go_clean(posixpath.join("/", current, requested))


def check_stage_name(name: str) -> str:
    """A stage name (`FROM image AS name`), lower-cased as Docker stores it."""
    lowered = name.lower()
    if not STAGE_NAME.match(lowered):
        raise InvalidInstructionError(
            f"invalid name for build stage: {name!r}, name can't start with a number or contain symbols"
        )
    return lowered


def check_image_reference(reference: str, *, what: str) -> str:
    """An image reference Docker can look up; `what` says where it came from for the message."""
    if not IMAGE_REFERENCE.match(reference):
        raise InvalidInstructionError(
            f"invalid {what} {reference!r}: invalid reference format (repository names are lowercase, "
            "no spaces; Docker does not substitute variables here)"
        )
    return reference
