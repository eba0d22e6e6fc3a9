"""`labkit containers ...` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.cli import main


def test_explain_prints_steps_config_and_the_command(tmp_path: Path, capsys) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM scratch\nWORKDIR /a\nWORKDIR b\nENTRYPOINT ["/app"]\nCMD ["--default"]\n')
    assert main(["containers", "explain", "--offline", str(dockerfile), "--", "--port", "9"]) == 0
    out = capsys.readouterr().out
    assert "    3  [0] WORKDIR b" in out
    assert '"WorkingDir": "/a/b"' in out
    assert 'the container runs ["/app", "--port", "9"]' in out


def test_lint_exit_code_follows_errors(tmp_path: Path, capsys) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox:1.36\nMAINTAINER me\n")
    assert main(["containers", "lint", str(dockerfile)]) == 1
    assert "DL4000" in capsys.readouterr().out


def test_bad_arguments_are_usage_errors_and_a_bad_dockerfile_is_refused_work(tmp_path: Path, capsys) -> None:
    assert main(["containers", "explain", "--offline", str(tmp_path / "missing")]) == 2
    assert "cannot read" in capsys.readouterr().err
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\nFOO bar\n")
    assert main(["containers", "explain", "--offline", str(dockerfile)]) == 1
    assert "UnknownInstructionError: line 2: unknown instruction: FOO" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # argparse: a usage error before anything is read
        main(["containers", "explain", "--build-arg", "NOEQUALS", str(dockerfile)])
    assert refused.value.code == 2
    assert "argument --build-arg: 'NOEQUALS' is not KEY=VALUE" in capsys.readouterr().err
    binary = tmp_path / "binary"
    binary.write_bytes(bytes(range(256)))
    assert main(["containers", "explain", "--offline", str(binary)]) == 2
    assert "is not a Dockerfile: not UTF-8 text" in capsys.readouterr().err


def test_status_without_an_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    assert main(["containers", "status"]) == 1
    assert "no Docker engine: no socket at" in capsys.readouterr().out


def test_explain_takes_the_builder_and_the_syntax_version(tmp_path: Path, capsys) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch AS unused\nFROM scratch\nENV A=${NOPE-default}\n")
    assert main(["containers", "explain", "--offline", str(dockerfile)]) == 0
    out = capsys.readouterr().out
    assert "builder: buildkit, Dockerfile syntax 1.20; stages built: [1]" in out
    assert '"WorkingDir": "/"' in out and '"A=default"' in out
    assert (
        main(["containers", "explain", "--offline", "--builder", "legacy", "--syntax", "1.2", str(dockerfile)]) == 1
    )  # refused work: the file needs a newer syntax
    assert "SubstitutionError: line 3" in capsys.readouterr().err
    assert main(["containers", "explain", "--offline", "--syntax", "one", str(dockerfile)]) == 2
    assert "UsageError: Dockerfile syntax 'one' is not a version" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["containers", "explain", "--offline", "--builder", "classic", str(dockerfile)])
    assert usage.value.code == 2
    assert "invalid choice: 'classic'" in capsys.readouterr().err
