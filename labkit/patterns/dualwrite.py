"""The dual-write problem, measured: each design runs the same orders under the same crash schedule, and the
lost, phantom and duplicate events are counted by reading the real databases afterwards.

`run_design(design, folder, operations=, fault_rate=, seed=)` runs the Order service of one design (see
`labkit.patterns.designs`) until every order was attempted and everything pending was published, restarting it
after each crash. In "process" crash mode the service is a child process that kills itself (SIGKILL) at the
injected point; the supervisor starts a new one, which carries on with the next order (the crashed request is not
retried: its client saw an error) after first publishing whatever the crash left pending.

Work is done in rounds of `round_size` orders, each followed by publishing what is pending, so a run is
deterministic: the same seed gives the same counts, in either crash mode.
"""

from __future__ import annotations

import signal
import time
from collections.abc import MutableSequence, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pandas as pd
from tqdm.auto import tqdm

from labkit.domain import Order
from labkit.events import state_sql
from labkit.patterns.commands import PlaceOrder, place_order_commands
from labkit.patterns.designs import BROKER_FILE, DESIGNS, STATE_FILE, open_service
from labkit.patterns.errors import InjectedCrash, PatternsError
from labkit.patterns.faults import CRASH_MODES, CounterFile, CrashMode, FaultSchedule, Injector
from labkit.patterns.launcher import run_child

# Counters shared by a run's successive service processes: the next order to take, and each publisher's attempts.
SLOTS = {"writer": 0, "relay": 1, "subscriber": 2}
PUBLISHER = {"outbox": "relay", "event_sourced": "subscriber"}
COUNTERS_FILE = "progress.bin"


def serve(
    design: str,
    folder: str,
    commands: Sequence[PlaceOrder],
    schedule: FaultSchedule,
    crash_mode: CrashMode,
    counters: MutableSequence[int],
    round_size: int,
    batch_size: int,
) -> None:
    """One life of the Order service: publish what is pending, then take orders round by round until done."""
    injector = Injector(schedule, crash_mode, counters, SLOTS)
    service = open_service(design, Path(folder), injector, batch_size=batch_size)
    try:
        service.publish_pending()  # what the last crash left unsent goes out first
        while (first := counters[SLOTS["writer"]]) < len(commands):
            end = min(len(commands), (first // round_size + 1) * round_size)
            for index in range(first, end):
                counters[SLOTS["writer"]] = index + 1  # taken: if it crashes, nobody retries it
                service.place(commands[index], index)
            service.publish_pending()
    finally:
        service.close()  # in "process" mode a crash never gets here: the kernel closes the files of a killed process


@dataclass(frozen=True)
class DualWriteOutcome:
    """What one design did under one fault schedule, counted from its databases."""

    design: str
    label: str
    fault_rate: float
    operations: int
    writer_crashes: int
    publisher_crashes: int
    orders_stored: int  # state changes committed
    messages: int  # messages in the broker, repeats included
    lost: int  # orders stored that no message announces
    phantom: int  # messages announcing an order that is not stored
    duplicates: int  # messages beyond the first for one event id
    crash_mode: str
    seconds: float

    def to_row(self) -> dict[str, object]:
        """The counts as a table row (no timing: it is not deterministic)."""
        row = asdict(self)
        del row["seconds"], row["design"]
        return row


def count_outcome(folder: Path) -> tuple[int, int, int, int, int]:
    """(orders stored, messages, lost, phantom, duplicates) read from the databases in `folder`."""
    with duckdb.connect(str(folder / STATE_FILE), read_only=True) as state:
        tables = {row[0] for row in state.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "events" in tables:  # event sourced: the orders are the Order aggregates in the event table
            stored = {row[0] for row in state.execute(f"SELECT aggregate_id FROM ({state_sql(Order)})").fetchall()}
        else:
            stored = {row[0] for row in state.execute("SELECT order_id FROM orders").fetchall()}
    with duckdb.connect(str(folder / BROKER_FILE), read_only=True) as broker:
        messages = broker.execute("SELECT aggregate_id, event_id FROM messages").fetchall()
    announced = {aggregate_id for aggregate_id, _ in messages}
    distinct = len({event_id for _, event_id in messages})
    return len(stored), len(messages), len(stored - announced), len(announced - stored), len(messages) - distinct


def run_design(
    design: str,
    folder: Path | str,
    *,
    operations: int = 200,
    fault_rate: float = 0.1,
    seed: int = 7,
    crash_mode: CrashMode = "process",
    round_size: int = 25,
    batch_size: int = 10,
) -> DualWriteOutcome:
    """Run `design` over `operations` orders, crashing as FaultSchedule(fault_rate, seed) says; count the outcome.

    `folder` is emptied of this run's databases first.
    """
    if design not in DESIGNS:
        raise PatternsError(f"unknown design {design!r}: use one of {', '.join(DESIGNS)}")
    if crash_mode not in CRASH_MODES:
        raise PatternsError(f"crash mode must be one of {', '.join(CRASH_MODES)}, got {crash_mode!r}")
    if round_size < 1 or batch_size < 1:
        raise PatternsError(f"round_size and batch_size must be 1 or more, got {round_size} and {batch_size}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (STATE_FILE, BROKER_FILE):
        for path in (folder / name, folder / f"{name}.wal"):
            path.unlink(missing_ok=True)
    commands = place_order_commands(operations, seed=seed)
    schedule = FaultSchedule(fault_rate, seed)
    counters = CounterFile(folder / COUNTERS_FILE, len(SLOTS))
    args = (design, str(folder), commands, schedule, crash_mode, counters, round_size, batch_size)
    restarts, started = 0, time.perf_counter()
    # In-process crashes restart the service inside this process: holding each database open meanwhile keeps
    # DuckDB from checkpointing and re-reading the files on every restart (what the service commits is the same).
    held = (
        [duckdb.connect(str(folder / name)) for name in (STATE_FILE, BROKER_FILE)] if crash_mode == "exception" else []
    )
    try:
        # Each crash consumes one scheduled attempt, so a run ends; the bound only catches a bug.
        for _ in range(10 * operations + 100):
            if _life(crash_mode, args, design):
                break
            restarts += 1
        else:
            raise PatternsError(f"the {design} service kept crashing after {restarts} restarts; is the rate below 1?")
        seconds = time.perf_counter() - started
        writer_crashes = len(schedule.crashing("writer", operations))
        publisher = PUBLISHER.get(design)
        publisher_crashes = len(schedule.crashing(publisher, counters[SLOTS[publisher]])) if publisher else 0
    finally:
        counters.close()
        for connection in held:
            connection.close()
    if restarts != writer_crashes + publisher_crashes:
        raise PatternsError(
            f"the {design} service restarted {restarts} times but the schedule has "
            f"{writer_crashes + publisher_crashes} crashes: something else stopped it"
        )
    stored, messages, lost, phantom, duplicates = count_outcome(folder)
    return DualWriteOutcome(
        design,
        DESIGNS[design],
        fault_rate,
        operations,
        writer_crashes,
        publisher_crashes,
        stored,
        messages,
        lost,
        phantom,
        duplicates,
        crash_mode,
        seconds,
    )


def _life(crash_mode: CrashMode, args: tuple, design: str) -> bool:
    """Run the service once; True if it finished, False if it crashed at an injected point."""
    if crash_mode == "exception":
        try:
            serve(*args)
        except InjectedCrash:
            return False
        return True
    exit_code = run_child("labkit.patterns.dualwrite:serve", args)
    if exit_code == 0:
        return True
    if exit_code == -signal.SIGKILL:
        return False
    raise PatternsError(f"the {design} service process exited with code {exit_code} (its traceback is on stderr)")


def compare_designs(
    folder: Path | str,
    *,
    designs: Sequence[str] = tuple(DESIGNS),
    workers: int = 1,
    progress: bool = True,
    **settings: object,
) -> list[DualWriteOutcome]:
    """Every design under the same orders and fault schedule, each in its own subfolder of `folder`."""
    runs = [(design, Path(folder) / design, {}) for design in designs]
    return _run_all(runs, settings, workers=workers, progress=progress, description="designs")


def sweep_fault_rates(
    folder: Path | str,
    rates: Sequence[float],
    *,
    designs: Sequence[str] = tuple(DESIGNS),
    workers: int = 1,
    progress: bool = True,
    **settings: object,
) -> list[DualWriteOutcome]:
    """Every design at every fault rate (the same seed: a higher rate adds crashes to the lower rate's)."""
    runs = [
        (design, Path(folder) / design / f"rate-{rate}", {"fault_rate": rate}) for rate in rates for design in designs
    ]
    return _run_all(runs, settings, workers=workers, progress=progress, description="fault rates x designs")


def _run_all(
    runs: Sequence[tuple[str, Path, dict[str, object]]],
    settings: dict[str, object],
    *,
    workers: int,
    progress: bool,
    description: str,
) -> list[DualWriteOutcome]:
    """`run_design` for each (design, folder, settings), `workers` at a time in threads; outcomes in input order.

    Runs share nothing but the CPU (each has its own folder and service processes, and DuckDB waits for commits
    without holding the GIL), so the counts do not depend on `workers`; only the wall time does.
    """
    with (
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
        tqdm(total=len(runs), desc=description, disable=not progress) as bar,
    ):
        futures = [
            pool.submit(run_design, design, folder, **{**settings, **extra})  # type: ignore[arg-type]
            for design, folder, extra in runs
        ]
        for future in as_completed(futures):
            future.result()
            bar.update(1)
    return [future.result() for future in futures]


def outcomes_table(outcomes: Sequence[DualWriteOutcome]) -> pd.DataFrame:
    """The outcomes as a table, one row per run, indexed by design label (and fault rate when several)."""
    frame = pd.DataFrame([outcome.to_row() for outcome in outcomes])
    index = ["label", "fault_rate"] if frame["fault_rate"].nunique() > 1 else ["label"]
    return frame.set_index(index).rename_axis(index=["design", "fault rate"][: len(index)])


def anomalies_by_rate(outcomes: Sequence[DualWriteOutcome]) -> pd.DataFrame:
    """One row per fault rate: the writer's crashes, then lost, phantom and duplicate events per design."""
    frame = pd.DataFrame([outcome.to_row() for outcome in outcomes])
    labels = list(dict.fromkeys(frame["label"]))
    table = frame.pivot_table(
        index="fault_rate", columns="label", values=["lost", "phantom", "duplicates"], aggfunc="sum"
    )
    table = table.swaplevel(axis=1)[[(label, m) for label in labels for m in ("lost", "phantom", "duplicates")]]
    table.insert(0, ("", "crashes"), frame.groupby("fault_rate")["writer_crashes"].max())
    return table.rename_axis(index="fault rate", columns=["design", "events"])
