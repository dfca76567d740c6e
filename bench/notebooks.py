"""How long the notebooks take to run headless, against Jupyter's own floor.

Executes every notebook in ``notebooks/`` (sandbox mode, with the sandbox's state in a file that
every round adds to, as a learner's does), each in a fresh kernel as nbval would,
and a trivial one-cell notebook right before each of them, for several rounds. Prints each
notebook's median time, the floor's median, and the ratio of the totals.

Timings on a shared machine wander by tens of percent from one minute to the next, so each real
notebook is timed next to its own trivial one and medians are used throughout: one slow kernel
start moves a median far less than a sum.
Run: ``.venv/bin/python bench/notebooks.py [rounds]`` (default 5).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def trivial() -> nbformat.NotebookNode:
    return new_notebook(cells=[new_code_cell("1 + 1")])


def timed(notebook: nbformat.NotebookNode) -> float:
    started = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    return time.perf_counter() - started


def main(rounds: int = 5) -> None:
    for name in [n for n in os.environ if n.startswith("SINCH_")]:
        del os.environ[name]
    # What a learner gets: the embedded sandbox keeping its state in a file, which fills up
    # round after round as a learner's would (a new, empty one for each run of this script).
    state = Path(tempfile.mkdtemp(prefix="bench-notebooks-"))
    os.environ["SINCH_SANDBOX_DB"] = str(state / "sandbox.sqlite3")
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    timed(trivial())  # warm up the kernel start-up path once
    floors: list[float] = []
    ours: dict[str, list[float]] = {path.name: [] for path in paths}
    for _ in range(rounds):
        for path in paths:
            floors.append(timed(trivial()))
            ours[path.name].append(timed(nbformat.read(path, as_version=4)))
    floor = statistics.median(floors)
    print(f"one-cell notebook (floor): median {floor:.2f} s of {len(floors)} runs")
    for name, times in ours.items():
        middle = statistics.median(times)
        print(f"  {name:<28} median {middle:.2f} s  {middle / floor:.2f}x")
    total = sum(statistics.median(times) for times in ours.values())
    print(
        f"{len(paths)} notebooks: {total:.1f} s; {len(paths)} one-cell notebooks: "
        f"{floor * len(paths):.1f} s; ratio {total / (floor * len(paths)):.2f}x (aim: at most 2x; "
        f"medians of {rounds} rounds)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
