"""Docker's variable substitution in Dockerfile words: `$VAR`, `${VAR}`, `${VAR:-default}` and the other forms.

The `dockerfile` package gives each instruction's arguments as Docker's parser splits them, quotes still in place;
Docker's builder then runs every argument of ENV, ARG, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, COPY, ADD
(and FROM, with the ARGs declared before it) through its shell-like word lexer (BuildKit's, for both builders). That
lexer is not exposed by the package, so this module reproduces it, rule for rule: quotes are removed, the escape
character escapes, single quotes keep `$` literal. Which `${...}` forms exist depends on the Dockerfile syntax
version, not on the builder: 1.2 (Docker Engine 20.10, both builders, proven against it by the proof suite) knows
`:-`, `:+` and `:?`; 1.6 adds `-`, `+`, `?` (unset only, not empty); 1.7 adds the pattern forms `#`, `##`, `%`,
`%%`, `/`, `//` (modelled from the Dockerfile reference and BuildKit's lexer, not proven here).

>>> substitute('"$GREETING, ${NAME:-world}"', {"GREETING": "hello"})
'hello, world'
>>> substitute_words("$PORTS 9000/udp", {"PORTS": "80 443"})
['80', '443', '9000/udp']
>>> substitute("${FILE%.*} ${FILE##*.}", {"FILE": "app.tar.gz"}, syntax=PATTERN_FORMS_SINCE)
'app.tar gz'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from labkit.containers.builders import (
    CURRENT,
    PATTERN_FORMS_SINCE,
    UNSET_ONLY_FORMS_SINCE,
    DockerfileSyntax,
)
from labkit.containers.errors import SubstitutionError

DEFAULT_ESCAPE = "\\"
# Positional and special shell parameters: `$1`, `$@`, ... are valid names that are never set in a build.
SPECIAL_PARAMETERS = frozenset("@*#?-$!0")
# Characters a `${VAR#pattern}` pattern takes literally that a Python regular expression would not.
REGEX_SPECIALS = frozenset("[]{}.+()|^$")


@dataclass
class _Words:
    """Accumulates the words of a value as the shell would split them, after substitution."""

    current: str = ""
    words: list[str] = field(default_factory=list)
    in_word: bool = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.current:
                self.words.append(self.current)
                self.current = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.current += text
        self.in_word = True

    def add_text(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def finish(self) -> list[str]:
        if self.current:
            self.words.append(self.current)
            self.current = ""
        return self.words


class _Lexer:
    """One pass over one word, the way Docker's builder scans it."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str, syntax: DockerfileSyntax) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.syntax = syntax

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def process(self, stop: str = "", *, raw_escapes: bool = False) -> tuple[str, list[str]]:
        """Scan until `stop` (or the end when `stop` is empty); return the text and its shell-split words.

        `raw_escapes` keeps the escape character in the text (a pattern needs `\\*` to mean a literal star).
        """
        result: list[str] = []
        words = _Words()
        while self.peek():
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.finish()
            if ch == "$":
                value = self.dollar()
                result.append(value)
                words.add_text(value)  # a substituted value is split on whitespace, like the shell does
            elif ch == "'":
                value = self.single_quoted()
                result.append(value)
                words.add_raw(value)
            elif ch == '"':
                value = self.double_quoted()
                result.append(value)
                words.add_raw(value)
            else:
                ch = self.next()
                if ch == self.escape:
                    if raw_escapes:
                        result.append(ch)
                    ch = self.next()
                    if not ch:
                        break  # a trailing escape character is dropped
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop:
            raise SubstitutionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def single_quoted(self) -> str:
        self.next()
        chars: list[str] = []
        while True:
            ch = self.next()
            if not ch:
                raise SubstitutionError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(chars)
            chars.append(ch)

    def double_quoted(self) -> str:
        self.next()
        chars: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise SubstitutionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(chars)
            if ch == "$":
                chars.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                following = self.peek()
                if not following:
                    continue  # an escape character at the very end is dropped
                if following in ('"', "$", self.escape):
                    ch = self.next()
            chars.append(ch)

    def name(self) -> str:
        """A variable name: letters, digits and `_`; or a run of digits; or one special parameter."""
        chars: list[str] = []
        while self.peek():
            ch = self.peek()
            if not chars and ch.isdigit():
                while self.peek().isdigit():
                    chars.append(self.next())
                return "".join(chars)
            if not chars and ch in SPECIAL_PARAMETERS:
                return self.next()
            if not (ch.isalpha() or ch.isdigit() or ch == "_"):
                break
            chars.append(self.next())
        return "".join(chars)

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.env.get(name, "") if name else "$"
        self.next()
        if not self.peek():
            raise SubstitutionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise SubstitutionError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        modern = self.syntax >= UNSET_ONLY_FORMS_SINCE
        patterns = self.syntax >= PATTERN_FORMS_SINCE
        if ch == ":":
            modifier = self.next()
            if modifier not in ("-", "+", "?"):
                shown = f":{modifier}" if modern else modifier
                raise SubstitutionError(f"unsupported modifier ({shown}) in substitution")
            return self._default_forms(name, modifier, empty_is_unset=True)
        if ch in ("-", "+", "?") and modern:
            return self._default_forms(name, ch, empty_is_unset=False)
        if ch in ("#", "%") and patterns:
            return self._trim(name, ch)
        if ch == "/" and patterns:
            return self._replace(name)
        if modern:
            raise SubstitutionError(
                f"unsupported modifier ({ch}) in substitution" if ch else "syntax error: missing '}'"
            )
        raise SubstitutionError(
            f"missing ':' in substitution (Dockerfile syntax {self.syntax} knows ${{VAR}}, ${{VAR:-word}}, "
            f"${{VAR:+word}} and ${{VAR:?message}}; ${{VAR-word}} needs {UNSET_ONLY_FORMS_SINCE}, ${{VAR#pattern}} "
            f"and ${{VAR/a/b}} need {PATTERN_FORMS_SINCE})"
        )

    def _word(self, stop: str, *, raw_escapes: bool = False, missing: str = "}") -> str:
        try:
            word, _ = self.process(stop=stop, raw_escapes=raw_escapes)
        except SubstitutionError:
            if not self.peek():
                raise SubstitutionError(f"syntax error: missing '{missing}'") from None
            raise
        return word

    def _default_forms(self, name: str, modifier: str, *, empty_is_unset: bool) -> str:
        """`${VAR:-w}`, `${VAR:+w}`, `${VAR:?m}`; without the colon an empty value counts as set."""
        word = self._word("}")
        value = self.env.get(name, "")
        is_set = name in self.env and not (empty_is_unset and value == "")
        if modifier == "-":
            return value if is_set else word
        if modifier == "+":
            return word if is_set else ""
        if name not in self.env:
            raise SubstitutionError(f"{name}: {word or 'is not allowed to be unset'}")
        if not is_set:
            raise SubstitutionError(f"{name}: {word or 'is not allowed to be empty'}")
        return value

    def _trim(self, name: str, modifier: str) -> str:
        """`${VAR#p}`/`${VAR##p}` remove the shortest/longest match at the start, `%`/`%%` at the end."""
        pattern = self._word("}", raw_escapes=True)
        greedy = pattern.startswith(modifier)
        pattern = pattern[1:] if greedy else pattern
        value = self.env.get(name, "")
        if modifier == "#":
            return _trim_prefix(pattern, value, greedy=greedy)
        return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy=greedy)[::-1]

    def _replace(self, name: str) -> str:
        """`${VAR/p/r}` replaces the first match of `p` (longest), `${VAR//p/r}` every match."""
        every = self.peek() == "/"
        if every:
            self.next()
        pattern = self._word("/", raw_escapes=True, missing="/' in ${}")
        replacement = self._word("}", raw_escapes=True)
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        return regex.sub(lambda _: replacement, self.env.get(name, ""), count=0 if every else 1)


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell pattern (`*`, `?`, `\\*` and `\\?` for literal ones; no `[...]`) as a regular expression."""
    out = ["^"] if anchored else []
    chars = iter(pattern)
    for ch in chars:
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = next(chars, "")
            if following in ("}", "/"):
                out.append(re.escape(following))  # escaped only to end the ${...}: not part of the pattern
            elif following in ("*", "?", "\\"):
                out.append(re.escape(following))
            else:
                raise SubstitutionError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'")
        elif ch in REGEX_SPECIALS:
            out.append(re.escape(ch))
        else:
            out.append(ch)
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, *, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def _reverse_pattern(pattern: str) -> str:
    """The pattern read backwards, each escape kept in front of the character it escapes (`a\\*c` -> `c\\*a`)."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i : i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _lex(word: str, env: Mapping[str, str], escape: str, syntax: DockerfileSyntax) -> tuple[str, list[str]]:
    try:
        return _Lexer(word, env, escape, syntax).process()
    except SubstitutionError as exc:
        raise SubstitutionError(f"failed to process {word!r}: {exc.reason}") from None


def substitute(
    word: str, env: Mapping[str, str], *, escape: str = DEFAULT_ESCAPE, syntax: DockerfileSyntax = CURRENT
) -> str:
    """`word` with variables replaced from `env`, quotes removed and escapes applied; spaces are kept."""
    return _lex(word, env, escape, syntax)[0]


def substitute_words(
    word: str, env: Mapping[str, str], *, escape: str = DEFAULT_ESCAPE, syntax: DockerfileSyntax = CURRENT
) -> list[str]:
    """`word` substituted like `substitute`, then split into words on unquoted whitespace (how EXPOSE reads)."""
    return _lex(word, env, escape, syntax)[1]


def references(word: str, *, escape: str = DEFAULT_ESCAPE) -> list[str]:
    """The variable names `word` refers to, in order (for explaining a step), without evaluating anything."""
    seen: list[str] = []

    class _Recorder(dict):
        def get(self, key: str, default: str = "") -> str:  # type: ignore[override]
            if key not in seen:
                seen.append(key)
            return default

        def __contains__(self, key: object) -> bool:
            if isinstance(key, str) and key not in seen:
                seen.append(key)
            return False

    try:
        _Lexer(word, _Recorder(), escape, CURRENT).process()
    except SubstitutionError:
        return seen
    return seen
