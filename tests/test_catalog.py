"""The catalog of notebooks, the links between files, and every notebook's opening and closing cells."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labkit import catalog
from labkit.paths import repo_root

ROOT = repo_root()
NOTEBOOK_FILES = sorted((ROOT / "notebooks").glob("*.ipynb"))
LINK = re.compile(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"")


def markdown_texts(path: Path) -> list[str]:
    """Markdown cells and markdown outputs of a notebook."""
    notebook = json.loads(path.read_text())
    texts = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            texts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/markdown" in data:
                texts.append("".join(data["text/markdown"]))
    return texts


def relative_links(text: str) -> list[str]:
    links = [a or b for a, b in LINK.findall(text)]
    return [link.split("#")[0] for link in links if not re.match(r"^[a-z]+:|^#", link) and link.split("#")[0]]


def test_catalog_lists_every_notebook_file_once():
    names = [item.filename for item in catalog.NOTEBOOKS]
    assert len(names) == len(set(names))
    for path in NOTEBOOK_FILES:
        assert path.name in names, f"{path.name} is not in labkit.catalog.NOTEBOOKS"


def test_catalog_entry_rejects_unknown_number():
    with pytest.raises(KeyError, match="no notebook number 99"):
        catalog.entry(99)


def test_index_links_only_notebooks_that_exist():
    table = catalog.index_markdown()
    for item in catalog.NOTEBOOKS[1:]:
        assert (f"]({item.filename})" in table) == item.exists()


@pytest.mark.parametrize("path", [ROOT / "README.md", *NOTEBOOK_FILES], ids=lambda p: p.name)
def test_relative_links_resolve(path: Path):
    texts = [path.read_text()] if path.suffix == ".md" else markdown_texts(path)
    missing = [link for text in texts for link in relative_links(text) if not (path.parent / link).resolve().exists()]
    assert not missing, f"{path.name} links to files that do not exist: {missing}"


def test_link_finder_sees_broken_links():
    assert relative_links("see [x](nope.ipynb) and [web](https://example.org) and [a](#top)") == ["nope.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_notebook_opens_with_facts_and_ends_with_what_next(path: Path):
    cells = json.loads(path.read_text())["cells"]
    number = int(path.name[:2])
    first, last = cells[0], cells[-1]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# ")
    assert catalog.opening_markdown(number) in "".join(first["source"]), (
        f"{path.name}: the first cell must state catalog.opening_markdown({number})"
    )
    assert last["cell_type"] == "markdown" and "".join(last["source"]).startswith("## What to try next")
    if number > 0:  # every chapter says what to keep before what to try
        takeaways = cells[-2]
        assert takeaways["cell_type"] == "markdown" and "".join(takeaways["source"]).startswith("## Takeaways"), (
            f"{path.name}: the cell before 'What to try next' must be '## Takeaways'"
        )


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_notebook_is_stored_executed_without_errors(path: Path):
    code = [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]
    assert all(cell.get("execution_count") for cell in code), f"{path.name}: run `make notebooks NB={path.name}`"
    errors = [o for cell in code for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} is stored with an error output"


def test_readme_table_is_the_catalog():
    readme = (ROOT / "README.md").read_text()
    assert catalog.readme_with_table(readme) == readme, "README's notebook table is stale: python -m labkit.catalog"


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_the_catalog_lists_exactly_the_exercises_a_notebook_checks(path: Path):
    """An exercise is a hidden solution cell followed by a check; the index and README list each one."""
    cells = json.loads(path.read_text())["cells"]
    checked = [
        "".join(cells[i + 1]["source"])
        for i, cell in enumerate(cells[:-1])
        if "solution" in cell.get("metadata", {}).get("tags", [])
        and cell.get("metadata", {}).get("jupyter", {}).get("source_hidden")
    ]
    item = catalog.entry(int(path.name[:2]))
    assert bool(item.exercise) == bool(checked), (
        f"{path.name}: catalog exercise {item.exercise!r}, hidden solution cells followed by {checked!r}"
    )
    assert all("check_" in source for source in checked), checked
