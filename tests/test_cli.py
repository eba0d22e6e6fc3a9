"""Every subcommand refuses a bad command line the same way: exit 2 for a usage error (argparse, or a value only
labkit can judge) and 1 for refused work, one line on stderr naming what is wrong, no traceback, no work started
and nothing left behind.

The command lines are generated (hypothesis) from a table of each subcommand's options: one bad element per line
(a value of the wrong kind or out of range, an unknown option, an option without its value, a stray argument, a
damaged file), the other options given good values. They run in this process, as `labkit` runs them, with the
run and data folders in a scratch folder that must stay as it was, and no Docker engine or PostgreSQL server to
reach; a few run for real as `python -m labkit` too.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import string
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.cli import main
from labkit.pgserver import URL_VARIABLE
from labkit.services.__main__ import main as service_main

pytestmark = pytest.mark.slow

EXAMPLES = 45  # generated command lines per subcommand: 26 subcommands, so 1,170 in all
MINIMUM_LINES = 1000  # the goal: at least this many generated bad command lines in every CI run
# A refusal comes before any work: far less CPU than starting a service or generating data. CPU time, not wall time:
# on a loaded machine (CI measured 6.9 s of wall time for one argparse refusal at load 15) the clock says nothing.
SECONDS_PER_REFUSAL = 5.0


# ---- the options of every subcommand: a good value, and the ways a value can be bad ----------------------------

Strategy = st.SearchStrategy[str]

words = st.text(string.ascii_lowercase + "-", min_size=1, max_size=12).filter(lambda w: w.strip("-"))
plain_words = st.text(string.ascii_lowercase, min_size=1, max_size=12)  # never an option, never a subcommand's name
not_numbers = st.sampled_from(["abc", "", " ", "1.5.2", "0x10", "ten", "1e", "--", "1,000", "½"]) | words


def whole_numbers(minimum: int, maximum: int | None = None) -> Strategy:
    bad = st.integers(max_value=minimum - 1)
    if maximum is not None:
        bad = bad | st.integers(min_value=maximum + 1)
    return st.one_of(bad.map(str), not_numbers, st.sampled_from(["1.5", "nan", "inf", "-0.5"]))


def numbers(minimum: float, maximum: float, *, above: bool = False) -> Strategy:
    low = st.floats(max_value=minimum, exclude_max=not above, allow_nan=False, allow_infinity=False)
    high = st.floats(min_value=maximum, exclude_min=True, allow_nan=False, allow_infinity=False)
    return st.one_of(low.map(repr), high.map(repr), not_numbers, st.sampled_from(["nan", "inf", "-inf", "NaN"]))


def choices(allowed: Sequence[str]) -> Strategy:
    return words.filter(lambda w: w not in allowed) | st.sampled_from(["", "s", "XL", "DuckDB"])


@dataclass(frozen=True)
class Option:
    """One option: its flag, a good value (None: a flag that takes none) and its bad values."""

    flag: str
    good: str | None
    bad: Callable[[Path], Strategy] | None = None


@dataclass(frozen=True)
class Command:
    """A subcommand: the words that name it, its options, its positional arguments' good values."""

    words: tuple[str, ...]
    options: tuple[Option, ...] = ()
    positionals: tuple[str, ...] = ()
    damaged: Callable[[Path], st.SearchStrategy[list[str]]] | None = None  # valid lines whose file is damaged
    remainder: bool = False  # takes any arguments after its positionals (`docker run` arguments)
    run: Callable[[list[str]], int] = main
    prog: str = "labkit"


def bad_folders(scratch: Path) -> Strategy:
    return st.sampled_from([str(scratch / "a-file"), str(scratch / "a-file" / "inside"), "/proc/labkit", "/sys/x", ""])


def bad_files(scratch: Path) -> Strategy:
    return st.sampled_from([str(scratch / "no-such-file.yaml"), str(scratch), ""])


def good_folder(scratch: Path) -> str:
    return str(scratch / "new-folder")


def run_folder_with(scratch: Path) -> st.SearchStrategy[str]:
    """A run folder whose run.json is damaged: text that is no JSON, JSON that is no run record."""
    service = {"name": "customer", "port": 8123, "log": "l", "data_dir": "d"}
    entries = st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["customer", "nobody", "", 7]),
            "port": st.sampled_from([0, 70000, "80", None, True]),
            "log": st.sampled_from([None, 3]),
            "pid": st.sampled_from(["1", -1.5, []]),
            "started_at": st.sampled_from(["soon", float("nan")]),
        },
    ).filter(lambda e: not (set(service) <= set(e) and e.get("name") == "customer" and e.get("port") == 8123))
    records = st.one_of(
        st.text(max_size=40).filter(lambda t: not _is_json(t)),
        st.sampled_from(["[]", "null", "3", '"run"', '{"services": {}}', '{"services": [], "backend": "sqlite"}']),
        st.lists(entries, min_size=1, max_size=3).map(lambda e: json.dumps({"services": e})),
        st.sampled_from([{"database": 5}, "x", [1]]).map(lambda p: json.dumps({"services": [], "postgres": p})),
        st.sampled_from([{"url": 5}, "x", {"url": "nats://h:1", "namespace": "Bad Name", "server_folder": None}]).map(
            lambda b: json.dumps({"services": [], "transport": "nats", "broker": b})
        ),
        st.just(json.dumps({"services": [], "transport": "carrier-pigeon"})),
    )
    return records.map(lambda text: _folder_with(scratch, "run.json", text))


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _folder_with(scratch: Path, name: str, text: str) -> str:
    folder = scratch / f"damaged-{abs(hash(text)) % 10**12}"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, errors="surrogatepass")
    return str(folder)


def dockerfiles(scratch: Path) -> st.SearchStrategy[str]:
    """A file that is not a Dockerfile: bytes that are no UTF-8, or text with no FROM."""
    binary = st.binary(min_size=1, max_size=200).map(lambda b: b"\xff" + b)
    text = st.text(max_size=200).filter(lambda t: "from" not in t.lower()).map(lambda t: t.encode("utf-8", "replace"))
    return st.one_of(binary, text).map(lambda content: _file_with(scratch, content))


def _file_with(scratch: Path, content: bytes) -> str:
    path = scratch / f"file-{abs(hash(content)) % 10**12}"
    path.write_bytes(content)
    return str(path)


SIZES = ("S", "M", "L")
BACKENDS = ("duckdb", "postgres")
TRANSPORTS = ("http", "nats")


def commands(scratch: Path) -> list[Command]:
    whole = whole_numbers
    dockerfile = str(scratch / "Dockerfile")
    return [
        Command(("doctor",)),
        Command(("generate",), (
            Option("--size", "S", lambda _: choices(SIZES)),
            Option("--seed", "7", lambda _: whole(0, 2**63 - 1)),
            Option("--out", good_folder(scratch), bad_folders),
            Option("--force", None),
        )),
        Command(("up",), (
            Option("--run-dir", good_folder(scratch), bad_folders),
            Option("--timeout", "30", lambda _: numbers(0, 3600, above=True)),
            Option("--backend", "duckdb", lambda _: choices(BACKENDS)),
            Option("--transport", "http", lambda _: choices(TRANSPORTS)),
        ), damaged=lambda s: run_folder_with(s).map(lambda f: ["--run-dir", f])),
        Command(("status",), (Option("--run-dir", good_folder(scratch)),),
                damaged=lambda s: run_folder_with(s).map(lambda f: ["--run-dir", f])),
        Command(("down",), (Option("--run-dir", good_folder(scratch)),),
                damaged=lambda s: run_folder_with(s).map(lambda f: ["--run-dir", f])),
        Command(("db", "up"), (
            Option("--run-dir", good_folder(scratch), bad_folders),
            Option("--port", "5999", lambda _: whole(1, 65535)),
        )),
        Command(("db", "status"), (Option("--run-dir", good_folder(scratch)),)),
        Command(("db", "down"), (Option("--run-dir", good_folder(scratch)),)),
        Command(("broker", "up"), (
            Option("--run-dir", good_folder(scratch), bad_folders),
            Option("--port", "5999", lambda _: whole(1, 65535)),
        )),
        Command(("broker", "status"), (Option("--run-dir", good_folder(scratch)),)),
        Command(("broker", "down"), (Option("--run-dir", good_folder(scratch)),)),
        Command(("bench", "broker"), (
            Option("--messages", "100", lambda _: whole(1, 10**7)),
            Option("--batch", "10", lambda _: whole(1, 10_000)),
            Option("--size", "200", lambda _: whole(1, 2**20)),
            Option("--starts", "1", lambda _: whole(1, 100)),
        )),
        Command(("bench", "events"), (
            Option("--size", "S", lambda _: choices(SIZES)),
            Option("--bulk-events", "1000", lambda _: whole(1, 10**8)),
            Option("--commands", "10", lambda _: whole(1, 10**6)),
            Option("--lengths", "10,100", lambda _: st.one_of(not_numbers, st.sampled_from([",", "10,,x", "0", "-1,5"]))),
            Option("--sample-orders", "10", lambda _: whole(1, 10**7)),
            Option("--repeat", "1", lambda _: whole(1, 1000)),
            Option("--workload-dir", good_folder(scratch), bad_folders),
            Option("--backend", "duckdb", lambda _: choices(BACKENDS)),
        )),
        Command(("bench", "projections"), (
            Option("--size", "S", lambda _: choices(SIZES)),
            Option("--seed", "7", lambda _: whole(0, 2**63 - 1)),
            Option("--customers", "10", lambda _: whole(1, 10**7)),
            Option("--orders-count", "10", lambda _: whole(0, 10**8)),
            Option("--incremental-events", "10", lambda _: whole(1)),
            Option("--orders", "10", lambda _: whole(1, 10**6)),
            Option("--fault-rate", "0.1", lambda _: numbers(0, 1)),
            Option("--data", good_folder(scratch), bad_folders),
        )),
        Command(("bench", "query"), (
            Option("--size", "S", lambda _: choices(SIZES)),
            Option("--seed", "7", lambda _: whole(0, 2**63 - 1)),
            Option("--threshold", "100", lambda _: st.one_of(not_numbers, st.sampled_from(["nan", "inf", "1e300", "-1e20"]))),
            Option("--created-after", "2025-01-01", lambda _: st.one_of(words, st.sampled_from(["2025-02-30", "0001-01-01T00:00+01:00", "9999-12-31T23:59-05:00", "yesterday"]))),
            Option("--repeats", "2", lambda _: whole(1, 10_000)),
            Option("--rate", "2", lambda _: numbers(0, 10_000, above=True)),
            Option("--seconds", "1", lambda _: numbers(0, 3600, above=True)),
            Option("--customers", "10", lambda _: whole(1, 10**7)),
            Option("--orders", "10", lambda _: whole(0, 10**8)),
            Option("--out", good_folder(scratch), bad_folders),
        )),
        Command(("bench", "services"), (
            Option("--orders", "10", lambda _: whole(1, 10**6)),
            Option("--customers", "2", lambda _: whole(1, 10**5)),
            Option("--concurrency", "2", lambda _: whole(1, 1024)),
            Option("--seed", "7", lambda _: whole(0)),
            Option("--backend", "duckdb", lambda _: choices(BACKENDS)),
            Option("--without-group-commit", None),
            Option("--transport", "http", lambda _: choices(TRANSPORTS)),
        )),
        Command(("containers", "status")),
        Command(("containers", "base-image"), (Option("--rebuild", None),), positionals=("busybox",)),
        Command(("containers", "explain"), (
            Option("--target", "runtime"),
            Option("--build-arg", "BASE_IMAGE=x", lambda _: st.one_of(words, st.just("=x"))),  # not KEY=VALUE
            Option("--entrypoint", "sh"),
            Option("--offline", None),
        ), positionals=(dockerfile,), remainder=True,
            damaged=lambda s: dockerfiles(s).map(lambda f: ["--offline", f])),
        Command(("containers", "lint"), positionals=(dockerfile,),
                damaged=lambda s: st.binary(min_size=1, max_size=100).map(lambda b: [_file_with(s, b"\xfe" + b)])),
        Command(("containers", "build"), (Option("--target", "wheels"),), positionals=("services",)),
        Command(("containers", "check-lab"), (Option("--timeout", "60", lambda _: numbers(0, 3600, above=True)),)),
        Command(("containers", "cleanup"), (Option("--purpose", "notebook-09"), Option("--include-base-images", None))),
        Command(("chart", "check"), (Option("--chart", str(scratch / "chart"), lambda s: st.sampled_from([str(s), "/nonexistent", ""])),)),
        Command(("chart", "render"), (
            Option("--chart", str(scratch / "chart"), lambda s: st.sampled_from([str(s), "/nonexistent", ""])),
            Option("--values", str(scratch / "values.yaml"), bad_files),
            Option("--release", "shop"),
            Option("--namespace", "labkit"),
            Option("--kubernetes", "1.30", lambda _: st.one_of(words, st.sampled_from(["1.24", "1.38", "2.0", "1.3x", ""]))),
            Option("--yaml", None),
        )),
        Command(("chart", "package"), (
            Option("--chart", str(scratch / "chart"), lambda s: st.sampled_from([str(s), "/nonexistent"])),
            Option("--destination", good_folder(scratch), bad_folders),
        )),
        Command(("customer",), (
            Option("--port", "8123", lambda _: whole(1, 65535)),
            Option("--data-dir", good_folder(scratch), bad_folders),
            Option("--order-url", "http://127.0.0.1:9"),
            Option("--log-level", "info", lambda _: choices(("debug", "info", "warning", "error", "DEBUG", "INFO", "WARNING", "ERROR"))),
            Option("--parent-pid", "1", lambda _: whole(1)),
        ), run=service_main, prog="python -m labkit.services"),
        Command(("history",), (
            Option("--port", "8124", lambda _: whole(1, 65535)),
            Option("--customer-url", "http://127.0.0.1:9"),  # the order URL is missing: refused before the start
        ), run=service_main, prog="python -m labkit.services"),
        Command(("order",), (
            Option("--host", "127.0.0.1"),
            Option("--port", "8125", lambda _: whole(1, 65535)),
            Option("--customer-url", "http://127.0.0.1:9"),
        ), run=service_main, prog="python -m labkit.services"),
    ]  # fmt: skip


# ---- one bad command line per example ------------------------------------------------------------------------


@dataclass
class Line:
    """A generated command line and what is wrong with it."""

    argv: list[str]
    kind: str  # value | unknown | missing | stray | damaged | peer
    flag: str = ""
    meta: dict[str, str] = field(default_factory=dict)


def bad_lines(command: Command, scratch: Path) -> st.SearchStrategy[Line]:
    """Command lines of `command` with exactly one bad element; every other option good (or left out)."""

    @st.composite
    def build(draw: st.DrawFn) -> Line:
        kept = [o for o in command.options if draw(st.booleans())]
        good = [part for o in kept for part in ([o.flag] if o.good is None else [o.flag, o.good])]
        kinds = ["unknown", "missing"] if any(o.good is not None for o in command.options) else ["unknown"]
        if any(o.bad for o in command.options):
            kinds += ["value", "value", "value"]
        if not command.remainder:
            kinds.append("stray")
        if command.damaged is not None:
            kinds += ["damaged", "damaged"]
        if command.run is service_main and command.words == ("history",):
            kinds.append("peer")
        kind = draw(st.sampled_from(kinds))
        head = list(command.words)
        if kind == "value":
            option = draw(st.sampled_from([o for o in command.options if o.bad]))
            value = draw(option.bad(scratch))  # type: ignore[misc]
            good = [p for o in kept if o is not option for p in ([o.flag] if o.good is None else [o.flag, o.good])]
            spelled = draw(st.sampled_from(["apart", "joined"]))
            bad = [f"{option.flag}={value}"] if spelled == "joined" else [option.flag, value]
            if spelled == "apart" and value.startswith("-"):
                bad = [f"{option.flag}={value}"]  # argparse would read "-5" after a flag as another option
            return Line([*head, *good, *bad, *command.positionals], kind, option.flag)
        if kind == "unknown":
            known = {o.flag for o in command.options}
            flag = draw(words_not_in(known))
            return Line([*head, *good, flag, *command.positionals], kind, flag)
        if kind == "missing":
            option = draw(st.sampled_from([o for o in command.options if o.good is not None]))
            line = [*head, *good, *command.positionals, option.flag] if not command.remainder else None
            if line is None:  # options go before a command's remainder: an option without a value ends the options
                line = [*head, *good, option.flag]
            return Line(line, kind, option.flag)
        if kind == "stray":
            stray = draw(plain_words)
            return Line([*head, *good, *command.positionals, stray], kind, stray)
        if kind == "peer":
            return Line([*head, *good], kind, "--order-url")
        assert command.damaged is not None
        damaged = draw(command.damaged(scratch))
        return Line([*head, *good, *damaged], kind)

    return build()


def words_not_in(known: set[str]) -> st.SearchStrategy[str]:
    return words.map(lambda w: f"--{w.strip('-')}").filter(lambda f: f not in known and f != "--help" and len(f) > 3)


# ---- running one and judging the refusal ----------------------------------------------------------------------


@dataclass
class Outcome:
    status: int
    out: str
    err: str
    seconds: float


def run(command: Command, argv: list[str]) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    started = time.process_time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = command.run(argv)
        except SystemExit as exc:  # argparse's refusal
            status = int(exc.code) if isinstance(exc.code, int) else 2
    return Outcome(status, out.getvalue(), err.getvalue(), time.process_time() - started)


def judge(command: Command, line: Line, outcome: Outcome) -> None:
    """One refusal: the status, one line naming what is wrong, no traceback, no output, quick."""
    said = outcome.err.strip()
    context = f"{line.argv} ({line.kind}) -> {outcome.status}: {said!r} out={outcome.out[:200]!r}"
    assert "Traceback" not in outcome.err, context
    assert len(said.splitlines()) == 1, context
    assert outcome.seconds < SECONDS_PER_REFUSAL, f"{context} took {outcome.seconds:.1f} s of CPU: did work start?"
    if line.kind in ("damaged", "peer"):  # a line argparse takes, refused by labkit before any work
        assert outcome.status in (1, 2), context
        assert said.startswith(("labkit ", "labkit.services: ")) and "Error: " in said, context
        return
    assert outcome.status == 2, context
    assert said.startswith(f"{command.prog}") and ": error: " in said, context
    assert outcome.out == "", context
    # argparse names an option by all its spellings: "argument -f/--values"
    names_the_flag = re.search(rf"argument (\S+/)?{re.escape(line.flag)}:", said) is not None
    if line.kind == "value":
        assert names_the_flag, context
    elif line.kind == "unknown":  # (a subcommand missing its positional says that first)
        assert ("unrecognized arguments" in said and line.flag in said) or "are required" in said, context
    elif line.kind == "missing":
        assert names_the_flag and "expected one argument" in said, context
    elif line.kind == "stray":
        assert any(w in said for w in ("unrecognized arguments", "invalid choice", "are required")), context


def snapshot(folder: Path) -> set[str]:
    """Every path under a folder (what a refused command must not add to)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ---- the tests --------------------------------------------------------------------------------------------------


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The run and data folders, a file, a Dockerfile and a chart folder; no engine, no PostgreSQL server."""
    for name in ("run", "data"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("LABKIT_RUN", str(tmp_path / "run"))
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    monkeypatch.delenv("LABKIT_CUSTOMER_URL", raising=False)
    monkeypatch.delenv("LABKIT_ORDER_URL", raising=False)
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: x\nversion: 0.1.0\n")
    (tmp_path / "values.yaml").write_text("{}\n")
    return tmp_path


def test_every_subcommand_refuses_generated_bad_command_lines(scratch: Path, capsys):
    table = commands(scratch)
    subcommands = {" ".join(c.words) for c in table if c.run is main}
    registered = _registered_subcommands()
    assert subcommands <= registered, f"in the table, gone from labkit: {subcommands - registered}"
    # A subcommand added since the table was written still gets unknown options and stray arguments.
    table += [Command(tuple(name.split())) for name in sorted(registered - subcommands)]
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}
    tried: dict[str, int] = {}
    kinds: dict[str, int] = {}

    for command in table:
        name = " ".join(command.words)
        tried[name] = 0
        refusals(command, scratch, tried, kinds)()
        left = {p.pid for p in psutil.Process().children(recursive=True)} - children_before
        assert not left, f"{name}: processes left running: {left}"

    total = sum(tried.values())
    print(f"\ngenerated bad command lines tried: {total} over {len(tried)} subcommands; by kind {kinds}")
    if registered - subcommands:
        print(f"subcommands tried with unknown options and stray arguments only: {sorted(registered - subcommands)}")
    print("tracebacks: 0, refusals with more than one line: 0")
    assert total >= MINIMUM_LINES, tried
    assert all(count >= EXAMPLES // 2 for count in tried.values()), tried


def refusals(command: Command, scratch: Path, tried: dict[str, int], kinds: dict[str, int]) -> Callable[[], None]:
    """The property for one subcommand: each generated bad line is refused, and leaves the folders as they were."""
    name = " ".join(command.words)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(line=bad_lines(command, scratch))
    def refused(line: Line) -> None:
        before = snapshot(scratch / "run") | {f"data/{p}" for p in snapshot(scratch / "data")}
        judge(command, line, run(command, line.argv))
        after = snapshot(scratch / "run") | {f"data/{p}" for p in snapshot(scratch / "data")}
        assert after == before, f"{line.argv} left {sorted(after - before)} behind"
        assert not (scratch / "new-folder").exists(), f"{line.argv} created a folder"
        tried[name] += 1
        kinds[line.kind] = kinds.get(line.kind, 0) + 1

    return refused


def _registered_subcommands() -> set[str]:
    """Every `labkit` subcommand the parser knows (the table must cover each)."""
    import argparse

    from labkit.cli import build_parser

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> set[str]:
        found = set()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for word, sub in action.choices.items():
                    deeper = walk(sub, (*prefix, word))
                    found |= deeper or {" ".join((*prefix, word))}
        return found

    return walk(build_parser(), ())


@pytest.mark.parametrize(
    "argv, status, says",
    [
        (["generate", "--seed", "-5"], 2, "argument --seed: -5 is below 0"),
        (["bench", "events", "--lengths", "abc"], 2, "argument --lengths: 'abc' is not a whole number"),
        (["bench", "services", "--concurrency", "0"], 2, "argument --concurrency: 0 is below 1"),
        (["bench", "projections", "--fault-rate", "2"], 2, "argument --fault-rate: 2 is above 1"),
        (["status", "--run-dir", "{damaged}"], 1, "RunFolderError: "),
        (["chart", "render", "--kubernetes", "2.0"], 2, "argument --kubernetes: '2.0' is not a Kubernetes version"),
    ],
)
def test_as_a_user_runs_it_the_refusal_is_one_line(scratch: Path, argv, status, says):
    damaged = scratch / "damaged"
    damaged.mkdir()
    (damaged / "run.json").write_text("{")
    argv = [a.replace("{damaged}", str(damaged)) for a in argv]
    done = subprocess.run(
        [sys.executable, "-m", "labkit", *argv], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    assert done.returncode == status, done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
