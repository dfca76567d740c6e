"""Shared fixtures: one real sandbox server per test session, a fresh service plan per test."""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

import xms_sandbox

# The embedded sandbox keeps a per-user database by default; tests (and the notebook kernels
# they start, which inherit this) keep theirs in memory unless a test says otherwise.
os.environ["SINCH_SANDBOX_DB"] = ":memory:"
# What the helpers keep per user (a remembered plan, unfinished bulk sends) goes to a folder of
# the test run's own, never to the home of whoever runs the tests.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="sinch-tests-state-")

_plan_numbers = itertools.count(1)
#: The instructor token of the session's sandbox.
INSTRUCTOR = "instructor-" + secrets.token_hex(12)


@dataclass
class PlanApi:
    """A service plan on the sandbox and a session that speaks for it."""

    sandbox: xms_sandbox.Sandbox
    plan_id: str
    token: str
    session: requests.Session

    @property
    def base(self) -> str:
        return f"{self.sandbox.url}/xms/v1/{self.plan_id}"

    @property
    def endpoint(self) -> str:
        """The endpoint as the legacy client and the tutorial write it."""
        return f"{self.sandbox.url}/xms"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=10, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def send(self, **fields) -> dict:
        """Send a batch that must be accepted; returns the batch JSON."""
        body = {"from": "447700900999", "body": "Hello", **fields}
        answer = self.post("/batches", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def control(self, method: str, path: str, **kwargs) -> requests.Response:
        """A request to the sandbox's own ``/sandbox/...`` routes, with this plan's token."""
        return self.session.request(
            method, f"{self.sandbox.url}/sandbox{path}", timeout=10, **kwargs
        )

    def configure(self, **settings) -> None:
        answer = self.control("POST", f"/plans/{self.plan_id}", json=settings)
        assert answer.status_code == 200, answer.text

    def fault(self, **spec) -> None:
        answer = self.control("POST", "/faults", json={"plan_id": self.plan_id, **spec})
        assert answer.status_code == 201, answer.text

    def batch_count(self) -> int:
        return self.sandbox.backend.batches.count(self.plan_id)


@pytest.fixture(scope="session")
def sandbox():
    """A real sandbox over HTTP with near-instant delivery; INSTRUCTOR opens all its controls."""
    with xms_sandbox.start(
        timing=xms_sandbox.Timing(0, 0),
        callback_retry_base=0.05,
        callback_max_attempts=4,
        instructor_token=INSTRUCTOR,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def instructor(sandbox) -> Iterator[requests.Session]:  # noqa: ARG001 (started first)
    """A session that speaks to the sandbox's controls as the instructor."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {INSTRUCTOR}"
        yield session


def new_plan(sandbox: xms_sandbox.Sandbox) -> Iterator[PlanApi]:
    plan_id = f"plan{next(_plan_numbers)}"
    token = secrets.token_hex(16)
    sandbox.backend.plans.add(plan_id, token)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    yield PlanApi(sandbox, plan_id, token, session)
    session.close()


@pytest.fixture
def plan(sandbox) -> Iterator[PlanApi]:
    yield from new_plan(sandbox)


@pytest.fixture
def other_plan(sandbox) -> Iterator[PlanApi]:
    """A second learner's plan on the same sandbox."""
    yield from new_plan(sandbox)


@pytest.fixture
def slow_sandbox():
    """A sandbox where dispatch takes a while, for scheduling, cancel and update tests."""
    with xms_sandbox.start(timing=xms_sandbox.Timing(30, 30)) as running:
        yield running


@pytest.fixture
def slow_plan(slow_sandbox) -> Iterator[PlanApi]:
    token = secrets.token_hex(16)
    slow_sandbox.backend.plans.add("slow", token)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    yield PlanApi(slow_sandbox, "slow", token, session)
    session.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def client(plan):
    """The helpers' client for a fresh plan on the session sandbox (fast retries for tests)."""
    import sinch_helpers as sh

    credentials = sh.Credentials(plan.plan_id, plan.token, base_url=plan.sandbox.url)
    made = sh.SmsClient(credentials, timeout=5, retries=3, backoff=0.01, sandbox=True)
    yield made
    made.close()


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No SINCH_* variables and a working folder without a .env file."""
    import os

    for name in list(os.environ):
        if name.startswith("SINCH_") and name != "SINCH_SANDBOX_DB":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
