"""The command line's parser: argument types refuse in one line, and argparse's own gaps are closed."""

from __future__ import annotations

import pytest

from labkit.arguments import CommandLineParser, port


@pytest.mark.parametrize("argv", [["--port=--"], ["--port", "--"]])
def test_a_double_dash_given_as_a_value_is_judged_like_any_value(argv, capsys) -> None:
    parser = CommandLineParser(prog="labkit try")
    parser.add_argument("--port", type=port)
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(argv)
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("labkit try: error: argument --port:") and err.count("\n") == 1


def test_options_are_spelled_out() -> None:
    parser = CommandLineParser(prog="labkit try")
    parser.add_argument("--force", action="store_true")
    with pytest.raises(SystemExit):
        parser.parse_args(["--forc"])
    assert parser.parse_args(["--force"]).force is True
