"""Batches over real HTTP: send, get, list, update, replace, cancel, dry run, feedback."""

from __future__ import annotations

import datetime as dt
import re

import pytest

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def iso(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.UTC) + delta).isoformat()


def test_send_echoes_the_batch_with_defaults(plan):
    batch = plan.send(to=["+44 7700 900001", "0046701234567", "(447) 700-900002"])
    assert ULID.match(batch["id"])
    assert batch["to"] == ["447700900001", "46701234567", "447700900002"]
    assert batch["from"] == "447700900999"
    assert batch["type"] == "mt_text"
    assert batch["canceled"] is False
    assert batch["delivery_report"] == "none"
    assert batch["flash_message"] is False
    for field in ("created_at", "modified_at", "expire_at"):
        assert MILLIS.match(batch[field]), batch[field]
    assert "send_at" not in batch
    assert "callback_url" not in batch


def test_optional_fields_are_echoed(plan):
    batch = plan.send(
        to=["447700900001"],
        client_reference="ref-1",
        feedback_enabled=True,
        max_number_of_message_parts=3,
        truncate_concat=False,
        flash_message=True,
        from_ton=1,
        from_npi=1,
        callback_url="https://example.invalid/hook",
    )
    for key, value in {
        "client_reference": "ref-1",
        "feedback_enabled": True,
        "max_number_of_message_parts": 3,
        "truncate_concat": False,
        "flash_message": True,
        "from_ton": 1,
        "from_npi": 1,
        "callback_url": "https://example.invalid/hook",
    }.items():
        assert batch[key] == value


def test_get_and_404_for_unknown_or_other_plans_batch(plan, sandbox):
    batch = plan.send(to=["447700900001"])
    assert plan.get(f"/batches/{batch['id']}").json() == batch
    missing = plan.get("/batches/01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    sandbox.backend.plans.add("other-plan", "other-token")
    other = plan.session.get(
        f"{sandbox.url}/xms/v1/other-plan/batches/{batch['id']}",
        headers={"Authorization": "Bearer other-token"},
    )
    assert other.status_code == 404


def test_list_pages_to_the_end_with_counts(plan):
    ids = [plan.send(to=["447700900001"], body=f"n{i}")["id"] for i in range(7)]
    seen, page = [], 0
    while True:
        answer = plan.get("/batches", params={"page": page, "page_size": 3}).json()
        assert answer["count"] == 7
        assert answer["page"] == page
        assert answer["page_size"] == len(answer["batches"])
        if not answer["batches"]:
            break
        seen += [b["id"] for b in answer["batches"]]
        page += 1
    assert seen == ids[::-1]  # newest first
    assert page == 3


def test_list_filters(plan):
    plan.send(to=["447700900001"], **{"from": "+447700900111"}, client_reference="a")
    plan.send(to=["447700900001"], **{"from": "447700900222"})
    plan.send(to=["447700900001"], **{"from": "Shop"})
    by_sender = plan.get("/batches", params=[("from", "447700900111"), ("from", "Shop")]).json()
    assert by_sender["count"] == 2
    assert plan.get("/batches?from=%2B447700900111,447700900222").json()["count"] == 2
    assert plan.get("/batches", params={"client_reference": "a"}).json()["count"] == 1
    future = plan.get("/batches", params={"start_date": iso(dt.timedelta(hours=1))}).json()
    assert future["count"] == 0
    past = plan.get("/batches", params={"end_date": "2000-01-01"}).json()
    assert past["count"] == 0
    spaced = plan.get("/batches?start_date=2000-01-01 00:00:00%2B00:00").json()
    assert spaced["count"] == 3


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("page_size=101", "syntax_constraint_violation"),
        ("page_size=0", "syntax_constraint_violation"),
        ("page=-1", "syntax_constraint_violation"),
        ("page=x", "syntax_invalid_parameter_format"),
        ("start_date=yesterday", "syntax_invalid_parameter_format"),
    ],
)
def test_list_rejects_bad_query_values(plan, query, code):
    answer = plan.get(f"/batches?{query}")
    assert answer.status_code == 400
    assert answer.json()["code"] == code


def test_update_replace_cancel_before_dispatch(slow_plan):
    batch = slow_plan.send(to=["447700900001", "447700900002"], send_at=iso(dt.timedelta(hours=1)))
    updated = slow_plan.post(
        f"/batches/{batch['id']}",
        json={"toAdd": ["447700900003"], "to_remove": ["447700900001"], "body": "New"},
    ).json()
    assert updated["to"] == ["447700900002", "447700900003"]
    assert updated["body"] == "New"
    reset = slow_plan.post(f"/batches/{batch['id']}", json={"send_at": None}).json()
    assert "send_at" not in reset
    replaced = slow_plan.put(
        f"/batches/{batch['id']}", json={"to": ["447700900004"], "from": "1", "body": "R"}
    )
    assert replaced.status_code == 200
    assert replaced.json()["to"] == ["447700900004"]
    canceled = slow_plan.delete(f"/batches/{batch['id']}").json()
    assert canceled["canceled"] is True
    report = slow_plan.get(f"/batches/{batch['id']}/delivery_report").json()
    assert report["statuses"] == [{"code": 407, "status": "Cancelled", "count": 1}]


def test_replace_keeps_created_at_and_queues_anew(slow_plan):
    batch = slow_plan.send(to=["447700900001"], send_at=iso(dt.timedelta(hours=1)))
    replaced = slow_plan.put(
        f"/batches/{batch['id']}", json={"to": ["447700900002"], "from": "1", "body": "R"}
    ).json()
    assert replaced["created_at"] == batch["created_at"]
    assert replaced["modified_at"] > batch["modified_at"]
    # The new recipient joined the queue when the batch was replaced, not when it was created.
    queued = slow_plan.get(f"/batches/{batch['id']}/delivery_report/447700900002").json()
    assert (queued["status"], queued["at"]) == ("Queued", replaced["modified_at"])


def test_parameters_are_echoed_as_sent_and_matched_by_number(plan):
    parameters = {"name": {"+44 7700 900001": "Ann", "+447700900002": "Bo", "default": "you"}}
    batch = plan.send(
        to=["447700900001", "+447700900002", "447700900003"],
        body="Hi ${name}",
        parameters=parameters,
    )
    assert batch["parameters"] == parameters
    assert plan.get(f"/batches/{batch['id']}").json()["parameters"] == parameters
    dry = plan.post(
        "/batches/dry_run?per_recipient=true",
        json={"to": batch["to"], "from": "1", "body": "Hi ${name}", "parameters": parameters},
    ).json()
    assert [r["body"] for r in dry["per_recipient"]] == ["Hi Ann", "Hi Bo", "Hi you"]
    report = plan.get(f"/batches/{batch['id']}/delivery_report").json()
    assert report["statuses"] == [{"code": 0, "status": "Delivered", "count": 3}]
    updated = {"name": {"+447700900004": "Cy"}}
    later = plan.send(to=["447700900004"], send_at=iso(dt.timedelta(hours=1)), body="Hi ${name}")
    echoed = plan.post(f"/batches/{later['id']}", json={"parameters": updated}).json()
    assert echoed["parameters"] == updated


def test_update_after_dispatch_is_forbidden(plan):
    batch = plan.send(to=["447700900001"])
    answer = plan.post(f"/batches/{batch['id']}", json={"body": "too late"})
    assert answer.status_code == 403
    assert answer.json()["code"] == "batch_already_dispatched"


def test_dry_run_counts_parts_per_recipient(plan):
    body = {
        "to": ["447700900001", "447700900002", "447700900003"],
        "from": "1",
        "body": "Hi ${name}, " + "x" * 150,
        "parameters": {"name": {"447700900001": "Ann", "447700900002": "Ünal ☺"}},
    }
    answer = plan.post("/batches/dry_run?per_recipient=True&number_of_recipients=2", json=body)
    result = answer.json()
    assert result["number_of_recipients"] == 3
    assert result["per_recipient"] == [
        {
            "recipient": "447700900001",
            "body": "Hi Ann, " + "x" * 150,
            "number_of_parts": 1,
            "encoding": "text",
        },
        {
            "recipient": "447700900002",
            "body": "Hi Ünal ☺, " + "x" * 150,
            "number_of_parts": 3,
            "encoding": "unicode",
        },
    ]
    assert result["number_of_messages"] == 4  # the third has no value and no default
    plain = plan.post("/batches/dry_run", json=body).json()
    assert "per_recipient" not in plain
    bad = plan.post("/batches/dry_run?per_recipient=tru", json=body)
    assert bad.status_code == 400
    assert "'tru'" in bad.json()["text"]


def test_delivery_feedback(plan):
    batch = plan.send(to=["447700900001", "447700900002"], feedback_enabled=True)
    answer = plan.post(f"/batches/{batch['id']}/delivery_feedback", json={"recipients": []})
    assert answer.status_code == 202
    assert answer.content == b""
    one = plan.post(
        f"/batches/{batch['id']}/delivery_feedback", json={"recipients": ["+447700900002"]}
    )
    assert one.status_code == 202
    stranger = plan.post(
        f"/batches/{batch['id']}/delivery_feedback", json={"recipients": ["447700900009"]}
    )
    assert stranger.status_code == 400
    assert "recipients[0]" in stranger.json()["text"]
    plain = plan.send(to=["447700900001"])
    refused = plan.post(f"/batches/{plain['id']}/delivery_feedback", json={"recipients": []})
    assert refused.status_code == 400


def test_dry_run_of_a_binary_batch_reports_a_documented_encoding(plan):
    body = {"type": "mt_binary", "to": ["447700900001"], "from": "1", "body": "AAECAw=="}
    answer = plan.post("/batches/dry_run?per_recipient=true", json={**body, "udh": "0500030102"})
    (recipient,) = answer.json()["per_recipient"]
    assert (recipient["encoding"], recipient["number_of_parts"]) == ("text", 1)


def test_binary_batches(plan):
    batch = plan.send(type="mt_binary", to=["447700900001"], body="AAECAw==\n", udh="0500030102")
    assert batch["body"] == "AAECAw=="
    assert batch["udh"] == "0500030102"
    too_big = plan.post(
        "/batches",
        json={
            "type": "mt_binary",
            "to": ["447700900001"],
            "from": "1",
            "body": "A" * 200,
            "udh": "00",
        },
    )
    assert too_big.status_code == 400
    no_udh = plan.post(
        "/batches", json={"type": "mt_binary", "to": ["447700900001"], "from": "1", "body": "AA=="}
    )
    assert no_udh.status_code == 400
    assert "udh" in no_udh.json()["text"]


def test_mms_is_refused_clearly(plan):
    answer = plan.post(
        "/batches",
        json={
            "type": "mt_media",
            "to": ["447700900001"],
            "from": "1",
            "body": {"url": "https://example.invalid/cat.jpg"},
        },
    )
    assert answer.status_code == 400
    assert "MMS" in answer.json()["text"]
