"""The guard between prose and measurements: a number in a notebook's markdown that looks like a measurement must be
supported by that notebook's outputs.

A learner reads the sentence next to the table and trusts both; when a re-run changes the table, a typed number in
the sentence silently goes stale. So every markdown cell of every stored notebook is read for quantities: a number
with a unit (`75 rows`, `2.5 ms`, `20 per second`, `56%`, `1.0x`, `10,000 orders`). Each must be found among
the numbers the notebook's outputs print (any stream, table, or generated markdown), or among the numbers its code
sets (a parameter typed in code is the experiment's set-up, not a result), else the test names the notebook, the
cell and the sentence. A number without a unit (Order 101, notebook 07, Kubernetes 1.37) is not a quantity and is
not checked; inline code and code blocks are code, not claims. What is left over, definitional numbers that no
output prints, is listed in ALLOWED with the reason.

It reads digits only: a claim in words ("a few hundred events", "milliseconds") is beyond it and left to review.
The remedy for a failure is never to add the number to ALLOWED: print it from code (a sentence generated from the
measured values, e.g. `display(Markdown(...))`), or say it without a number.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from labkit.paths import repo_root
from labkit.workload import SIZES

NOTEBOOKS = sorted((repo_root() / "notebooks").glob("*.ipynb"))

# A number as prose writes it: 1,000 / 2.5 / 10k / 1M (k and M only glued to the digits).
NUMBER = r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)([kKM](?![\w]))?"
UNITS = (
    r"%|x(?![\w-])|ms|µs|s(?![\w'])|seconds?|minutes?|min(?![\w])|KB|KiB|MB|MiB|GB|GiB|bytes?|"
    r"rows?|events?|orders?|customers?|calls?|requests?|commands?|queries|query|messages?|duplicates?|"
    r"ticks?|pods?|objects?|files?|replicas?|times|writers?|transactions?|aggregates?|stages?|layers?|"
    r"revisions?|(?:per|a|/)\s?(?:second|s)\b"
)
# A quantity: a number and its unit (`20 per second`, `1.0x`, `75 rows`, `2.5 ms`), optionally `/s` after it.
QUANTITY = re.compile(NUMBER + r"\s?(?:(?:events|orders|rows|commands)\s?)?(" + UNITS + r")(/s)?", re.UNICODE)
ANY_NUMBER = re.compile(NUMBER)

FENCED = re.compile(r"```.*?```", re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)")
TAG = re.compile(r"<[^>]+>")
COMMENT = re.compile(r"#.*$", re.M)


@dataclass(frozen=True)
class Claim:
    """A quantity stated in a markdown cell."""

    notebook: str
    cell: int
    text: str  # the quantity as written
    value: float
    decimals: int  # how precisely the prose states it
    unit: str
    sentence: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell}: {self.text!r} in {self.sentence!r}"


# (notebook stem, the quantity as written) -> why it is allowed without an output printing it.
ALLOWED: dict[tuple[str, str], str] = {
    ("05_snapshots_and_replay", "50 events"): "250 - 200: the tail that the story's own versions leave (the next "
    "cell loads version 250 over the snapshot at 200)",
    ("05_snapshots_and_replay", "99 events"): "the longest tail with a snapshot every 100 events: a definition",
    ("07_microservices_and_sagas", "50 ms"): "the sampling period of labkit.lab.microservices' timeline, a "
    "set-up default, not a result",
    ("14_event_store_in_production", "50 ms"): "half of the 100 ms polling period: what polling costs on average "
    "by definition, said next to the measured wake-up of LISTEN/NOTIFY",
}
# The generator's sizes are definitions: a size's customers and orders, quoted with its name, need no output.
SIZE_COUNTS = {(float(count), unit) for customers, orders in SIZES.values() for count, unit in
               ((customers, "customers"), (orders, "orders"))}  # fmt: skip
# Lines every notebook opens with: the reading time is the catalog's estimate for a learner, not a measurement.
ALLOWED_LINES = (re.compile(r"^\*\*How long it takes:\*\*.*$", re.M),)


def _value(digits: str, suffix: str | None) -> tuple[float, int]:
    plain = digits.replace(",", "")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    scale = {"k": 1e3, "K": 1e3, "M": 1e6}.get(suffix or "", 1.0)
    return float(plain) * scale, decimals if scale == 1.0 else 0


def prose_of(markdown: str) -> str:
    """The markdown a reader reads as claims: no code, no link targets, no HTML tags, no allowed lines."""
    text = FENCED.sub(" ", markdown)
    text = INLINE_CODE.sub(" ", text)
    text = LINK_TARGET.sub("]", text)
    text = TAG.sub(" ", text)
    for line in ALLOWED_LINES:
        text = line.sub(" ", text)
    return text


def _sentence(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start)) + 1
    stops = [i for i in (text.find(". ", end), text.find("\n", end)) if i != -1]
    return " ".join(text[left : min(stops) if stops else len(text)].split())


def claims_of(notebook: dict, name: str) -> list[Claim]:
    """Every quantity in the notebook's markdown cells."""
    claims = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = prose_of("".join(cell["source"]))
        for match in QUANTITY.finditer(text):
            value, decimals = _value(match.group(1), match.group(2))
            sentence = _sentence(text, match.start(), match.end())
            unit = match.group(3).strip()
            claims.append(Claim(name, index, match.group(0), value, decimals, unit, sentence))
    return claims


def _output_text(output: dict) -> str:
    if "text" in output:
        return "".join(output["text"])
    data = output.get("data", {})
    parts = ["".join(data[kind]) for kind in ("text/plain", "text/markdown", "text/html", "text/latex") if kind in data]
    return html.unescape(TAG.sub(" ", "\n".join(parts)))


def supported_numbers(notebook: dict) -> list[float]:
    """Every number the notebook's outputs print, and every number its code sets (comments left out)."""
    texts = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        texts.append(COMMENT.sub("", "".join(cell["source"])).replace("_", ""))
        texts.extend(_output_text(output) for output in cell.get("outputs", []))
    numbers = []
    for text in texts:
        for match in ANY_NUMBER.finditer(text):
            value, _ = _value(match.group(1), match.group(2))
            numbers.append(value)
            numbers.append(float(match.group(1).replace(",", "")))  # "10k" in code or output: also the bare 10
    return numbers


# A claim in these units may be printed in another: a percentage as a fraction, milliseconds as seconds.
SCALES = {"%": (1.0, 100.0), "ms": (1.0, 1000.0)}


def supports(number: float, claim: Claim) -> bool:
    """The output's number says what the claim says, to the claim's precision."""
    return any(round(number * scale, claim.decimals) == claim.value for scale in SCALES.get(claim.unit, (1.0,)))


def unsupported(path: Path) -> list[Claim]:
    """The claims of the notebook at `path` that no output (and no code) supports and ALLOWED does not list."""
    notebook = json.loads(path.read_text())
    numbers = supported_numbers(notebook)
    return [
        claim
        for claim in claims_of(notebook, path.stem)
        if (claim.notebook, claim.text) not in ALLOWED
        and (claim.value, claim.unit) not in SIZE_COUNTS
        and not any(supports(n, claim) for n in numbers)
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_quantity_in_the_prose_is_printed_by_the_notebook(path: Path) -> None:
    stale = unsupported(path)
    assert not stale, "numbers in the prose that no output prints:\n" + "\n".join(map(str, stale))


def _notebook(tmp_path: Path, cells: list[dict]) -> Path:
    """A tiny stored notebook: markdown cells as strings, code cells as (source, printed output)."""
    built = []
    for cell in cells:
        if isinstance(cell, str):
            built.append({"cell_type": "markdown", "metadata": {}, "source": cell})
        else:
            source, printed = cell
            output = {"output_type": "stream", "name": "stdout", "text": printed}
            built.append({"cell_type": "code", "metadata": {}, "source": source, "outputs": [output]})
    path = tmp_path / "99_planted.ipynb"
    path.write_text(json.dumps({"cells": built, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_planted_contradiction_is_found_with_its_cell_and_sentence(tmp_path: Path) -> None:
    # The prose was written after one run (75 rows, 2.5 ms); the stored outputs are of a later one.
    path = _notebook(
        tmp_path,
        [
            ("answer = query(THRESHOLD)", "135 rows in 3.4 ms"),
            "The query returned 75 rows. It took 2.5 ms, 1.4x the join. Order 101 and notebook 07 are names.",
        ],
    )
    stale = unsupported(path)
    assert [(claim.cell, claim.text) for claim in stale] == [(1, "75 rows"), (1, "2.5 ms"), (1, "1.4x")]
    assert str(stale[0]) == "99_planted cell 1: '75 rows' in 'The query returned 75 rows'"


def test_prose_that_says_what_the_outputs_print_passes(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path,
        [
            ("rows = query(rate=20, every_seconds=0.05)  # 99 rows in a comment is no support", "135 rows in 3.42 ms"),
            "The query returned 135 rows in 3.4 ms, polling every 50 ms at 20 per second; 1,000 customers at size S.",
            "A comment is not an output: 99 rows.",
        ],
    )
    assert [claim.text for claim in unsupported(path)] == ["99 rows"]


def test_code_in_the_prose_and_generated_markdown_count_as_they_should(tmp_path: Path) -> None:
    path = _notebook(tmp_path, [("x = 1", "done"), "Try `per_second=600` or:\n\n```python\nrun(orders=900)\n```"])
    assert unsupported(path) == []  # code in markdown is code, not a claim
    notebook = json.loads(path.read_text())
    notebook["cells"][0]["outputs"] = [
        {"output_type": "display_data", "metadata": {}, "data": {"text/markdown": "It took 12.5 ms: 3.4x slower."}}
    ]
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "As printed: 12.5 ms, 3.4x."})
    path.write_text(json.dumps(notebook))
    assert unsupported(path) == []  # a sentence generated from the values supports the prose that repeats it
