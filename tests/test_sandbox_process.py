"""The standalone server, persistence across restarts, and several processes on one database."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time

import pytest
import requests

import xms_sandbox
from xms_sandbox.__main__ import parse_plan, plans_from_env

from conftest import free_port
from sandbox_process import SandboxProcess

BODY = {"to": ["447700900001"], "from": "1", "body": "hello"}


def session_for(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_help_describes_the_options():
    result = subprocess.run(
        [sys.executable, "-m", "xms_sandbox", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--host", "--port", "--db", "--plan", "--open", "XMS_SANDBOX_PLANS"):
        assert option in result.stdout
    assert "--no-controls" in result.stdout
    assert "looks like the real Sinch API" in " ".join(result.stdout.split())


def test_plan_arguments():
    assert parse_plan("a:b:c") == ("a", "b:c")
    assert plans_from_env(" p1:t1 , p2:t2 ") == [("p1", "t1"), ("p2", "t2")]


def test_standalone_logs_each_request_and_stops_cleanly_on_ctrl_c(tmp_path):
    port = free_port()
    with SandboxProcess(
        port,
        "--db",
        str(tmp_path / "s.sqlite3"),
        "--plan",
        "cli:cli-token",
        env={"XMS_SANDBOX_PLANS": "env:env-token"},
    ) as server:
        for plan_id, token in (("cli", "cli-token"), ("env", "env-token")):
            answer = session_for(token).post(f"{server.url}/xms/v1/{plan_id}/batches", json=BODY)
            assert answer.status_code == 201
        code, output = server.stop()
    assert code == 0
    assert output.count(" POST /xms/v1/") == 2
    assert "POST /xms/v1/env/batches 201 " in output
    assert "Stopping." in output
    assert "cli-token" not in output
    assert "env-token" not in output


def test_open_mode_accepts_unknown_plans_on_first_use():
    limits = ("--requests-per-second", "1")
    with SandboxProcess(free_port(), "--db", ":memory:", "--open", *limits) as server:
        first = session_for("mine").post(f"{server.url}/xms/v1/anything/batches", json=BODY)
        assert first.status_code == 201
        other = session_for("not-mine").get(f"{server.url}/xms/v1/anything/batches")
        assert other.status_code == 401
        third = session_for("mine").get(f"{server.url}/xms/v1/anything/batches")
        assert third.status_code == 429  # the new plan got the command line's rate limit


CONTROL_PATHS = (
    ("GET", "/sandbox/"),
    ("GET", "/sandbox/plans"),
    ("POST", "/sandbox/plans"),
    ("GET", "/sandbox/outcomes"),
    ("POST", "/sandbox/faults"),
    ("GET", "/sandbox/handsets/447700900001"),
    ("GET", "/sandbox/phones"),
    ("GET", "/sandbox/callbacks"),
)


def assert_only_the_api_is_served(url: str, plan_id: str, token: str) -> None:
    """Every /sandbox/ path is a 404 like any unknown path; the API itself works."""
    for method, path in CONTROL_PATHS:
        answer = requests.request(method, url + path, json={}, timeout=10)
        assert answer.status_code == 404, (method, path, answer.status_code)
        assert answer.json()["code"] == "not_found"
        assert "sandbox" not in answer.json()["text"].replace(path, ""), answer.text
    sent = session_for(token).post(f"{url}/xms/v1/{plan_id}/batches", json=BODY)
    assert sent.status_code == 201, sent.text
    listed = session_for(token).get(f"{url}/xms/v1/{plan_id}/batches")
    assert listed.json()["count"] == 1


def test_without_controls_the_server_looks_like_the_real_api():
    """``build(controls=False)``: for live-mode tests that must not be able to tell."""
    with xms_sandbox.start(plans={"p": "t"}, controls=False) as server:
        assert_only_the_api_is_served(server.url, "p", "t")
    with xms_sandbox.start(plans={"p": "t"}) as server:  # the default keeps the controls
        assert requests.get(f"{server.url}/sandbox/", timeout=10).status_code == 200


def test_the_no_controls_flag_serves_only_the_api():
    with SandboxProcess(free_port(), "--db", ":memory:", "--plan", "p:t", "--no-controls") as one:
        assert_only_the_api_is_served(one.url, "p", "t")
        code, output = one.stop()
    assert code == 0
    assert "Phones:" not in output
    assert "No sandbox controls (--no-controls)" in output


def test_state_survives_a_restart(tmp_path):
    database = tmp_path / "state.sqlite3"
    with xms_sandbox.start(db=database, plans={"p": "t"}) as sandbox:
        batch = session_for("t").post(f"{sandbox.url}/xms/v1/p/batches", json=BODY).json()
    with xms_sandbox.start(db=database) as sandbox:
        again = session_for("t").get(f"{sandbox.url}/xms/v1/p/batches/{batch['id']}")
        assert again.status_code == 200
        assert again.json()["id"] == batch["id"]


def test_concurrent_senders_in_threads(sandbox):
    sandbox.backend.plans.add("threads", "tt")

    def send(_):
        session = session_for("tt")
        return [
            session.post(f"{sandbox.url}/xms/v1/threads/batches", json=BODY).json()["id"]
            for _ in range(15)
        ]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = [i for chunk in pool.map(send, range(8)) for i in chunk]
    assert len(set(ids)) == 120
    assert sandbox.backend.batches.count("threads") == 120


def test_two_processes_share_one_database(tmp_path):
    database = str(tmp_path / "shared.sqlite3")
    with (
        SandboxProcess(free_port(), "--db", database, "--plan", "p:t") as one,
        SandboxProcess(free_port(), "--db", database, "--plan", "p:t") as two,
    ):

        def send(url):
            session = session_for("t")
            return [
                session.post(f"{url}/xms/v1/p/batches", json=BODY).status_code for _ in range(30)
            ]

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            codes = [c for chunk in pool.map(send, [one.url, two.url] * 2) for c in chunk]
        assert codes == [201] * 120
        for server in (one, two):
            listed = session_for("t").get(f"{server.url}/xms/v1/p/batches?page_size=1").json()
            assert listed["count"] == 120


def test_two_processes_never_send_the_same_callback_twice(tmp_path):
    """Each process runs a callback worker on the shared database; claims keep them apart."""
    from receiver import Receiver

    database = str(tmp_path / "callbacks.sqlite3")
    timing = ("--dispatch-after", "0", "--deliver-after", "0")
    with (
        Receiver() as hook,
        SandboxProcess(free_port(), "--db", database, "--plan", "p:t", *timing) as one,
        SandboxProcess(free_port(), "--db", database, "--plan", "p:t", *timing) as two,
    ):
        session = session_for("t")
        for server in (one, two, one, two):
            body = {
                **BODY,
                "to": ["447700900001", "447700900002"],
                "delivery_report": "per_recipient",
                "callback_url": hook.url,
            }
            assert session.post(f"{server.url}/xms/v1/p/batches", json=body).status_code == 201
        reports = hook.wait_for(4 * 2 * 3)  # 4 batches x 2 recipients x 3 statuses
        time.sleep(0.5)
        assert len(hook.bodies) == 24
    seen = {(r["batch_id"], r["recipient"], r["status"]) for r in reports}
    assert len(seen) == 24


def test_a_busy_port_is_explained():
    with SandboxProcess(free_port(), "--db", ":memory:") as first:
        port = first.url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "xms_sandbox", "--port", port, "--db", ":memory:"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert second.returncode != 0
    assert "in use" in second.stderr
    assert "different port" in second.stderr
    assert "Traceback" not in second.stderr


def worker_processes(pid: int) -> int:
    """How many children the process has (Linux; -1 elsewhere)."""
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return -1
    count = 0
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat") as stat:
                count += stat.read().rpartition(")")[2].split()[1] == str(pid)
        except OSError:
            continue
    return count


@pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers forks (Linux, macOS)")
def test_workers_share_the_port_the_faults_and_the_rate_limits(tmp_path):
    """Each request below comes on a new connection, so the workers share them out."""
    database = str(tmp_path / "room.sqlite3")
    with SandboxProcess(
        free_port(), "--db", database, "--open", "--workers", "2", log=tmp_path / "log"
    ) as server:
        assert worker_processes(server.process.pid) in (2, -1)
        url, auth = f"{server.url}/xms/v1/room/batches", {"Authorization": "Bearer t"}
        assert requests.post(url, json=BODY, headers=auth, timeout=10).status_code == 201
        fault = {"plan_id": "room", "kind": "status", "status": 503, "count": 3}
        answer = requests.post(f"{server.url}/sandbox/faults", json=fault, headers=auth, timeout=10)
        assert answer.status_code == 201
        codes = [
            requests.post(url, json=BODY, headers=auth, timeout=10).status_code for _ in range(8)
        ]
        assert sorted(codes) == [201] * 5 + [503] * 3  # counted once, whichever worker answers
        limit = {"requests_per_second": 1}
        answer = requests.post(
            f"{server.url}/sandbox/plans/room", json=limit, headers=auth, timeout=10
        )
        assert answer.status_code == 200
        codes = [requests.get(url, headers=auth, timeout=10).status_code for _ in range(6)]
        assert codes.count(429) >= 4  # one bucket for the plan, not one per worker
        code, output = server.stop()
    assert code == 0
    assert "2 worker processes share the port and the database." in output
    assert "Stopping." in output


def test_workers_need_a_database_file():
    result = subprocess.run(
        [sys.executable, "-m", "xms_sandbox", "--db", ":memory:", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--workers needs a database file" in result.stderr


def test_a_room_sandbox_uses_every_core_by_itself_on_linux(tmp_path):
    """Without --workers: one process per core (at most 4) on Linux with a database file, where
    connections to one port are shared out evenly; one process elsewhere, and for :memory:."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    expected = min(cores, 4) if sys.platform.startswith("linux") else 1
    with SandboxProcess(free_port(), "--db", str(tmp_path / "room.sqlite3")) as server:
        if expected > 1:
            assert worker_processes(server.process.pid) == expected
        code, output = server.stop()
    assert code == 0
    if expected > 1:
        assert f"{expected} worker processes share the port and the database." in output
    else:
        assert "worker processes" not in output
    with SandboxProcess(free_port(), "--db", ":memory:") as server:
        code, output = server.stop()
    assert "worker processes" not in output
