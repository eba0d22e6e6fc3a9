"""Notebook 08's exercise: a Dockerfile for a service whose run arguments append to the program, with the program
itself as PID 1.

The learner writes the Dockerfile of `app.py` (a service that takes `--port` and handles SIGTERM) on the offline
Python base. `check_entrypoint` judges the text with the explainer, so no engine is needed: who PID 1 is, what
`docker run IMAGE` and `docker run IMAGE --port 9000` run, which signal `docker stop` sends, and who the container
runs as. The ENTRYPOINT x CMD rule is the heart of it: arguments after the image replace CMD, never ENTRYPOINT.
"""

from __future__ import annotations

from collections.abc import Sequence

from labkit.containers import explain
from labkit.containers.baseimages import base_image_configs
from labkit.containers.explanation import Explanation
from labkit.errors import LabkitError
from labkit.lab.exercises import Case, Failed, Verdict, check_text, expect

SHELL_NAMES = ("sh", "ash", "bash", "dash")
PYTHON_NAMES = ("python", "python3", "python3.11")
TERM_SIGNALS = ("", "SIGTERM", "TERM", "15")  # "" is Docker's default: SIGTERM


def _plan(text: str) -> Explanation:
    """The image the text builds, as the explainer works it out; a Dockerfile Docker refuses fails the case."""
    try:
        return explain(text, base_images=base_image_configs())
    except LabkitError as refused:
        raise Failed(f"Docker would refuse this Dockerfile: {refused}") from None


def _runs(text: str, run_args: Sequence[str] = ()) -> tuple[str, ...]:
    try:
        return _plan(text).command(run_args)
    except LabkitError as refused:  # no command at all
        raise Failed(str(refused)) from None


def _program(argv: Sequence[str]) -> str:
    return argv[0].rsplit("/", 1)[-1]


def _script_and_arguments(argv: Sequence[str]) -> tuple[str, list[str]]:
    """The script python3 runs (the first argument ending in .py) and the arguments after it."""
    for index, word in enumerate(argv[1:], start=1):
        if word.endswith(".py"):
            return word, list(argv[index + 1 :])
    return "", []


def _python_is_pid_1(text: str) -> None:
    argv = _runs(text)
    expect(
        _program(argv) not in SHELL_NAMES,
        f"docker run IMAGE runs {list(argv)}: the shell is PID 1 and SIGTERM stops there; write ENTRYPOINT in the "
        'exec form, a JSON list such as ["python3", "app.py"]',
    )
    expect(_program(argv) in PYTHON_NAMES, f"PID 1 should be python3 running app.py; the container runs {list(argv)}")


def _copies_app(text: str) -> None:
    copies = [c for c in _plan(text).target_stage.copies if c.from_stage is None and c.from_image is None]
    expect(
        any(source.rsplit("/", 1)[-1] == "app.py" for c in copies for source in c.sources),
        "the image needs the program: COPY app.py from the build context",
    )


def _default_arguments(text: str) -> None:
    argv = _runs(text)
    script, arguments = _script_and_arguments(argv)
    expect(script.rsplit("/", 1)[-1] == "app.py", f"python3 should run app.py; the container runs {list(argv)}")
    expect(
        arguments == ["--port", "8000"],
        f"docker run IMAGE should give app.py --port 8000, it gives {arguments}: put the default arguments in CMD "
        "(exec form), after an ENTRYPOINT that names the program",
    )


def _run_arguments_append(text: str) -> None:
    argv = _runs(text, ["--port", "9000"])
    script, arguments = _script_and_arguments(argv)
    expect(
        _program(argv) in PYTHON_NAMES and script.rsplit("/", 1)[-1] == "app.py",
        f"docker run IMAGE --port 9000 runs {list(argv)}: arguments after the image replace CMD, so the program "
        "belongs in ENTRYPOINT",
    )
    expect(arguments == ["--port", "9000"], f"docker run IMAGE --port 9000 gives app.py {arguments}, not --port 9000")


def _stops_with_sigterm(text: str) -> None:
    signal = _plan(text).config.stop_signal
    expect(
        signal.upper() in TERM_SIGNALS,
        f"STOPSIGNAL {signal} makes docker stop send {signal}, but app.py handles SIGTERM: drop the STOPSIGNAL line",
    )


def _not_root(text: str) -> None:
    user = _plan(text).user
    expect(user not in ("", "root", "0", "0:0"), f"the container runs as {user or 'root (no USER)'}: add USER 10001")


ENTRYPOINT_CASES = (
    Case("docker run IMAGE: python3 is PID 1, no shell in between", _python_is_pid_1),
    Case("the image holds app.py, copied from the build context", _copies_app),
    Case("docker run IMAGE runs app.py --port 8000", _default_arguments),
    Case("docker run IMAGE --port 9000 runs app.py --port 9000", _run_arguments_append),
    Case("docker stop sends SIGTERM, the signal app.py handles", _stops_with_sigterm),
    Case("the container runs as a user other than root", _not_root),
)


def check_entrypoint(text: str) -> Verdict:
    """Judge a Dockerfile's text against the spec: passed, or the first case it fails with a hint."""
    return check_text(text, ENTRYPOINT_CASES, "the Dockerfile's text")
