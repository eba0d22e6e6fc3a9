"""`docker stop` on real containers: the time it takes follows who PID 1 is and whether it handles SIGTERM."""

from __future__ import annotations

import pytest

from labkit.containers.baseimages import lab_cleanup
from labkit.containers.engine import Engine
from labkit.containers.explainer import explain
from labkit.lab.dockerfiles.stopping import (
    HANDLER,
    PROGRAMS,
    STOP_CASES,
    StopMeasurement,
    measure_stops,
    stops_table,
)

PURPOSE = "test-stopping"
TIMEOUT_S = 2
# label -> (killed at the deadline?, exit code, PID 1's command starts with)
EXPECTED = {
    "busybox ash, shell form, one command": (True, 137, "sleep 60"),  # ash execs the command: sleep is PID 1
    "busybox ash, shell form, two commands": (True, 137, "/bin/sh -c sleep 60; echo done"),
    "Debian's dash, shell form, one command": (True, 137, "/bin/sh -c sleep 60"),  # dash does not exec it
    "Python, exec form, no SIGTERM handler": (True, 137, "python3 -c"),
    "Python, exec form, handles SIGTERM": (False, 0, "python3 -c"),
    "Python handles SIGTERM, shell form (dash)": (True, 137, "/bin/sh -c python3"),
    "Python handles SIGTERM, shell form with exec": (False, 0, "python3 -c"),
    "Python, exec form, no handler, docker run --init": (False, 143, "/sbin/docker-init -- python3"),
}


@pytest.mark.docker
@pytest.mark.slow
def test_docker_stop_waits_out_the_timeout_unless_pid_1_handles_sigterm(docker_engine: Engine) -> None:
    try:
        measurements = measure_stops(docker_engine, timeout_s=TIMEOUT_S, purpose=PURPOSE)
    finally:
        lab_cleanup(docker_engine, purpose=PURPOSE)
    assert [m.case.label for m in measurements] == list(EXPECTED)
    for m in measurements:
        killed, code, pid_1 = EXPECTED[m.case.label]
        assert (m.killed, m.exit_code) == (killed, code), m
        assert m.processes[0].startswith(pid_1), m.processes
        # Killed containers waited out the whole timeout; the others stopped well inside it.
        assert m.seconds >= TIMEOUT_S if killed else m.seconds < TIMEOUT_S, m
        assert m.argv == explain(m.case.dockerfile, engine=None).command()
    assert len(measurements[0].processes) == 1  # ash replaced itself with sleep: no shell left


def test_the_table_reads_each_measurement() -> None:
    case = STOP_CASES[0]
    argv = explain(case.dockerfile, engine=None).command()
    table = stops_table([StopMeasurement(case, argv, ("sleep 60",), 3.21, 137, 3)])
    row = table.iloc[0]
    assert (row["argv as explain says"], row["docker stop took"], row["exit"]) == ("yes", "3.2 s", 137)
    assert row["what happened"] == "PID 1 ignored SIGTERM: SIGKILL after the 3 s timeout"


def test_the_table_shows_commands_and_processes_whole_with_the_programs_named() -> None:
    shell_form = next(case for case in STOP_CASES if case.cmd.startswith("CMD python3"))
    argv = explain(shell_form.dockerfile, engine=None).command()
    processes = (f'/bin/sh -c python3 -c "{HANDLER}"', f"python3 -c {HANDLER}")
    row = stops_table([StopMeasurement(shell_form, argv, processes, 4.1, 137, 3)]).iloc[0]
    assert row["CMD line"] == 'CMD python3 -c "<HANDLER>"'
    assert row["processes (PID 1 first)"] == '/bin/sh -c python3 -c "<HANDLER>" | python3 -c <HANDLER>'
    assert PROGRAMS["HANDLER"] == HANDLER and "signal.SIGTERM" in HANDLER and "signal" not in PROGRAMS["SLEEPER"]
