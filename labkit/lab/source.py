"""Show the package's own code in a notebook, so what a learner reads is what runs (it cannot drift)."""

from __future__ import annotations

import inspect
import textwrap
from typing import Any

from IPython.display import Markdown


def show_source(obj: Any) -> Markdown:
    """A function's, method's or class's source, as a highlighted code block, with where it lives."""
    source = textwrap.dedent(inspect.getsource(obj))
    where = f"{obj.__module__}.{obj.__qualname__}"
    return Markdown(f"`{where}`\n\n```python\n{source.rstrip()}\n```")
