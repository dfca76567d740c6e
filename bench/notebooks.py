"""How long the notebooks take to run headless, against Jupyter's own floor.

Executes every notebook in ``notebooks/`` (sandbox mode) and then the same number of trivial
one-cell notebooks, each in a fresh kernel as nbval would, and prints both times and their ratio.
Run: ``.venv/bin/python bench/notebooks.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run(notebook: nbformat.NotebookNode) -> None:
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()


def timed(notebooks: list[nbformat.NotebookNode]) -> float:
    started = time.perf_counter()
    for notebook in notebooks:
        run(notebook)
    return time.perf_counter() - started


def main() -> None:
    for name in [n for n in os.environ if n.startswith("SINCH_")]:
        del os.environ[name]
    os.environ["MPLBACKEND"] = "Agg"
    real = [nbformat.read(p, as_version=4) for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
    trivial = [new_notebook(cells=[new_code_cell("1 + 1")]) for _ in real]
    run(trivial[0])  # warm up the kernel start-up path once
    floor = timed(trivial)
    ours = timed(real)
    print(f"{len(real)} notebooks: {ours:.1f} s; {len(trivial)} one-cell notebooks: {floor:.1f} s")
    print(f"ratio: {ours / floor:.2f}x (aim: at most 2x)")


if __name__ == "__main__":
    main()
