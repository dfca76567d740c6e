"""Delivery reports and the simulated lifecycle: outcomes by number, scheduling, expiry, aborts."""

from __future__ import annotations

import datetime as dt
import time

import pytest

import xms_sandbox
from xms_sandbox.lifecycle import (
    CANCELLED,
    DISPATCHED,
    EXPIRED,
    OUTCOMES,
    QUEUED,
    Recipient,
    outcome_for,
    timeline,
)


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        ("447700900001", "Delivered", 0),
        ("447700900555", "Failed", 11),
        ("447700900650", "Expired", 201),
        ("447700900750", "Rejected", 61),
        ("447700900850", "Aborted", 402),
        ("447700900920", "Unknown", 114),
        ("15555550123", "Delivered", 0),
    ],
)
def test_every_outcome_range_ends_as_documented(plan, number, status, code):
    batch = plan.send(to=[number])
    report = plan.get(f"/batches/{batch['id']}/delivery_report/{number}").json()
    assert (report["status"], report["code"]) == (status, code)
    assert report["type"] == "recipient_delivery_report_sms"
    assert report["recipient"] == number


# Every (code, status) pair Sinch documents with a meaning, by source. The REST API's own codes
# come with their status (its delivery report code table: 2021 SMS guide, OpenAPI, SDKs); SMPP
# codes (sinch/docs sms-smpp-error-specification.md) come with the status whose definition
# fits: Failed "failed to be delivered", Expired "expired before delivery", Rejected "rejected
# by the SMSC", Unknown "no receipt, or one that could not be interpreted".
DOCUMENTED_PAIRS = {
    (0, "Delivered"): "0: no error",
    (400, "Queued"): "REST 400 Queued",
    (401, "Dispatched"): "REST 401 Dispatched",
    (402, "Aborted"): "REST 402 message unroutable",
    (405, "Aborted"): "REST 405 unmatched parameter",
    (406, "Aborted"): "REST 406 internal expiry",
    (407, "Cancelled"): "REST 407 cancelled (status Cancelled since the 2021 docs)",
    (411, "Aborted"): "REST 411 exceeded parts limit",
    (11, "Failed"): "SMPP 11 message not delivered (and clx-sdk-xms's own test pairs them)",
    (201, "Expired"): "SMPP 201 absent subscriber, IMSI detached (temporary)",
    (61, "Rejected"): "SMPP 61 destination blocked (screening)",
    (114, "Unknown"): "SMPP 114 unknown error (SMSC)",
    (0, "Unknown"): "SMPP 0 no error / unknown error: no receipt came",
}


def test_every_status_and_code_the_sandbox_gives_is_a_documented_pair():
    endings = [(o.code, o.status) for _, _, o in OUTCOMES]
    aborts = [(code, "Aborted") for code in (405, 406, 411)]
    steps = [QUEUED, DISPATCHED, CANCELLED, EXPIRED]
    for pair in [*endings, *aborts, *steps]:
        assert pair in DOCUMENTED_PAIRS, pair


def test_each_recipient_goes_queued_dispatched_final():
    recipient = Recipient("447700900001", 100.0, 101.0, 1000.0, 2.0)
    assert [(e.code, e.status, e.at) for e in timeline(recipient)] == [
        (400, "Queued", 100.0),
        (401, "Dispatched", 101.0),
        (0, "Delivered", 103.0),
    ]


def test_no_receipt_numbers_stay_dispatched_until_expiry_then_unknown():
    recipient = Recipient("447700900990", 0.0, 1.0, 50.0, 2.0)
    assert [(e.status, e.code) for e in timeline(recipient)] == [
        ("Queued", 400),
        ("Dispatched", 401),
        ("Unknown", 0),
    ]
    assert timeline(recipient)[-1].at == 50.0
    assert outcome_for("447700900990").receipt is False


def test_a_receipt_due_after_expiry_ends_expired():
    recipient = Recipient("447700900001", 0.0, 1.0, 2.0, 5.0)
    assert [(e.status, e.code, e.at) for e in timeline(recipient)][-1] == ("Expired", 201, 2.0)


def test_no_receipt_ends_unknown_over_http_without_an_operator_time(plan):
    expire = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.6)
    batch = plan.send(to=["447700900990"], expire_at=expire.isoformat())
    url = f"/batches/{batch['id']}/delivery_report/447700900990"
    assert plan.get(url).json()["status"] == "Dispatched"
    time.sleep(max(0.0, (expire - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
    report = plan.get(url).json()
    assert (report["status"], report["code"]) == ("Unknown", 0)
    assert "operator_status_at" not in report  # no receipt, so no time from one


def test_summary_and_full_reports_with_filters(plan):
    numbers = ["447700900001", "447700900002", "447700900555", "447700900750"]
    batch = plan.send(to=numbers, client_reference="campaign-7")
    summary = plan.get(f"/batches/{batch['id']}/delivery_report").json()
    assert summary == {
        "type": "delivery_report_sms",
        "batch_id": batch["id"],
        "total_message_count": 4,
        "statuses": [
            {"code": 0, "status": "Delivered", "count": 2},
            {"code": 11, "status": "Failed", "count": 1},
            {"code": 61, "status": "Rejected", "count": 1},
        ],
        "client_reference": "campaign-7",
    }
    full = plan.get(f"/batches/{batch['id']}/delivery_report?type=full&status=FAILED,rejected")
    assert [s["recipients"] for s in full.json()["statuses"]] == [
        ["447700900555"],
        ["447700900750"],
    ]
    by_code = plan.get(f"/batches/{batch['id']}/delivery_report", params=[("code", "0")]).json()
    assert [s["status"] for s in by_code["statuses"]] == ["Delivered"]
    bad_code = plan.get(f"/batches/{batch['id']}/delivery_report?code=abc")
    assert bad_code.status_code == 400


def test_recipient_report_accepts_raw_and_encoded_plus(plan):
    batch = plan.send(to=["447700900001"])
    for path in ("+447700900001", "%2B447700900001", "447700900001"):
        answer = plan.get(f"/batches/{batch['id']}/delivery_report/{path}")
        assert answer.status_code == 200
        assert answer.json()["recipient"] == "447700900001"
    stranger = plan.get(f"/batches/{batch['id']}/delivery_report/447700900002")
    assert stranger.status_code == 404


def test_missing_parameter_aborts_only_that_recipient_with_405(plan):
    batch = plan.send(
        to=["447700900001", "447700900002"],
        body="Hi ${name}",
        parameters={"name": {"447700900001": "Ann"}},
    )
    report = plan.get(f"/batches/{batch['id']}/delivery_report?type=full").json()
    assert report["statuses"] == [
        {"code": 0, "status": "Delivered", "count": 1, "recipients": ["447700900001"]},
        {"code": 405, "status": "Aborted", "count": 1, "recipients": ["447700900002"]},
    ]


def test_placeholder_without_any_parameters_aborts_everyone(plan):
    batch = plan.send(to=["447700900001"], body="Hi ${name}")
    report = plan.get(f"/batches/{batch['id']}/delivery_report").json()
    assert report["statuses"] == [{"code": 405, "status": "Aborted", "count": 1}]


def test_parts_limit_aborts_with_411_unless_truncated(plan):
    long_text = "x" * 200
    limited = plan.send(to=["447700900001"], body=long_text, max_number_of_message_parts=1)
    report = plan.get(f"/batches/{limited['id']}/delivery_report").json()
    assert report["statuses"][0]["code"] == 411
    truncated = plan.send(
        to=["447700900001"], body=long_text, max_number_of_message_parts=1, truncate_concat=True
    )
    report = plan.get(f"/batches/{truncated['id']}/delivery_report").json()
    assert report["statuses"][0]["code"] == 0


def test_cancelling_a_scheduled_batch_leaves_an_empty_report(slow_plan):
    send_at = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat()
    batch = slow_plan.send(to=["447700900001", "447700900002"], send_at=send_at)
    queued = slow_plan.get(f"/batches/{batch['id']}/delivery_report/447700900001").json()
    assert (queued["code"], queued["status"]) == (400, "Queued")
    slow_plan.delete(f"/batches/{batch['id']}")
    report = slow_plan.get(f"/batches/{batch['id']}/delivery_report?type=full").json()
    assert (report["total_message_count"], report["statuses"]) == (0, [])
    one = slow_plan.get(f"/batches/{batch['id']}/delivery_report/447700900001")
    assert one.status_code == 404


def test_cancelling_a_batch_on_its_way_cancels_the_queued_with_407(slow_plan):
    batch = slow_plan.send(to=["447700900001"])  # no send_at: queued now, dispatched in 30 s
    slow_plan.delete(f"/batches/{batch['id']}")
    canceled = slow_plan.get(f"/batches/{batch['id']}/delivery_report/447700900001").json()
    assert (canceled["code"], canceled["status"]) == (407, "Cancelled")


def test_recipient_reports_carry_only_schema_fields(plan):
    batch = plan.send(to=["447700900001"], client_reference="ref")
    report = plan.get(f"/batches/{batch['id']}/delivery_report/447700900001").json()
    assert set(report) == {
        "type",
        "batch_id",
        "recipient",
        "code",
        "status",
        "at",
        "operator_status_at",
        "client_reference",
    }


def test_parts_are_reported_when_the_batch_limits_them(plan):
    limited = plan.send(to=["447700900001"], body="x" * 200, max_number_of_message_parts=3)
    url = f"/batches/{limited['id']}/delivery_report/447700900001"
    assert plan.get(url).json()["number_of_message_parts"] == 2
    too_long = plan.send(to=["447700900001"], body="x" * 400, max_number_of_message_parts=2)
    report = plan.get(f"/batches/{too_long['id']}/delivery_report/447700900001").json()
    assert (report["code"], report["number_of_message_parts"]) == (411, 3)
    listed = plan.get("/delivery_reports", params={"code": "411"}).json()["delivery_reports"]
    assert [r["number_of_message_parts"] for r in listed] == [3]
    unlimited = plan.send(to=["447700900001"], body="x" * 200)
    report = plan.get(f"/batches/{unlimited['id']}/delivery_report/447700900001").json()
    assert "number_of_message_parts" not in report


def test_lifecycle_moves_with_time():
    with xms_sandbox.start(plans={"p": "t"}, timing=xms_sandbox.Timing(0.2, 0.3)) as sandbox:
        import requests

        session = requests.Session()
        session.headers["Authorization"] = "Bearer t"
        base = f"{sandbox.url}/xms/v1/p"
        batch = session.post(
            f"{base}/batches", json={"to": ["447700900001"], "from": "1", "body": "x"}
        ).json()
        seen: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            status = session.get(f"{base}/batches/{batch['id']}/delivery_report/447700900001")
            current = status.json()["status"]
            if not seen or seen[-1] != current:
                seen.append(current)
            if current == "Delivered":
                break
            time.sleep(0.02)
        assert seen == ["Queued", "Dispatched", "Delivered"]


def test_expire_before_dispatch_aborts_with_406(slow_plan):
    now = dt.datetime.now(dt.UTC)
    batch = slow_plan.send(
        to=["447700900001"], expire_at=(now + dt.timedelta(seconds=1)).isoformat()
    )
    time.sleep(1.1)
    report = slow_plan.get(f"/batches/{batch['id']}/delivery_report/447700900001").json()
    assert (report["code"], report["status"]) == (406, "Aborted")


def test_delivery_report_list_pages_and_filters(plan):
    first = plan.send(to=["447700900001", "447700900555"], client_reference="x")
    plan.send(to=["447700900002"])
    everything = plan.get("/delivery_reports").json()
    assert everything["count"] == 3
    assert all(r["type"] == "recipient_delivery_report_sms" for r in everything["delivery_reports"])
    failed = plan.get("/delivery_reports?status=Failed").json()
    assert [r["recipient"] for r in failed["delivery_reports"]] == ["447700900555"]
    by_reference = plan.get("/delivery_reports?client_reference=x").json()
    assert {r["batch_id"] for r in by_reference["delivery_reports"]} == {first["id"]}
    paged = plan.get("/delivery_reports?page=1&page_size=2").json()
    assert paged["page_size"] == 1
    assert paged["count"] == 3


def test_throughput_limit_queues_fifo(plan):
    """At 100 messages/s, 50 earlier messages hold a new batch back for about half a second."""
    plan.configure(messages_per_second=100)
    plan.send(to=[f"4477009000{i:02d}" for i in range(50)])
    accepted = time.monotonic()
    later = plan.send(to=["447700900099"])
    url = f"/batches/{later['id']}/delivery_report/447700900099"
    assert plan.get(url).json()["status"] == "Queued"
    while plan.get(url).json()["status"] == "Queued":
        time.sleep(0.01)
    assert time.monotonic() - accepted > 0.4
