"""The kill harness: send_bulk killed with SIGKILL at random moments, then run again, reaches
every recipient exactly once, every time.

Each trial has a plan of its own on a sandbox of its own (real HTTP), and a child process runs
``send_bulk`` of 20,000 recipients in batches of 1,000 with a journal. The child is killed:

- ``first batch``: right after the first batch reaches the server (the moment the sandbox has
  it, before the child can have written it down);
- ``held``: at a random moment while one of its batches is held at the server for 0.2 s before
  being processed (a ``latency`` fault), so the kill often lands with a request in flight;
- ``random``: at a random moment of the whole run;
- ``random, journal lost``: the same, and the journal is deleted before the rerun (the send is
  found again through the list of unfinished sends, and each batch is looked up).

Then the same call runs again to the end, and the sandbox's batches are counted: each of the
20,000 numbers must be in exactly one batch. Children are forked from a server that has
imported the helpers once, so a trial takes well under a second.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests

import xms_sandbox
from sinch_helpers_machinery.bulk import UNFINISHED_FILE
from sinch_helpers_machinery.settings import state_dir

pytestmark = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(),
    reason="the harness forks its children from a fork server (not on Windows)",
)

RECIPIENTS = 20_000
BATCH_SIZE = 1_000
TRIALS = 54  # a third right after the first batch, a third held, a sixth each at random
MODES = ("first batch", "held", "random", "first batch", "held", "random, journal lost")
HOLD = 0.2  # seconds a "held" batch waits at the server before it is processed


@pytest.fixture(scope="module")
def harness_sandbox() -> Iterator[xms_sandbox.Sandbox]:
    """A sandbox of the harness's own: a million recipient rows stay out of the shared one."""
    with xms_sandbox.start(timing=xms_sandbox.Timing(0, 0)) as running:
        yield running


@pytest.fixture(scope="module")
def children():
    """Child processes forked from a server that imported the helpers once."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sinch_helpers", "bulk_child"])
    return context


@pytest.fixture(scope="module")
def run_seconds(harness_sandbox, children, tmp_path_factory) -> float:
    """How long one uninterrupted send takes here: random kills fall within it."""
    import bulk_child

    timings = []
    for _ in range(3):  # the quickest of three: the first also warms the fork server up
        plan_id, token = plan_on(harness_sandbox)
        journal = str(tmp_path_factory.mktemp("calibration") / "bulk.jsonl")
        child = children.Process(
            target=bulk_child.send_bulk,
            args=(harness_sandbox.url, plan_id, token, journal, RECIPIENTS, BATCH_SIZE),
        )
        started = time.monotonic()
        child.start()
        child.join(timeout=120)
        assert child.exitcode == 0
        timings.append(time.monotonic() - started)
    return min(timings)


def unfinished(plan_id: str) -> bool:
    """Whether the plan's send is still listed as unfinished in the user's state folder."""
    listed = state_dir() / UNFINISHED_FILE
    sends = json.loads(listed.read_text(encoding="utf-8")) if listed.exists() else {}
    return any(key.startswith(f"{plan_id} ") for key in sends)


def plan_on(sandbox: xms_sandbox.Sandbox) -> tuple[str, str]:
    plan_id, token = f"kill-{secrets.token_hex(4)}", secrets.token_hex(16)
    sandbox.backend.plans.add(plan_id, token)
    return plan_id, token


def numbers_sent(sandbox: xms_sandbox.Sandbox, plan_id: str, token: str) -> Counter[str]:
    """How many times each number was sent to, from the plan's batches as the API lists them."""
    counts: Counter[str] = Counter()
    url = f"{sandbox.url}/xms/v1/{plan_id}/batches"
    headers = {"Authorization": f"Bearer {token}"}
    page = 0
    while True:
        answer = requests.get(
            url, params={"page": page, "page_size": 100}, headers=headers, timeout=30
        )
        answer.raise_for_status()
        batches = answer.json()["batches"]
        for batch in batches:
            counts.update(batch["to"])
        if len(batches) < 100:
            return counts
        page += 1


@pytest.mark.parametrize("trial", range(TRIALS))
def test_killed_at_any_moment_every_recipient_gets_exactly_one_message(
    trial, harness_sandbox, children, run_seconds, tmp_path
):
    import bulk_child

    mode = MODES[trial % len(MODES)]
    chance = random.Random(trial)  # each trial's moment can be replayed
    plan_id, token = plan_on(harness_sandbox)
    journal = str(tmp_path / "bulk.jsonl")
    run = (harness_sandbox.url, plan_id, token, journal, RECIPIENTS, BATCH_SIZE)
    if mode == "held":
        fault = {"plan_id": plan_id, "kind": "latency", "seconds": HOLD, "method": "POST"}
        fault["after"] = chance.randrange(RECIPIENTS // BATCH_SIZE)
        answer = requests.post(
            f"{harness_sandbox.url}/sandbox/faults",
            json=fault,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text

    child = children.Process(target=bulk_child.send_bulk, args=run)
    child.start()
    if mode == "first batch":
        while harness_sandbox.backend.batches.count(plan_id) == 0 and child.is_alive():
            pass  # no sleep: the kill must come the moment the batch is there
    else:
        time.sleep(chance.uniform(0, run_seconds + (HOLD if mode == "held" else 0)))
    child.kill()
    child.join()
    before = harness_sandbox.backend.batches.count(plan_id)
    if mode == "random, journal lost" and unfinished(plan_id):
        # (Once a send has finished, deleting its journal is how one sends it again.) Lost
        # with the journal are the times of the last attempts, so a request the kill left in
        # flight is given a moment to reach the server before the rerun looks for it.
        time.sleep(0.1)
        (tmp_path / "bulk.jsonl").unlink(missing_ok=True)

    rerun = children.Process(target=bulk_child.send_bulk, args=run)
    rerun.start()
    rerun.join(timeout=120)
    assert rerun.exitcode == 0, f"the rerun failed (exit code {rerun.exitcode})"

    counts = numbers_sent(harness_sandbox, plan_id, token)
    twice = [number for number, count in counts.items() if count > 1]
    print(
        f"trial {trial} ({mode}): killed (exit {child.exitcode}) with {before} of "
        f"{RECIPIENTS // BATCH_SIZE} batches on the server; after the rerun: "
        f"{len(counts)} numbers, {len(twice)} twice"
    )
    assert not twice, f"{len(twice)} numbers got the message twice, e.g. {twice[:3]}"
    # The API lists numbers as bare international digits.
    assert sorted(counts) == sorted(n.lstrip("+") for n in bulk_child.numbers(RECIPIENTS))
