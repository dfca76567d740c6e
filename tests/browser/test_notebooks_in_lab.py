"""Every notebook runs top to bottom in JupyterLab, in a real browser, without a traceback."""

from __future__ import annotations

import pytest

from lab_server import ROOT, LabServer
from notebook_page import OpenNotebook

NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_to_check() -> None:
    """Without notebooks the test below would be skipped, not failed."""
    assert NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_run_all_shows_no_error(lab: LabServer, open_notebook: OpenNotebook, name: str) -> None:
    """Run → Run All Cells: no cell raises, and no traceback is shown anywhere."""
    notebook = open_notebook(lab, name)
    notebook.run_all()
    assert notebook.error_outputs() == []
    assert notebook.tracebacks() == []
    assert notebook.outputs.count() > 0, "Run All produced no output at all"
