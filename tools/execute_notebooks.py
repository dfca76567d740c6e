"""Re-execute every notebook in sandbox mode and store the outputs (what nbval compares).

Run ``make notebooks`` after editing a notebook. SINCH_* variables are removed first so that the
stored outputs always come from a fresh in-memory sandbox, never from a live account; saved
widget state and execution timings are dropped so the files stay small, stable and secret-free.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,
    ).execute()
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)


def main(names: list[str]) -> None:
    for name in [n for n in list(os.environ) if n.startswith("SINCH_")]:
        del os.environ[name]
    # A fresh, in-memory sandbox: stored outputs never depend on what an earlier run left.
    os.environ["SINCH_SANDBOX_DB"] = ":memory:"
    paths = [NOTEBOOKS / n for n in names] if names else sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        print(f"executing {path.name}")
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])
