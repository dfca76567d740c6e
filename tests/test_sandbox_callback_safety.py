"""Callbacks on a shared sandbox: refused destinations, fairness between plans, a worker that
survives bad rows, and each plan's callback inbox."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

import xms_sandbox
from xms_sandbox import responses
from xms_sandbox.__main__ import arguments
from xms_sandbox.callbacks import CallbackGuard, CallbackRefused
from xms_sandbox.models import SandboxConfig, XmsBackend
from xms_sandbox.models.outbox import CallbackInbox
from xms_sandbox.storage import Storage

from conftest import INSTRUCTOR, PlanApi, new_plan
from receiver import Receiver

FAST = {"timing": xms_sandbox.Timing(0, 0), "callback_retry_base": 0.05}

REFUSED_URLS = [
    "http://127.0.0.1:9/hook",
    "http://localhost:9/hook",
    "http://10.0.0.5/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://[::1]:9/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
]


@contextlib.contextmanager
def running(**options) -> Iterator[xms_sandbox.Sandbox]:
    with xms_sandbox.start(instructor_token=INSTRUCTOR, **FAST, **options) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def room() -> Iterator[xms_sandbox.Sandbox]:
    """A shared sandbox: anyone may open a plan, so callbacks to private ranges are refused."""
    with running(open_plans=True, callback_max_attempts=4) as sandbox:
        yield sandbox


@pytest.fixture
def learner(room) -> Iterator[PlanApi]:
    yield from new_plan(room)


@pytest.fixture
def neighbour(room) -> Iterator[PlanApi]:
    yield from new_plan(room)


def plan_callbacks(plan: PlanApi) -> list[dict]:
    answer = plan.control("GET", "/callbacks", params={"plan_id": plan.plan_id})
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# ================================================================ refused destinations
@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_shared_sandbox_refuses_private_callback_urls_at_send_time(learner, url):
    answer = learner.post(
        "/batches",
        json={"from": "447700900999", "to": ["447700900001"], "body": "hi", "callback_url": url},
    )
    assert answer.status_code == 400, answer.text
    text = answer.json()["text"]
    assert "'callback_url'" in text
    assert "--allow-callbacks-to" in text
    assert f"/sandbox/inbox/{learner.plan_id}" in text
    assert learner.batch_count() == 0


@pytest.mark.parametrize("field", ["callback_url", "mo_callback_url"])
def test_plan_callback_urls_are_refused_too(learner, field):
    answer = learner.control(
        "POST", f"/plans/{learner.plan_id}", json={field: "http://169.254.169.254/x"}
    )
    assert answer.status_code == 400
    assert f"'{field}'" in answer.json()["text"]
    assert "link-local" in answer.json()["text"]


def test_updating_or_replacing_a_batch_is_checked(learner):
    batch = learner.send(to=["447700900001"], send_at="2099-01-01T00:00:00Z")
    update = learner.post(f"/batches/{batch['id']}", json={"callback_url": "http://10.1.1.1/"})
    assert update.status_code == 400
    replace = learner.put(
        f"/batches/{batch['id']}",
        json={"to": ["447700900001"], "body": "x", "callback_url": "http://[::1]/"},
    )
    assert replace.status_code == 400
    assert "loopback" in replace.json()["text"]


def test_a_public_callback_url_is_accepted(learner):
    learner.send(to=["447700900001"], callback_url="http://93.184.216.34/hook")
    learner.configure(mo_callback_url="https://93.184.216.34/mo")


def test_the_embedded_sandbox_posts_to_loopback(plan):
    """``build()``'s defaults (one learner, on loopback): no guard, so 127.0.0.1 receivers work."""
    with Receiver() as hook:
        plan.send(to=["447700900001"], delivery_report="summary", callback_url=hook.url)
        assert hook.wait_for(1)


def test_an_allowed_range_is_posted_to():
    with running(callback_allow=["127.0.0.0/8"]) as sandbox, Receiver() as hook:
        plan = next(new_plan(sandbox))
        plan.send(to=["447700900001"], delivery_report="summary", callback_url=hook.url)
        assert hook.wait_for(1)[0]["type"] == "delivery_report_sms"
        refused = plan.post(
            "/batches",
            json={
                "to": ["447700900001"],
                "body": "x",
                "from": "447700900999",
                "callback_url": "http://10.0.0.1/",
            },
        )
        assert refused.status_code == 400


def test_the_worker_refuses_too_when_dns_changed_after_sending(learner, room):
    """A URL that was public when given may resolve to a private address later; the worker
    checks again and gives up, with the reason as the callback's last error."""
    room.backend.plans.configure(learner.plan_id, callback_url="http://127.0.0.1:9/later")
    learner.send(to=["447700900001"], delivery_report="summary")
    (callback,) = wait_until(
        lambda: [c for c in plan_callbacks(learner) if c["state"] == "failed"],
        what="a refused callback",
    )
    assert callback["attempts"] == 1
    assert callback["last_error"].startswith("Refused: 127.0.0.1 is a loopback address")


def test_a_connection_to_a_refused_peer_sends_nothing():
    """The last line: whatever DNS said before, the socket's peer is checked before a byte."""
    guard = CallbackGuard([])
    with Receiver() as hook, requests.Session() as session:
        session.mount("http://", guard.adapter())
        with pytest.raises(CallbackRefused, match="loopback"):
            session.post(hook.url, json={}, timeout=5)
        assert hook.attempts == 0


def test_the_command_line_takes_allowed_ranges():
    assert arguments(
        ["--allow-callbacks-to", "10.1.2.3/8", "--allow-callbacks-to", "::1"]
    ).allow_callbacks_to == ["10.0.0.0/8", "::1/128"]
    assert arguments([]).allow_callbacks_to is None
    with pytest.raises(SystemExit):
        arguments(["--allow-callbacks-to", "not-a-range"])


# ================================================================ fairness
@contextlib.contextmanager
def silent_receiver() -> Iterator[str]:
    """A URL whose server accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/never"
    finally:
        stop.set()
        thread.join()
        for sock in [*held, server]:
            sock.close()


def thousand_numbers() -> list[str]:
    return [f"4477009{n:05d}" for n in range(1000)]


def test_a_flooding_plan_does_not_delay_another(capsys):
    """Plan A: a receiver that never answers and 1,000 per-recipient reports (3,000 callbacks).
    Plan B: one summary to a normal receiver. B's arrives as if A were not there."""
    with running() as sandbox, silent_receiver() as never, Receiver() as hook:
        flooder, quiet = new_plan(sandbox), new_plan(sandbox)
        a, b = next(flooder), next(quiet)
        a.send(to=thousand_numbers(), delivery_report="per_recipient", callback_url=never)
        wait_until(lambda: a.sandbox.backend.outbox.listing(a.plan_id), what="A's callbacks")
        started = time.monotonic()
        b.send(to=["447700900001"], delivery_report="summary", callback_url=hook.url)
        hook.wait_for(1, timeout=10)
        delay = time.monotonic() - started
        states = {c.state for c in sandbox.backend.outbox.listing(a.plan_id)}
        with capsys.disabled():
            print(f"\n  B's callback arrived {delay * 1000:.0f} ms after sending, A flooding")
    assert delay < 1.5
    assert "pending" in states or "sending" in states  # A is still stuck on its receiver


def test_a_plans_callbacks_still_arrive_in_order(plan):
    with Receiver() as hook:
        plan.send(
            to=thousand_numbers()[:30], delivery_report="per_recipient", callback_url=hook.url
        )
        reports = hook.wait_for(90)
    by_number: dict[str, list[str]] = {}
    for report in reports:
        by_number.setdefault(report["recipient"], []).append(report["status"])
    assert set(map(tuple, by_number.values())) == {("Queued", "Dispatched", "Delivered")}


def backend() -> XmsBackend:
    config = SandboxConfig(callback_retry_base=1.0, callback_max_delay=30.0)
    return XmsBackend(Storage(), config, render_callback=responses.callback_body)


def queue_rows(store: XmsBackend, plan_id: str, count: int) -> None:
    with store.storage.write() as db:
        db.executemany(
            "INSERT INTO outbox (plan_id, kind, url, payload, next_at) VALUES (?, ?, ?, ?, 0)",
            [(plan_id, "delivery_report", "http://x/", "{}")] * count,
        )


def test_plans_take_turns_when_claiming():
    store = backend()
    queue_rows(store, "a", 50)
    queue_rows(store, "b", 1)
    queue_rows(store, "c", 3)
    claimed = store.outbox.claim(limit=100, per_plan=2)
    assert [c.plan_id for c in claimed] == ["a", "b", "c", "a", "c"]
    later = store.outbox.claim(limit=100, per_plan=2, busy=frozenset({"a"}), plans=1)
    assert [c.plan_id for c in later] == ["c"]


def test_retries_wait_at_most_the_cap():
    outbox = backend().outbox
    assert [outbox.retry_delay(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert outbox.retry_delay(10) == outbox.retry_delay(1000) == 30.0


def test_retries_follow_the_api_at_the_sandboxs_pace():
    """The API retries 5 s after a failure, then doubling, 15 times; a sandbox that delivers
    faster than the default pace retries faster in proportion."""
    standard = SandboxConfig()
    assert (standard.retry_base, standard.callback_max_attempts) == (5.0, 16)
    store = XmsBackend(Storage(), standard, render_callback=responses.callback_body)
    assert [store.outbox.retry_delay(n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    notebooks = SandboxConfig(timing=xms_sandbox.Timing(0.005, 0.02))
    assert notebooks.retry_base == pytest.approx(5.0 / 60)
    assert SandboxConfig(timing=xms_sandbox.Timing(0, 0)).retry_base == 0.05
    assert SandboxConfig(callback_retry_base=0.5).retry_base == 0.5


def test_a_failing_receiver_is_retried_after_5_s_then_doubling_at_the_sandboxs_pace():
    """At a twentieth of the default pace, the first retry comes after about 0.25 s and the
    next after about 0.5 s (the callback worker looks every 0.05 s)."""
    pace = xms_sandbox.Timing(0.015, 0.06)
    with xms_sandbox.start(timing=pace) as sandbox, Receiver(script=[500, 500]) as hook:
        plan = next(new_plan(sandbox))
        plan.send(to=["447700900001"], delivery_report="summary", callback_url=hook.url)
        times = []
        deadline = time.monotonic() + 10
        while len(times) < 3 and time.monotonic() < deadline:
            if hook.attempts > len(times):
                times.append(time.monotonic())
            time.sleep(0.005)
        hook.wait_for(1)
    first, second = times[1] - times[0], times[2] - times[1]
    assert 0.2 <= first < 0.6, first
    assert 0.45 <= second < 1.0, second
    assert second > 1.4 * first, (first, second)  # doubling


# ================================================================ bad rows
def test_the_worker_survives_poisoned_rows():
    with running(callback_max_attempts=4) as sandbox, Receiver() as hook:
        plan = next(new_plan(sandbox))
        store = sandbox.backend.storage
        inbox_url = f"{sandbox.url}/sandbox/inbox/{plan.plan_id}"
        with store.write() as db:
            db.executemany(
                "INSERT INTO outbox (plan_id, kind, url, payload, next_at) VALUES (?, ?, ?, ?, 0)",
                [
                    (plan.plan_id, "delivery_report", "http://[::1", "{}"),
                    (plan.plan_id, "delivery_report", inbox_url, "{not json"),
                ],
            )
            db.execute(
                "INSERT INTO batches (id, plan_id, created_at, modified_at, expire_at, "
                "callbacks_pending, data) VALUES ('BROKEN', ?, 0, 0, 9e9, 0, '{not json')",
                (plan.plan_id,),
            )
        plan.send(to=["447700900001"], delivery_report="summary", callback_url=hook.url)
        assert hook.wait_for(1)[0]["type"] == "delivery_report_sms"
        failed = wait_until(lambda: len(failed_of(plan)) == 3 and failed_of(plan), what="3")
    errors = sorted(c["last_error"] for c in failed)
    assert errors[0].startswith("Bad URL: InvalidURL")
    assert errors[1].startswith("Sandbox error: JSONDecodeError")
    assert errors[2].startswith("The delivery reports of this batch could not be made")


def failed_of(plan: PlanApi) -> list[dict]:
    return [c for c in plan_callbacks(plan) if c["state"] == "failed"]


# ================================================================ the inbox
def inbox_of(plan: PlanApi, **params) -> list[dict]:
    answer = plan.control("GET", f"/inbox/{plan.plan_id}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_callbacks_arrive_in_the_plans_inbox(learner, room):
    """The sandbox's own address is loopback, refused on a shared sandbox, except as the
    plan's own inbox: the worker stores those directly."""
    inbox_url = f"{room.url}/sandbox/inbox/{learner.plan_id}"
    learner.configure(callback_url=inbox_url, mo_callback_url=inbox_url)
    learner.send(
        to=["447700900001", "447700900002"],
        delivery_report="per_recipient",
        **{"from": "447700900100"},
    )
    entries = wait_until(lambda: len(inbox_of(learner)) >= 6 and inbox_of(learner), what="6")
    assert [e["type"] for e in entries] == ["recipient_delivery_report_sms"] * 6
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    assert entries[0]["body"]["status"] == "Delivered"
    learner.control("POST", "/handsets/447700900001/reply", json={"body": "STOP"})
    newest = wait_until(
        lambda: inbox_of(learner, limit=1)[0]["type"] == "mo_text" and inbox_of(learner, limit=1),
        what="the inbound",
    )
    assert newest[0]["body"]["body"] == "STOP"
    assert all(c["state"] == "done" for c in plan_callbacks(learner))


def test_the_inbox_is_the_plans_own(learner, neighbour, instructor, room):
    path = f"{room.url}/sandbox/inbox/{learner.plan_id}"
    assert neighbour.session.get(path, timeout=5).status_code == 403
    assert requests.get(path, timeout=5).status_code == 401
    assert instructor.get(path, timeout=5).status_code == 200


def test_only_the_plan_and_the_instructor_post_to_its_inbox(learner, neighbour, instructor, room):
    path = f"{room.url}/sandbox/inbox/{learner.plan_id}"
    forged = {"type": "delivery_report_sms", "status": "Failed"}
    assert requests.post(path, json=forged, timeout=5).status_code == 401
    assert neighbour.session.post(path, json=forged, timeout=5).status_code == 403
    assert inbox_of(learner) == []
    mine = learner.control("POST", f"/inbox/{learner.plan_id}", json={"type": "custom", "n": 1})
    assert mine.status_code == 200
    assert learner.control("POST", f"/inbox/{learner.plan_id}", json=[1]).status_code == 400
    assert instructor.post(path, json={"n": 2}, timeout=5).status_code == 200
    nobody = f"{room.url}/sandbox/inbox/nobody"
    assert instructor.post(nobody, json={}, timeout=5).status_code == 404
    assert [e["body"] for e in inbox_of(learner)] == [{"n": 2}, {"type": "custom", "n": 1}]
    assert learner.control("DELETE", f"/inbox/{learner.plan_id}").status_code == 200
    assert inbox_of(learner) == []


def test_the_reset_empties_every_inbox(instructor):
    with running() as sandbox:
        plan = next(new_plan(sandbox))
        assert plan.control("POST", f"/inbox/{plan.plan_id}", json={"n": 1}).status_code == 200
        assert instructor.post(f"{sandbox.url}/sandbox/reset", timeout=5).status_code == 200
        assert inbox_of(plan) == []


def test_an_inbox_keeps_the_last_500():
    inbox = CallbackInbox(Storage(), clock=time.time)
    for n in range(510):
        inbox.keep("p", {"n": n})
    inbox.keep("q", {"n": 0})
    kept = inbox.newest("p")
    assert len(kept) == 500
    assert kept[0].body == {"n": 509}
    assert kept[-1].body == {"n": 10}
    assert len(inbox.newest("q")) == 1
