"""Docker's word substitution, rule by rule (the proof suite checks the same rules against the engine)."""

from __future__ import annotations

import re

import pytest

from labkit.containers.errors import SubstitutionError
from labkit.containers.substitution import references, substitute, substitute_words

ENV = {"A": "1", "B": "x y", "EMPTY": ""}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A", "1"),
        ("${A}", "1"),
        ("pre${A}post", "pre1post"),
        ("$NOPE", ""),
        ("${NOPE:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${A:-fallback}", "1"),
        ("${A:+set}", "set"),
        ("${NOPE:+set}", ""),
        ("${EMPTY:+set}", ""),
        ("${A:-$B}", "1"),
        ("${NOPE:-$B}", "x y"),
        ('${NOPE:-"q w"}', "q w"),
        ('"$B"', "x y"),
        ("'$B'", "$B"),
        ("\\$A", "$A"),
        ('"a\\"b"', 'a"b'),
        ('"x\\y"', "x\\y"),
        ("x\\\\y", "x\\y"),
        ("a\\ b", "a b"),
        ("$", "$"),
        ("a$", "a$"),
        ("$@x", "x"),
        ("$12a", "a"),
        ("${1}", ""),
        ("$-x", "x"),
        ("trailing\\", "trailing"),
    ],
)
def test_substitute_follows_dockers_rules(word: str, expected: str) -> None:
    assert substitute(word, ENV) == expected


def test_substitute_keeps_spaces_but_words_split_on_unquoted_whitespace() -> None:
    assert substitute("$B  z", ENV) == "x y  z"
    assert substitute_words("$B  z", ENV) == ["x", "y", "z"]
    assert substitute_words('"$B" z', ENV) == ["x y", "z"]
    assert substitute_words("'a b' c\\ d", ENV) == ["a b", "c d"]


def test_a_backtick_escape_directive_changes_the_escape_character() -> None:
    assert substitute("a`$A", ENV, escape="`") == "a$A"
    assert substitute("a\\b", ENV, escape="`") == "a\\b"


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${Y-w}", "missing ':' in substitution"),
        ("${B:x}", "unsupported modifier (x)"),
        ("${}", "bad substitution"),
        ("${:x}", "bad substitution"),
        ("${B", "missing ':'"),
        ("${B:-x", "missing '}'"),
        ('"open', "matching double-quote"),
        ("'open", "matching single-quote"),
    ],
)
def test_what_docker_refuses_is_refused_with_the_word(word: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=re.escape(message)) as refused:
        substitute(word, ENV)
    assert repr(word) in str(refused.value)


def test_references_lists_variables_in_order_without_evaluating() -> None:
    assert references("$A ${B:-$C} '$D' \\$E") == ["A", "C", "B"]
