"""The root of labkit's one exception hierarchy.

Every area defines its own exception types as subclasses of `LabkitError` (in its own module), so a caller
can catch everything labkit raises with one `except LabkitError`, and each kind of failure with its own type.
Messages say what was wrong, with the value, and what to do.
"""


class LabkitError(Exception):
    """Base class of every error labkit raises on purpose."""


class UsageError(LabkitError):
    """A parameter given to labkit (from Python or the command line) is invalid."""
