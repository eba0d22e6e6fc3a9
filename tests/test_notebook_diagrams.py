"""The notebooks' Mermaid diagrams name the domain's real events: each CamelCase name in a diagram is an event type
the domain registers, or one of the few other things a diagram may name (listed with what it is). A renamed event, or
a typo in a diagram, fails here. (That each diagram renders at all: tests/test_browser.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import labkit.domain  # noqa: F401  (registers the domain's event types)
from labkit.events.event import EVENT_TYPES

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
CAMEL_CASE = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+\b")
# CamelCase names a diagram may use that are not events, each with what it is.
OTHER_NAMES = {
    "JetStream": "the NATS broker's persistence layer",
    "RuleViolationError": "the domain's refusal of a command",
    "ConfigMap": "a Kubernetes kind",
    "PersistentVolumeClaim": "a Kubernetes kind",
    "ReplicaSet": "a Kubernetes kind",
}


def diagrams() -> list[tuple[str, str]]:
    """(notebook, diagram text) for every ```mermaid block of every notebook."""
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                found += [
                    (path.name, block) for block in re.findall(r"```mermaid\n(.*?)```", "".join(cell["source"]), re.S)
                ]
    return found


def unknown_names(diagram: str) -> set[str]:
    return set(CAMEL_CASE.findall(diagram)) - set(EVENT_TYPES) - set(OTHER_NAMES)


def test_every_name_in_a_diagram_is_a_domain_event_or_a_known_other_thing():
    named = {name for _, diagram in diagrams() for name in CAMEL_CASE.findall(diagram)}
    assert len(diagrams()) >= 16 and named & set(EVENT_TYPES) >= {"OrderCreated", "CreditReserved", "OrderApproved"}
    assert {notebook: unknown_names(d) for notebook, d in diagrams() if unknown_names(d)} == {}


def test_a_misspelt_event_in_a_diagram_is_caught():
    assert unknown_names("flowchart LR\n  A -->|OrderAproved| B\n  B -->|CreditReserved| C") == {"OrderAproved"}
