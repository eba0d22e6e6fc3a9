"""Show the package's own code in a notebook, so what a learner reads is what runs (it cannot drift)."""

from __future__ import annotations

import inspect
import textwrap
from typing import Any

from IPython.display import Markdown


def show_source(*objects: Any) -> Markdown:
    """Functions', methods' or classes' source, as highlighted code blocks, each with where it lives."""
    blocks = []
    for obj in objects:
        source = textwrap.dedent(inspect.getsource(obj))
        where = f"{obj.__module__}.{obj.__qualname__}"
        blocks.append(f"`{where}`\n\n```python\n{source.rstrip()}\n```")
    return Markdown("\n\n".join(blocks))
