"""How fast the sandbox accepts parameterised batches and answers delivery reports.

Starts ``python -m xms_sandbox`` in its own process (so client and server do not share a GIL),
posts BATCHES batches of RECIPIENTS parameterised recipients each, then reads every batch's full
delivery report. Prints recipients accepted per second, recipient reports per second and the
server's peak memory. Run: ``.venv/bin/python bench/sandbox_throughput.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import requests

BATCHES = int(os.environ.get("BENCH_BATCHES", 100))
RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", 1000))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def batch_body(index: int) -> dict:
    numbers = [f"+4477009{(index * RECIPIENTS + i) % 100000:05d}" for i in range(RECIPIENTS)]
    return {
        "from": "BenchCo",
        "to": numbers,
        "body": "Hi ${name}, your code is ${code}.",
        "parameters": {
            "name": {n: f"Person {i}" for i, n in enumerate(numbers)} | {"default": "there"},
            "code": {n: f"{i:06d}" for i, n in enumerate(numbers)},
        },
    }


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xms_sandbox",
                "--port",
                str(port),
                "--plan",
                "bench:token",
                "--db",
                os.path.join(folder, "bench.sqlite3"),
                "--dispatch-after",
                "0",
                "--deliver-after",
                "0",
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            run(f"http://127.0.0.1:{port}/xms/v1/bench", server.pid)
        finally:
            server.terminate()
            server.wait()


def run(base: str, pid: int) -> None:
    session = requests.Session()
    session.headers["Authorization"] = "Bearer token"
    for _ in range(100):
        try:
            session.get(f"{base}/batches", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    bodies = [batch_body(i) for i in range(BATCHES)]  # built before the clock starts
    started = time.perf_counter()
    ids = []
    for body in bodies:
        answer = session.post(f"{base}/batches", json=body, timeout=60)
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    accepted = time.perf_counter() - started
    started = time.perf_counter()
    reported = 0
    for batch_id in ids:
        report = session.get(f"{base}/batches/{batch_id}/delivery_report?type=full", timeout=60)
        reported += sum(s["count"] for s in report.json()["statuses"])
    reading = time.perf_counter() - started
    total = BATCHES * RECIPIENTS
    print(f"batches: {BATCHES} x {RECIPIENTS} parameterised recipients")
    print(f"accepted: {total / accepted:,.0f} recipients/s ({accepted:.2f} s)")
    print(f"delivery reports: {reported / reading:,.0f} recipient reports/s ({reading:.2f} s)")
    print(f"server peak memory: {peak_rss_mib(pid):.0f} MiB")


if __name__ == "__main__":
    main()
