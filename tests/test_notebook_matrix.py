"""The notebook matrix: every notebook, executed the way learners run it, in each world they can
be in. Each learner gets a folder of their own (``<learner>/notebooks``, ``<learner>/data``) and
every kernel gets an explicit environment: all ``SINCH_*`` variables removed, then the world's.

- **shared**: a workshop's sandbox (``python -m xms_sandbox --open --db FILE``, a separate
  process) and two learners working at the same time, each running every notebook in order
  twice (the second learner starting at notebook 07, as if it were their first). Each
  learner's plan must hold only their own batches, and the second run must tell the same story
  as the first.
- **live**: live mode against a sandbox without its controls (``controls=False``: the helpers
  cannot tell it from the real API), with test numbers and a sender, with neither, and with
  numbers but no sender; every notebook twice. The token must never show, and the live server
  must receive only what live mode may send.
- **restart**: notebook 07 interrupted by its fault, the kernel killed (as a crash would), then
  the whole notebook in a new kernel on the same sandbox database: every recipient exactly once.
- **one kernel**: every notebook run top to bottom twice in the same kernel, on the embedded
  sandbox with its state in a file (what a learner's laptop has): the second pass must tell the
  same story as the first.

The worlds the selected tests need start together when the first of them is asked for, each in
threads of its own (its own servers, folders and kernels), so the file takes about as long as
its slowest world. A failure names the world, the learner, the run, the notebook and the cell.
"""

from __future__ import annotations

import concurrent.futures
import configparser
import contextlib
import copy
import csv
import difflib
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.util import run_sync

import xms_sandbox

from conftest import free_port
from sandbox_process import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
DATA_DIR = ROOT / "data"
NOTEBOOK_NAMES = sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb"))
BULK_NOTEBOOK = "07-bulk-from-csv.ipynb"

TEST_NUMBERS = ["+46701234567", "+46701234568"]
LIVE_SENDER = "+46700000000"
LIVE_PLAN = "live-plan"
LEARNERS = ("learner-a", "learner-b")
RUNS = 2
CELL_TIMEOUT = 180  # seconds; the notebooks wait at most 60 s for a delivery
KERNEL_START_RACE = "Kernel died before replying to kernel_info"
KERNEL_START_ATTEMPTS = 3

# A bearer header, or 32 hex digits like the sandboxes' tokens (widget model IDs aside).
TOKEN_SHAPED = re.compile(r'Bearer [A-Za-z0-9]{16,}|(?<!"model_id": ")\b[0-9a-f]{32}\b')
# The sandbox's IDs: 26 characters of Crockford base32 (batches, groups, inbounds).
SERVER_ID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
# What a cell may not write to stderr: a traceback or a Python warning.
STDERR_TROUBLE = re.compile(r"Traceback|\b\w*(Error|Warning)\b")
WIDGET = "application/vnd.jupyter.widget-view+json"
# tqdm's bar as text: " 40%|████      | 2/5 [00:01<00:01,  1.9msg/s]".
PROGRESS_BAR = re.compile(r"\d+%\|[^|\n]*\|[^\n]*")


# ================================================================ learners' folders and kernels


def learner_home(root: Path, learner: str) -> Path:
    """``root/<learner>``: a copy of the notebooks (with their solutions) and the data beside
    them, as the notebooks read ``../data`` and write journals next to themselves."""
    home = root / learner
    shutil.copytree(
        NOTEBOOK_DIR,
        home / "notebooks",
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.journal.jsonl"),
    )
    (home / "data").symlink_to(DATA_DIR, target_is_directory=True)
    return home


def kernel_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``SINCH_*`` variable, plus ``settings``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SINCH_")}
    return {**env, **settings}


def notebook_client(notebook: nbformat.NotebookNode, folder: Path) -> NotebookClient:
    return NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=True,  # run every cell, so that a report lists every failing one
        # One stream output per name and cell: how a print's text is cut into messages depends
        # on when the kernel flushes, which is the machine's business, not the notebook's.
        coalesce_streams=True,
        resources={"metadata": {"path": str(folder)}},
    )


@dataclass
class Execution:
    """One notebook executed in one fresh kernel (or, for ``part``, some of its cells)."""

    world: str
    learner: str
    run: int
    path: Path
    notebook: nbformat.NotebookNode | None = None
    crash: str | None = None  # why the kernel could not finish (a timeout, a dead kernel)
    seconds: float = 0.0
    part: str = ""

    @property
    def where(self) -> str:
        part = f" ({self.part})" if self.part else ""
        return f"[{self.world}] {self.learner} run {self.run} {self.path.name}{part}"

    def code_cells(self) -> Iterator[tuple[int, nbformat.NotebookNode]]:
        for index, cell in enumerate(self.notebook.cells if self.notebook else []):
            if cell.cell_type == "code":
                yield index, cell

    def outputs_json(self) -> str:
        return json.dumps([cell.outputs for _, cell in self.code_cells()], ensure_ascii=False)

    def problems(self) -> list[str]:
        """Each cell that failed, by number and first line, with its error."""
        found = [f"{self.where}: kernel stopped: {self.crash}"] if self.crash else []
        for index, cell in self.code_cells():
            for output in cell.outputs:
                trouble = output_trouble(output)
                if trouble:
                    found.append(f"{self.where} cell {index} `{first_line(cell)}`: {trouble}")
        return found


def first_line(cell: nbformat.NotebookNode) -> str:
    lines = [line for line in cell.source.splitlines() if line.strip()]
    return lines[0][:60] if lines else "(empty)"


def output_trouble(output: nbformat.NotebookNode) -> str | None:
    """An error, or a traceback or warning on stderr, in a few words; None for a good output."""
    if output.output_type == "error":
        return f"{output.ename}: {output.evalue}"[:300]
    stderr = output.output_type == "stream" and output.name == "stderr"
    if stderr and STDERR_TROUBLE.search(output.text):
        return "stderr: " + output.text.strip()[-300:]
    return None


def execute(
    path: Path, env: dict[str, str], execution: Execution, cells: slice | None = None
) -> Execution:
    """Run the notebook at ``path`` (or only ``cells`` of it, then kill the kernel as a crash
    would) in a new kernel with exactly ``env``; never raises, the Execution says what went wrong.
    """
    started = time.perf_counter()
    # The kernel's own stderr (its start-up warnings, a crash) goes to the learner's folder.
    log = path.parent.parent / "kernels.log"
    for _ in range(KERNEL_START_ATTEMPTS):
        notebook = nbformat.read(path, as_version=4)
        execution.notebook, execution.crash = notebook, None
        with log.open("a", encoding="utf-8") as stderr:
            try:
                if cells is None:
                    notebook_client(notebook, path.parent).execute(env=env, stderr=stderr)
                else:
                    execute_then_crash(notebook, path.parent, dict(env=env, stderr=stderr), cells)
            except Exception as error:  # a cell timed out, the kernel died: report it
                execution.crash = f"{type(error).__name__}: {str(error).strip()[-500:]} (see {log})"
        # jupyter_client picks a kernel's ports before the kernel binds them, so kernels
        # starting at the same moment can pick the same one and die before running a cell.
        if not (execution.crash and KERNEL_START_RACE in execution.crash):
            break
    execution.seconds = time.perf_counter() - started
    return execution


def execute_then_crash(
    notebook: nbformat.NotebookNode, folder: Path, launch: dict[str, Any], cells: slice
) -> None:
    """Run ``cells`` in a new kernel (``launch``: how to start it), then SIGKILL it: no
    atexit, no closing of files, as a crash would."""
    client = notebook_client(notebook, folder)
    with client.setup_kernel(**launch):
        for index, cell in list(enumerate(notebook.cells))[cells]:
            client.execute_cell(cell, index, execution_count=index + 1)
        run_sync(client.km.signal_kernel)(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while run_sync(client.km.is_alive)() and time.monotonic() < deadline:
            time.sleep(0.05)


def run_every_notebook(
    world: str,
    learner: str,
    home: Path,
    env: dict[str, str],
    runs: int = RUNS,
    first: str | None = None,
) -> list[Execution]:
    """Every notebook in order (from ``first`` on, then round to it), ``runs`` times over, each
    in a fresh kernel."""
    start = NOTEBOOK_NAMES.index(first) if first else 0
    order = NOTEBOOK_NAMES[start:] + NOTEBOOK_NAMES[:start]
    executions = []
    for run in range(1, runs + 1):
        for name in order:
            path = home / "notebooks" / name
            executions.append(execute(path, env, Execution(world, learner, run, path)))
    return executions


def in_parallel(jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each job in a thread of its own; their results by name (a job's exception re-raised)."""
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


# ================================================================ what the assertions look at


def problems_of(executions: list[Execution]) -> list[str]:
    return [problem for execution in executions for problem in execution.problems()]


def leaks(executions: list[Execution], secrets_: set[str]) -> list[str]:
    """Where an output shows a secret, or anything token-shaped."""
    found = []
    for execution in executions:
        text = execution.outputs_json()
        for secret in secrets_:
            if secret in text:
                found.append(f"{execution.where} shows the token …{secret[-4:]}")
        for match in TOKEN_SHAPED.finditer(text):
            found.append(f"{execution.where} shows something token-shaped: {match.group(0)[:12]}…")
    return found


def read_only(database: Path) -> sqlite3.Connection:
    """The sandbox's SQLite file, opened so that this test can never change it."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    connection.row_factory = sqlite3.Row
    return connection


def assert_nothing(found: list[str], what: str) -> None:
    assert not found, f"{len(found)} {what}:\n" + "\n".join(found)


# ---------------------------------------------------------------- the story a run tells


def sanitize_rules() -> list[tuple[re.Pattern[str], str]]:
    """nbval's masks, each section named for why it is volatile (tests/nbval_sanitize.cfg: IDs,
    timestamps, ports, ``nb-`` references, labels made unique per run, ``bulk-<job>-N``
    references and journal headers, token tails, addresses), then the matrix's own."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(Path(__file__).with_name("nbval_sanitize.cfg"), encoding="utf-8")
    rules = [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]
    return [
        *rules,
        # tqdm's text bars count and time the work as it goes.
        (PROGRESS_BAR, "<PROGRESS>"),
        # Durations ("in 0.12 s", "3.4s", "15 ms") are the machine's, not the story's.
        (re.compile(r"\b\d+(\.\d+)?\s?(ms|s)\b"), "<DURATION>"),
    ]


MASKS = sanitize_rules()


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def output_text(output: nbformat.NotebookNode) -> str | None:
    """What a learner reads in an output, as text; None for what is not part of the story."""
    if output.output_type == "stream":
        return f"[{output.name}] {output.text}"
    if output.output_type == "error":
        return f"[error] {output.ename}: {output.evalue}"
    text = output.get("data", {}).get("text/plain")
    if WIDGET in output.get("data", {}) and PROGRESS_BAR.search(text or ""):
        # A progress bar appears only once the work has taken half a second
        # (sinch_helpers_machinery/progress.py): the machine's load decides if it is there.
        return None
    return text


def story(execution: Execution) -> dict[int, str]:
    """Each code cell's text outputs, volatile parts masked."""
    return {
        index: masked("\n".join(t for t in map(output_text, cell.outputs) if t is not None))
        for index, cell in execution.code_cells()
    }


def story_differences(first: Execution, second: Execution) -> list[str]:
    """Cells whose masked outputs differ between two runs of one notebook, with a diff each."""
    before, after = story(first), story(second)
    found = []
    for index in sorted(before.keys() | after.keys()):
        if before.get(index) != after.get(index):
            diff = difflib.unified_diff(
                before.get(index, "").splitlines(),
                after.get(index, "").splitlines(),
                f"run {first.run}",
                f"run {second.run}",
                lineterm="",
                n=1,
            )
            found.append(f"{second.where} cell {index}:\n    " + "\n    ".join(list(diff)[:40]))
    return found


# ================================================================ the worlds


@dataclass
class World:
    """A world's executions and what its servers held at the end."""

    executions: list[Execution]
    facts: dict[str, Any] = field(default_factory=dict)

    def of(self, learner: str) -> list[Execution]:
        return [e for e in self.executions if e.learner == learner]


def run_shared_world(root: Path) -> World:
    """Two learners at once on one workshop sandbox (a separate process, a database file)."""
    database = root / "workshop.sqlite3"
    timing = ("--dispatch-after", "0.005", "--deliver-after", "0.02")  # as the embedded one
    log = root / "workshop-sandbox.log"
    homes = {learner: learner_home(root, learner) for learner in LEARNERS}
    with SandboxProcess(free_port(), "--open", "--db", str(database), *timing, log=log) as server:
        runs = in_parallel(
            {
                learner: lambda learner=learner: run_every_notebook(
                    "shared",
                    learner,
                    homes[learner],
                    kernel_env(
                        SINCH_SANDBOX_URL=f"{server.url}/xms",
                        SINCH_SANDBOX_PLAN=learner,
                        # Each learner's own home keeps their random token, as on a hub.
                        XDG_STATE_HOME=str(homes[learner] / "state"),
                    ),
                    # The second learner starts with the bulk notebook: any notebook may be a
                    # learner's first in the room, before their plan exists.
                    first=BULK_NOTEBOOK if learner == LEARNERS[1] else None,
                )
                for learner in LEARNERS
            }
        )
        with contextlib.closing(read_only(database)) as db:
            facts = {
                "plans": {row["id"] for row in db.execute("SELECT id FROM plans")},
                "tokens": {
                    learner: token_file.read_text(encoding="utf-8").strip()
                    for learner, home in homes.items()
                    for token_file in home.glob("state/sinch-sms-notebooks/shared-sandbox-*.token")
                },
                "owners": {
                    row["id"]: row["plan_id"]
                    for table in ("batches", "groups", "inbounds")
                    for row in db.execute(f"SELECT id, plan_id FROM {table}")
                },
            }
    return World([e for learner in LEARNERS for e in runs[learner]], facts)


#: One in-process sandbox built at a time (see live_variant).
BUILDING = threading.Lock()

LIVE_VARIANTS: dict[str, dict[str, str]] = {
    "numbers-and-sender": {
        "SINCH_TEST_NUMBERS": ",".join(TEST_NUMBERS),
        "SINCH_FROM": LIVE_SENDER,
    },
    "no-numbers-no-sender": {},
    "numbers-no-sender": {"SINCH_TEST_NUMBERS": ",".join(TEST_NUMBERS)},
}


class RequestLog:
    """WSGI middleware that notes every request's method and path."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app, self.requests = app, []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.requests.append(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}")
        return self.app(environ, start_response)


def live_variant(root: Path, variant: str, secret: str) -> World:
    """Live mode against a sandbox that holds the plan's token and shows no controls."""
    with BUILDING:  # CPython 3.11 can fail compiling Flask's routes in two threads at once
        server = xms_sandbox.build(
            plans={LIVE_PLAN: secret}, controls=False, timing=xms_sandbox.Timing(0, 0)
        )
    # The sandbox keeps no request log of its own: wrap the WSGI app werkzeug is about to serve.
    log = RequestLog(server._server.app)
    server._server.app = log
    env = kernel_env(
        SINCH_SERVICE_PLAN_ID=LIVE_PLAN,
        SINCH_API_TOKEN=secret,
        SINCH_BASE_URL=server.xms_url,
        SINCH_SANDBOX_DB=":memory:",  # for the fallback sandbox, when live mode may not send
        **LIVE_VARIANTS[variant],
    )
    with server.serve_in_thread():
        executions = run_every_notebook("live", variant, learner_home(root, variant), env)
        storage = server.backend.storage
        facts = {
            "requests": list(log.requests),
            "senders": [r[0] for r in storage.query("SELECT sender FROM batches")],
            "recipients": {r[0] for r in storage.query("SELECT msisdn FROM recipients")},
        }
    return World(executions, facts)


def run_live_world(root: Path) -> dict[str, World]:
    secret = "live-secret-" + secrets.token_hex(16)
    worlds = in_parallel(
        {variant: lambda v=variant: live_variant(root, v, secret) for variant in LIVE_VARIANTS}
    )
    for world in worlds.values():
        world.facts["secret"] = secret
    return worlds


def cells_up_to_the_interruption(path: Path) -> slice:
    """Notebook 07's cells up to and including the one that catches BulkSendInterrupted."""
    cells = nbformat.read(path, as_version=4).cells
    catching = [
        index
        for index, cell in enumerate(cells)
        if cell.cell_type == "code" and "except sh.BulkSendInterrupted" in cell.source
    ]
    assert len(catching) == 1, f"{path.name}: expected one cell that catches BulkSendInterrupted"
    return slice(0, catching[0] + 1)


def run_restart_world(root: Path) -> World:
    """07 interrupted, its kernel killed, then run whole in a new kernel on the same database."""
    database = root / "sandbox.sqlite3"
    env = kernel_env(SINCH_SANDBOX_DB=str(database))
    path = learner_home(root, "restarter") / "notebooks" / BULK_NOTEBOOK
    crashed = Execution("restart", "restarter", 1, path, part="until interrupted, then killed")
    until = cells_up_to_the_interruption(path)
    execute(path, env, crashed, until)
    resumed = execute(path, env, Execution("restart", "restarter", 2, path, part="whole"))
    with contextlib.closing(read_only(database)) as db:
        rows = db.execute(
            "SELECT r.msisdn, b.id FROM recipients r JOIN batches b ON b.id = r.batch_id"
            " WHERE b.client_reference LIKE 'bulk-%'"
        ).fetchall()
    tokens = {Path(f"{database}.token").read_text(encoding="ascii").strip()}
    facts = {"bulk_rows": [tuple(r) for r in rows], "tokens": tokens, "catching": until.stop - 1}
    return World([crashed, resumed], facts)


def run_one_kernel_world(root: Path) -> World:
    """Every notebook run top to bottom twice over in the same kernel (Run All, then Run All
    again), on the embedded sandbox keeping its state in a file, as a learner's laptop does: the
    next notebook's kernel finds what the earlier ones left. Each run is split into its two
    passes afterwards, so that they can be compared like two runs."""
    env = kernel_env(SINCH_SANDBOX_DB=str(root / "sandbox.sqlite3"))
    folder = learner_home(root, "one-kernel") / "notebooks"
    passes = []
    for name in NOTEBOOK_NAMES:
        cells = nbformat.read(folder / name, as_version=4).cells
        code = [cell for cell in cells if cell.cell_type == "code"]
        twice = folder / f"twice-{name}"  # beside the original: it reads ../data as it does
        again = copy.deepcopy(code)
        for cell in again:
            cell.id = secrets.token_hex(4)  # cell IDs are unique within a notebook
        nbformat.write(nbformat.v4.new_notebook(cells=code + again), twice)
        done = execute(twice, env, Execution("one-kernel", "learner", 1, folder / name))
        ran = done.notebook.cells if done.notebook else []
        for run, half in ((1, ran[: len(code)]), (2, ran[len(code) :])):
            passes.append(
                Execution(
                    "one-kernel",
                    "learner",
                    run,
                    folder / name,
                    notebook=nbformat.v4.new_notebook(cells=half),
                    crash=done.crash,
                    part=f"pass {run} in one kernel",
                )
            )
    return World(passes)


# Each world's fixture name and what builds it.
WORLDS: dict[str, Callable[[Path], Any]] = {
    "shared_world": run_shared_world,
    "live_world": run_live_world,
    "restart_world": run_restart_world,
    "one_kernel_world": run_one_kernel_world,
}


@pytest.fixture(scope="module")
def matrix(request, tmp_path_factory) -> Iterator[dict[str, concurrent.futures.Future]]:
    """Starts, all at once, every world that a selected test of this module asks for."""
    mine = [i for i in request.session.items if getattr(i, "module", None) is request.module]
    wanted = {name for item in mine for name in item.fixturenames}
    with concurrent.futures.ThreadPoolExecutor(len(WORLDS)) as pool:
        yield {
            name: pool.submit(build, tmp_path_factory.mktemp(name))
            for name, build in WORLDS.items()
            if name in wanted
        }


@pytest.fixture(scope="module")
def shared_world(matrix) -> World:
    return matrix["shared_world"].result()


@pytest.fixture(scope="module")
def live_world(matrix) -> dict[str, World]:
    return matrix["live_world"].result()


@pytest.fixture(scope="module")
def one_kernel_world(matrix) -> World:
    return matrix["one_kernel_world"].result()


@pytest.fixture(scope="module")
def restart_world(matrix) -> World:
    return matrix["restart_world"].result()


# ================================================================ (a) a shared workshop sandbox


def test_shared_sandbox_every_cell_runs_for_two_learners_at_once(shared_world):
    """Two learners on one ``--open`` sandbox at the same time, every notebook twice: no cell
    fails and nothing shows a token."""
    assert len(shared_world.executions) == len(LEARNERS) * RUNS * len(NOTEBOOK_NAMES)
    assert_nothing(problems_of(shared_world.executions), "failing cells")
    tokens = set(shared_world.facts["tokens"].values())
    assert_nothing(leaks(shared_world.executions, tokens), "leaks")


def test_shared_sandbox_keeps_each_learner_to_their_own_plan(shared_world):
    """The plans are the learners' own, and every batch, group or inbound a learner's
    notebooks showed is in that learner's plan."""
    owners = shared_world.facts["owners"]
    assert shared_world.facts["plans"] == set(LEARNERS)
    assert set(shared_world.facts["tokens"]) == set(LEARNERS)  # each kept their own token
    found = []
    for learner in LEARNERS:
        assert learner in owners.values(), f"{learner}'s plan holds nothing"
        shown = {i for e in shared_world.of(learner) for i in SERVER_ID.findall(e.outputs_json())}
        assert shown & owners.keys(), f"{learner}'s notebooks showed no ID the server knows"
        found += [
            f"{learner}'s notebooks showed {owners[i]}'s {i}"
            for i in sorted(shown & owners.keys())
            if owners[i] != learner
        ]
    assert_nothing(found, "objects of another learner's plan")


def test_shared_sandbox_second_run_tells_the_same_story(shared_world):
    """Run 2 of each notebook (fresh kernels, the server still holding run 1's work) shows the
    same outputs as run 1, once IDs, times, ports, references and token tails are masked."""
    found = []
    for learner in LEARNERS:
        runs = {(e.run, e.path.name): e for e in shared_world.of(learner)}
        for name in NOTEBOOK_NAMES:
            found += story_differences(runs[1, name], runs[2, name])
    assert_nothing(found, "cells whose second run differs")


# ================================================================ (b) live mode


def test_live_mode_every_cell_runs_and_never_shows_the_token(live_world):
    """Live mode with numbers and sender, with neither, and with numbers but no sender: every
    notebook twice, no cell fails, and no output holds the token or anything token-shaped."""
    assert set(live_world) == set(LIVE_VARIANTS)
    found = []
    for world in live_world.values():
        assert len(world.executions) == RUNS * len(NOTEBOOK_NAMES)
        found += problems_of(world.executions) + leaks(world.executions, {world.facts["secret"]})
    assert_nothing(found, "failing cells or leaks")


def test_live_mode_sends_only_to_the_test_numbers_from_the_sender(live_world):
    """With SINCH_TEST_NUMBERS and SINCH_FROM, the live server receives batches, and only to
    those numbers and from that sender."""
    facts = live_world["numbers-and-sender"].facts
    assert facts["senders"], "live mode sent nothing at all"
    assert facts["recipients"] <= {n.lstrip("+") for n in TEST_NUMBERS}, "sent to other numbers"
    assert set(facts["senders"]) == {LIVE_SENDER.lstrip("+")}, "sent from another sender"


@pytest.mark.parametrize("variant", ["no-numbers-no-sender", "numbers-no-sender"])
def test_live_mode_without_numbers_or_sender_sends_nothing_live(live_world, variant):
    """Without test numbers or without a sender, every notebook says that SINCH_FROM is missing
    and falls back to the sandbox: the live server receives no batch, nor any request about
    batches."""
    world = live_world[variant]
    silent = [e.where for e in world.executions if "SINCH_FROM" not in e.outputs_json()]
    assert not silent, f"{variant}: these notebooks never say why they are not live: {silent}"
    touched = [r for r in world.facts["requests"] if "/batches" in r]
    senders = world.facts["senders"]
    assert not senders, f"{variant}: the live server received {len(senders)} batches"
    assert not touched, f"{variant}: requests about batches reached the live server: {touched}"


# ================================================================ (c) a kernel restart mid-send


def workshop_numbers() -> list[str]:
    with (DATA_DIR / "workshop_recipients.csv").open(encoding="utf-8", newline="") as file:
        return [row["phone"].lstrip("+") for row in csv.DictReader(file)]


def test_bulk_send_resumes_after_a_kernel_restart(restart_world):
    """07 until its send is interrupted, the kernel killed, then 07 whole in a new kernel on
    the same database: no cell fails, the notebook says it resumed, and every one of the 400
    workshop recipients is in exactly one batch of the bulk send."""
    assert_nothing(problems_of(restart_world.executions), "failing cells")
    assert_nothing(leaks(restart_world.executions, restart_world.facts["tokens"]), "leaks")
    crashed, resumed = restart_world.executions
    said = crashed.notebook.cells[restart_world.facts["catching"]].outputs
    assert any(o.output_type == "stream" for o in said), "the first part was not interrupted"
    assert "already sent" in resumed.outputs_json(), "07 did not say it resumed"
    numbers = workshop_numbers()
    assert len(set(numbers)) == 400
    batches_of: dict[str, set[str]] = {number: set() for number in numbers}
    for msisdn, batch_id in restart_world.facts["bulk_rows"]:
        batches_of.setdefault(msisdn, set()).add(batch_id)
    wrong = {number: len(found) for number, found in batches_of.items() if len(found) != 1}
    by_count = Counter(wrong.values())
    assert not wrong, (
        f"{len(wrong)} of {len(numbers)} recipients are not in exactly one bulk batch: "
        + ", ".join(f"{n} in {count} batches" for count, n in sorted(by_count.items()))
        + f" (for example +{next(iter(wrong))})"
    )


# ================================================================ (d) the same kernel, twice over


def test_one_kernel_every_notebook_runs_twice_over(one_kernel_world):
    """Run All twice in one kernel, for every notebook: no cell fails, nothing shows a token."""
    assert_nothing(problems_of(one_kernel_world.executions), "failing cells")
    assert_nothing(leaks(one_kernel_world.executions, set()), "leaks")


def test_one_kernel_second_pass_tells_the_same_story(one_kernel_world):
    """The second Run All in the same kernel shows what the first showed, once masked."""
    passes = {(e.run, e.path.name): e for e in one_kernel_world.executions}
    found = []
    for name in NOTEBOOK_NAMES:
        found += story_differences(passes[1, name], passes[2, name])
    assert_nothing(found, "cells whose second pass differs")
