"""The helpers' client over real HTTP: endpoints, errors and hints, retries, no double send."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests

import sinch_helpers as sh

from conftest import free_port


def test_send_get_list_update_replace_cancel(client, plan):
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    batch = client.send_batch(
        ["+447700900001"],
        "Hi ${name}",
        "Co",
        parameters={"name": {"+447700900001": "Ann"}},
        send_at=later,
    )
    assert batch.id and batch.from_ == "Co" and batch["client_reference"].startswith("nb-")
    assert client.get_batch(batch.id) == batch
    assert [b.id for b in client.list_batches()] == [batch.id]
    updated = client.update_batch(batch.id, to_add=["+447700900002"], body="Hello ${name}")
    assert updated.to == ["447700900001", "447700900002"]
    replaced = client.replace_batch(batch.id, ["+447700900003"], "New", "Co", send_at=later)
    assert replaced.to == ["447700900003"]
    assert client.cancel_batch(batch.id).canceled is True
    assert client.delivery_report(batch.id)["statuses"][0]["status"] == "Cancelled"


def test_paging_iterates_over_every_page(client):
    for i in range(7):
        client.send_batch(["+447700900001"], f"n{i}", "Co")
    assert len(list(client.list_batches(page_size=3))) == 7
    assert len(list(client.list_batches(page_size=3, **{"from": "Nobody"}))) == 0


def test_reports_feedback_inbounds_and_groups(client):
    batch = client.send_batch(
        ["+447700900001", "+447700900555"], "Hi", "+447700900100", feedback_enabled=True
    )
    full = client.delivery_report(batch.id, "full", status=["Failed"])
    assert full.statuses[0]["recipients"] == ["447700900555"]
    assert client.delivery_report(batch.id, code=[0]).statuses[0]["count"] == 1
    assert client.recipient_report(batch.id, "+447700900001").status == "Delivered"
    assert {r.recipient for r in client.list_delivery_reports()} == {"447700900001", "447700900555"}
    assert client.send_delivery_feedback(batch.id) is None
    reply = client.reply_from("+447700900001", "Thanks")
    assert [i.id for i in client.list_inbounds()] == [reply.id]
    assert client.get_inbound(reply.id).body == "Thanks"
    assert list(client.phone("+447700900001").direction) == ["received", "sent"]
    group = client.create_group("Team", ["+447700900001"])
    assert client.update_group(group.id, add=["+447700900002"]).size == 2
    assert client.group_members(group.id) == ["447700900001", "447700900002"]
    assert [g.id for g in client.list_groups()] == [group.id]
    assert client.replace_group(group.id, ["+447700900003"], name="Team").size == 1
    assert client.get_group(group.id).name == "Team"
    client.delete_group(group.id)
    with pytest.raises(sh.NotFoundError):
        client.get_group(group.id)


def test_dry_run_and_api_objects(client):
    result = client.dry_run(["+447700900001"], "Hi ${n}", parameters={"n": {"default": "you"}})
    assert result.per_recipient[0]["body"] == "Hi you"
    assert "<table>" in result._repr_html_() and '"number_of_messages": 1' in repr(result)


@pytest.mark.parametrize(
    ("call", "kind", "hint"),
    [
        (lambda c: c.send_batch(["07700900123"], "x", "Co"), sh.ValidationError, "international"),
        (
            lambda c: c.send_batch(["+447700900001"], "x", "Co", delivery_report="full"),
            sh.ForbiddenError,
            "callback_url",
        ),
        (
            lambda c: c.get_batch("01AAAAAAAAAAAAAAAAAAAAAAAA"),
            sh.NotFoundError,
            "visible only to the service plan",
        ),
        (
            lambda c: c.send_batch(["+447700900001"], "x", "Co", parameters={"bad key": {}}),
            sh.ValidationError,
            "Parameter keys",
        ),
    ],
)
def test_errors_carry_status_code_text_request_and_hint(client, call, kind, hint):
    with pytest.raises(kind) as error:
        call(client)
    err = error.value
    assert err.status in (400, 403, 404) and err.code and err.text
    assert err.method in ("GET", "POST") and err.url.startswith(client.base_url)
    assert hint in err.hint and hint in str(err)


def test_update_after_dispatch_hint(client):
    batch = client.send_batch(["+447700900001"], "x", "Co")
    with pytest.raises(sh.ForbiddenError) as error:
        client.update_batch(batch.id, body="y")
    assert error.value.code == "batch_already_dispatched" and "new batch" in error.value.hint


def test_wrong_token_names_the_region(plan):
    wrong = sh.SmsClient(
        sh.Credentials(plan.plan_id, "x" * 32, region="eu", base_url=None), retries=0
    )
    wrong.credentials = sh.Credentials(plan.plan_id, "x" * 32, base_url=plan.sandbox.url)
    wrong.session.headers["Authorization"] = "Bearer " + "x" * 32
    with pytest.raises(sh.AuthenticationError) as error:
        wrong.get_batch("x")
    assert "region" in error.value.hint and plan.plan_id in error.value.hint


def test_region_shows_in_hint_for_regional_credentials():
    client = sh.SmsClient(sh.Credentials("plan", "x" * 32, region="br"))
    assert "region 'br'" in client._hint(401, "unauthorized", "")


def test_unreachable_server_is_a_connection_error_with_a_hint():
    dead = sh.SmsClient(
        sh.Credentials("p", "t" * 16, base_url=f"http://127.0.0.1:{free_port()}"),
        retries=1,
        backoff=0.01,
        mode="sandbox",
    )
    with pytest.raises(sh.ConnectionFailed) as error:
        dead.send_batch(["+447700900001"], "x", "Co")
    assert "check that it is running" in error.value.hint


# ------------------------------------------------------------------ retries and safety


def test_idempotent_calls_retry_on_503(client, plan):
    plan.fault(kind="status", status=503, count=2, method="GET")
    assert list(client.list_batches()) == []


def test_retry_after_is_honoured(client, plan):
    plan.fault(kind="status", status=429, method="GET")
    started = time.monotonic()
    assert list(client.list_batches()) == []
    assert time.monotonic() - started >= 1.0  # the sandbox asks for Retry-After: 1


def test_retries_run_out_with_a_typed_error(client, plan):
    plan.fault(kind="status", status=503, count=10, method="GET")
    with pytest.raises(sh.ServerError):
        client.get_batch("x")


def test_group_creation_is_not_retried(client, plan):
    plan.fault(kind="status", status=503, method="POST", path="/groups")
    with pytest.raises(sh.ServerError):
        client.create_group("once")
    assert list(client.list_groups()) == []


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop"},  # accepted, then the connection closes with no answer
        {"kind": "timeout", "seconds": 1.5},  # accepted, answer comes after the client gave up
        {"kind": "status", "status": 500},  # refused before any work: safe to send again
        {"kind": "status", "status": 503, "count": 2},
        {"kind": "status", "status": 429},
    ],
)
def test_a_send_is_never_duplicated(client, plan, fault):
    client.timeout = 0.5
    plan.fault(method="POST", path="/batches", **fault)
    batch = client.send_batch(["+447700900001"], "exactly once", "Co")
    assert plan.batch_count() == 1
    assert client.get_batch(batch.id)["body"] == "exactly once"


def test_unknown_outcome_and_failed_lookup_is_reported(client, plan):
    plan.fault(kind="drop", method="POST", path="/batches")
    plan.fault(kind="status", status=503, count=10, method="GET")
    with pytest.raises(sh.SendOutcomeUnknown) as error:
        client.send_batch(["+447700900001"], "x", "Co", client_reference="ref-42")
    assert "ref-42" in error.value.hint
    assert plan.batch_count() == 1
    requests.delete(f"{plan.sandbox.url}/sandbox/faults", timeout=5)
    assert client.find_sent("ref-42") is not None


def test_a_server_that_is_not_the_api_gets_a_clear_error(sandbox):
    """The sandbox's HTML phones page stands in for a wrong base URL that answers HTML."""
    credentials = sh.Credentials("p", "t" * 16, base_url=sandbox.url)
    client = sh.SmsClient(credentials, retries=0, mode="sandbox")
    with pytest.raises(sh.SmsApiError) as error:
        client.request("GET", "/../../../sandbox/phones")
    assert "not JSON" in str(error.value) and "SINCH_BASE_URL" in error.value.hint


def test_sandbox_features_explain_themselves(client, plan):
    client.send_batch(["+447700900001"], "Hi phone", "Co")
    assert "Hi phone" in client.show_phones(["+447700900001"]).data
    with pytest.raises(sh.ValidationError) as error:
        client.show_phones(["not a number"])
    assert "numbers" in str(error.value)
    live = sh.SmsClient(client.credentials, mode="live")
    with pytest.raises(sh.SmsApiError, match="sandbox feature"):
        live.phone("+447700900001")
