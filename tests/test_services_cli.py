"""`labkit up | status | down` and `labkit bench services`, run as a user runs them."""

from __future__ import annotations

import re

import psutil
import pytest

from labkit.cli import main
from labkit.pgserver import URL_VARIABLE
from labkit.services.errors import SettingsError, UnknownServiceError
from labkit.services.process_runner import ServiceRunner
from labkit.services.settings import settings_from

pytestmark = pytest.mark.slow


def test_up_status_down_start_and_stop_exactly_the_recorded_processes(tmp_path, capsys):
    folder = tmp_path / "run"
    assert main(["up", "--run-dir", str(folder)]) == 0
    runner = ServiceRunner.attach(folder)
    try:
        pids = {name: service.pid for name, service in runner.services.items()}
        assert all(psutil.pid_exists(pid) for pid in pids.values())
        assert main(["up", "--run-dir", str(folder)]) == 1  # refuses to start a second set over the first
        capsys.readouterr()
        assert main(["status", "--run-dir", str(folder)]) == 0
        shown = capsys.readouterr().out
        for name, pid in pids.items():
            assert name in shown and str(pid) in shown
        assert "lag" in shown
    finally:
        assert main(["down", "--run-dir", str(folder)]) == 0
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids.values()
    )
    assert main(["status", "--run-dir", str(folder)]) == 1  # nothing healthy any more


def test_status_without_a_run_says_to_start_one(tmp_path, capsys):
    assert main(["status", "--run-dir", str(tmp_path / "nothing")]) == 1
    assert "`labkit up` first" in capsys.readouterr().err


def test_the_benchmark_runs_at_a_tiny_size(capsys):
    assert main(["bench", "services", "--orders", "20", "--customers", "4", "--concurrency", "4"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\| duckdb, group commit +\| 20 \| 20 \|", out), out
    assert re.search(r"HTTP floor: .*: [\d,]+ orders/s", out), out
    assert re.search(
        r"duckdb, group commit: customer [\d.]+, order [\d.]+, history [\d.]+; [\d.]+ in all, so \d+ cores accept at most [\d,]+ orders/s",
        out,
    ), out
    assert "nothing lost: met" in out


def test_the_benchmark_puts_postgresql_beside_duckdb(capsys, postgres_url, monkeypatch):
    monkeypatch.setenv(URL_VARIABLE, postgres_url)
    assert main(["bench", "services", "--backend", "postgres", "--orders", "20", "--customers", "4"]) == 0
    out = capsys.readouterr().out
    for backend in ("duckdb", "postgres"):
        assert re.search(rf"\| {backend}, group commit +\| 20 \| 20 \|", out), out
        assert re.search(rf"goals on {backend}: accepted/s >= \d+: (met|MISSED)", out), out
    assert re.search(r"postgres accepts [\d.]+x the orders/s of duckdb", out), out
    assert "nothing lost: met" in out


def test_settings_follow_the_container_contract_and_fall_back_to_the_environment(tmp_path):
    argv = ["order", "--host", "0.0.0.0", "--port", "8000", "--data-dir", str(tmp_path)]
    settings = settings_from(argv, {"LABKIT_CUSTOMER_URL": "http://customer:8000/", "LABKIT_FEED_BATCH_SIZE": "50"})
    assert (settings.host, settings.port, settings.database_path) == ("0.0.0.0", 8000, tmp_path / "order.duckdb")
    assert settings.peer_url("customer") == "http://customer:8000"
    assert settings.feed_batch_size == 50
    with pytest.raises(UnknownServiceError, match="--order-url"):
        settings.peer_url("order")
    with pytest.raises(SettingsError, match="LABKIT_FEED_POLL_TIMEOUT_S='soon'"):
        settings_from(argv, {"LABKIT_FEED_POLL_TIMEOUT_S": "soon"})


def test_a_database_url_comes_from_the_option_or_the_environment(tmp_path):
    argv = ["customer", "--data-dir", str(tmp_path)]
    assert settings_from(argv, {}).database_url is None
    assert settings_from(argv, {"LABKIT_DATABASE_URL": "postgresql://env/x"}).database_url == "postgresql://env/x"
    given = [*argv, "--database-url", "postgresql://option/x"]
    assert settings_from(given, {"LABKIT_DATABASE_URL": "postgresql://env/x"}).database_url == "postgresql://option/x"


def test_the_benchmark_puts_the_broker_beside_the_http_feeds_with_a_killed_consumer_in_each(capsys, monkeypatch):
    monkeypatch.delenv("LABKIT_NATS_URL", raising=False)
    assert main(["bench", "services", "--transport", "nats", "--orders", "20", "--customers", "4"]) == 0
    out = capsys.readouterr().out
    for transport in ("http", "nats"):
        assert re.search(rf"\| duckdb, group commit, {transport} +\| 20 \| 20 \|", out), out
    # Over the broker the restarted consumer is redelivered what the dead one held; over the feed, nothing.
    assert re.search(r"\| duckdb, group commit, http .*\| n/a \| [\d.]+ \| 0 \|", out), out
    assert re.search(r"\| duckdb, group commit, nats .*\| \d+ \| [\d.]+ \| 0 \|", out), out
    assert re.search(r"group commit, nats: .*, nats [\d.]+;", out), (
        out
    )  # the broker's own CPU is counted with the run's
    assert re.search(r"at least as fast as the HTTP feeds on every row: (met|MISSED)", out), out
    assert "nothing lost: met" in out


def test_up_with_the_nats_transport_starts_the_runs_broker_and_down_stops_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LABKIT_NATS_URL", raising=False)
    folder = tmp_path / "run"
    assert main(["up", "--run-dir", str(folder), "--transport", "nats"]) == 0
    assert "events travel through NATS JetStream at nats://127.0.0.1:" in capsys.readouterr().out
    runner = ServiceRunner.attach(folder)
    try:
        assert runner.transport == "nats" and runner.broker is not None and runner.broker.server is not None
        assert runner.broker.server.is_running()
        assert "--transport nats" in " ".join(runner.command("order"))
    finally:
        assert main(["down", "--run-dir", str(folder)]) == 0
    assert not runner.broker.server.is_running()


def test_the_nats_transport_needs_a_broker_url_and_a_plain_namespace(tmp_path):
    argv = ["order", "--data-dir", str(tmp_path), "--transport", "nats"]
    with pytest.raises(SettingsError, match="--broker-url"):
        settings_from(argv, {})
    assert settings_from(argv, {"LABKIT_NATS_URL": "nats://127.0.0.1:4222"}).broker_url == "nats://127.0.0.1:4222"
    with pytest.raises(SettingsError, match="broker namespace 'Run 1'"):
        settings_from([*argv, "--broker-url", "nats://h:1", "--broker-namespace", "Run 1"], {})
    assert settings_from(["order", "--data-dir", str(tmp_path)], {}).transport == "http"


@pytest.mark.parametrize(
    ("url", "says"), [("garbage", "is not a NATS URL"), ("nats://127.0.0.1:1", "no NATS server answers")]
)
def test_up_over_a_broker_named_wrongly_is_refused_before_any_service_starts(tmp_path, capsys, monkeypatch, url, says):
    monkeypatch.setenv("LABKIT_NATS_URL", url)
    assert main(["up", "--run-dir", str(tmp_path / "run"), "--transport", "nats"]) in (1, 2)
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run" / "run.json").exists() or not any(
        ServiceRunner.attach(tmp_path / "run").is_running(name) for name in ("customer", "order", "history")
    )
