"""How load_recipients + parameters_from_frame compare with pandas.read_csv alone, and how
send_bulk compares with posting the same batches with bare requests.

Part 1 writes two 1,000,000-row recipients CSVs (phone, name, city, plan):

- clean: unique, valid UK mobile numbers in E.164 form, every name different;
- messy: what people's lists look like: E.164, international with spaces, national
  (``07400 123456``, so ``default_region="GB"``), dashes and brackets, ``00`` for ``+``, a tenth
  of the numbers from other countries, about 5% invalid (empty, words, too short, landlines,
  unknown country codes), 8% repeats of earlier numbers written another way, names and cities
  drawn from small pools (so they repeat), a few quoted names with commas, and a few
  spreadsheet artefacts (Excel's ``4.47401E+11``, numbers whose ``+`` Excel dropped).

For each file it times ``pandas.read_csv(path, dtype=str)``, ``load_recipients`` alone, and
``load_recipients`` + ``parameters_from_frame`` (name, city, plan) on the same file, each run in
a fresh process; the three take turns, three rounds, and the medians are printed (other work
on the machine then slows all three alike).

Peak memory is the growth of the process's peak resident set size (``resource.getrusage``'s
``ru_maxrss``) over its peak after the imports, both phases having imported the same modules.
RSS, not tracemalloc: Arrow allocates its buffers outside Python's allocator, where
tracemalloc does not see them.

Part 2 sends 100,000 recipients to a local sandbox with ``send_bulk`` and with a plain
``requests`` loop over the same batches.
Run: ``.venv/bin/python bench/recipients.py`` (``BENCH_ROWS``, ``BENCH_BULK`` to change sizes;
``BENCH_BULK=0`` skips part 2).
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = int(os.environ.get("BENCH_ROWS", 1_000_000))
BULK = int(os.environ.get("BENCH_BULK", 100_000))
RUNS = 3
ROOT = Path(__file__).resolve().parent.parent

FIRST = (
    *("Ann", "Bob", "Chloé", "Dan", "Eve", "Farah", "Gus", "Hana", "Ivo", "Jürgen", "Kai"),
    *("Lena", "Mateo", "Nia", "Øyvind", "Pia", "Quinn", "Rosa", "Siobhán", "Tom", "Una"),
    *("Vic", "Wen", "Xavi", "Yara", "Zoë", "Ada", "Ben", "Cy", "Dee", "Eli", "Fay"),
)
LAST = (
    *("Smith", "Jones", "Brown", "Taylor", "Wilson", "Evans", "Thomas", "Roberts", "Walker"),
    *("Wright", "Hughes", "Green"),
)
CITIES = [
    *("Leeds", "York", "Bath", "Hull", "Derby", "Ely", "Wells", "Truro", "Bangor", "Cardiff"),
    *("Perth", "Inverness"),
]
CITIES += [f"{town} {side}" for town in ("Newport", "Kingston", "Bury") for side in "NSEW"]
# Mobile ranges that libphonenumber takes as valid UK mobiles.
UK_PREFIXES = ("7400", "7412", "7500", "7800", "7900", "7123", "7777")
# Other countries' mobiles, as international numbers: (country code, national prefix digits).
FOREIGN = (("46", "70"), ("49", "151"), ("33", "6"), ("1", "202555"), ("91", "98"), ("31", "6"))
INVALID = (
    *("", "n/a", "unknown", "-", "+44 7400 1234", "12345", "+999 1234 5678"),
    *("020 7946 0101", "0800 123 4567"),  # a landline and a freephone number
)


def write_clean(path: Path) -> None:
    """Unique, valid UK mobiles in E.164 form and unique names: the best case."""
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,name,city,plan\n")
        for i in range(ROWS):
            number = f"+4474{i:08d}"
            out.write(f"{number},Person {i},Town {i % 97},{'gold' if i % 3 else 'silver'}\n")


def written(rng: random.Random, national: str, country: str) -> str:
    """One number (country code and national significant number) written as people do."""
    if country != "44":
        spaced = f"+{country} {national[:3]} {national[3:6]} {national[6:]}"
        return rng.choice((f"+{country}{national}", spaced))
    style = rng.random()
    if style < 0.45:
        return f"+44{national}"
    if style < 0.60:
        return f"+44 {national[:4]} {national[4:]}"
    if style < 0.80:
        return f"0{national[:4]} {national[4:]}"
    if style < 0.88:
        return f"0{national[:4]}-{national[4:7]}-{national[7:]}"
    if style < 0.93:
        return f"(0044) {national[:4]}-{national[4:]}"
    if style < 0.97:
        return f"0044 {national[:4]} {national[4:]}"
    return f" +44{national} "


def new_number(rng: random.Random) -> tuple[str, str]:
    """A fresh valid mobile: nine in ten from the UK, the rest from elsewhere."""
    if rng.random() < 0.9:
        return "44", rng.choice(UK_PREFIXES) + f"{rng.randrange(1_000_000):06d}"
    country, prefix = rng.choice(FOREIGN)
    width = {"46": 7, "49": 8, "33": 8, "1": 4, "91": 8, "31": 8}[country]
    return country, prefix + f"{rng.randrange(10**width):0{width}d}"


def messy_phone(rng: random.Random, seen: list[tuple[str, str]]) -> str:
    """The phone cell of one messy row."""
    draw = rng.random()
    if draw < 0.05:
        return rng.choice(INVALID)
    if draw < 0.13 and seen:
        country, national = rng.choice(seen)
        return written(rng, national, country)
    if draw < 0.1305:  # Excel's artefacts: scientific notation, a dropped "+"
        country, national = new_number(rng)
        digits = country + national
        return f"{digits[0]}.{digits[1:6]}E+{len(digits) - 1}" if draw < 0.13025 else digits
    country, national = new_number(rng)
    seen.append((country, national))
    return written(rng, national, country)


def write_messy(path: Path) -> None:
    """The messy file described at the top, the same every run."""
    rng = random.Random(2024)
    seen: list[tuple[str, str]] = []
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,name,city,plan\n")
        for _ in range(ROWS):
            phone = messy_phone(rng, seen)
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if rng.random() > 0.02 else ""
            if rng.random() < 0.01:
                name = f'"{name.split(" ")[-1]}, {name.split(" ")[0]}"'
            plan = rng.choice(("gold", "silver", "basic"))
            out.write(f"{phone},{name},{rng.choice(CITIES)},{plan}\n")


def phase(name: str, path: str) -> dict:
    """Run in a child process: time one phase and report its peak memory."""
    import pandas as pd
    import phonenumbers

    sys.path.insert(0, str(ROOT))
    import sinch_helpers as sh

    phonenumbers.parse("+447400123456")  # both phases pay for the same imports and metadata
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    if name == "read_csv":
        table = pd.read_csv(path, dtype=str)
    else:
        table = sh.load_recipients(path, default_region="GB")
    if name == "helpers":
        parameters = sh.parameters_from_frame(table, ["name", "city", "plan"])
        assert len(parameters["plan"]) == int(table["valid"].sum())
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    valid = int(table["valid"].sum()) if "valid" in table else len(table)
    return {"seconds": seconds, "work_mib": peak - baseline, "peak_mib": peak, "valid": valid}


PHASES = {
    "read_csv": "pandas.read_csv(dtype=str)",
    "load": "load_recipients",
    "helpers": "load + parameters_from_frame",
}


def run_phase(name: str, path: Path) -> dict:
    """One phase in a fresh process."""
    output = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, "--phase", name, str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def bench_file(label: str, path: Path) -> None:
    """Every phase on one file, taking turns, and the ratios to read_csv's."""
    runs: dict[str, list[dict]] = {name: [] for name in PHASES}
    for _ in range(RUNS):
        for name in PHASES:
            runs[name].append(run_phase(name, path))
    figures = {
        name: {key: statistics.median(run[key] for run in found) for key in found[0]}
        for name, found in runs.items()
    }
    alone = figures["read_csv"]
    size = path.stat().st_size / 2**20
    valid = figures["helpers"]["valid"]
    print(f"\n{label}: {ROWS:,} rows, {size:.0f} MiB CSV, {valid:,.0f} valid")
    for name, title in PHASES.items():
        mine = figures[name]
        print(
            f"  {title:<30}{mine['seconds']:6.2f} s {mine['seconds'] / alone['seconds']:5.2f}x"
            f"   peak +{mine['work_mib']:4.0f} MiB {mine['work_mib'] / alone['work_mib']:5.2f}x"
            f"   (process {mine['peak_mib']:4.0f} MiB {mine['peak_mib'] / alone['peak_mib']:5.2f}x)"
        )
    print("  aims for load + parameters_from_frame: time at most 4x, peak at most 2.5x")


def bench_bulk(rounds: int = 3) -> None:
    """send_bulk against a plain requests loop over the same batches, each timed on a fresh
    sandbox, alternating, ``rounds`` times; prints the medians."""
    sys.path.insert(0, str(ROOT))

    numbers = [f"+4477009{i % 100000:05d}" for i in range(BULK)]
    parameters = {"name": {n: f"P{i}" for i, n in enumerate(numbers)}}
    times: dict[str, list[float]] = {"send_bulk": [], "requests": []}
    for _ in range(rounds):
        for name, run in (("send_bulk", _with_helpers), ("requests", _with_requests)):
            times[name].append(_on_fresh_sandbox(run, numbers, parameters))
    helper, bare = (statistics.median(times[k]) for k in ("send_bulk", "requests"))
    print(
        f"\nsend_bulk {BULK:,} recipients: {helper:.2f} s; bare requests: {bare:.2f} s; "
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
        for label, write in (("messy", write_messy), ("clean", write_clean)):
            path = Path(folder) / f"{label}.csv"
            write(path)
            bench_file(label, path)
            path.unlink()
    if BULK:
        bench_bulk()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--phase":
        print(json.dumps(phase(sys.argv[2], sys.argv[3])))
    else:
        main()
