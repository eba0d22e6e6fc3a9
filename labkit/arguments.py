"""The command line's argument types: each turns a string into a checked value, or refuses it in one line.

argparse calls them before any command runs (`type=`), so a bad value is a usage error (exit 2) that names the
argument and the value, and no work has started. The same checks serve `labkit` and `python -m labkit.services`.

>>> whole(minimum=1)("3")
3
>>> whole(minimum=1)("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: 0 is below 1
"""

from __future__ import annotations

import argparse
import math
import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from labkit.errors import LabkitError, printable

T = TypeVar("T")

# Pseudo file systems: a folder there is not a place to write files into (the kernel refuses, or worse, obeys).
PSEUDO_FILE_SYSTEMS = (Path("/proc"), Path("/sys"), Path("/dev"))


class CommandLineParser(argparse.ArgumentParser):
    """argparse, refusing in one line (the argument, the value, what is wrong) instead of printing the usage text.

    Subcommand parsers are made by their parent's class, so a whole command tree refuses the same way. An option is
    spelled out: argparse would take `--forc` for `--force`, and a typo in a flag would quietly mean another one."""

    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> typing.Any:
        # argparse drops a "--" given as an option's value (`--port=--`) and hands the command [] instead of
        # refusing it: judge "--" like any other value.
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, printable(f"{self.prog}: error: {message} (see `{self.prog} --help`)") + "\n")


def whole(*, minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number within [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        _check_range(value, minimum, maximum)
        return value

    parse.__name__ = "whole number"  # argparse names the type in its messages
    return parse


def number(
    *, minimum: float | None = None, maximum: float | None = None, above: float | None = None
) -> Callable[[str], float]:
    """A finite number within [minimum, maximum] (and strictly above `above`)."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"{value:g} must be above {above:g}")
        _check_range(value, minimum, maximum)
        return value

    parse.__name__ = "number"
    return parse


def whole_list(*, minimum: int = 1, maximum: int | None = None) -> Callable[[str], list[int]]:
    """A comma-separated list of whole numbers, each within [minimum, maximum] (e.g. 10,1000,10000)."""
    one = whole(minimum=minimum, maximum=maximum)

    def parse(text: str) -> list[int]:
        items = [item for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{text!r} lists no number: give them comma-separated, e.g. 10,1000")
        return sorted(one(item) for item in items)

    parse.__name__ = "list of whole numbers"
    return parse


def key_value(text: str) -> tuple[str, str]:
    """KEY=VALUE (the value may be empty, as in `--build-arg A=`)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def port(text: str) -> int:
    """A TCP port number (1-65535)."""
    value = whole()(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (1-65535)")
    return value


def folder(text: str) -> Path:
    """A folder to create or use: not a file, not on a pseudo file system, inside a folder this user may write."""
    path = Path(text)
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not a folder")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    _check_writable(path, text)
    return path


def existing_file(text: str) -> Path:
    """A file that exists and can be read."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file" if path.exists() else f"{text} does not exist")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text} cannot be read (permission denied)")
    return path


def checked(parse: Callable[[str], T], name: str) -> Callable[[str], T]:
    """An argument type from a function of the library that checks the value (a LabkitError is the refusal)."""

    def check(text: str) -> T:
        try:
            return parse(text)
        except LabkitError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    check.__name__ = name
    return check


def _check_range(value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise argparse.ArgumentTypeError(f"{value:g} is below {minimum:g}")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"{value:g} is above {maximum:g}")


def _check_writable(path: Path, text: str) -> None:
    """The nearest existing folder of `path` must be a real folder this user may write into."""
    resolved = path.expanduser().resolve()
    if any(resolved == top or top in resolved.parents for top in PSEUDO_FILE_SYSTEMS):
        raise argparse.ArgumentTypeError(
            f"{text} is on a pseudo file system ({resolved.parts[1]}): choose a real folder"
        )
    existing = next((p for p in [resolved, *resolved.parents] if p.exists()), Path("/"))
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is inside {existing}, which is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: {existing} cannot be written (permission denied)")
