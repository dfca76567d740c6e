"""Validation and error answers: the documented status, code and a text that names the field."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from xms_sandbox.errors import DOCUMENTED_CODES, INVENTED_CODES


def send(plan, **body):
    return plan.post("/batches", json={"from": "1", "body": "x", "to": ["447700900001"], **body})


@pytest.mark.parametrize(
    ("body", "status", "code", "names"),
    [
        ({"to": []}, 400, "syntax_constraint_violation", "'to'"),
        ({"to": ["447700900001"] * 1001}, 400, "syntax_constraint_violation", "'to'"),
        (
            {"to": ["447700900001", "", "447700900002", "+1"]},
            400,
            "syntax_invalid_parameter_format",
            "'to[1]'",
        ),
        ({"to": ["1", "2", "3", "0123456789"]}, 400, "syntax_invalid_parameter_format", "to[0]"),
        (
            {"to": ["447700900001", "447700900002", "447700900003", 5]},
            400,
            "syntax_invalid_parameter_format",
            "'to[3]'",
        ),
        ({"to": None}, 400, "syntax_constraint_violation", "'to'"),
        ({"body": None}, 400, "syntax_constraint_violation", "'body'"),
        ({"body": "x" * 2001}, 400, "syntax_constraint_violation", "'body'"),
        ({"body": 5}, 400, "syntax_invalid_parameter_format", "'body'"),
        ({"type": "sms"}, 400, "syntax_invalid_parameter_format", "'type'"),
        ({"delivery_report": "all"}, 400, "syntax_invalid_parameter_format", "'delivery_report'"),
        ({"send_at": "tomorrow"}, 400, "syntax_invalid_parameter_format", "'send_at'"),
        ({"callback_url": "ftp://x"}, 400, "syntax_invalid_parameter_format", "'callback_url'"),
        (
            {"callback_url": "https://x/" + "a" * 2048},
            400,
            "syntax_constraint_violation",
            "'callback_url'",
        ),
        (
            {"client_reference": "r" * 2049},
            400,
            "syntax_constraint_violation",
            "'client_reference'",
        ),
        ({"flash_message": "yes"}, 400, "syntax_invalid_parameter_format", "'flash_message'"),
        (
            {"max_number_of_message_parts": 0},
            400,
            "syntax_constraint_violation",
            "'max_number_of_message_parts'",
        ),
        ({"from_ton": 7}, 400, "syntax_constraint_violation", "'from_ton'"),
        (
            {"parameters": {"bad key!": {"default": "x"}}},
            400,
            "syntax_invalid_parameter_format",
            "'parameters.bad key!'",
        ),
        (
            {"parameters": {"a" * 17: {"default": "x"}}},
            400,
            "syntax_invalid_parameter_format",
            "parameters.aaaa",
        ),
        (
            {"parameters": {"name": {"not-a-number": "x"}}},
            400,
            "syntax_invalid_parameter_format",
            "'parameters.name.not-a-number'",
        ),
        (
            {"parameters": {"name": {"default": "v" * 1601}}},
            400,
            "syntax_constraint_violation",
            "'parameters.name.default'",
        ),
        (
            {"parameters": {"name": "Ann"}},
            400,
            "syntax_invalid_parameter_format",
            "'parameters.name'",
        ),
        ({"to": ["01ZZZZZZZZZZZZZZZZZZZZZZZZ"]}, 403, "unknown_group", "to[0]"),
        ({"delivery_report": "summary"}, 403, "missing_callback_url", "callback URL"),
    ],
)
def test_bad_batches_are_refused_with_the_field_named(plan, body, status, code, names):
    answer = send(plan, **body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert names in answer.json()["text"]


def test_from_is_required_unless_the_plan_has_a_default(plan):
    answer = plan.post("/batches", json={"to": ["447700900001"], "body": "x"})
    assert answer.status_code == 400
    assert "'from'" in answer.json()["text"]
    plan.configure(default_originator="SandboxCo")
    assert plan.send(to=["447700900001"], **{"from": None})["from"] == "SandboxCo"


def test_expiry_rules(plan):
    now = dt.datetime.now(dt.UTC)
    early = send(
        plan,
        send_at=(now + dt.timedelta(hours=2)).isoformat(),
        expire_at=(now + dt.timedelta(hours=1)).isoformat(),
    )
    assert early.status_code == 400
    assert "expire_at" in early.json()["text"]
    late = send(plan, expire_at=(now + dt.timedelta(days=4)).isoformat())
    assert late.status_code == 400
    assert "3 days" in late.json()["text"]


def test_json_and_content_type_errors(plan):
    bad_json = plan.post("/batches", data=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == "syntax_invalid_json"
    not_object = plan.post("/batches", json=[1, 2])
    assert not_object.status_code == 400
    assert not_object.json()["code"] == "syntax_invalid_json"
    no_type = plan.post("/batches", data=b"{}", headers={"Content-Type": "text/plain"})
    assert no_type.status_code == 415
    assert "Content-Type" in no_type.json()["text"]
    charset = plan.post(
        "/batches",
        data=b'{"to": ["447700900001"], "from": "1", "body": "x"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert charset.status_code == 201


def test_get_and_delete_need_no_content_type(plan):
    batch = plan.send(to=["447700900001"])
    assert plan.delete(f"/batches/{batch['id']}").status_code == 200


def test_auth_errors_are_json_401(plan, sandbox):
    url = f"{plan.base}/batches"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        answer = requests.get(url, headers=headers, timeout=5)
        assert answer.status_code == 401
        assert answer.json()["code"] == "unauthorized"
    unknown = requests.get(
        f"{sandbox.url}/xms/v1/no-such-plan/batches",
        headers={"Authorization": f"Bearer {plan.token}"},
        timeout=5,
    )
    assert unknown.status_code == 401
    assert plan.token not in unknown.text


def test_unknown_paths_and_methods_answer_json(plan, sandbox):
    missing = plan.get("/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong_method = plan.request("PATCH", "/batches")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"
    root = requests.get(sandbox.url + "/", timeout=5)
    assert root.status_code == 404
    assert root.json()["code"] == "not_found"


def test_unknown_report_type_is_400(plan):
    batch = plan.send(to=["447700900001"])
    answer = plan.get(f"/batches/{batch['id']}/delivery_report?type=report")
    assert answer.status_code == 400
    assert "'type'" in answer.json()["text"]


def test_error_codes_are_sinchs_for_400_and_403_and_the_sandboxs_own_otherwise(plan):
    """Sinch documents error codes for 400 and 403 only; the codes the sandbox gives other
    statuses are its own invention (``errors.INVENTED_CODES``), one per status."""
    batch = plan.send(to=["447700900001"])
    answers = [
        plan.post("/batches", json={"to": ["07700 900001"], "from": "1", "body": "x"}),
        plan.post(f"/batches/{batch['id']}", json={"body": "too late"}),
        requests.get(f"{plan.base}/batches", timeout=5),
        plan.get("/batches/01AAAAAAAAAAAAAAAAAAAAAAAA"),
        plan.get("/nothing-here"),
        plan.request("PATCH", "/batches"),
        plan.post("/batches", data=b"{}", headers={"Content-Type": "text/plain"}),
    ]
    plan.configure(requests_per_second=1)  # last: every request after this one is limited
    answers += [plan.get("/batches") for _ in range(3)]
    seen = set()
    for answer in answers:
        status, code = answer.status_code, answer.json().get("code")
        seen.add(status)
        if status in (400, 403):
            assert code in DOCUMENTED_CODES, (status, code)
        elif status >= 400:
            assert code == INVENTED_CODES[status], (status, code)
    assert seen >= {400, 401, 403, 404, 405, 415, 429}
