"""The dual-write problem under injected crashes, over a real JetStream broker: naive designs lose or invent
events, the fixes do not; both fixes are at least once, and the broker's duplicate window drops repeats only
within the window."""

from __future__ import annotations

import duckdb
import pytest

from labkit.patterns.broker import read_messages
from labkit.patterns.commands import place_order_commands
from labkit.patterns.designs import STATE_FILE
from labkit.patterns.dualwrite import (
    SLOTS,
    anomalies_by_rate,
    broker_settings,
    compare_designs,
    outcomes_table,
    run_design,
)
from labkit.patterns.errors import PatternsError
from labkit.patterns.faults import CounterFile, FaultSchedule
from labkit.patterns.launcher import run_child

SETTINGS = {"operations": 40, "fault_rate": 0.2, "seed": 5, "round_size": 10, "batch_size": 5}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, nats_url):
    """Every design under the same schedule, crashes raised in-process, published without message ids."""
    folder = tmp_path_factory.mktemp("in-process")
    runs = compare_designs(folder, url=nats_url, message_ids=False, crash_mode="exception", progress=False, **SETTINGS)
    return {o.design: o for o in runs}


@pytest.fixture(scope="module")
def with_ids(tmp_path_factory, nats_url):
    """The same runs, published with message ids (a duplicate window far longer than the run)."""
    folder = tmp_path_factory.mktemp("with-ids")
    runs = compare_designs(folder, url=nats_url, message_ids=True, crash_mode="exception", progress=False, **SETTINGS)
    return {o.design: o for o in runs}


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
def test_the_fixes_lose_none_and_invent_none(in_process, with_ids, design):
    for runs in (in_process, with_ids):
        outcome = runs[design]
        assert outcome.writer_crashes > 0 and outcome.publisher_crashes > 0
        assert (outcome.lost, outcome.phantom) == (0, 0)
        assert outcome.orders_stored == SETTINGS["operations"] - outcome.writer_crashes


@pytest.mark.parametrize("design", ["outbox", "event_sourced"])
def test_the_relay_and_the_forwarder_are_both_at_least_once(in_process, design):
    outcome = in_process[design]
    assert outcome.duplicates > 0  # the batch in flight at each publisher crash, published again
    assert outcome.messages == outcome.orders_stored + outcome.duplicates
    assert outcome.dropped == 0  # no message ids: the broker cannot tell a repeat


@pytest.mark.parametrize("design", ["outbox", "event_sourced"])
def test_message_ids_let_the_broker_drop_exactly_the_repeats(in_process, with_ids, design):
    without, ids = in_process[design], with_ids[design]
    assert ids.dropped == without.duplicates > 0
    assert (ids.duplicates, ids.messages) == (0, ids.orders_stored)


def test_a_repeat_after_the_duplicate_window_is_stored_again(tmp_path, nats_url):
    outcome = run_design(
        "outbox",
        tmp_path,
        url=nats_url,
        message_ids=True,
        crash_mode="exception",
        duplicate_window=1.0,
        relay_restart_delay=2.0,  # each crashed relay comes back after the window
        **SETTINGS,
    )
    assert outcome.publisher_crashes > 0
    assert outcome.dropped == 0  # every repeat came after the window: none dropped
    assert outcome.duplicates > 0 and outcome.messages == outcome.orders_stored + outcome.duplicates
    assert (outcome.lost, outcome.phantom) == (0, 0)


def test_the_counts_come_from_the_database_and_the_stream(in_process, tmp_path, nats_url):
    folder = tmp_path / "outbox"
    run_design("outbox", folder, url=nats_url, message_ids=False, crash_mode="exception", **SETTINGS)
    with duckdb.connect(str(folder / STATE_FILE), read_only=True) as state:
        orders = {row[0] for row in state.execute("SELECT order_id FROM orders").fetchall()}
        assert state.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone() == (0,)
    announced = [event.aggregate_id for event in read_messages(broker_settings(folder), "another-consumer")]
    assert set(announced) == orders
    assert len(announced) - len(orders) == in_process["outbox"].duplicates
    placed = {c.order_id for c in place_order_commands(SETTINGS["operations"], seed=SETTINGS["seed"])}
    assert len(placed - orders) == in_process["outbox"].writer_crashes


@pytest.mark.slow
def test_killed_processes_leave_the_same_stores_as_raised_crashes(in_process, tmp_path, nats_url):
    runs = compare_designs(
        tmp_path, url=nats_url, message_ids=False, crash_mode="process", workers=4, progress=False, **SETTINGS
    )
    killed = {o.design: o for o in runs}
    for design, outcome in killed.items():
        assert outcome.to_row() | {"crash_mode": "-"} == in_process[design].to_row() | {"crash_mode": "-"}, design


def _first_crash(component: str, rate: float, attempt: int) -> FaultSchedule:
    """A schedule whose first crash of `component` is at `attempt` and whose writer never crashes before it."""
    return next(
        FaultSchedule(rate, seed=s)
        for s in range(5000)
        if FaultSchedule(rate, seed=s).crashing(component, attempt + 1) == [attempt]
        and not FaultSchedule(rate, seed=s).crashing("writer", 10)
    )


def _serve_once(design: str, folder, schedule: FaultSchedule, broker) -> tuple[int, CounterFile]:
    counters = CounterFile(folder / "progress.bin", len(SLOTS))
    args = (design, str(folder), place_order_commands(10, seed=1), schedule, "process", counters, 10, 5, broker)
    return run_child("labkit.patterns.dualwrite:serve", args), counters


def test_a_killed_service_process_kept_its_count_of_taken_orders(tmp_path, nats_url):
    from labkit.patterns.broker import BrokerSettings, create_stream

    commands = place_order_commands(5, seed=1)
    schedule = next(
        FaultSchedule(0.5, seed=s) for s in range(100) if FaultSchedule(0.5, seed=s).crashing("writer", 5)[:1] == [2]
    )
    broker = BrokerSettings(nats_url, "KILLED_WRITER", message_ids=False)
    create_stream(broker)
    counters = CounterFile(tmp_path / "progress.bin", len(SLOTS))
    args = ("state_first", str(tmp_path), commands, schedule, "process", counters, 10, 10, broker)
    assert run_child("labkit.patterns.dualwrite:serve", args) == -9  # SIGKILL at order 3's crash point
    assert counters[SLOTS["writer"]] == 3
    with duckdb.connect(str(tmp_path / STATE_FILE), read_only=True) as state:
        assert state.execute("SELECT count(*) FROM orders").fetchone() == (3,)  # committed before the kill
    assert len(read_messages(broker, "check")) == 2  # order 3 never announced
    counters.close()


@pytest.mark.parametrize("design", ["outbox", "event_sourced"])
def test_a_publisher_killed_after_the_ack_leaves_its_batch_published_and_unrecorded(tmp_path, nats_url, design):
    """The work in flight when the fault hit: the broker holds the batch, the service's database does not know."""
    from labkit.patterns.broker import BrokerSettings, create_stream

    component = "relay" if design == "outbox" else "subscriber"
    broker = BrokerSettings(nats_url, f"KILLED_{component.upper()}", message_ids=False)
    create_stream(broker)
    # 10 orders in one round, then the publisher's first batch of 5 is acked and the process killed.
    exit_code, counters = _serve_once(design, tmp_path, _first_crash(component, 0.2, 0), broker)
    assert exit_code == -9 and counters[SLOTS["writer"]] == 10 and counters[SLOTS[component]] == 1
    counters.close()
    published = [event.aggregate_id for event in read_messages(broker, "check")]
    assert len(published) == 5  # the batch in flight reached the broker
    with duckdb.connect(str(tmp_path / STATE_FILE), read_only=True) as state:
        if design == "outbox":
            unsent = {
                row[0] for row in state.execute("SELECT aggregate_id FROM outbox WHERE sent_at IS NULL").fetchall()
            }
            assert set(published) <= unsent and len(unsent) == 10  # marked sent: none
        else:
            checkpoint = state.execute("SELECT coalesce(max(position), 0) FROM subscription_checkpoints").fetchone()
            assert checkpoint == (0,)  # the forwarder's checkpoint did not move


def test_without_faults_every_design_is_exact(tmp_path, nats_url):
    outcomes = compare_designs(
        tmp_path, url=nats_url, message_ids=True, crash_mode="exception", progress=False, operations=30, fault_rate=0.0
    )
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


def test_bad_settings_name_the_value(tmp_path, nats_url):
    with pytest.raises(PatternsError, match="unknown design 'two_phase_commit'"):
        run_design("two_phase_commit", tmp_path, message_ids=False, url=nats_url)
    with pytest.raises(PatternsError, match="'reboot'"):
        run_design("outbox", tmp_path, message_ids=False, url=nats_url, crash_mode="reboot")  # type: ignore[arg-type]
    with pytest.raises(PatternsError, match=r"got 1\.0"):
        run_design("outbox", tmp_path, message_ids=False, url=nats_url, fault_rate=1.0)
    with pytest.raises(PatternsError, match="relay_restart_delay"):
        run_design("outbox", tmp_path, message_ids=False, url=nats_url, relay_restart_delay=-1)
    with pytest.raises(PatternsError, match="message_ids"):
        run_design("outbox", tmp_path, message_ids="yes", url=nats_url)  # type: ignore[arg-type]
    assert not (tmp_path / STATE_FILE).exists()  # refused before anything was touched


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
