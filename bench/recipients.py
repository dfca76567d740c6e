"""How load_recipients + parameters_from_frame compare with pandas.read_csv alone, and how
send_bulk compares with posting the same batches with bare requests.

Part 1 writes a 1,000,000-row recipients CSV (number, name, two more columns), then times, each
in a fresh process so that peak memory is its own: ``pandas.read_csv`` alone, and
``load_recipients`` + ``parameters_from_frame``. Part 2 sends 100,000 recipients to a local
sandbox with ``send_bulk`` and with a plain ``requests`` loop over the same batches.
Run: ``.venv/bin/python bench/recipients.py``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = int(os.environ.get("BENCH_ROWS", 1_000_000))
BULK = int(os.environ.get("BENCH_BULK", 100_000))
ROOT = Path(__file__).resolve().parent.parent


def write_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,name,city,plan\n")
        for i in range(ROWS):
            number = f"+4474{i:08d}"  # unique, valid UK mobile numbers
            out.write(f"{number},Person {i},Town {i % 97},{'gold' if i % 3 else 'silver'}\n")


def phase(name: str, path: str) -> dict:
    """Run in a child process: time one phase and report its peak memory."""
    import pandas as pd

    sys.path.insert(0, str(ROOT))
    import sinch_helpers as sh

    started = time.perf_counter()
    if name == "read_csv":
        table = pd.read_csv(path, dtype=str)
        rows = len(table)
    else:
        table = sh.load_recipients(path)
        parameters = sh.parameters_from_frame(table, ["name", "city", "plan"])
        rows = len(table)
        assert len(parameters["name"]) == int(table["valid"].sum())
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak, "rows": rows}


def run_phase(name: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--phase", name, str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def bench_bulk(rounds: int = 3) -> None:
    """send_bulk against a plain requests loop over the same batches, each timed on a fresh
    sandbox, alternating, ``rounds`` times; prints the medians."""
    sys.path.insert(0, str(ROOT))
    import statistics

    numbers = [f"+4477009{i % 100000:05d}" for i in range(BULK)]
    parameters = {"name": {n: f"P{i}" for i, n in enumerate(numbers)}}
    times: dict[str, list[float]] = {"send_bulk": [], "requests": []}
    for _ in range(rounds):
        for name, run in (("send_bulk", _with_helpers), ("requests", _with_requests)):
            times[name].append(_on_fresh_sandbox(run, numbers, parameters))
    helper, bare = (statistics.median(times[k]) for k in ("send_bulk", "requests"))
    print(
        f"send_bulk {BULK:,} recipients: {helper:.2f} s; bare requests: {bare:.2f} s; "
        f"ratio {helper / bare:.2f}x (aim: at most 1.2x; medians of {rounds})"
    )


def _on_fresh_sandbox(run, numbers: list[str], parameters: dict) -> float:
    import xms_sandbox

    with xms_sandbox.start(plans={"b": "t"}, timing=xms_sandbox.Timing(0, 0)) as sandbox:
        started = time.perf_counter()
        run(sandbox.url, numbers, parameters)
        return time.perf_counter() - started


def _with_helpers(url: str, numbers: list[str], parameters: dict) -> None:
    import sinch_helpers as sh

    client = sh.SmsClient(sh.Credentials("b", "t", base_url=url), sandbox=True)
    sh.send_bulk(client, numbers, "Hi ${name}", "Bench", parameters, progress=False)


def _with_requests(url: str, numbers: list[str], parameters: dict) -> None:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = "Bearer t"
    for i in range(0, len(numbers), 1000):
        chunk = numbers[i : i + 1000]
        sliced = {"name": {n: parameters["name"][n] for n in chunk}}
        answer = session.post(
            f"{url}/xms/v1/b/batches",
            json={"to": chunk, "from": "Bench", "body": "Hi ${name}", "parameters": sliced},
        )
        answer.raise_for_status()
        answer.json()["id"]  # both sides read the batch ID from the answer


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recipients.csv"
        write_csv(path)
        size = path.stat().st_size / 2**20
        alone = run_phase("read_csv", path)
        helpers = run_phase("helpers", path)
    print(f"{ROWS:,} rows ({size:.0f} MiB CSV)")
    print(
        f"pandas.read_csv alone:                       {alone['seconds']:.2f} s, "
        f"peak {alone['peak_mib']:.0f} MiB"
    )
    print(
        f"load_recipients + parameters_from_frame:     {helpers['seconds']:.2f} s, "
        f"peak {helpers['peak_mib']:.0f} MiB"
    )
    print(f"ratio: {helpers['seconds'] / alone['seconds']:.2f}x (aim: at most 5x)")
    bench_bulk()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--phase":
        print(json.dumps(phase(sys.argv[2], sys.argv[3])))
    else:
        main()
