"""The dual-write problem under injected crashes: naive designs lose or invent events, the fixes do not."""

from __future__ import annotations

import duckdb
import pytest

from labkit.patterns.commands import place_order_commands
from labkit.patterns.designs import BROKER_FILE, STATE_FILE
from labkit.patterns.dualwrite import SLOTS, anomalies_by_rate, compare_designs, outcomes_table, run_design
from labkit.patterns.errors import PatternsError
from labkit.patterns.faults import CounterFile, FaultSchedule
from labkit.patterns.launcher import run_child

SETTINGS = {"operations": 40, "fault_rate": 0.2, "seed": 5, "round_size": 10, "batch_size": 5}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    """Every design under the same schedule, crashes raised in-process."""
    folder = tmp_path_factory.mktemp("in-process")
    return {o.design: o for o in compare_designs(folder, crash_mode="exception", progress=False, **SETTINGS)}


def test_the_schedule_crashes_the_writer_of_every_design_on_the_same_orders(in_process):
    crashes = len(FaultSchedule(SETTINGS["fault_rate"], SETTINGS["seed"]).crashing("writer", SETTINGS["operations"]))
    assert crashes > 0
    assert {o.writer_crashes for o in in_process.values()} == {crashes}


def test_commit_then_publish_loses_events(in_process):
    naive = in_process["state_first"]
    assert naive.lost == naive.writer_crashes > 0
    assert naive.phantom == 0
    assert naive.orders_stored == SETTINGS["operations"]


def test_publish_then_commit_invents_events(in_process):
    naive = in_process["publish_first"]
    assert naive.phantom == naive.writer_crashes > 0
    assert naive.lost == 0
    assert naive.messages == SETTINGS["operations"]


@pytest.mark.parametrize("design", ["outbox", "event_sourced"])
def test_the_fixes_lose_none_and_invent_none(in_process, design):
    outcome = in_process[design]
    assert outcome.writer_crashes > 0 and outcome.publisher_crashes > 0
    assert (outcome.lost, outcome.phantom) == (0, 0)
    assert outcome.orders_stored == SETTINGS["operations"] - outcome.writer_crashes


def test_the_relay_is_at_least_once_and_the_subscriber_exactly_once(in_process):
    outbox, sourced = in_process["outbox"], in_process["event_sourced"]
    assert outbox.duplicates > 0
    assert outbox.messages == outbox.orders_stored + outbox.duplicates
    assert sourced.duplicates == 0
    assert sourced.messages == sourced.orders_stored


def test_the_counts_come_from_the_databases(in_process, tmp_path):
    folder = tmp_path / "outbox"
    run_design("outbox", folder, crash_mode="exception", **SETTINGS)
    with duckdb.connect(str(folder / STATE_FILE), read_only=True) as state:
        orders = {row[0] for row in state.execute("SELECT order_id FROM orders").fetchall()}
        assert state.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone() == (0,)
    with duckdb.connect(str(folder / BROKER_FILE), read_only=True) as broker:
        announced = [row[0] for row in broker.execute("SELECT aggregate_id FROM messages").fetchall()]
    assert set(announced) == orders
    assert len(announced) - len(orders) == in_process["outbox"].duplicates
    placed = {c.order_id for c in place_order_commands(SETTINGS["operations"], seed=SETTINGS["seed"])}
    assert len(placed - orders) == in_process["outbox"].writer_crashes


@pytest.mark.slow
def test_killed_processes_leave_the_same_stores_as_raised_crashes(in_process, tmp_path):
    runs = compare_designs(tmp_path, crash_mode="process", workers=4, progress=False, **SETTINGS)
    killed = {o.design: o for o in runs}
    for design, outcome in killed.items():
        assert outcome.to_row() | {"crash_mode": "-"} == in_process[design].to_row() | {"crash_mode": "-"}, design


def test_a_killed_service_process_kept_its_count_of_taken_orders(tmp_path):
    commands = place_order_commands(5, seed=1)
    schedule = next(
        FaultSchedule(0.5, seed=s) for s in range(100) if FaultSchedule(0.5, seed=s).crashing("writer", 5)[:1] == [2]
    )
    counters = CounterFile(tmp_path / "progress.bin", len(SLOTS))
    args = ("state_first", str(tmp_path), commands, schedule, "process", counters, 10, 10)
    assert run_child("labkit.patterns.dualwrite:serve", args) == -9  # SIGKILL at order 3's crash point
    assert counters[SLOTS["writer"]] == 3
    with duckdb.connect(str(tmp_path / STATE_FILE), read_only=True) as state:
        assert state.execute("SELECT count(*) FROM orders").fetchone() == (3,)  # committed before the kill
    with duckdb.connect(str(tmp_path / BROKER_FILE), read_only=True) as broker:
        assert broker.execute("SELECT count(*) FROM messages").fetchone() == (2,)  # order 3 never announced
    counters.close()


def test_without_faults_every_design_is_exact(tmp_path):
    outcomes = compare_designs(tmp_path, crash_mode="exception", progress=False, operations=30, fault_rate=0.0)
    for outcome in outcomes:
        assert (outcome.orders_stored, outcome.messages, outcome.lost, outcome.phantom, outcome.duplicates) == (
            30,
            30,
            0,
            0,
            0,
        )
    table = outcomes_table(outcomes)
    assert list(table.index) == [o.label for o in outcomes]
    assert "seconds" not in table.columns


def test_bad_settings_name_the_value(tmp_path):
    with pytest.raises(PatternsError, match="unknown design 'two_phase_commit'"):
        run_design("two_phase_commit", tmp_path)
    with pytest.raises(PatternsError, match="'reboot'"):
        run_design("outbox", tmp_path, crash_mode="reboot")  # type: ignore[arg-type]
    with pytest.raises(PatternsError, match=r"got 1\.0"):
        run_design("outbox", tmp_path, fault_rate=1.0)


def test_the_anomalies_by_rate_table_has_a_row_per_rate_and_the_counts_of_each_design(in_process):
    outcomes = list(in_process.values())
    zero = [
        o.__class__(**{**o.__dict__, "fault_rate": 0.0, "lost": 0, "phantom": 0, "duplicates": 0}) for o in outcomes
    ]
    table = anomalies_by_rate(zero + outcomes)
    assert list(table.index) == [0.0, SETTINGS["fault_rate"]]
    assert table.loc[SETTINGS["fault_rate"], ("naive: commit, then publish", "lost")] == in_process["state_first"].lost
    assert (
        table.loc[SETTINGS["fault_rate"], ("transactional outbox + relay", "duplicates")]
        == in_process["outbox"].duplicates
    )
    assert table.loc[SETTINGS["fault_rate"], ("", "crashes")] == in_process["outbox"].writer_crashes
