"""A deterministic fault injector: a seeded schedule of crashes, and crash points that really stop the component.

`FaultSchedule(rate, seed)` answers "does attempt i of component c crash?" from a hash of (seed, c, i), so every
process and every design asks the same question and gets the same answer: the naive writer, the outbox writer
and the event-sourced writer crash on exactly the same operations. With one seed, the operations that crash at
rate 0.1 also crash at 0.2 (the draw is compared with the rate), so a sweep over rates adds crashes, never moves them.

A crash point (`Injector.point`) stops the component in one of two honest ways:
- "process": the component runs in a child process, which sends itself SIGKILL: no `finally`, no rollback, no
  commit; DuckDB keeps only what was committed (its WAL), exactly as after a power cut of that process.
- "exception": `InjectedCrash` is raised in-process; open transactions unwind through their rollback.
Both leave the stores in the same state (a test checks it); "exception" only saves the cost of a process.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import signal
import struct
from collections.abc import MutableSequence
from dataclasses import dataclass
from typing import Literal

from labkit.patterns.errors import InjectedCrash, PatternsError

CrashMode = Literal["process", "exception"]
CRASH_MODES: tuple[str, ...] = ("process", "exception")
_COUNTER = struct.Struct("<q")


@dataclass(frozen=True)
class FaultSchedule:
    """Which attempts of which component crash: each with probability `rate`, decided by `seed`.

    >>> schedule = FaultSchedule(rate=0.2, seed=7)
    >>> schedule.crashing("writer", 20)
    [5, 7, 16]
    >>> set(schedule.crashing("writer", 20)) <= set(FaultSchedule(rate=0.5, seed=7).crashing("writer", 20))
    True
    """

    rate: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate < 1.0:
            raise PatternsError(
                f"fault rate must be at least 0 and below 1 (a component that always crashes never finishes), "
                f"got {self.rate}"
            )

    def draw(self, component: str, attempt: int) -> float:
        """The uniform number in [0, 1) that decides `attempt` of `component` (a hash: the same in every process)."""
        digest = hashlib.blake2b(f"{self.seed}:{component}:{attempt}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def crashes(self, component: str, attempt: int) -> bool:
        """Whether attempt number `attempt` (from 0) of `component` crashes."""
        return self.draw(component, attempt) < self.rate

    def crashing(self, component: str, attempts: int) -> list[int]:
        """The attempts among the first `attempts` that crash."""
        return [i for i in range(attempts) if self.crashes(component, i)]


class Injector:
    """Crash points for the components of one run, with attempt counters that survive restarts.

    `counters` is shared with the supervisor (a multiprocessing array in "process" mode, a list otherwise), so a
    restarted component carries on counting where the crashed one stopped.
    """

    def __init__(
        self, schedule: FaultSchedule, mode: CrashMode, counters: MutableSequence[int], slots: dict[str, int]
    ) -> None:
        if mode not in CRASH_MODES:
            raise PatternsError(f"crash mode must be one of {', '.join(CRASH_MODES)}, got {mode!r}")
        self.schedule, self.mode, self.counters, self.slots = schedule, mode, counters, slots

    def next_attempt(self, component: str) -> int:
        """Count one more attempt of `component`; its number (from 0)."""
        slot = self.slots[component]
        attempt = self.counters[slot]
        self.counters[slot] = attempt + 1
        return attempt

    def point(self, component: str, point: str, attempt: int) -> None:
        """Crash here if the schedule says attempt `attempt` of `component` crashes."""
        if not self.schedule.crashes(component, attempt):
            return
        if self.mode == "process":
            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedCrash(component, point, attempt)


class CounterFile:
    """Attempt counters in a small file mapped into memory: what a killed process counted is still there.

    It pickles as its path, so a child process maps the same file.
    """

    def __init__(self, path: str | os.PathLike[str], size: int, *, reset: bool = True) -> None:
        self.path, self.size = os.fspath(path), size
        if reset or not os.path.exists(self.path):
            with open(self.path, "wb") as file:
                file.write(bytes(8 * size))
        self._file = open(self.path, "r+b")  # noqa: SIM115 (kept open as long as the mapping)
        self._map = mmap.mmap(self._file.fileno(), 8 * size)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, slot: int) -> int:
        return int(_COUNTER.unpack_from(self._map, 8 * self._slot(slot))[0])

    def __setitem__(self, slot: int, value: int) -> None:
        _COUNTER.pack_into(self._map, 8 * self._slot(slot), value)

    def _slot(self, slot: int) -> int:
        if not 0 <= slot < self.size:
            raise IndexError(f"counter slot {slot} out of range 0..{self.size - 1}")
        return slot

    def close(self) -> None:
        """Unmap and close the file."""
        self._map.close()
        self._file.close()

    def __reduce__(self) -> tuple[object, tuple[str, int, bool]]:
        return (_open_counter_file, (self.path, self.size, False))


def _open_counter_file(path: str, size: int, reset: bool) -> CounterFile:
    return CounterFile(path, size, reset=reset)
