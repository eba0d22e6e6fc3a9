"""Docker's variable substitution in Dockerfile words: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alternative}`.

The `dockerfile` package gives each instruction's arguments as Docker's parser splits them, quotes still in place;
Docker's builder then runs every argument of ENV, ARG, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, COPY, ADD
(and FROM, with the ARGs declared before it) through its shell-like word lexer. That lexer is not exposed by the
package, so this module reproduces it, rule for rule, as the engine this lab proves against (Docker 20.10) applies it:
quotes are removed, the escape character escapes, single quotes keep `$` literal, and only the `:-` and `:+`
modifiers exist (newer BuildKit also accepts `-`, `+`, `?`, `#`, `%`, `/`; the legacy builder refuses them, so this
module refuses them too). The proof suite checks these rules against the engine.

>>> substitute('"$GREETING, ${NAME:-world}"', {"GREETING": "hello"})
'hello, world'
>>> substitute_words("$PORTS 9000/udp", {"PORTS": "80 443"})
['80', '443', '9000/udp']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from labkit.containers.errors import SubstitutionError

DEFAULT_ESCAPE = "\\"
# Positional and special shell parameters: `$1`, `$@`, ... are valid names that are never set in a build.
SPECIAL_PARAMETERS = frozenset("@*#?-$!0")


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

    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def process(self, stop: str = "") -> tuple[str, list[str]]:
        """Scan until `stop` (or the end when `stop` is empty); return the text and its shell-split words."""
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
        if ch != ":":
            raise SubstitutionError(
                "missing ':' in substitution (Docker's legacy builder knows only ${VAR}, ${VAR:-word} and ${VAR:+word})"
            )
        modifier = self.next()
        try:
            word, _ = self.process(stop="}")
        except SubstitutionError:
            if not self.peek():
                raise SubstitutionError("syntax error: missing '}'") from None
            raise
        value = self.env.get(name, "")
        if modifier == "-":
            return value or word
        if modifier == "+":
            return word if value else ""
        raise SubstitutionError(f"unsupported modifier ({modifier}) in substitution")


def _lex(word: str, env: Mapping[str, str], escape: str) -> tuple[str, list[str]]:
    try:
        return _Lexer(word, env, escape).process()
    except SubstitutionError as exc:
        raise SubstitutionError(f"failed to process {word!r}: {exc.reason}") from None


def substitute(word: str, env: Mapping[str, str], *, escape: str = DEFAULT_ESCAPE) -> str:
    """`word` with variables replaced from `env`, quotes removed and escapes applied; spaces are kept."""
    return _lex(word, env, escape)[0]


def substitute_words(word: str, env: Mapping[str, str], *, escape: str = DEFAULT_ESCAPE) -> list[str]:
    """`word` substituted like `substitute`, then split into words on unquoted whitespace (how EXPOSE reads)."""
    return _lex(word, env, escape)[1]


def references(word: str, *, escape: str = DEFAULT_ESCAPE) -> list[str]:
    """The variable names `word` refers to, in order (for explaining a step), without evaluating anything."""
    seen: list[str] = []

    class _Recorder(dict):
        def get(self, key: str, default: str = "") -> str:  # type: ignore[override]
            if key not in seen:
                seen.append(key)
            return default

    try:
        _Lexer(word, _Recorder(), escape).process()
    except SubstitutionError:
        return seen
    return seen
