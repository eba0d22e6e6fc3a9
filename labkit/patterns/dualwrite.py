"""The dual-write problem, measured: each design runs the same orders under the same crash schedule, publishing to
a real JetStream stream, and the lost, phantom and duplicate events are counted at one consumer afterwards.

`run_design(design, folder, message_ids=, operations=, fault_rate=, seed=)` runs the Order service of one design
(see `labkit.patterns.designs`) until every order was attempted and everything pending was published, restarting it
after each crash. In "process" crash mode the service is a child process that kills itself (SIGKILL) at the
injected point; the supervisor starts a new one, which carries on with the next order (the crashed request is not
retried: its client saw an error) after first publishing whatever the crash left pending.

The comparison is fair by construction: every design publishes to a stream of its own on the same broker, with
message ids or without (`message_ids`, one choice for all); the outbox relay and the event-sourced forwarder record
their progress the same way (see `designs`); one consumer (`broker.read_messages`) counts every run. The broker
drops a repeated message id only within the stream's `duplicate_window`: `relay_restart_delay` makes the supervisor
wait that long before restarting a crashed relay or forwarder, so its repeats come after the window.

Work is done in rounds of `round_size` orders, each followed by publishing what is pending, and crashes are chosen
by seeded attempt counts, never by time, so a run is deterministic: the same seed gives the same counts, in either
crash mode (the one timing-dependent setting, a restart delay, is meant to be well past the window).
"""

from __future__ import annotations

import hashlib
import json
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
from labkit.jetstream import broker_url
from labkit.patterns.broker import BrokerSettings, create_stream, read_messages
from labkit.patterns.commands import PlaceOrder, place_order_commands
from labkit.patterns.designs import DESIGNS, STATE_FILE, open_service
from labkit.patterns.errors import InjectedCrash, PatternsError
from labkit.patterns.faults import CRASH_MODES, CounterFile, CrashMode, FaultSchedule, Injector
from labkit.patterns.launcher import run_child

# Counters shared by a run's successive service processes: the next order to take, each publisher's attempts, and
# the messages the broker dropped as duplicates.
SLOTS = {"writer": 0, "relay": 1, "subscriber": 2, "dropped": 3}
PUBLISHER = {"outbox": "relay", "event_sourced": "subscriber"}
COUNTERS_FILE = "progress.bin"
BROKER_FILE = "broker.json"  # where a run's stream is: read by `broker_settings(folder)`
CONSUMER = "audit"  # the durable consumer that counts every run


def serve(
    design: str,
    folder: str,
    commands: Sequence[PlaceOrder],
    schedule: FaultSchedule,
    crash_mode: CrashMode,
    counters: MutableSequence[int],
    round_size: int,
    batch_size: int,
    broker: BrokerSettings,
) -> None:
    """One life of the Order service: publish what is pending, then take orders round by round until done."""
    injector = Injector(schedule, crash_mode, counters, SLOTS)
    service = open_service(design, Path(folder), injector, broker, batch_size=batch_size)
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
    """What one design did under one fault schedule: its database, and what the consumer received."""

    design: str
    label: str
    fault_rate: float
    operations: int
    message_ids: bool  # published with message ids (the broker drops a repeat within its duplicate window)
    writer_crashes: int
    publisher_crashes: int
    orders_stored: int  # state changes committed
    dropped: int  # repeats the broker dropped as duplicates (their message id came within the window)
    messages: int  # messages the consumer received, repeats included
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


def stored_orders(folder: Path) -> set[str]:
    """The ids of the orders committed in the service's database in `folder`."""
    with duckdb.connect(str(folder / STATE_FILE), read_only=True) as state:
        tables = {row[0] for row in state.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "events" in tables:  # event sourced: the orders are the Order aggregates in the event table
            return {row[0] for row in state.execute(f"SELECT aggregate_id FROM ({state_sql(Order)})").fetchall()}
        return {row[0] for row in state.execute("SELECT order_id FROM orders").fetchall()}


def count_outcome(folder: Path, broker: BrokerSettings) -> tuple[int, int, int, int, int]:
    """(orders stored, messages, lost, phantom, duplicates): the database in `folder` against what the consumer
    received from the run's stream."""
    stored = stored_orders(folder)
    messages = read_messages(broker, CONSUMER)
    announced = {event.aggregate_id for event in messages}
    distinct = len({event.event_id for event in messages})
    return len(stored), len(messages), len(stored - announced), len(announced - stored), len(messages) - distinct


def stream_name(folder: Path) -> str:
    """The run's stream: named after its folder, so runs side by side never share one."""
    return "DUALWRITE_" + hashlib.blake2b(str(folder.resolve()).encode(), digest_size=6).hexdigest().upper()


def broker_settings(folder: Path | str) -> BrokerSettings:
    """Where the run in `folder` published (its server, stream and settings)."""
    path = Path(folder) / BROKER_FILE
    if not path.exists():
        raise PatternsError(f"{path} does not exist: {folder} is not the folder of a dual-write run (run_design)")
    return BrokerSettings(**json.loads(path.read_text()))


def run_design(
    design: str,
    folder: Path | str,
    *,
    message_ids: bool,
    url: str | None = None,
    operations: int = 200,
    fault_rate: float = 0.1,
    seed: int = 7,
    crash_mode: CrashMode = "process",
    round_size: int = 25,
    batch_size: int = 10,
    duplicate_window: float = 60.0,
    relay_restart_delay: float = 0.0,
) -> DualWriteOutcome:
    """Run `design` over `operations` orders, crashing as FaultSchedule(fault_rate, seed) says; count the outcome.

    It publishes to a fresh stream on the broker at `url` (default: $LABKIT_NATS_URL, else `labkit broker up`'s),
    with message ids if `message_ids`. After a crash of the relay or forwarder the supervisor waits
    `relay_restart_delay` seconds before restarting it. `folder` is emptied of this run's database first.
    """
    if design not in DESIGNS:
        raise PatternsError(f"unknown design {design!r}: use one of {', '.join(DESIGNS)}")
    if crash_mode not in CRASH_MODES:
        raise PatternsError(f"crash mode must be one of {', '.join(CRASH_MODES)}, got {crash_mode!r}")
    if round_size < 1 or batch_size < 1:
        raise PatternsError(f"round_size and batch_size must be 1 or more, got {round_size} and {batch_size}")
    if relay_restart_delay < 0:
        raise PatternsError(f"relay_restart_delay must be 0 or more seconds, got {relay_restart_delay}")
    if not isinstance(message_ids, bool):
        raise PatternsError(f"message_ids must be True or False, got {message_ids!r}")
    schedule = FaultSchedule(fault_rate, seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    broker = BrokerSettings(url or broker_url(), stream_name(folder), message_ids, duplicate_window)
    broker.stream_settings()  # a bad duplicate window is refused before anything is touched
    for path in (folder / STATE_FILE, folder / f"{STATE_FILE}.wal"):
        path.unlink(missing_ok=True)
    create_stream(broker)
    (folder / BROKER_FILE).write_text(json.dumps(asdict(broker)))
    commands = place_order_commands(operations, seed=seed)
    counters = CounterFile(folder / COUNTERS_FILE, len(SLOTS))
    args = (design, str(folder), commands, schedule, crash_mode, counters, round_size, batch_size, broker)
    publisher = PUBLISHER.get(design)
    restarts, started = 0, time.perf_counter()
    # In-process crashes restart the service inside this process: holding its database open meanwhile keeps
    # DuckDB from checkpointing and re-reading the file on every restart (what the service commits is the same).
    held = [duckdb.connect(str(folder / STATE_FILE))] if crash_mode == "exception" else []
    try:
        # Each crash consumes one scheduled attempt, so a run ends; the bound only catches a bug.
        for _ in range(10 * operations + 100):
            relay_crashes = _crashes(schedule, publisher, counters)
            if _life(crash_mode, args, design):
                break
            restarts += 1
            if relay_restart_delay and _crashes(schedule, publisher, counters) > relay_crashes:
                time.sleep(relay_restart_delay)  # the relay comes back after the window: its repeats are new
        else:
            raise PatternsError(f"the {design} service kept crashing after {restarts} restarts; is the rate below 1?")
        seconds = time.perf_counter() - started
        writer_crashes = len(schedule.crashing("writer", operations))
        publisher_crashes = _crashes(schedule, publisher, counters)
        dropped = counters[SLOTS["dropped"]]
    finally:
        counters.close()
        for connection in held:
            connection.close()
    if restarts != writer_crashes + publisher_crashes:
        raise PatternsError(
            f"the {design} service restarted {restarts} times but the schedule has "
            f"{writer_crashes + publisher_crashes} crashes: something else stopped it"
        )
    stored, messages, lost, phantom, duplicates = count_outcome(folder, broker)
    return DualWriteOutcome(
        design,
        DESIGNS[design],
        fault_rate,
        operations,
        message_ids,
        writer_crashes,
        publisher_crashes,
        stored,
        dropped,
        messages,
        lost,
        phantom,
        duplicates,
        crash_mode,
        seconds,
    )


def _crashes(schedule: FaultSchedule, publisher: str | None, counters: MutableSequence[int]) -> int:
    """How many of the publisher's attempts so far crashed (0 for a design without one)."""
    return len(schedule.crashing(publisher, counters[SLOTS[publisher]])) if publisher else 0


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
