"""Fault injection and request-rate limiting, observed by a real HTTP client."""

from __future__ import annotations

import time

import pytest
import requests


@pytest.mark.parametrize("status", [429, 500, 503])
def test_next_requests_answer_the_injected_status(plan, status):
    plan.fault(kind="status", status=status, count=2)
    answers = [plan.get("/batches").status_code for _ in range(3)]
    assert answers == [status, status, 200]
    assert plan.batch_count() == 0


def test_faults_can_target_a_method_and_path(plan):
    plan.fault(kind="status", status=503, method="POST", path="/batches")
    assert plan.get("/batches").status_code == 200
    assert (
        plan.post("/batches", json={"to": ["447700900001"], "from": "1", "body": "x"}).json()[
            "code"
        ]
        == "sandbox_fault"
    )
    assert plan.batch_count() == 0  # refused before any work


def test_latency_delays_the_answer(plan):
    plan.fault(kind="latency", seconds=0.3)
    started = time.monotonic()
    assert plan.get("/batches").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_timeout_processes_then_answers_too_late(plan):
    plan.fault(kind="timeout", seconds=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        plan.session.post(
            plan.base + "/batches",
            json={"to": ["447700900001"], "from": "1", "body": "x"},
            timeout=0.3,
        )
    assert plan.batch_count() == 1  # the batch exists although the client never heard


def test_drop_processes_then_closes_the_connection(plan):
    plan.fault(kind="drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        plan.post("/batches", json={"to": ["447700900001"], "from": "1", "body": "x"})
    assert plan.batch_count() == 1
    assert plan.get("/batches").status_code == 200  # the server carries on


def test_faults_are_listed_and_cleared(plan):
    plan.fault(kind="status", status=500, count=5)
    listed = plan.control("GET", "/faults").json()
    assert [f["status"] for f in listed] == [500]  # only the plan's own
    plan.control("DELETE", "/faults", params={"plan_id": plan.plan_id})
    assert plan.get("/batches").status_code == 200


def test_clearing_one_plans_faults_leaves_the_others(plan, other_plan):
    plan.fault(kind="status", status=500, count=5)
    other_plan.fault(kind="status", status=503, count=5)
    plan.control("DELETE", "/faults", params={"plan_id": plan.plan_id})
    assert plan.get("/batches").status_code == 200
    assert other_plan.get("/batches").status_code == 503
    other_plan.control("DELETE", "/faults", params={"plan_id": other_plan.plan_id})


def test_bad_fault_requests_are_400(sandbox, instructor):
    bad = (
        {"kind": "explode"},
        {"kind": "status", "count": "many"},
        [1],
        {"kind": "status", "count": 0},
        {"kind": "latency", "seconds": -1},
    )
    for body in bad:
        answer = instructor.post(f"{sandbox.url}/sandbox/faults", json=body, timeout=5)
        assert answer.status_code == 400, answer.text


def test_request_rate_limit_answers_429_with_retry_after(plan):
    plan.configure(requests_per_second=2)
    answers = [plan.get("/batches") for _ in range(4)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert limited[0].headers["Retry-After"] == "1"
    assert limited[0].json()["code"] == "too_many_requests"
    time.sleep(1.0)
    assert plan.get("/batches").status_code == 200
