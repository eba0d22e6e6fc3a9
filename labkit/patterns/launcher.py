"""A fork server for crash runs: one helper process imports labkit once, then forks a fresh child per service life.

Why not `multiprocessing`: its fork server re-imports the caller's main module in every child (in a notebook,
that is the whole Jupyter kernel module: half a second per crash), and forking the caller directly would copy a
kernel's threads and open database handles. The helper is single-threaded and holds no database, so each child
starts clean in a few milliseconds, runs `module:function(*args)`, and exits 0, or 1 with a traceback on stderr,
or dies by the signal the fault injector sent it. The helper reports that exit status back.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import traceback
from typing import IO, Any

from labkit.patterns.errors import PatternsError

_HEADER = struct.Struct("!I")
_STATUS = struct.Struct("!i")


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


class Launcher:
    """The helper process, and `run(target, args)` to run one child life in it.

    `preload`: the module the helper imports once before forking (the targets' module), named by the caller so the
    launcher depends on no module of its callers.
    """

    def __init__(self, preload: str) -> None:
        self.preload = preload
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from labkit.patterns.launcher import main; main()", preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._lock = threading.Lock()

    def run(self, target: str, args: tuple[Any, ...]) -> int:
        """Run `module:function(*args)` in a fresh child; its exit code (0, 1, or -signal if it was killed)."""
        payload = pickle.dumps((target, args))
        with self._lock:
            if self.process.poll() is not None:
                raise PatternsError(f"the launcher process exited with code {self.process.returncode}; start a new one")
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(_HEADER.pack(len(payload)) + payload)
            self.process.stdin.flush()
            answer = _read_exactly(self.process.stdout, _STATUS.size)
        if answer is None:
            raise PatternsError("the launcher process stopped answering; start a new one")
        return _STATUS.unpack(answer)[0]

    def close(self) -> None:
        """Stop the helper (it exits when its input closes)."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=10)


# Idle launchers of this process: a thread takes one (or starts one) per child, so threads run children in parallel.
_IDLE: list[Launcher] = []
_IDLE_LOCK = threading.Lock()


def run_child(target: str, args: tuple[Any, ...]) -> int:
    """Run `module:function(*args)` in a fresh child process; its exit code (0, 1, or -signal if killed)."""
    module_name = target.split(":")[0]
    with _IDLE_LOCK:
        alive = [candidate for candidate in _IDLE if candidate.process.poll() is None]
        fitting = [candidate for candidate in alive if candidate.preload == module_name]
        chosen = fitting[-1] if fitting else None
        _IDLE[:] = [candidate for candidate in alive if candidate is not chosen]
    if chosen is None:
        chosen = Launcher(module_name)
        atexit.register(chosen.close)
    try:
        code = chosen.run(target, args)
    except BaseException:
        # Interrupted while a child ran (a notebook's stop button): its answer would be read by the next caller.
        chosen.process.kill()
        chosen.process.wait()
        raise
    with _IDLE_LOCK:
        _IDLE.append(chosen)
    return code


def _child(target: str, args: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    module_name, function_name = target.split(":")
    try:
        getattr(importlib.import_module(module_name), function_name)(*args)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


def main() -> None:
    """The helper's loop: read a request, fork, wait, answer with the exit code."""
    # Ctrl-C (or a kernel interrupt) reaches the whole process group: the helper ignores it and ends when its
    # input closes; the child it is running gets the default, so an interrupt stops that child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what children print goes to stderr, never into the answers
    for module_name in sys.argv[1:]:
        importlib.import_module(module_name)  # imported once here, so every child starts with it loaded

    while (header := _read_exactly(requests, _HEADER.size)) is not None:
        request = _read_exactly(requests, _HEADER.unpack(header)[0])
        if request is None:
            break
        target, args = pickle.loads(request)
        pid = os.fork()
        if pid == 0:
            _child(target, args)
        _, status = os.waitpid(pid, 0)
        answers.write(_STATUS.pack(os.waitstatus_to_exitcode(status)))
        answers.flush()


if __name__ == "__main__":
    main()
