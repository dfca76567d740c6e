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


def timed(notebook: nbformat.NotebookNode) -> float:
    started = time.perf_counter()
    run(notebook)
    return time.perf_counter() - started


def main(rounds: int = 3) -> None:
    for name in [n for n in os.environ if n.startswith("SINCH_")]:
        del os.environ[name]
    os.environ["MPLBACKEND"] = "Agg"
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    run(new_notebook(cells=[new_code_cell("1 + 1")]))  # warm up the kernel start-up path once
    ratios, ours, floors = [], [], []
    for _ in range(rounds):
        # Each real notebook is timed right after a trivial one, so that a machine that speeds
        # up or slows down during the run affects both sides alike.
        floor = real = 0.0
        for path in paths:
            floor += timed(new_notebook(cells=[new_code_cell("1 + 1")]))
            real += timed(nbformat.read(path, as_version=4))
        ratios.append(real / floor)
        ours.append(real)
        floors.append(floor)
    middle = sorted(range(rounds), key=ratios.__getitem__)[rounds // 2]
    print(
        f"{len(paths)} notebooks: {ours[middle]:.1f} s; {len(paths)} one-cell notebooks: "
        f"{floors[middle]:.1f} s (median round of {rounds})"
    )
    print(
        f"ratio: {ratios[middle]:.2f}x (aim: at most 2x); all rounds: "
        + ", ".join(f"{r:.2f}x" for r in ratios)
    )


if __name__ == "__main__":
    main()
