"""Docker's word substitution, rule by rule (the proof suite checks the same rules against the engine)."""

from __future__ import annotations

import re

import pytest

from labkit.containers.builders import CURRENT, ENGINE_20_10, PATTERN_FORMS_SINCE, UNSET_ONLY_FORMS_SINCE
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
    assert substitute(word, ENV, syntax=ENGINE_20_10) == expected
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
    """Engine 20.10's wording (syntax 1.2), which the proof suite checks on both builders."""
    with pytest.raises(SubstitutionError, match=re.escape(message)) as refused:
        substitute(word, ENV, syntax=ENGINE_20_10)
    assert repr(word) in str(refused.value)


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${NOPE:?must be set}", "NOPE: must be set"),
        ("${NOPE:?}", "NOPE: is not allowed to be unset"),
        ("${EMPTY:?empty}", "EMPTY: empty"),
    ],
)
def test_colon_question_mark_refuses_unset_and_empty_values_from_syntax_1_2(word: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=re.escape(message)):
        substitute(word, ENV, syntax=ENGINE_20_10)
    assert substitute("${A:?must be set}", ENV, syntax=ENGINE_20_10) == "1"


# The Dockerfile reference's examples (str=foobarbaz) and the unset-versus-empty rule of the colon-less forms.
REFERENCE = {"str": "foobarbaz", "EMPTY": "", "path": "/srv/app.tar.gz"}


@pytest.mark.parametrize(
    ("word", "expected", "since"),
    [
        ("${EMPTY-word}", "", UNSET_ONLY_FORMS_SINCE),
        ("${EMPTY:-word}", "word", ENGINE_20_10),
        ("${NOPE-word}", "word", UNSET_ONLY_FORMS_SINCE),
        ("${EMPTY+word}", "word", UNSET_ONLY_FORMS_SINCE),
        ("${EMPTY:+word}", "", ENGINE_20_10),
        ("${NOPE+word}", "", UNSET_ONLY_FORMS_SINCE),
        ("${EMPTY?msg}", "", UNSET_ONLY_FORMS_SINCE),
        ("${str#f*b}", "arbaz", PATTERN_FORMS_SINCE),
        ("${str##f*b}", "az", PATTERN_FORMS_SINCE),
        ("${str%b*}", "foobar", PATTERN_FORMS_SINCE),
        ("${str%%b*}", "foo", PATTERN_FORMS_SINCE),
        ("${str/ba/fo}", "fooforbaz", PATTERN_FORMS_SINCE),
        ("${str//ba/fo}", "fooforfoz", PATTERN_FORMS_SINCE),
        ("${str#x*}", "foobarbaz", PATTERN_FORMS_SINCE),
        ("${path##*/}", "app.tar.gz", PATTERN_FORMS_SINCE),
        ("${path%/*}", "/srv", PATTERN_FORMS_SINCE),
        ("${path%.*}", "/srv/app.tar", PATTERN_FORMS_SINCE),
        ("${path%%.*}", "/srv/app", PATTERN_FORMS_SINCE),
        ("${str/?a/X}", "fooXrbaz", PATTERN_FORMS_SINCE),
        ("${str/\\*/X}", "foobarbaz", PATTERN_FORMS_SINCE),
    ],
)
def test_each_form_works_from_its_syntax_version_and_is_refused_before(word: str, expected: str, since) -> None:
    assert substitute(word, REFERENCE, syntax=since) == expected
    assert substitute(word, REFERENCE, syntax=CURRENT) == expected
    if since > ENGINE_20_10:
        with pytest.raises(SubstitutionError, match="missing ':' in substitution"):
            substitute(word, REFERENCE, syntax=ENGINE_20_10)


def test_the_colon_is_not_a_pattern_modifier_and_a_pattern_escape_must_escape_a_wildcard() -> None:
    with pytest.raises(SubstitutionError, match=re.escape("unsupported modifier (:#)")):
        substitute("${str:#f}", REFERENCE)
    with pytest.raises(SubstitutionError, match=re.escape("invalid escape")):
        substitute("${str#\\a}", REFERENCE)
    with pytest.raises(SubstitutionError, match=re.escape("unsupported modifier (#)")):
        substitute("${str:#f}", REFERENCE, syntax=ENGINE_20_10)


def test_references_lists_variables_in_order_without_evaluating() -> None:
    assert references("$A ${B:-$C} '$D' \\$E") == ["A", "C", "B"]
