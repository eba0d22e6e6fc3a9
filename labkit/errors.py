"""The root of labkit's one exception hierarchy.

Every area defines its own exception types as subclasses of `LabkitError` (in its own module), so a caller
can catch everything labkit raises with one `except LabkitError`, and each kind of failure with its own type.
Messages say what was wrong, with the value, and what to do.
"""

import unicodedata


def printable(message: str) -> str:
    """A message as a terminal may show it: control characters (and the separators `splitlines` breaks at) escaped,
    line breaks kept. A refusal quotes what it refuses, and a file's bytes must never drive the terminal.

    >>> print(printable("unknown instruction: \\x1b[2J"))
    unknown instruction: \\x1b[2J
    """
    return "".join(
        char if char == "\n" or not unicodedata.category(char).startswith(("C", "Zl", "Zp")) else ascii(char)[1:-1]
        for char in message
    )


class LabkitError(Exception):
    """Base class of every error labkit raises on purpose."""


class UsageError(LabkitError):
    """A parameter given to labkit (from Python or the command line) is invalid."""
