"""What changed between two renders of a chart: which objects appeared or went, and which fields changed.

Fields are named by path, as Kubernetes documentation writes them; list items that carry a `name` (containers,
ports, volumes, env) are addressed by that name rather than by position, so inserting one does not "change"
every item after it: spec.template.spec.containers[name=order].image.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labkit.charts.manifest import Manifest

ADDED_OBJECT = "object added"
REMOVED_OBJECT = "object removed"
ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
SHOWN_CHARACTERS = 60


@dataclass(frozen=True)
class FieldChange:
    """One difference: in which object, which field, and the values before and after (as short text)."""

    object: str
    change: str
    field: str = ""
    before: str = ""
    after: str = ""

    def sentence(self) -> str:
        if self.change in (ADDED_OBJECT, REMOVED_OBJECT):
            return f"{self.object}: {self.change}"
        if self.change == ADDED:
            return f"{self.object}: {self.field} added = {self.after}"
        if self.change == REMOVED:
            return f"{self.object}: {self.field} removed (was {self.before})"
        return f"{self.object}: {self.field} {self.before} -> {self.after}"


@dataclass(frozen=True)
class RenderDiff:
    """Every difference between two renders, objects in the order of the later render."""

    changes: tuple[FieldChange, ...]

    def __bool__(self) -> bool:
        return bool(self.changes)

    @property
    def objects_changed(self) -> list[str]:
        """Objects with any difference, each once, in order."""
        return list(dict.fromkeys(change.object for change in self.changes))

    def text(self) -> str:
        """One line per difference, or a line saying there is none."""
        return "\n".join(change.sentence() for change in self.changes) or "no differences"

    def table(self) -> pd.DataFrame:
        rows = [
            {"object": c.object, "change": c.change, "field": c.field, "before": c.before, "after": c.after}
            for c in self.changes
        ]
        return pd.DataFrame(rows, columns=["object", "change", "field", "before", "after"])


def short(value: Any) -> str:
    """A value as one short line: long strings (scripts, hashes) are cut with an ellipsis."""
    text = value if isinstance(value, str) else repr(value)
    if re.fullmatch(r"[0-9a-f]{64}", text):
        # A sha256 (checksum/config): twelve digits tell two revisions apart.
        return text[:12] + "..."
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf fields of a Kubernetes object by path; named list items keyed by name."""
    if isinstance(node, dict):
        if not node:
            return {prefix: {}} if prefix else {}
        leaves: dict[str, Any] = {}
        for key, value in node.items():
            leaves.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return leaves
    if isinstance(node, list):
        if not node:
            return {prefix: []}
        named = all(isinstance(item, dict) and "name" in item for item in node)
        names = [item["name"] for item in node] if named else []
        leaves = {}
        for index, item in enumerate(node):
            label = f"name={item['name']}" if named and len(set(names)) == len(names) else str(index)
            leaves.update(flatten(item, f"{prefix}[{label}]"))
        return leaves
    return {prefix: node}


def diff_objects(key: str, before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Field by field differences of one object."""
    old, new = flatten(before), flatten(after)
    changes = []
    for path in list(dict.fromkeys([*old, *new])):
        if path not in new:
            changes.append(FieldChange(key, REMOVED, path, before=short(old[path])))
        elif path not in old:
            changes.append(FieldChange(key, ADDED, path, after=short(new[path])))
        elif old[path] != new[path]:
            changes.append(FieldChange(key, CHANGED, path, short(old[path]), short(new[path])))
    return changes


def diff_renders(before: Manifest, after: Manifest) -> RenderDiff:
    """The differences from `before` to `after`: objects added or removed, then fields changed per object."""
    old = {obj.key: obj for obj in before}
    new = {obj.key: obj for obj in after}
    changes: list[FieldChange] = []
    for key in new:
        if key not in old:
            changes.append(FieldChange(key, ADDED_OBJECT))
        else:
            changes.extend(diff_objects(key, old[key].body, new[key].body))
    changes.extend(FieldChange(key, REMOVED_OBJECT) for key in old if key not in new)
    return RenderDiff(tuple(changes))


def unified_diff(before: Manifest, after: Manifest, *, context: int = 2, label: str = "render") -> str:
    """The two renders as a unified text diff (what `helm diff` plugins print), objects in a stable order."""

    def lines(manifest: Manifest) -> list[str]:
        ordered = sorted(manifest, key=lambda obj: obj.key)
        return [line for obj in ordered for line in (f"# {obj.key}\n", *obj.to_yaml().splitlines(keepends=True))]

    return "".join(difflib.unified_diff(lines(before), lines(after), f"{label} before", f"{label} after", n=context))
