"""The sandbox as a JupyterHub service (``xms_sandbox.hub``, ``docs/jupyterhub.md``).

Unit tests run everywhere, against a fake Hub API. The integration tests start a real JupyterHub
(with ``tests/hub/jupyterhub_config.py``) on loopback, the sandbox as its managed service, and
speak to the service through the Hub's proxy with each user's own Hub token. They need
``jupyterhub`` and ``configurable-http-proxy``: on the PATH, or named by ``XMS_TEST_JUPYTERHUB``
and ``XMS_TEST_CHP`` (JupyterHub may live in a virtualenv of its own; the service runs with this
interpreter). Without them they are skipped, and say so.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import xms_sandbox
from sinch_helpers_machinery import sandbox_controls
from sinch_helpers_machinery.settings import first_setting
from xms_sandbox import hub

REPO = Path(__file__).resolve().parent.parent
HUB_CONFIG = Path(__file__).resolve().parent / "hub" / "jupyterhub_config.py"
JUPYTERHUB = os.environ.get("XMS_TEST_JUPYTERHUB") or shutil.which("jupyterhub")
CHP = os.environ.get("XMS_TEST_CHP") or shutil.which("configurable-http-proxy")
SERVICE = "sms-sandbox"

needs_hub = pytest.mark.skipif(
    not (JUPYTERHUB and CHP),
    reason="needs JupyterHub and configurable-http-proxy: `pip install jupyterhub` (any "
    "virtualenv) and `npm install configurable-http-proxy`, then put them on the PATH or set "
    "XMS_TEST_JUPYTERHUB and XMS_TEST_CHP to the two programs",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# ---------------------------------------------------------------- a fake Hub API (unit tests)
class FakeHub:
    """Answers ``GET /hub/api/user`` from a table of tokens, and counts the questions."""

    def __init__(self, users: Mapping[str, dict]) -> None:
        self.users = dict(users)
        self.asked = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.asked += 1
                token = self.headers.get("Authorization", "").removeprefix("token ")
                model = fake.users.get(token) if self.path == "/hub/api/user" else None
                body = json.dumps(model or {"status": 403}).encode()
                self.send_response(200 if model else 403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api_url = f"http://127.0.0.1:{self.server.server_address[1]}/hub/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def user_model(name: str, *, admin: bool = False, scoped: bool = True, **more: object) -> dict:
    scopes = [f"read:users:name!user={name}"]
    if scoped:
        scopes.append(f"access:services!service={SERVICE}")
    return {"kind": "user", "name": name, "admin": admin, "groups": [], "scopes": scopes, **more}


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    fake = FakeHub(
        {
            "alice-token": user_model("alice"),
            "bob-token": user_model("bob"),
            "teacher-token": user_model("teacher", admin=True),
            "ta-token": user_model("ta", groups=["instructors"]),
            "unscoped-token": user_model("carol", scoped=False),
            "service-token": {"kind": "service", "name": "other", "scopes": ["access:services"]},
        }
    )
    yield fake
    fake.close()


@pytest.fixture
def hub_sandbox(fake_hub: FakeHub) -> Iterator[tuple[xms_sandbox.Sandbox, str]]:
    """A sandbox installed as a Hub service under /services/sms-sandbox/, asking ``fake_hub``."""
    running = xms_sandbox.build(timing=xms_sandbox.Timing(0, 0), plans={"local": "local-token"})
    tokens = hub.HubTokens(fake_hub.api_url, SERVICE, instructor_group="instructors")
    hub.install(running, tokens, f"/services/{SERVICE}/")
    running.serve_in_thread()
    yield running, f"{running.url}/services/{SERVICE}"
    running.stop()


def call(method: str, url: str, token: str | None = None, **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, url, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def send(base: str, plan: str, token: str, number: str) -> requests.Response:
    body = {"from": "447700900999", "to": [number], "body": f"Hello from {plan}"}
    return call("POST", f"{base}/xms/v1/{plan}/batches", token, json=body)


def test_service_settings_come_from_the_hub_environment():
    settings = hub.service_settings(
        {
            "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api/",
            "JUPYTERHUB_SERVICE_NAME": SERVICE,
            "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:10101",
            "JUPYTERHUB_SERVICE_PREFIX": "/services/sms-sandbox/",
        }
    )
    assert settings == hub.ServiceSettings(
        SERVICE, "127.0.0.1", 10101, "/services/sms-sandbox/", "http://127.0.0.1:8081/hub/api"
    )
    with pytest.raises(hub.HubSetupError, match="JUPYTERHUB_SERVICE_URL"):
        hub.service_settings({"JUPYTERHUB_API_URL": "x", "JUPYTERHUB_SERVICE_NAME": "y"})


def test_the_flag_without_a_hub_says_what_is_missing():
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    ran = subprocess.run(
        [sys.executable, "-m", "xms_sandbox", "--jupyterhub-service", "--db", ":memory:"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert ran.returncode == 2
    assert "JUPYTERHUB_API_URL" in ran.stderr


def test_hub_tokens_open_their_users_plan_only(hub_sandbox):
    _, base = hub_sandbox
    assert send(base, "alice", "alice-token", "447700900101").status_code == 201
    assert send(base, "bob", "bob-token", "447700900102").status_code == 201
    assert send(base, "alice", "bob-token", "447700900103").status_code == 401
    assert send(base, "carol", "unscoped-token", "447700900104").status_code == 401
    assert send(base, "other", "service-token", "447700900105").status_code == 401
    assert call("GET", f"{base}/sandbox/handsets", "alice-token").json() == ["447700900101"]
    assert call("GET", f"{base}/sandbox/handsets", "bob-token").json() == ["447700900102"]
    assert call("GET", f"{base}/sandbox/handsets?plan_id=alice", "bob-token").status_code == 401
    # a plan of the sandbox's own still works, with its own token, beside the Hub's users
    assert send(base, "local", "local-token", "447700900106").status_code == 201


def test_hub_admins_and_the_instructors_group_see_the_wall(hub_sandbox):
    _, base = hub_sandbox
    send(base, "alice", "alice-token", "447700900111")
    send(base, "bob", "bob-token", "447700900112")
    send(base, "teacher", "teacher-token", "447700900113")  # an admin's own plan, too
    for token in ("teacher-token", "ta-token"):
        seen = call("GET", f"{base}/sandbox/handsets", token).json()
        assert {"447700900111", "447700900112", "447700900113"} <= set(seen)
        assert call("POST", f"{base}/sandbox/reset", "alice-token").status_code == 403
    wall = call("GET", f"{base}/sandbox/phones?key=teacher-token")
    assert wall.status_code == 200
    assert "447700900111" in wall.text
    assert "447700900112" in wall.text


def test_answers_are_cached_and_the_prefix_is_optional(hub_sandbox, fake_hub):
    running, base = hub_sandbox
    for _ in range(5):
        assert call("GET", f"{base}/sandbox/plans", "bob-token").status_code == 200
    assert call("GET", f"{running.url}/sandbox/plans", "bob-token").status_code == 200
    assert fake_hub.asked == 1


def test_an_unreachable_hub_is_a_503_not_a_401():
    tokens = hub.HubTokens(f"http://127.0.0.1:{free_port()}/hub/api", SERVICE, timeout=2)
    with xms_sandbox.build() as running:
        hub.install(running, tokens, "/services/sms-sandbox/")
        running.serve_in_thread()
        answer = send(running.url, "alice", "alice-token", "447700900121")
    assert answer.status_code == 503
    assert answer.json()["code"] == "hub_unavailable"


def test_a_revoked_hub_token_stops_opening_its_plan(fake_hub):
    """The plan keeps the Hub token (marked as the Hub's, so that the phones link opens), but
    the token opens the plan only while the Hub still vouches for it."""
    running = xms_sandbox.build(timing=xms_sandbox.Timing(0, 0))
    tokens = hub.HubTokens(fake_hub.api_url, SERVICE, cache_seconds=0.2, refusal_seconds=0.2)
    hub.install(running, tokens, f"/services/{SERVICE}/")
    running.serve_in_thread()
    try:
        base = f"{running.url}/services/{SERVICE}"
        assert send(base, "alice", "alice-token", "447700900131").status_code == 201
        stored = running.backend.plans.find("alice")
        assert stored is not None
        assert stored.token.startswith("hub-sha256:")
        key = sandbox_controls.phones_key("alice-token")
        page = call("GET", f"{base}/sandbox/phones?plan_id=alice&key={key}")
        assert page.status_code == 200
        del fake_hub.users["alice-token"]  # the Hub revokes it (alice's server stopped)
        time.sleep(0.3)
        assert send(base, "alice", "alice-token", "447700900132").status_code == 401
        assert call("GET", f"{base}/sandbox/handsets", "alice-token").status_code == 401
        named = call("GET", f"{base}/sandbox/handsets?plan_id=alice", "alice-token")
        assert named.status_code == 401
    finally:
        running.stop()


def test_the_cache_forgets_after_its_time():
    now = [0.0]
    tokens = hub.HubTokens("http://unused/hub/api", SERVICE, clock=lambda: now[0])
    answers = iter([hub.HubUser("alice"), None])
    tokens._ask = lambda _token: next(answers)  # type: ignore[method-assign]
    assert tokens.user_for("t") == hub.HubUser("alice")
    now[0] = 10.0
    assert tokens.user_for("t") == hub.HubUser("alice")  # cached
    now[0] = 31.0
    assert tokens.user_for("t") is None  # asked again


# ---------------------------------------------------------------- a real JupyterHub
@dataclass
class RunningHub:
    url: str
    admin_token: str
    password: str
    folder: Path

    @property
    def api(self) -> str:
        return f"{self.url}/hub/api"

    @property
    def service(self) -> str:
        return f"{self.url}/services/{SERVICE}"

    def admin(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"token {self.admin_token}"}
        return requests.request(method, self.api + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def user(self, name: str) -> dict:
        """The user's model, made first when the Hub does not know them yet (the config's
        ``admin_users`` and ``allowed_users`` are made at start)."""
        made = self.admin("POST", f"/users/{name}")
        assert made.status_code in (201, 409), made.text
        model: dict = self.admin("GET", f"/users/{name}").json()
        return model

    def token(self, name: str, scopes: list[str] | None = None) -> str:
        body: dict[str, object] = {"note": "tests/test_hub.py"}
        if scopes is not None:
            body["scopes"] = scopes
        answer = self.admin("POST", f"/users/{name}/tokens", json=body)
        assert answer.status_code == 201, answer.text
        token: str = answer.json()["token"]
        return token


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterHub exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def real_hub(tmp_path_factory) -> Iterator[RunningHub]:
    assert JUPYTERHUB
    assert CHP
    folder = tmp_path_factory.mktemp("hub")
    public = free_port()
    hub_bin = Path(JUPYTERHUB).parent
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("JUPYTERHUB_", "SINCH_", "XMS_"))
    }
    env.update(
        PATH=f"{hub_bin}{os.pathsep}{env.get('PATH', '')}",
        XMS_HUBTEST_DIR=str(folder),
        XMS_HUBTEST_PUBLIC_PORT=str(public),
        XMS_HUBTEST_HUB_PORT=str(free_port()),
        XMS_HUBTEST_PROXY_API_PORT=str(free_port()),
        XMS_HUBTEST_SERVICE_PORT=str(free_port()),
        XMS_HUBTEST_CHP=str(CHP),
        XMS_HUBTEST_PASSWORD=secrets.token_hex(8),
        XMS_HUBTEST_ADMIN_TOKEN=secrets.token_hex(24),
        XMS_HUBTEST_PYTHON=sys.executable,
        XMS_HUBTEST_REPO=str(REPO),
        XMS_HUBTEST_SINGLEUSER=str(hub_bin / "jupyterhub-singleuser"),
    )
    log = folder / "jupyterhub.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [JUPYTERHUB, "-f", str(HUB_CONFIG)],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its proxy and service are ours to stop with it
        )
    running = RunningHub(
        f"http://127.0.0.1:{public}",
        env["XMS_HUBTEST_ADMIN_TOKEN"],
        env["XMS_HUBTEST_PASSWORD"],
        folder,
    )
    try:
        wait_for(f"{running.api}/", process, log)
        wait_for(f"{running.service}/sandbox/outcomes", process, log)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)  # the Hub stops its proxy and its services
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(log.read_text()[-3000:])


@pytest.fixture(scope="module")
def room(real_hub: RunningHub) -> dict[str, str]:
    """alice, bob and the admin teacher on the Hub, and an API token of each."""
    for name in ("alice", "bob"):
        assert real_hub.user(name)["admin"] is False
    assert real_hub.user("teacher")["admin"] is True  # c.Authenticator.admin_users
    return {name: real_hub.token(name) for name in ("alice", "bob", "teacher")}


@needs_hub
def test_each_learner_sees_only_their_own_phones(real_hub, room):
    base = real_hub.service
    assert send(base, "alice", room["alice"], "447700900201").status_code == 201
    assert send(base, "bob", room["bob"], "447700900202").status_code == 201
    assert call("GET", f"{base}/sandbox/handsets", room["alice"]).json() == ["447700900201"]
    assert call("GET", f"{base}/sandbox/handsets", room["bob"]).json() == ["447700900202"]
    page = call("GET", f"{base}/sandbox/phones", room["alice"])
    assert page.status_code == 200
    assert "447700900201" in page.text
    assert "447700900202" not in page.text


@needs_hub
def test_bob_cannot_read_or_write_alices_plan(real_hub, room):
    base = real_hub.service
    send(base, "alice", room["alice"], "447700900211")
    assert send(base, "alice", room["bob"], "447700900212").status_code == 401
    assert call("GET", f"{base}/xms/v1/alice/batches", room["bob"]).status_code == 401
    assert call("GET", f"{base}/sandbox/handsets?plan_id=alice", room["bob"]).status_code == 401
    assert call("GET", f"{base}/sandbox/handsets/447700900211", room["bob"]).json() == []
    assert call("GET", f"{base}/sandbox/phones?plan_id=alice", room["bob"]).status_code == 401


@needs_hub
def test_the_admin_sees_the_wall_of_both(real_hub, room):
    base = real_hub.service
    send(base, "alice", room["alice"], "447700900221")
    send(base, "bob", room["bob"], "447700900222")
    seen = set(call("GET", f"{base}/sandbox/handsets", room["teacher"]).json())
    assert {"447700900221", "447700900222"} <= seen
    plans = {p["id"] for p in call("GET", f"{base}/sandbox/plans", room["teacher"]).json()}
    assert {"alice", "bob"} <= plans
    wall = requests.get(f"{base}/sandbox/phones", params={"key": room["teacher"]}, timeout=10)
    assert wall.status_code == 200
    assert "447700900221" in wall.text
    assert "447700900222" in wall.text
    assert "alice" in wall.text
    assert "bob" in wall.text


@needs_hub
def test_tokens_the_service_refuses(real_hub, room):
    base = real_hub.service
    assert send(base, "alice", "not-a-hub-token", "447700900231").status_code == 401
    narrow = real_hub.token("alice", scopes=["read:users:name!user=alice"])  # no service access
    assert send(base, "alice", narrow, "447700900232").status_code == 401
    assert send(base, "teacher", room["alice"], "447700900233").status_code == 401
    assert call("POST", f"{base}/sandbox/reset", room["alice"]).status_code == 403


@needs_hub
def test_the_phones_link_the_helpers_print_opens(real_hub, room):
    base = real_hub.service
    send(base, "alice", room["alice"], "447700900241")
    key = sandbox_controls.phones_key(room["alice"])
    page = requests.get(
        f"{base}/sandbox/phones", params={"plan_id": "alice", "key": key}, timeout=10
    )
    assert page.status_code == 200
    assert "447700900241" in page.text


def hub_shared_sandbox_plan(settings: Mapping[str, str], origin: str) -> tuple[str, str]:
    """``shared_sandbox_plan`` with the change proposed for the helpers (docs/jupyterhub.md):
    on a Hub whose spawner sets ``SINCH_SANDBOX_AUTH=jupyterhub``, the plan is the Hub user and
    the token the server's own ``JUPYTERHUB_API_TOKEN``."""
    user = first_setting(os.environ, "JUPYTERHUB_USER")
    token = first_setting(os.environ, "JUPYTERHUB_API_TOKEN")
    if first_setting(settings, "SINCH_SANDBOX_AUTH") == "jupyterhub" and user and token:
        return user, token
    return ORIGINAL_SHARED_SANDBOX_PLAN(settings, origin)


ORIGINAL_SHARED_SANDBOX_PLAN = sandbox_controls.shared_sandbox_plan


@needs_hub
def test_the_helpers_in_a_learners_kernel(real_hub, room, monkeypatch, capsys):
    """What a notebook on the Hub does, with the env the spawner gives its kernels."""
    import sinch_helpers

    monkeypatch.setattr(sandbox_controls, "shared_sandbox_plan", hub_shared_sandbox_plan)
    monkeypatch.setenv("SINCH_SANDBOX_URL", f"{real_hub.service}/xms")
    monkeypatch.setenv("SINCH_SANDBOX_AUTH", "jupyterhub")
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", room["bob"])
    for name in ("SINCH_SERVICE_PLAN_ID", "SINCH_API_TOKEN", "SINCH_SANDBOX_PLAN"):
        monkeypatch.delenv(name, raising=False)
    client = sinch_helpers.connect()
    assert f"the shared sandbox at {real_hub.service}/xms (plan bob)" in capsys.readouterr().out
    client.send_batch(["+447700900251"], "Hi from bob's kernel", "+447700900999")
    messages = client.sandbox.phone("+447700900251")
    assert list(messages["body"]) == ["Hi from bob's kernel"]
    assert (
        "447700900251"
        not in call("GET", f"{real_hub.service}/sandbox/handsets", room["alice"]).text
    )
