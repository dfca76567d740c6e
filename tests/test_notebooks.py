"""Notebook hygiene: outputs stored, no secrets, working links and exercises, declared imports
and the house style. Running them in every mode is test_notebook_matrix.py's job."""

from __future__ import annotations

import ast
import os
import re
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# A bearer header, or 32 hex digits like the sandbox's own tokens (widget model IDs aside).
TOKEN_SHAPED = re.compile(r'Bearer [A-Za-z0-9]{16,}|(?<!"model_id": ")\b[0-9a-f]{32}\b')
# Distribution names whose import name differs.
IMPORT_NAMES = {"python-dotenv": "dotenv", "clx-sdk-xms": "clx", "jupyterlab": "jupyterlab"}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(path: Path) -> list:
    return [c for c in read(path).cells if c.cell_type == "code"]


def markdown(path: Path) -> str:
    return "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")


def test_the_core_notebooks_exist():
    names = [p.stem for p in NOTEBOOKS]
    for expected in ("00-start-here", "01-credentials", "02-client", "03-parameters", "04-send"):
        assert expected in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stored_and_in_order(path):
    cells = code_cells(path)
    counts = [
        c.execution_count for c in cells if c.source.strip() and not c.source.startswith("# %load")
    ]
    assert all(count is not None for count in counts), "run `make notebooks` and commit"
    assert counts == sorted(counts), "cells were run out of order"
    for cell in cells:
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_widget_state_and_nothing_token_shaped(path):
    notebook = read(path)
    assert "widgets" not in notebook.metadata
    assert notebook.metadata.kernelspec.name == "python3"
    assert not TOKEN_SHAPED.search(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_house_style(path):
    text = markdown(path)
    cells = read(path).cells
    assert cells[0].cell_type == "markdown"
    assert cells[0].source.startswith("# ")
    for heading in (
        "**What you'll do:**",
        "**What you'll learn:**",
        "**What you'll need:**",
        "**Time:**",
        "## Exercise",
        "## Summary",
        "## What's next",
    ):
        assert heading in text, heading
    assert any(c.source.strip().startswith("# %load solutions/") for c in code_cells(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_an_empty_cell_to_try_it_first(path):
    """As in the jupyter-widgets tutorial: a "your turn" cell, then the solution's %load cell."""
    cells = read(path).cells
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and cell.source.lstrip().startswith("# %load solutions/"):
            before = cells[index - 1]
            assert before.cell_type == "code", f"cell {index} has no 'your turn' cell before it"
            lines = [line for line in before.source.splitlines() if line.strip()]
            assert all(line.startswith("#") for line in lines), "the 'your turn' cell has code"
            assert "your turn" in before.source.lower()


def load_targets() -> list[tuple[Path, Path]]:
    pairs = []
    for path in NOTEBOOKS:
        for cell in code_cells(path):
            for target in re.findall(r"^# %load (\S+)", cell.source, re.MULTILINE):
                pairs.append((path, NOTEBOOK_DIR / target))
    return pairs


@pytest.mark.parametrize(("notebook", "solution"), load_targets(), ids=lambda p: p.name)
def test_every_solution_runs_where_it_is_loaded_and_later_cells_still_pass(
    notebook, solution, monkeypatch
):
    """What %load does: the solution replaces its cell and runs in the notebook's namespace,
    using the names the notebook made; the cells after it must not depend on it."""
    assert solution.exists(), f"{notebook.name} loads a missing {solution}"
    for name in [n for n in os.environ if n.startswith("SINCH_") and n != "SINCH_SANDBOX_DB"]:
        monkeypatch.delenv(name)  # the kernel inherits the environment: sandbox mode
    loaded = read(notebook)
    for cell in loaded.cells:
        if cell.cell_type == "code" and cell.source.startswith("# %load "):
            cell.source = f"{cell.source}\n{solution.read_text(encoding='utf-8')}"
    NotebookClient(
        loaded,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    ).execute()
    errors = [o for c in loaded.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors


# A row of the outcome tables in the README and notebook 00: | `500`–`599` | Failed: ... | 11 |
OUTCOME_ROW = re.compile(r"^\s*\| `(\d{3})`–`(\d{3})` \| ([^|]+?) \| (\d+) \|$", re.MULTILINE)


@pytest.mark.parametrize(
    "document",
    [ROOT / "README.md", NOTEBOOK_DIR / "00-start-here.ipynb"],
    ids=lambda p: p.name,
)
def test_documented_outcome_tables_match_the_sandbox(document, client):
    text = markdown(document) if document.suffix == ".ipynb" else document.read_text()
    documented = [
        (f"+447700900{low} to +447700900{high}", ends_as, int(code))
        for low, high, ends_as, code in OUTCOME_ROW.findall(text)
    ]
    served = [
        (row["numbers"], row["status"], row["code"])
        for row in client.sandbox.outcomes().to_dict("records")
        if row["numbers"].startswith("+447700900")
    ]
    assert len(served) == 7, "every drama-range outcome is documented"
    assert [(n, c) for n, _, c in documented] == [(n, c) for n, _, c in served]
    for (_, ends_as, _), (_, status, _) in zip(documented, served, strict=True):
        assert status in ends_as, f"{document.name} says {ends_as!r}; the sandbox says {status}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_links_between_notebooks_resolve(path):
    for target in re.findall(r"\]\(([^)#\s]+)", markdown(path)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def declared_modules() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower()
        names.add(IMPORT_NAMES.get(name, name.replace("-", "_")))
    return names | {"sinch_helpers", "IPython"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_import_only_helpers_stdlib_and_declared_packages(path):
    allowed = declared_modules() | set(sys.stdlib_module_names)
    sources = [c.source for c in code_cells(path)]
    sources += [
        (NOTEBOOK_DIR / t).read_text()
        for t in re.findall(r"^# %load (\S+)", "\n".join(sources), re.MULTILINE)
    ]
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] in allowed, f"{path.name} imports {module}"
