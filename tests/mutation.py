"""Mutation testing, package by package: `make mutation` runs this (not part of `make test`: it is long).

For each package in pyproject's [tool.labkit.mutation.NAME] tables (or the ones named on the command line) it runs
mutmut in a folder of its own, build/mutation/NAME/, whose pyproject.toml is the project's with [tool.mutmut] made of
the shared settings plus the package's modules (`only_mutate`) and its own fast tests (`tests`, globs). So each
package is scored by its own tests only, and the runs do not share mutmut's caches. Then it prints, per module and per
package, how many mutants the tests killed, and exits 1 if a package scores under `threshold` percent over its
killable mutants: killed / (total - equivalent), the equivalent ones being those docs/mutation-survivors.toml lists,
each with the reason no behaviour tells it apart (mutmut's own score, killed / total, is printed beside it).

    python tests/mutation.py [--max-children 2] [--report-only | --survivors | --resume] [NAME ...]

`--survivors` runs again, in the last run's folder, only the mutants that run left alive (after tests were added:
a mutant killed before stays killed, so this gives the score a full run would, in a fraction of its time).
`--resume` goes on with a run that was stopped (its finished mutants keep their results). Both are valid only while
the mutated modules are as they were when that run started: after a change to them, run afresh.

A timeout counts as killed (the mutant made the tests hang: they noticed); "no tests" counts as survived (no test
runs that code). The survivors of a package are listed in build/mutation/NAME/survivors.txt (`mutmut show NAME`
in that folder shows one).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "mutation"

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code), folded into what the report counts.
KILLED = {1, 3, 36, 24, -24, 152, 255}  # a test failed, pytest errored, or the tests timed out
SURVIVED = {0}
NO_TESTS = {5, 33}


def settings() -> tuple[dict, dict, float]:
    """(the shared [tool.mutmut] table, packages by name, threshold in percent) from pyproject.toml."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = pyproject["tool"]["mutmut"]
    mutation = dict(pyproject["tool"]["labkit"]["mutation"])
    threshold = float(mutation.pop("threshold"))
    return shared, mutation, threshold


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML here")


def package_pyproject(shared: dict, package: dict) -> str:
    """The project's pyproject.toml with [tool.mutmut] replaced by the shared settings plus this package's."""
    lines, skipping = [], False
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("["):
            skipping = line.strip() == "[tool.mutmut]"
        if not skipping:
            lines.append(line)
    tests = sorted({str(path.relative_to(ROOT)) for pattern in package["tests"] for path in ROOT.glob(pattern)})
    if not tests:
        raise SystemExit(f"no test file matches {package['tests']}")
    table = {**shared, "only_mutate": package["only_mutate"], "pytest_add_cli_args_test_selection": tests}
    lines += ["", "[tool.mutmut]", *(f"{key} = {toml_value(value)}" for key, value in table.items())]
    return "\n".join(lines) + "\n"


def prepare(name: str, shared: dict, package: dict) -> Path:
    """A fresh folder for one package's run: links to the sources and tests, its own pyproject.toml."""
    work = BUILD / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for entry in ("labkit", "tests", "conftest.py"):
        (work / entry).symlink_to(ROOT / entry)
    (work / "pyproject.toml").write_text(package_pyproject(shared, package))
    (work / "sources.json").write_text(json.dumps(source_hashes(package), indent=1) + "\n")
    return work


def source_hashes(package: dict) -> dict[str, str]:
    """sha256 of each module the package mutates: a run can be gone on with only while they are unchanged."""
    modules = sorted({path for pattern in package["only_mutate"] for path in ROOT.glob(pattern)})
    return {str(path.relative_to(ROOT)): hashlib.sha256(path.read_bytes()).hexdigest() for path in modules}


def changed_sources(work: Path, package: dict) -> list[str]:
    """The package's modules that differ from what the run in `work` mutated."""
    recorded = json.loads((work / "sources.json").read_text()) if (work / "sources.json").exists() else {}
    now = source_hashes(package)
    return sorted(path for path in set(recorded) | set(now) if recorded.get(path) != now.get(path))


def run_mutmut(work: Path, max_children: int, env: dict[str, str], mutants: list[str] | None = None) -> int:
    """Run mutmut in the package's folder (its output goes to mutmut.log there); its exit code.

    Interrupted (Ctrl-C, SIGTERM, SIGHUP), mutmut's process group gets SIGINT (SIGKILL if it has not ended 30 s
    later) before this returns; either way, what the mutants left running in the folder is stopped (stop_leftovers)."""
    mutmut = Path(sys.executable).with_name("mutmut")
    log = work / "mutmut.log"
    with log.open("a" if mutants else "w") as out:
        process = subprocess.Popen(
            [str(mutmut), "run", "--max-children", str(max_children), *(mutants or [])],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            # LABKIT_MUTATION: property tests at a tenth of their examples (tests/budget.py), tqdm's own lock per process.
            env={**os.environ, "LABKIT_MUTATION": "1", **env},
            start_new_session=True,  # its own process group: mutmut, its fork server and the mutant processes
        )
        try:
            return process.wait()
        except BaseException:
            print(f"interrupted: stopping mutmut (process group {process.pid})", flush=True)
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            raise
        finally:
            left = stop_leftovers(work)
            if left:
                print(f"  stopped what the mutants left running in {work.relative_to(ROOT)}: {', '.join(left)}")


SERVERS = ("postgres", "nats")  # what a package's `server =` can name


@contextmanager
def server_for(name: str, package: dict) -> Iterator[dict[str, str]]:
    """The environment a package's tests need. `server = "postgres"` (or "nats"): one PostgreSQL (or NATS JetStream)
    server for the whole run (mutmut forks a pytest session per mutant; each finds the server in $LABKIT_POSTGRES_URL
    (or $LABKIT_NATS_URL) instead of starting its own), stopped when the run ends, also on an error or an interrupt. A
    server named in that variable already is used as it is."""
    kind = package.get("server")
    if kind is None:
        yield {}
        return
    if kind not in SERVERS:
        raise SystemExit(f"[tool.labkit.mutation.{name}] server = {kind!r}: the servers known here are {list(SERVERS)}")
    if kind == "postgres":
        from labkit.pgserver import URL_VARIABLE
        from labkit.pgserver import PostgresServer as Server
    else:
        from labkit.jetstream.server import URL_VARIABLE
        from labkit.jetstream.server import NatsServer as Server

    if os.environ.get(URL_VARIABLE):
        yield {}
        return
    folder = tempfile.mkdtemp(prefix=f"labkit-mutation-{kind}-")  # under /tmp: PostgreSQL's own user must reach it
    server = Server(folder)
    try:
        server.up()
        print(f"  {server.title} server for the run: pid {server.status()['pid']} in {folder}", flush=True)
        yield {URL_VARIABLE: server.url()}
    finally:
        stopped = server.down()
        # down() knows its server by pid and start time; after the clock was stepped during a long run the start time
        # psutil reports no longer matches the record, and down() finds nothing: what still runs from the folder is
        # stopped here, so no server of the run outlives it.
        left = stop_started_from(folder)
        shutil.rmtree(folder, ignore_errors=True)
        print(f"  {server.title} server {'stopped' if stopped or left else 'was not running'}", flush=True)


def stop_started_from(folder: str) -> list[int]:
    """Stop (SIGTERM, SIGKILL 30 s later) every process whose command line names `folder`; their pids."""
    import psutil

    found = [
        process
        for process in psutil.process_iter(["cmdline"])
        if process.pid != os.getpid() and folder in " ".join(process.info["cmdline"] or ())
    ]
    for process in found:
        with suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(found, timeout=30)
    for process in alive:
        with suppress(psutil.Error):
            process.kill()
    return [process.pid for process in found]


def stop_leftovers(work: Path) -> list[str]:
    """Stop every process still running in the package's folder once mutmut has ended; what was stopped.

    Each mutant's tests run with the folder's mutants/ as their working directory, and so does every server a test
    starts itself (a test of NatsServer, say). A mutant that breaks stopping a server (`down()` signalling another
    pid) fails its test and leaves that server running: nothing of the run may stay behind."""
    import psutil

    folder, stopped = str(work.resolve()), []
    for process in psutil.process_iter(["pid", "name", "cwd"]):
        cwd = process.info["cwd"] or ""
        if process.pid != os.getpid() and (cwd == folder or cwd.startswith(folder + os.sep)):
            try:
                process.kill()
                process.wait(10)
            except psutil.Error:
                continue
            stopped.append(f"{process.info['name']} (pid {process.pid})")
    return stopped


def results(work: Path, only_mutate: list[str]) -> dict[str, dict[str, int]]:
    """Module -> exit code of each of its mutants, read from mutmut's .meta files."""
    found = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(work / "mutants"))[: -len(".meta")]
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
        if exit_codes and any(fnmatch.fnmatch(module, pattern) for pattern in only_mutate):
            found[module] = exit_codes  # a module with nothing to mutate (only imports) is left out
    return found


def tally(exit_codes: dict[str, int], equivalent: set[str] | frozenset[str] = frozenset()) -> Counter:
    """How many mutants were killed, survived, ran no test, or other; and how many of the not killed are listed as
    equivalent (`equivalent`: their names). A run that was stopped leaves mutants it did not get to (no exit code):
    they are counted as "not run", outside the total the scores are taken over."""
    counts: Counter = Counter(total=0)
    for mutant, code in exit_codes.items():
        if code is None:
            counts["not run"] += 1
            continue
        counts["total"] += 1
        if code in KILLED:
            counts["killed"] += 1
            continue
        if code in SURVIVED:
            counts["survived"] += 1
        elif code in NO_TESTS:
            counts["no tests"] += 1
        else:
            counts["other"] += 1  # not checked, suspicious, segfault: never counted as killed
        if mutant in equivalent:
            counts["equivalent"] += 1
    return counts


def score(counts: Counter) -> float:
    """Killed / total, as mutmut counts it."""
    return 100.0 * counts["killed"] / counts["total"] if counts["total"] else 100.0


def score_of_the_killable(counts: Counter) -> float:
    """Killed / (total - equivalent): the mutation score over the mutants some behaviour can tell apart."""
    killable = counts["total"] - counts["equivalent"]
    return 100.0 * counts["killed"] / killable if killable else 100.0


def equivalents() -> set[str]:
    """The mutants docs/mutation-survivors.toml lists as equivalent."""
    return {mutant for mutant, reason in read_reasons().items() if reason["kind"] == "equivalent"}


def report(name: str, modules: dict[str, dict[str, int]], threshold: float) -> bool:
    """Print the package's table; whether its score over the killable mutants reaches the threshold."""
    columns = ("killed", "survived", "no tests", "other", "total", "equivalent", "not run")
    listed = equivalents()
    print(f"\n{name}: mutation score per module (killed / total; killed / (total - equivalent))")
    print(f"  {'module':<36}" + "".join(f"{c:>11}" for c in columns) + f"{'score':>9}{'killable':>10}")
    overall: Counter = Counter()
    for module, exit_codes in modules.items():
        counts = tally(exit_codes, listed)
        overall.update(counts)
        print(
            f"  {module:<36}"
            + "".join(f"{counts[c]:>11}" for c in columns)
            + f"{score(counts):>8.1f}%{score_of_the_killable(counts):>9.1f}%"
        )
    passed = score_of_the_killable(overall) >= threshold
    verdict = "ok" if passed else f"UNDER {threshold:.0f}%"
    print(
        f"  {name + ' (all)':<36}"
        + "".join(f"{overall[c]:>11}" for c in columns)
        + f"{score(overall):>8.1f}%{score_of_the_killable(overall):>9.1f}%  {verdict}"
    )
    return passed


def survivors(work: Path, modules: dict[str, dict[str, int]]) -> list[str]:
    names = [
        key
        for exit_codes in modules.values()
        for key, code in exit_codes.items()
        if code is not None and code not in KILLED
    ]
    (work / "survivors.txt").write_text("".join(f"{key}\n" for key in sorted(names)))
    return names


# ---- the note: docs/mutation.md's scores and survivors, written from the last runs ----------------------------------

BEFORE = ROOT / "docs" / "mutation-before.json"
MACHINE = "2 mutmut workers on the shared 2-core machine, niced"
REASONS = ROOT / "docs" / "mutation-survivors.toml"
KINDS = {
    "equivalent": "equivalent: no behaviour tells it apart",
    "wording": "changes a message's wording only (no test pins wording)",
    "open": "killable, not killed yet",
}


def cell(counts: dict[str, int] | None) -> tuple[str, str]:
    """('killed / total', 'score %') of a module's counts; dashes for a module that did not exist."""
    if counts is None:
        return "–", "–"
    return f"{counts.get('killed', 0)} / {counts['total']}", f"{score(Counter(counts)):.1f} %"


def killable_cell(counts: dict[str, int]) -> tuple[str, str]:
    """(equivalent mutants, killed / (total - equivalent) %) of a module's counts."""
    return str(counts.get("equivalent", 0)), f"{score_of_the_killable(Counter(counts)):.1f} %"


def scores_table(packages: list[str], before: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    """The markdown table of every package's modules, before and after (after: also without the equivalent ones)."""
    lines = [
        "| package / module | before: killed / total | before | after: killed / total | after "
        "| equivalent | after, of the killable |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in packages:
        after = json.loads((BUILD / name / "scores.json").read_text())
        earlier = before.get(name, {})
        for module in sorted(set(after) | set(earlier)):
            now = after.get(module)
            cells = (*cell(earlier.get(module)), *cell(now), *(killable_cell(now) if now else ("–", "–")))
            lines.append(f"| {module} | " + " | ".join(cells) + " |")
        keys = ("killed", "total", "equivalent")
        totals = [{key: sum(c.get(key, 0) for c in table.values()) for key in keys} if table else None
                  for table in (earlier, after)]  # fmt: skip
        cells = (*cell(totals[0]), *cell(totals[1]), *killable_cell(totals[1] or {"total": 0}))
        lines.append(f"| **{name} (all)** | " + " | ".join(f"**{c}**" for c in cells) + " |")
    return lines


def run_times(packages: dict[str, dict]) -> list[str]:
    """A sentence on how long each package's last full run (and the survivor runs after it) took."""
    parts = []
    for name in packages:
        timing_file = BUILD / name / "timing.json"
        if not timing_file.exists():
            parts.append(f"{name}: not timed")
            continue
        timing = json.loads(timing_file.read_text())
        part = f"{name} {timing['full_run_seconds'] / 60:.0f} min"
        reruns = timing.get("survivor_runs", [])
        if reruns:
            part += f" (then {len(reruns)} runs of the survivors after adding tests: {sum(r['seconds'] for r in reruns) / 60:.0f} min)"
        parts.append(part)
    lines = [f"Run time of the last full run per package, {MACHINE}: " + "; ".join(parts) + "."]
    for name in packages:  # a run that was stopped: what it did not get to is outside its table's totals
        counts = json.loads((BUILD / name / "scores.json").read_text()).values()
        not_run = sum(c.get("not run", 0) for c in counts)
        if not_run:
            total = not_run + sum(c["total"] for c in counts)
            lines.append(
                f"The last run of {name} was stopped before its end: {not_run} of its {total} mutants did not run."
            )
    return lines


def change_of(diff: str) -> str:
    """The lines a mutant changes, as `- old` / `+ new` in one line of markdown."""
    changed = [line for line in diff.splitlines() if line[:1] in "-+" and not line.startswith(("---", "+++"))]
    return "<br>".join(f"`{line[0]} {' '.join(line[1:].split())}`".replace("|", "\\|") for line in changed)


def short_name(mutant: str) -> str:
    """`Customer.register #16` for labkit.domain.customer.x\u01c1Customer\u01c1register__mutmut_16, `f #3` for a function."""
    key, _, number = mutant.rpartition(".")[2].partition("__mutmut_")
    name = key.removeprefix("x\u01c1").replace("\u01c1", ".") if key.startswith("x\u01c1") else key.removeprefix("x_")
    return f"{name} #{number}"


def survivor_list(packages: dict[str, dict], reasons: dict[str, dict[str, str]]) -> tuple[list[str], list[str]]:
    """The markdown list of every survivor with its change and why it lives; the survivors nobody explained."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    lines, unexplained = [], []
    for name, package in packages.items():
        work = BUILD / name
        left = {
            mutant: module
            for module, exit_codes in results(work, package["only_mutate"]).items()
            for mutant, code in sorted(exit_codes.items(), key=lambda item: short_name(item[0]))
            if code is not None and code not in KILLED
        }
        kinds = Counter(reasons.get(m, {}).get("kind", "unexplained") for m in left)
        summary = ", ".join(f"{kinds[k]} {k}" for k in (*KINDS, "unexplained") if kinds[k])
        lines += ["", f"### {name}: {len(left)} not killed ({summary or 'none'})", ""]
        if not left:
            continue
        lines += ["| module | mutant | change | kind | why it lives |", "| --- | --- | --- | --- | --- |"]
        cwd = Path.cwd()
        os.chdir(work)  # mutmut reads the mutants from its folder
        try:
            for mutant, module in left.items():
                reason = reasons.get(mutant)
                if reason is None:
                    unexplained.append(mutant)
                    reason = {"kind": "unexplained", "why": "(no reason given yet)"}
                change = change_of(get_diff_for_mutant(mutant, path=module))
                lines.append(
                    f"| {Path(module).name} | {short_name(mutant)} | {change} | {reason['kind']} | {reason['why']} |"
                )
        finally:
            os.chdir(cwd)
    return lines, unexplained


def read_reasons() -> dict[str, dict[str, str]]:
    """Mutant -> {kind, why} from docs/mutation-survivors.toml; a bare "wording" needs no why."""
    table = tomllib.loads(REASONS.read_text()).get("survivors", {}) if REASONS.exists() else {}
    reasons = {}
    for mutant, given in table.items():
        reason = {"kind": given, "why": ""} if isinstance(given, str) else dict(given)
        if reason.get("kind") not in KINDS:
            raise SystemExit(
                f"{REASONS.relative_to(ROOT)}: {mutant}: kind {reason.get('kind')!r} is not one of {list(KINDS)}"
            )
        if not reason.get("why"):
            if reason["kind"] != "wording":
                raise SystemExit(
                    f"{REASONS.relative_to(ROOT)}: {mutant}: say why a mutant of kind {reason['kind']} lives"
                )
            reason["why"] = "the message's text only"
        reasons[mutant] = reason
    return reasons


def replace_between(text: str, marker: str, lines: list[str]) -> str:
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if start not in text or end not in text:
        raise SystemExit(f"the note has no {start} ... {end} section")
    head, rest = text.split(start, 1)
    return head + start + "\n" + "\n".join(lines) + "\n" + end + rest.split(end, 1)[1]


def write_note(note: Path, packages: dict[str, dict], before_from: Path | None) -> int:
    """Fill the note's scores and survivors sections from the last runs; 1 if a survivor has no reason given."""
    if before_from is not None:  # the scores of a run of the code before (its build/mutation folder)
        found = {p.parent.name: json.loads(p.read_text()) for p in sorted(before_from.glob("*/scores.json"))}
        BEFORE.write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n")
    before = json.loads(BEFORE.read_text()) if BEFORE.exists() else {}
    reasons = read_reasons()
    survivors_lines, unexplained = survivor_list(packages, reasons)
    text = replace_between(
        note.read_text(), "mutation:scores", [*scores_table(list(packages), before), "", *run_times(packages)]
    )
    text = replace_between(text, "mutation:survivors", survivors_lines)
    note.write_text(text)
    print(f"wrote the scores and survivors of {', '.join(packages)} into {note}")
    alive = {m for name in packages for m in (BUILD / name / "survivors.txt").read_text().split()}
    patterns = [pattern for package in packages.values() for pattern in package["only_mutate"]]
    ours = {
        m for m in reasons if any(fnmatch.fnmatch(m.rpartition(".")[0].replace(".", "/") + ".py", p) for p in patterns)
    }
    stale = sorted(ours - alive)
    if stale:
        print(f"{len(stale)} reasons in {REASONS.relative_to(ROOT)} name no survivor of these runs (killed now?):")
        print("".join(f"  {m}\n" for m in stale), end="")
    if unexplained:
        print(
            f"{len(unexplained)} survivors have no reason in {REASONS.relative_to(ROOT)}; add them under [survivors]:"
        )
        print("".join(f'"{m}" = {{ kind = "", why = "" }}\n' for m in unexplained), end="")
        return 1
    return 0


def scores(modules: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Module -> its counts (killed, survived, no tests, other, total), as written to scores.json."""
    listed = equivalents()
    return {module: dict(tally(exit_codes, listed)) for module, exit_codes in modules.items()}


def run_package(name: str, package: dict, shared: dict, args: argparse.Namespace) -> bool:
    """Run one package: afresh, or (--survivors) the last run's survivors again, or (--resume) the mutants a stopped
    run did not get to; whether mutmut finished."""
    work, left = BUILD / name, None
    if (args.survivors or args.resume) and not (work / "mutants").exists():
        print(f"mutmut: {name} has no earlier run in {work.relative_to(ROOT)} to go on from")
        return False
    changed = changed_sources(work, package) if args.survivors or args.resume else []
    if changed:
        print(f"mutmut: {name}: {', '.join(changed)} changed since the last run mutated it: run afresh")
        return False
    with server_for(name, package) as env:
        if args.survivors:
            left = survivors(work, results(work, package["only_mutate"]))
            print(f"mutmut: {name}, the {len(left)} survivors of the last run ...", flush=True)
            if not left:
                return True
        elif args.resume:
            print(f"mutmut: {name}, going on with the mutants the last run did not get to ...", flush=True)
        else:
            work = prepare(name, shared, package)
            print(f"mutmut: {name} ({work.relative_to(ROOT)}/mutmut.log) ...", flush=True)
        if args.survivors or args.resume:  # the tests as pyproject names them now (a file may have been added)
            (work / "pyproject.toml").write_text(package_pyproject(shared, package))
        started = time.monotonic()
        code = run_mutmut(work, args.max_children, env, left)
    seconds = time.monotonic() - started
    print(f"mutmut: {name} done in {seconds:.0f} s", flush=True)
    # How long the runs took (the note quotes them): a full run starts the record, a resumed one adds to its time,
    # survivor runs are listed after it.
    timing_file = work / "timing.json"
    timing = json.loads(timing_file.read_text()) if timing_file.exists() and (args.survivors or args.resume) else {}
    if args.survivors:
        timing.setdefault("survivor_runs", []).append({"mutants": len(left or []), "seconds": round(seconds)})
    elif args.resume:
        timing["full_run_seconds"] = timing.get("full_run_seconds", 0) + round(seconds)
        timing["resumed"] = timing.get("resumed", 0) + 1
    else:
        timing = {"full_run_seconds": round(seconds), "max_children": args.max_children, "survivor_runs": []}
    timing_file.write_text(json.dumps(timing, indent=1) + "\n")
    if code != 0:
        print((work / "mutmut.log").read_text()[-4000:])
        print(f"mutmut failed for {name} (exit {code})")
    return code == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", help="packages to run (default: every [tool.labkit.mutation.*])")
    parser.add_argument("--max-children", type=int, default=2, help="mutmut workers (default 2)")
    parser.add_argument("--report-only", action="store_true", help="print the last run's scores, run nothing")
    parser.add_argument("--survivors", action="store_true", help="run again only the last run's survivors")
    parser.add_argument("--resume", action="store_true", help="go on with the mutants a stopped run did not get to")
    parser.add_argument(
        "--note", type=Path, help="write the last runs' scores and survivors into this note, run nothing"
    )
    parser.add_argument(
        "--before", type=Path, help="with --note: keep the scores of this build/mutation folder as before"
    )
    args = parser.parse_args(argv)
    shared, packages, threshold = settings()
    unknown = [name for name in args.packages if name not in packages]
    if unknown:
        parser.error(f"unknown package(s) {unknown}; pyproject.toml defines {sorted(packages)}")
    if args.note:
        chosen = {name: packages[name] for name in args.packages or packages}
        return write_note(args.note, chosen, args.before)
    # SIGTERM and SIGHUP end the run as Ctrl-C does: mutmut stopped, a server it was given stopped.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: sys.exit(128 + signum))
    failed = []
    started = time.monotonic()
    for name in args.packages or list(packages):
        package = packages[name]
        work = BUILD / name
        if not args.report_only and not run_package(name, package, shared, args):
            failed.append(name)
            continue
        modules = results(work, package["only_mutate"])
        if not modules:
            print(f"{name}: no mutation results in {work}")
            failed.append(name)
            continue
        if not report(name, modules, threshold):
            failed.append(name)
        left = survivors(work, modules)
        (work / "scores.json").write_text(json.dumps(scores(modules), indent=1) + "\n")
        print(f"  {len(left)} not killed: {(work / 'survivors.txt').relative_to(ROOT)}")
    if not args.report_only:
        print(f"\nmutation testing took {time.monotonic() - started:.0f} s in all")
    if failed:
        print(f"\nmutation score under {threshold:.0f}% (or no result) for: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
