"""Callbacks into a real local receiver: every delivery_report mode, retries, inbound (MO)."""

from __future__ import annotations

import time

import pytest

from receiver import Receiver


def callbacks_of(plan) -> list[dict]:
    """The sandbox's record of the plan's callbacks, read over HTTP."""
    return plan.control("GET", "/callbacks", params={"plan_id": plan.plan_id}).json()


def wait_for_state(plan, state: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = callbacks_of(plan)
        if found and found[0]["state"] == state:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no callback reached {state!r}: {callbacks_of(plan)}")


@pytest.mark.parametrize("mode", ["summary", "full"])
def test_batch_report_callback_once_all_are_final(plan, mode):
    with Receiver() as hook:
        batch = plan.send(
            to=["447700900001", "447700900555"], delivery_report=mode, callback_url=hook.url
        )
        (report,) = hook.wait_for(1)
        time.sleep(0.2)
        assert len(hook.bodies) == 1
    assert report["type"] == "delivery_report_sms"
    assert report["batch_id"] == batch["id"]
    assert report["total_message_count"] == 2
    assert ("recipients" in report["statuses"][0]) == (mode == "full")


def test_per_recipient_reports_every_change(plan):
    with Receiver() as hook:
        plan.send(
            to=["447700900001", "447700900002"],
            delivery_report="per_recipient",
            callback_url=hook.url,
        )
        reports = hook.wait_for(6)
    by_number: dict[str, list[str]] = {}
    for report in reports:
        assert report["type"] == "recipient_delivery_report_sms"
        by_number.setdefault(report["recipient"], []).append(report["status"])
    assert by_number == {
        "447700900001": ["Queued", "Dispatched", "Delivered"],
        "447700900002": ["Queued", "Dispatched", "Delivered"],
    }


def test_per_recipient_final_reports_only_the_end(plan):
    plan.configure(callback_url="http://127.0.0.1:9/unused")
    with Receiver() as hook:
        plan.send(
            to=["447700900001", "447700900850"],
            delivery_report="per_recipient_final",
            callback_url=hook.url,
        )
        reports = hook.wait_for(2)
        time.sleep(0.2)
        assert len(hook.bodies) == 2
    assert sorted((r["recipient"], r["status"]) for r in reports) == [
        ("447700900001", "Delivered"),
        ("447700900850", "Aborted"),
    ]


def test_recipient_callbacks_carry_the_reports_fields(plan):
    with Receiver() as hook:
        plan.send(
            to=["447700900001"],
            body="x" * 200,
            max_number_of_message_parts=2,
            delivery_report="per_recipient_final",
            callback_url=hook.url,
        )
        (report,) = hook.wait_for(1)
    assert report["number_of_message_parts"] == 2
    assert "created_at" not in report


def test_plan_default_callback_url_is_used(plan):
    with Receiver() as hook:
        plan.configure(callback_url=hook.url)
        plan.send(to=["447700900001"], delivery_report="summary")
        assert hook.wait_for(1)[0]["type"] == "delivery_report_sms"


def test_failing_receiver_is_retried_with_backoff(plan):
    with Receiver(script=[500, 503, 429]) as hook:
        plan.send(to=["447700900001"], delivery_report="summary", callback_url=hook.url)
        hook.wait_for(1)
        assert hook.attempts == 4
    callback = wait_for_state(plan, "done")
    assert callback["attempts"] == 4


def test_client_errors_are_not_retried(plan):
    with Receiver(script=[400]) as hook:
        plan.send(to=["447700900001"], delivery_report="summary", callback_url=hook.url)
        assert wait_for_state(plan, "failed")["attempts"] == 1
        assert hook.attempts == 1


def test_receiver_down_gives_up_after_max_attempts(plan):
    plan.send(to=["447700900001"], delivery_report="summary", callback_url="http://127.0.0.1:9/x")
    state = wait_for_state(plan, "failed")
    assert state["attempts"] == 4
    assert "Connection" in state["last_error"]


def test_inbound_callback_when_plan_has_mo_url(plan):
    with Receiver() as hook:
        plan.configure(mo_callback_url=hook.url)
        plan.send(to=["447700900001"], **{"from": "447700900100"})
        plan.control("POST", "/handsets/447700900001/reply", json={"body": "STOP"})
        (inbound,) = hook.wait_for(1)
    assert inbound["type"] == "mo_text"
    assert inbound["body"] == "STOP"
    assert inbound["from"] == "447700900001"
    assert inbound["to"] == "447700900100"
