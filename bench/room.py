"""A workshop room: many learners at once on one standalone sandbox, and then idle connections.

Starts ``python -m xms_sandbox --open`` in its own process on loopback (a temporary database
file, realistic timing), then LEARNERS simulated learners start at the same moment, each in its
own keep-alive connection and its own plan (created on first use, with ``--open``, with the
random token it came with); each does what notebooks 04 and 07 do:

- 04: a personalised batch (``${name}``) to 6 recipients, then polls its delivery report
  (first pause 25 ms, doubling up to 2 s, as ``wait_for_delivery`` does) until all are final;
- 07: 500 recipients as 5 batches of 100, each with a ``client_reference``, then each batch's
  report until final and its full report, then ``GET /batches?client_reference=...`` for each.

Each learner also has the phones page open in a browser tab, as notebook 04 suggests, from its
first send until it is done: the page reloads every 5 seconds (its ``<meta http-equiv=refresh>``),
over a connection of its own.

Phase 1 runs ROUNDS times on the same sandbox, with new learners each round: the second round
finds a database that already holds a room's work, as the day's second session does.

Every request is timed. Prints p50, p90, p99 and max latency overall and per kind of request
(send; report = polls and full reports; lookup; phones = the tab's page loads), errors (any
non-2xx, exception or wrong answer) by kind, requests per second, wall time, the server that
answered (its ``Server`` header) and the sandbox process's peak memory.

Then a second phase: IDLE connections that connect and send part of a request, then sit (a
third send nothing, a third half the headers, a third the headers and the first byte of a
body), and while they are open a smaller round of IDLE_LEARNERS learners; it prints the same
figures, whether every learner finished, and so whether the idle connections stopped anyone.

Besides the phones tab, only the ``/xms/...`` API is used. The learners run on the same
machine as the sandbox and share its cores, so they are kept light: ``http.client`` rather than
``requests`` (whose CPU time, about 1.5 ms a call, would otherwise be measured as the sandbox's
latency), spread over a few processes so that no one interpreter lock queues a hundred of them.

Options (environment):

- BENCH_LEARNERS (100), BENCH_ROUNDS (2), BENCH_IDLE (400), BENCH_IDLE_LEARNERS (20);
- BENCH_KERNELS (4 processes for the learners; 0: one per learner);
- BENCH_WORKERS (the sandbox's ``--workers``; unset: its default, one per core on Linux);
- BENCH_DISPATCH_AFTER (0.005), BENCH_DELIVER_AFTER (0.02), BENCH_TIMEOUT (30 s a request);
- BENCH_PHONES (5: seconds between the tab's reloads; 0: no tab);
- BENCH_STAGGER (0: every learner starts at the same moment, the worst case; N: their starts
  spread evenly over N seconds).

Run: ``.venv/bin/python bench/room.py``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import multiprocessing
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from multiprocessing.synchronize import Event as Stop
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

import requests

from xms_sandbox.tokens import phones_key, token_hash

LEARNERS = int(os.environ.get("BENCH_LEARNERS", 100))
IDLE = int(os.environ.get("BENCH_IDLE", 400))
IDLE_LEARNERS = int(os.environ.get("BENCH_IDLE_LEARNERS", 20))
DISPATCH_AFTER = os.environ.get("BENCH_DISPATCH_AFTER", "0.005")
DELIVER_AFTER = os.environ.get("BENCH_DELIVER_AFTER", "0.02")
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", 30))
STAGGER = float(os.environ.get("BENCH_STAGGER", 0))
PHONES_EVERY = float(os.environ.get("BENCH_PHONES", 5))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 2))
KERNELS = int(os.environ.get("BENCH_KERNELS", 4))  # 0: one per learner
# The sandbox's --workers (2 or more need fork: Linux, macOS); None: the sandbox's default.
WORKERS = int(os.environ["BENCH_WORKERS"]) if os.environ.get("BENCH_WORKERS") else None
# fork where there is one: a hundred kernels start in a moment and share the parent's pages.
CONTEXT = multiprocessing.get_context(
    "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
)
WAIT = 60.0  # how long a learner waits for a batch's recipients to be final, as notebook 07
AIM_MS = 250.0

FINAL = {"Delivered", "Failed", "Expired", "Rejected", "Aborted", "Unknown", "Cancelled", "Deleted"}
KINDS = ("send", "report", "lookup", "phones")
NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald"]
BULK, CHUNK = 500, 100
NUMBERS = [f"+4477009{n:05d}" for n in range(BULK)]  # Ofcom's drama range: never a real phone


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sandbox_processes(pid: int) -> list[int]:
    """The sandbox's process and its worker processes (``--workers``), on Linux."""
    children = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and process_status(int(entry), "PPid") == pid:
                children.append(int(entry))
    return [pid, *children]


def process_status(pid: int, key: str) -> int | None:
    """A field of /proc/<pid>/status as an integer (kB for memory), or None off Linux."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of the sandbox's processes so far (Linux), or None."""
    total = 0.0
    try:
        for one in sandbox_processes(pid):
            with open(f"/proc/{one}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return total


def peak_memory(pid: int) -> str:
    peaks = [process_status(one, "VmHWM") for one in sandbox_processes(pid)]
    if peaks and None not in peaks:
        each = " + ".join(f"{peak / 1024:.0f}" for peak in peaks if peak is not None)
        total = sum(peak for peak in peaks if peak is not None) / 1024
        return f"{total:.0f} MiB (VmHWM{'' if len(peaks) == 1 else f' of each process: {each}'})"
    try:
        import psutil  # only off Linux

        return f"{psutil.Process(pid).memory_info().rss / 2**20:.0f} MiB (current RSS; no peak)"
    except Exception:  # no figure is better than no benchmark
        return "unknown"


@dataclass
class Learner:
    """One learner's session, plan and timings; ``run`` does notebooks 04 and 07."""

    base: str
    stop: Stop
    plan: str = field(default_factory=lambda: f"room-{secrets.token_hex(4)}")
    samples: list[tuple[str, float]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    server: str | None = None
    finished: bool = False

    def __post_init__(self) -> None:
        address = urlsplit(self.base)
        # One keep-alive connection, as a requests.Session keeps; http.client itself, so that
        # the figures are the sandbox's and not the client library's (requests spends about
        # 1.5 ms of CPU a call, which on two cores shared with the sandbox shows up as latency).
        self.connection = http.client.HTTPConnection(address.hostname, address.port, TIMEOUT)
        token = secrets.token_urlsafe(24)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.prefix = f"/xms/v1/{self.plan}"
        # The address connect() prints for the phones page: no token, a key made from it.
        key = phones_key(token_hash(token))
        self.phones_page = f"/sandbox/phones?{urlencode({'plan_id': self.plan, 'key': key})}"
        self.done = threading.Event()

    def phones_tab(self) -> None:
        """A browser tab on the phones page: loaded now, then every PHONES_EVERY seconds."""
        address = urlsplit(self.base)
        tab = http.client.HTTPConnection(address.hostname, address.port, TIMEOUT)
        try:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    tab.request("GET", self.phones_page, headers={"Accept": "text/html"})
                    answer = tab.getresponse()
                    page = answer.read()
                    if answer.status != 200 or b"xms-phone" not in page:
                        self.errors.append(("phones", f"HTTP {answer.status}"))
                except (OSError, http.client.HTTPException) as error:
                    self.errors.append(("phones", type(error).__name__))
                    tab.close()
                self.samples.append(("phones", time.perf_counter() - started))
                if self.done.wait(PHONES_EVERY):
                    return
        finally:
            tab.close()

    def call(
        self, kind: str, method: str, path: str, body: dict | None = None, query: str = ""
    ) -> dict | None:
        """One timed request: its JSON, or None (and an error) on an exception or non-2xx."""
        if self.stop.is_set():
            raise InterruptedError
        data = json.dumps(body).encode() if body is not None else None
        target = self.prefix + path + (f"?{query}" if query else "")
        started = time.perf_counter()
        try:
            self.connection.request(method, target, body=data, headers=self.headers)
            answer = self.connection.getresponse()
            text = answer.read()
            result = json.loads(text) if answer.status < 400 else None
        except (OSError, http.client.HTTPException, ValueError) as error:
            self.samples.append((kind, time.perf_counter() - started))
            self.errors.append((kind, type(error).__name__))
            self.connection.close()  # the next call connects afresh
            return None
        self.samples.append((kind, time.perf_counter() - started))
        self.server = self.server or answer.getheader("Server", "(no Server header)")
        if result is None:
            self.errors.append((kind, f"HTTP {answer.status}"))
        return result

    def send(self, body: dict) -> str | None:
        batch = self.call("send", "POST", "/batches", body)
        return batch["id"] if batch else None

    def wait(self, batch_id: str) -> bool:
        """Poll the summary report until every recipient is final, as ``wait_for_delivery``."""
        deadline = time.monotonic() + WAIT
        pause = 0.025
        while True:
            report = self.call("report", "GET", f"/batches/{batch_id}/delivery_report")
            if report is not None:
                final = sum(s["count"] for s in report["statuses"] if s["status"] in FINAL)
                if final >= report["total_message_count"]:
                    return True
            if time.monotonic() >= deadline:
                self.errors.append(("report", "not final in time"))
                return False
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def run(self) -> None:
        tab = threading.Thread(target=self.phones_tab, daemon=True)
        try:
            self.finished = self.notebook_04(tab) and self.notebook_07()
        except InterruptedError:
            pass
        finally:
            self.done.set()
            if tab.is_alive():
                tab.join()
            self.connection.close()

    def notebook_04(self, tab: threading.Thread) -> bool:
        to = NUMBERS[: len(NAMES)]
        batch_id = self.send(
            {
                "from": "Workshop",
                "to": to,
                "body": "Hi ${name}, welcome to the workshop!",
                "parameters": {"name": dict(zip(to, NAMES, strict=True)) | {"default": "there"}},
            }
        )
        if PHONES_EVERY > 0:  # the learner opens the phones page after the first send
            tab.start()
        return batch_id is not None and self.wait(batch_id)

    def notebook_07(self) -> bool:
        sent: dict[str, str] = {}
        for start in range(0, BULK, CHUNK):
            to = NUMBERS[start : start + CHUNK]
            if start % 200:  # the API takes both spellings: "+447700900001" and "447700900001"
                to = [n.lstrip("+") for n in to]
            reference = f"{self.plan}-{start // CHUNK}"
            batch_id = self.send(
                {
                    "from": "Workshop",
                    "to": to,
                    "body": "Hi ${name}! The ${city} meetup is on Saturday. Reply STOP to opt out.",
                    "parameters": {
                        "name": {n: f"Learner {n[-3:]}" for n in to} | {"default": "there"},
                        "city": {"default": "your town"},
                    },
                    "client_reference": reference,
                }
            )
            if batch_id is None:
                return False
            sent[reference] = batch_id
        for batch_id in sent.values():
            if not self.wait(batch_id):
                return False
            full = self.call("report", "GET", f"/batches/{batch_id}/delivery_report?type=full")
            if full is None:
                return False
        found = True
        for reference, batch_id in sent.items():
            query = urlencode({"client_reference": reference})
            page = self.call("lookup", "GET", "/batches", query=query)
            if page is None:
                return False
            if [b["id"] for b in page["batches"]] != [batch_id]:
                self.errors.append(("lookup", "wrong batch for the client_reference"))
                found = False
        return found


class Seen(NamedTuple):
    """What one learner saw, sent back from its kernel process."""

    samples: list[tuple[str, float]]
    errors: list[tuple[str, str]]
    server: str | None
    finished: bool


def percentile(ordered: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def kernel(base: str, delays: list[float], stop: Stop, gate: Barrier, results: Queue) -> None:
    """A kernel process running one learner per delay (each starting that many seconds after
    the gate opens); puts what each saw and the process's CPU time into ``results``."""
    learners = [Learner(base, stop) for _ in delays]

    def learn(delay: float, learner: Learner) -> None:
        time.sleep(delay)
        learner.run()

    threads = [
        threading.Thread(target=learn, args=pair, daemon=True)
        for pair in zip(delays, learners, strict=True)
    ]
    gate.wait()
    started = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome = [(one.samples, one.errors, one.server, one.finished) for one in learners]
    results.put((outcome, time.process_time() - started))


def run_round(base: str, count: int, stop: Stop, pid: int) -> tuple[list[Seen], float, str]:
    """``count`` learners on KERNELS processes, started together (or spread over STAGGER s);
    records of what each saw, the wall time and the CPU used, once all ended."""
    kernels = max(1, min(KERNELS or count, count))
    delays = [STAGGER * index / count for index in range(count)]
    gate = CONTEXT.Barrier(kernels + 1)
    results: Queue = CONTEXT.Queue()
    processes = [
        CONTEXT.Process(target=kernel, args=(base, delays[k::kernels], stop, gate, results))
        for k in range(kernels)
    ]
    for process in processes:
        process.start()
    server_cpu = cpu_seconds(pid)
    gate.wait()
    started = time.perf_counter()
    learners: list[Seen] = []
    client_cpu = 0.0
    for _ in processes:
        outcome, used_cpu = results.get()
        client_cpu += used_cpu
        for samples, errors, server, finished in outcome:
            learners.append(Seen(samples, errors, server, finished))
    wall = time.perf_counter() - started
    ended = cpu_seconds(pid)
    for process in processes:
        process.join()
    used = f"{ended - server_cpu:.1f}" if ended is not None and server_cpu is not None else "?"
    cpu = f"CPU: sandbox {used} s, learners' kernels {client_cpu:.1f} s"
    return learners, wall, cpu


def report(title: str, learners: list[Seen], wall: float, cpu: str, pid: int) -> bool:
    """Print the round's figures; True when every learner finished without an error."""
    by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    errors: Counter[str] = Counter()
    reasons: Counter[tuple[str, str]] = Counter()
    for learner in learners:
        for kind, seconds in learner.samples:
            by_kind[kind].append(seconds * 1000)
        for kind, reason in learner.errors:
            errors[kind] += 1
            reasons[(kind, reason)] += 1
    by_kind["all"] = [ms for kind in KINDS for ms in by_kind[kind]]
    total = len(by_kind["all"])
    finished = sum(learner.finished for learner in learners)
    servers = sorted({learner.server for learner in learners if learner.server})
    print(f"\n{title}")
    print(f"  server: {', '.join(servers) or '(none answered)'}")
    columns = ("p50 ms", "p90 ms", "p99 ms", "max ms")
    print(f"  {'kind':<8}{'requests':>9}{'errors':>8}" + "".join(f"{c:>9}" for c in columns))
    for kind, values in by_kind.items():
        values.sort()
        figures = (
            "".join(f"{percentile(values, q):>9.1f}" for q in (0.5, 0.9, 0.99))
            + f"{values[-1]:>9.1f}"
            if values
            else f"{'-':>9}" * 4
        )
        wrong = sum(errors.values()) if kind == "all" else errors[kind]
        print(f"  {kind:<8}{len(values):>9}{wrong:>8}{figures}")
    for (kind, reason), count in reasons.most_common(5):
        print(f"    {kind} error: {reason} x{count}")
    print(
        f"  {total} requests in {wall:.1f} s = {total / wall:.0f} requests/s; "
        f"learners finished: {finished}/{len(learners)}"
    )
    print(f"  {cpu} (over {wall:.1f} s of wall time, {os.cpu_count()} cores)")
    print(f"  sandbox peak memory so far: {peak_memory(pid)}")
    p99 = percentile(by_kind["all"], 0.99) if total else math.inf
    ok = finished == len(learners) and not errors
    verdict = "met" if ok and p99 < AIM_MS else "NOT met"
    print(
        f"  aim: p99 under {AIM_MS:.0f} ms with 0 errors on a 2-core machine: {verdict} "
        f"(p99 {p99:.0f} ms, {sum(errors.values())} errors, {os.cpu_count()} cores here)"
    )
    return ok


def open_idle(host: str, port: int, count: int, sockets: list[socket.socket]) -> int:
    """``count`` connections (into ``sockets``) that each send part of a request and sit;
    returns how many failed to open."""
    partial = [
        b"",
        b"GET /xms/v1/room-idle/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        b"POST /xms/v1/room-idle/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer idle-token\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{",
    ]
    failed = 0
    for index in range(count):
        try:
            sock = socket.create_connection((host, port), timeout=5)
            if partial[index % 3]:
                sock.sendall(partial[index % 3])
            sockets.append(sock)
        except OSError:
            failed += 1
    return failed


def idle_states(sockets: list[socket.socket]) -> Counter[str]:
    """Whether the server still holds each idle connection, answered it, or closed it."""
    states: Counter[str] = Counter()
    for sock in sockets:
        sock.setblocking(False)
        try:
            data = sock.recv(64, socket.MSG_PEEK)
            states["answered by the server" if data else "closed by the server"] += 1
        except BlockingIOError:
            states["still open"] += 1
        except OSError:
            states["closed by the server"] += 1
    return states


def wait_until_ready(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the sandbox exited early:\n{log.read_text()[-2000:]}")
        try:
            requests.get(f"{url}/xms/v1/room-probe/batches", timeout=1)  # 401: it answers
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    sys.exit("the sandbox did not start within 30 s")


def start_sandbox(folder: Path, port: int) -> subprocess.Popen:
    log = folder / "sandbox.log"  # one line a request: a pipe nobody reads fills up
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "xms_sandbox", "--open", "--port", str(port)),
                *("--db", str(folder / "room.sqlite3")),
                *("--dispatch-after", DISPATCH_AFTER, "--deliver-after", DELIVER_AFTER),
                *(("--workers", str(WORKERS)) if WORKERS else ()),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    wait_until_ready(f"http://127.0.0.1:{port}", server, log)
    return server


def stop_sandbox(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def idle_phase(port: int, stop: Stop, pid: int, idle: list[socket.socket]) -> None:
    """Open the idle connections (into ``idle``, which the caller closes), run a round beside."""
    failed = open_idle("127.0.0.1", port, IDLE, idle)
    time.sleep(0.5)  # let the server accept them all
    counts = [process_status(one, "Threads") for one in sandbox_processes(pid)]
    threads = None if None in counts else sum(c for c in counts if c is not None)
    print(
        f"\nphase 2: opened {len(idle)} idle connections ({failed} failed to open; "
        f"sandbox threads now: {threads if threads is not None else 'unknown'})"
    )
    learners, wall, cpu = run_round(f"http://127.0.0.1:{port}", IDLE_LEARNERS, stop, pid)
    title = f"phase 2: {IDLE_LEARNERS} learners while {len(idle)} idle connections sit"
    ok = report(title, learners, wall, cpu, pid)
    states = idle_states(idle)
    print(
        "  idle connections after the round: "
        + ", ".join(f"{count} {state}" for state, count in states.most_common())
    )
    finished = sum(learner.finished for learner in learners)
    if ok:
        print(
            f"  => the idle connections did NOT stop other learners: all {finished} "
            "finished, every request completed"
        )
    else:
        print(
            f"  => the idle connections STOPPED learners (or something did): {finished} of "
            f"{IDLE_LEARNERS} finished, see the errors above"
        )


def main() -> int:
    # A polite kill runs the clean-up below as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = free_port()
    stop = CONTEXT.Event()
    idle: list[socket.socket] = []
    with tempfile.TemporaryDirectory(prefix="bench-room-") as folder:
        server = start_sandbox(Path(folder), port)
        try:
            print(
                f"sandbox pid {server.pid} on http://127.0.0.1:{port} (--open, "
                f"{len(sandbox_processes(server.pid)) - 1 or 1} worker processes, "
                "database file, "
                f"dispatch after {DISPATCH_AFTER} s, deliver after {DELIVER_AFTER} s); "
                "learners: http.client, "
                + (f"in {KERNELS} processes" if KERNELS else "a process each")
            )
            start = f"spread over {STAGGER:g} s" if STAGGER else "all at the same moment"
            print(
                f"each learner ({start}): 1 send of {len(NAMES)} + wait, {BULK // CHUNK} sends "
                f"of {CHUNK} + wait + full report each, {BULK // CHUNK} client_reference lookups"
                + (
                    f"; the phones page open, reloaded every {PHONES_EVERY:g} s"
                    if PHONES_EVERY
                    else ""
                )
            )
            for number in range(1, ROUNDS + 1):
                base = f"http://127.0.0.1:{port}"
                learners, wall, cpu = run_round(base, LEARNERS, stop, server.pid)
                held = f"; the database already holds {number - 1} rounds" if number > 1 else ""
                title = f"phase 1, round {number} of {ROUNDS}: {LEARNERS} learners{held}"
                report(title, learners, wall, cpu, server.pid)
            idle_phase(port, stop, server.pid, idle)
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the sandbox", file=sys.stderr)
            return 130
        finally:
            stop.set()
            for sock in idle:
                sock.close()
            stop_sandbox(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
