"""SIGTERM and SIGINT end a command the way Ctrl-C does: by an exception, so what it started is stopped.

Python's default for SIGTERM is to die at once: no `finally`, no context manager exit, so services a command started
keep listening and its temporary folders stay. Inside `stopped_by_signals()` both signals raise `Interrupted` (a
KeyboardInterrupt) in the main thread instead; every `finally` and `with` on the way out runs, and the command
stops its services, servers and containers and removes its temporary folders. A second signal while that cleanup
runs is noted and ignored: interrupting the cleanup is what would leave things behind; after such a stop, the
stop signals stay ignored while the command exits.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """The command was asked to stop by a signal (SIGTERM, or SIGINT: Ctrl-C)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_status(self) -> int:
        """The shell's convention for a command ended by a signal: 128 + its number."""
        return 128 + self.signum


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise `Interrupted` once; the handlers before are restored after it."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    raised: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        if raised:  # cleaning up after the first one: finish it
            print(f"still stopping after {signal.Signals(raised[0]).name}; please wait", file=sys.stderr)
            return
        if frame is not None and frame.f_globals.get("__name__", "").startswith("importlib"):
            # Raised inside the import machinery (a module lock's weakref callback, say) the exception is printed
            # as "Exception ignored" and lost, and the command would run on: take the signal again a moment later.
            threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
            return
        raised.append(signum)
        raise Interrupted(signum)

    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # Once stopped by a signal the command is ending: leave further ones ignored, since Python's own exit
            # would put the default action back and a late Ctrl-C would then kill the process half-way out.
            signal.signal(signum, signal.SIG_IGN if raised else handler)
