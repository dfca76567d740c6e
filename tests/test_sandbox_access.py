"""One learner against another on a shared sandbox: every attempt on another learner's plan is
refused and the victim carries on as before. The instructor's token opens everything."""

from __future__ import annotations

import hashlib
import sqlite3
import stat

import pytest
import requests

import sinch_helpers as sh
import xms_sandbox
from sinch_helpers_machinery import sandbox_controls

from conftest import INSTRUCTOR


@pytest.fixture
def victim(plan):
    """Learner A: a plan with a message on a phone, a reply in its inbox and a callback URL."""
    plan.configure(callback_url="http://127.0.0.1:9/a-secret-hook")
    plan.send(to=["447700900001"], body="PIN 4821 for Alice", **{"from": "447700900100"})
    plan.control("POST", "/handsets/447700900001/reply", json={"body": "thanks"})
    return plan


def as_attacker(attacker, method: str, path: str, **kwargs) -> requests.Response:
    """Learner B, with B's own valid token, aiming at A."""
    return attacker.control(method, path, **kwargs)


def still_fine(victim) -> None:
    assert victim.get("/batches").status_code == 200
    phone = victim.control("GET", "/handsets/447700900001", params={"plan_id": victim.plan_id})
    assert "PIN 4821 for Alice" in phone.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/handsets/447700900001", None),
        ("GET", "/phones/447700900001", None),
        ("GET", "/callbacks", None),
        ("POST", "/plans/{a}", {"requests_per_second": 0.001}),
        ("POST", "/plans/{a}", {"callback_url": "http://127.0.0.1:9/b"}),
        ("POST", "/plans", {"id": "{a}", "token": "taken-over"}),
        ("POST", "/faults", {"kind": "status", "status": 500, "plan_id": "{a}"}),
        ("POST", "/faults", {"kind": "status", "status": 500}),
        ("DELETE", "/faults", None),
        ("POST", "/handsets/447700900001/reply", {"body": "YES", "service_plan_id": "{a}"}),
        ("POST", "/reset", None),
    ],
)
def test_a_learner_cannot_touch_another_learners_plan(victim, other_plan, method, path, body):
    a = victim.plan_id
    params = {"plan_id": a}
    json_body = {k: (v.format(a=a) if isinstance(v, str) else v) for k, v in (body or {}).items()}
    answer = as_attacker(
        other_plan, method, path.format(a=a), params=params, json=json_body or None
    )
    assert answer.status_code in (401, 403), (answer.status_code, answer.text)
    assert "PIN 4821" not in answer.text
    assert "a-secret-hook" not in answer.text
    still_fine(victim)


def test_without_any_token_only_the_outcome_table_is_public(victim):
    base = f"{victim.sandbox.url}/sandbox"
    for path in ("/plans", "/handsets", "/handsets/447700900001", "/phones", "/callbacks"):
        answer = requests.get(base + path, params={"plan_id": victim.plan_id}, timeout=5)
        assert answer.status_code == 401, path
    assert requests.get(f"{base}/outcomes", timeout=5).status_code == 200
    index = requests.get(f"{base}/", timeout=5).json()
    assert victim.plan_id not in str(index)


@pytest.mark.usefixtures("victim")
def test_a_learner_sees_only_their_own_phones_and_plans(other_plan):
    other_plan.send(to=["447700900002"], body="Bob's news", **{"from": "447700900100"})
    mine = other_plan.control("GET", "/handsets").json()
    assert "447700900002" in mine
    assert "447700900001" not in mine
    wall = other_plan.control("GET", "/phones").text
    assert "Bob&#39;s news" in wall
    assert "PIN 4821" not in wall
    plans = other_plan.control("GET", "/plans").json()
    assert [p["id"] for p in plans] == [other_plan.plan_id]


def test_the_phones_page_opens_with_its_key_in_a_browser(victim):
    key = sandbox_controls.phones_key(victim.token)
    url = f"{victim.sandbox.url}/sandbox/phones"
    page = requests.get(url, params={"plan_id": victim.plan_id, "key": key}, timeout=5)
    assert "PIN 4821 for Alice" in page.text
    assert 'name="viewport"' in page.text  # real phones in the room open it too
    wrong = requests.get(url, params={"plan_id": victim.plan_id, "key": "0" * 24}, timeout=5)
    assert wrong.status_code == 401
    # The key opens the phones page and nothing else.
    handsets = requests.get(
        f"{victim.sandbox.url}/sandbox/handsets/447700900001",
        params={"plan_id": victim.plan_id, "key": key},
        timeout=5,
    )
    assert handsets.status_code == 401


def test_the_instructor_sees_the_wall_labelled_by_plan(victim, other_plan, instructor):
    other_plan.send(to=["447700900002"], body="Bob's news", **{"from": "447700900100"})
    url = f"{victim.sandbox.url}/sandbox/phones"
    wall = requests.get(url, params={"key": INSTRUCTOR}, timeout=5).text
    assert "PIN 4821 for Alice" in wall
    assert "Bob&#39;s news" in wall  # what a learner typed reaches the wall escaped
    assert f"· {other_plan.plan_id}</span>" in wall  # each message says whose it is
    assert victim.plan_id in wall
    assert other_plan.plan_id in wall
    only_b = instructor.get(url, params={"plan_id": other_plan.plan_id}, timeout=5).text
    assert "PIN 4821" not in only_b
    in_a_browser = {"plan_id": other_plan.plan_id, "key": INSTRUCTOR}
    narrowed = requests.get(url, params=in_a_browser, timeout=5)
    assert narrowed.status_code == 200
    assert "PIN 4821" not in narrowed.text
    plans = instructor.get(f"{victim.sandbox.url}/sandbox/plans", timeout=5).json()
    assert {victim.plan_id, other_plan.plan_id} <= {p["id"] for p in plans}


def test_only_the_instructor_replaces_a_token_and_resets():
    with xms_sandbox.start(plans={"a": "token-a"}, instructor_token="boss") as room:
        base = f"{room.url}/sandbox"
        boss = {"Authorization": "Bearer boss"}
        replaced = requests.post(
            f"{base}/plans", json={"id": "a", "token": "token-new"}, headers=boss, timeout=5
        )
        assert replaced.status_code == 201
        send = f"{room.url}/xms/v1/a/batches"
        body = {"to": ["447700900001"], "from": "447700900100", "body": "hi"}
        old = requests.post(send, json=body, headers={"Authorization": "Bearer token-a"})
        assert old.status_code == 401
        new = requests.post(send, json=body, headers={"Authorization": "Bearer token-new"})
        assert new.status_code == 201
        assert requests.post(f"{base}/reset", headers=boss, timeout=5).json() == {"reset": True}
        assert room.backend.batches.count("a") == 0
        again = requests.post(send, json=body, headers={"Authorization": "Bearer token-new"})
        assert again.status_code == 201  # plans and tokens survive a reset


def test_tokens_are_stored_as_hashes_in_a_file_only_its_owner_reads(tmp_path):
    database = tmp_path / "room.sqlite3"
    with xms_sandbox.start(db=database, plans={"a": "token-a"}):
        pass
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    with sqlite3.connect(database) as db:
        (stored,) = db.execute("SELECT token FROM plans WHERE id = 'a'").fetchone()
    assert "token-a" not in stored
    assert stored == "sha256:" + hashlib.sha256(b"token-a").hexdigest()


def test_shared_plans_get_random_tokens_and_jovyans_get_different_plans(
    monkeypatch, tmp_path, clean_env
):
    """Two learners who are both `jovyan` (Binder, many hubs), each with their own home."""
    seen = []
    for home in ("home-1", "home-2"):
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / home))
        monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
        seen.append(sandbox_controls.shared_sandbox_plan({}, "http://room:8765"))
    (plan_1, token_1), (plan_2, token_2) = seen
    assert plan_1 != plan_2
    assert token_1 != token_2
    assert hashlib.sha256(f"sandbox:{plan_1}".encode()).hexdigest()[:32] != token_1
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "home-1"))
    assert sandbox_controls.shared_sandbox_plan({}, "http://room:8765") == seen[0]  # remembered
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    assert sandbox_controls.shared_sandbox_plan({}, "http://room:8765")[0] == "ada"
    assert clean_env


def test_a_shared_sandbox_client_names_its_setting_in_hints(monkeypatch, clean_env, capsys):
    with xms_sandbox.start(open_plans=True) as room:
        monkeypatch.setenv("SINCH_SANDBOX_URL", room.xms_url)
        monkeypatch.setenv("SINCH_SANDBOX_PLAN", "taken")
        monkeypatch.setenv("XDG_STATE_HOME", str(clean_env / "state"))
        room.backend.plans.add("taken", "someone-elses-token")
        client = sh.connect()
        assert "key=" in capsys.readouterr().out
        with pytest.raises(sh.AuthenticationError) as error:
            client.get_batch("x")
        assert "SINCH_SANDBOX_URL" in error.value.hint
        assert "SINCH_REGION" not in error.value.hint


def test_a_refusal_says_whether_a_token_came(victim, other_plan):
    url = f"{victim.sandbox.url}/sandbox/handsets/447700900001"
    bare = requests.get(url, params={"plan_id": victim.plan_id}, timeout=5)
    assert bare.status_code == 401
    assert "send your plan's API token" in bare.json()["text"]
    wrong = other_plan.control("GET", "/handsets/447700900001", params={"plan_id": victim.plan_id})
    assert wrong.status_code == 401
    assert wrong.json()["text"].startswith("Reading a phone's messages: the token (or key) sent")
    settings = other_plan.control("POST", f"/plans/{victim.plan_id}", json={"callback_url": None})
    assert settings.status_code == 403
    assert f"Only the owner of plan '{victim.plan_id}'" in settings.json()["text"]


def test_an_empty_wall_says_so():
    with xms_sandbox.start(instructor_token=INSTRUCTOR) as empty:
        page = requests.get(f"{empty.url}/sandbox/phones", params={"key": INSTRUCTOR}, timeout=5)
    assert "No phones yet" in page.text


def test_a_plan_is_made_only_with_a_name_a_url_carries(sandbox, instructor):
    url = f"{sandbox.url}/sandbox/plans"
    bad = instructor.post(url, json={"id": "a b", "token": "t0123456789"}, timeout=5)
    assert bad.status_code == 400
    assert "e.g. 'a-b'" in bad.json()["text"]
    assert sandbox.backend.plans.find("a b") is None


def test_on_an_open_sandbox_a_control_may_be_a_plans_first_use():
    """Notebook 07 clears its plan's faults before it sends anything: on a room sandbox that
    may be the learner's first request, and it makes the plan as a send would."""
    with xms_sandbox.start(open_plans=True) as room:

        def control(method: str, path: str, plan_id: str, token: str) -> requests.Response:
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{room.url}/sandbox{path}"
            return requests.request(
                method, url, params={"plan_id": plan_id}, headers=headers, timeout=5
            )

        first = control("DELETE", "/faults", "newcomer", "newcomer-token-0123")
        assert first.status_code == 200
        plan = room.backend.plans.find("newcomer")
        assert plan is not None
        other = control("GET", "/handsets", "newcomer", "someone-else-4567")
        assert other.status_code == 401  # the first use took it, as on the API
        odd = control("DELETE", "/faults", "a b", "t0123456789")
        assert odd.status_code == 401
        assert "e.g. 'a-b'" in odd.json()["text"]  # and says which name would do
        assert room.backend.plans.find("a b") is None
