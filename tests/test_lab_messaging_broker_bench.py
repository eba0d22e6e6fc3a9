"""`labkit bench broker`: a server of its own, timed start, publishes each acked, fetch + ack, a restart after kill -9
that keeps every message; the table printed from that run; nothing left running; bad counts are usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.cli import main
from labkit.jetstream.server import servers_running_from
from labkit.lab.messaging.broker_bench import measure


def test_the_measurements_move_every_message_and_leave_no_server(tmp_path: Path) -> None:
    frame = measure(tmp_path, messages=300, batch=50, size=64, starts=2, progress=False)
    assert list(frame.index) == [
        "server start, empty store (median)",
        "publish, each awaiting its ack",
        "fetch 50 + ack each (confirmed)",
        "restart after kill -9, 301 messages stored",
    ]
    assert list(frame["messages"]) == [0, 300, 300, 0]
    assert (frame["seconds"] > 0).all()
    assert abs(frame["messages/s"].iloc[1] - 300 / frame["seconds"].iloc[1]) < 0.01 * frame["messages/s"].iloc[1]
    assert frame["messages/s"].isna().tolist() == [True, False, False, True]
    assert servers_running_from(tmp_path) == []


def test_the_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "broker", "--messages", "100", "--starts", "1"]) == 0
    out = capsys.readouterr().out
    assert "publish, each awaiting its ack" in out and "messages/s" in out


@pytest.mark.parametrize("option", ["--messages", "--batch", "--size", "--starts"])
def test_counts_below_one_are_usage_errors(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "broker", option, "0"])
    assert exit_.value.code == 2 and f"argument {option}: 0 is below 1" in capsys.readouterr().err
