"""The helpers' client over real HTTP: endpoints, errors and hints, retries, no double send."""

from __future__ import annotations

import datetime as dt
import time

import pytest

import sinch_helpers as sh

from conftest import free_port


@pytest.mark.usefixtures("plan")
def test_send_get_list_update_replace_cancel(client):
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    batch = client.send_batch(
        ["+447700900001"],
        "Hi ${name}",
        "Co",
        parameters={"name": {"+447700900001": "Ann"}},
        send_at=later,
    )
    assert batch.id
    assert batch.from_ == "Co"
    assert batch["client_reference"].startswith("nb-")
    assert client.get_batch(batch.id) == batch
    assert [b.id for b in client.list_batches()] == [batch.id]
    updated = client.update_batch(batch.id, to_add=["+447700900002"], body="Hello ${name}")
    assert updated.to == ["447700900001", "447700900002"]
    replaced = client.replace_batch(batch.id, ["+447700900003"], "New", "Co", send_at=later)
    assert replaced.to == ["447700900003"]
    assert client.cancel_batch(batch.id).canceled is True
    # Cancelled before its send_at: nothing was sent, so the report is empty (as the API's).
    assert client.delivery_report(batch.id)["statuses"] == []


def test_paging_iterates_over_every_page(client):
    for i in range(7):
        client.send_batch(["+447700900001"], f"n{i}", "Co")
    assert len(list(client.list_batches(page_size=3))) == 7
    assert len(list(client.list_batches(page_size=3, **{"from": "Nobody"}))) == 0


@pytest.fixture
def delivered_and_failed(client):
    """A batch to one number that is delivered and one that fails, with feedback enabled."""
    return client.send_batch(
        ["+447700900001", "+447700900555"], "Hi", "+447700900100", feedback_enabled=True
    )


def test_a_full_report_can_be_filtered_by_status(client, delivered_and_failed):
    full = client.delivery_report(delivered_and_failed.id, "full", status=["Failed"])
    assert [(s["status"], s["recipients"]) for s in full.statuses] == [("Failed", ["447700900555"])]


def test_a_summary_can_be_filtered_by_code(client, delivered_and_failed):
    summary = client.delivery_report(delivered_and_failed.id, code=[0])
    assert [(s["status"], s["count"]) for s in summary.statuses] == [("Delivered", 1)]


def test_one_recipients_report(client, delivered_and_failed):
    report = client.recipient_report(delivered_and_failed.id, "+447700900001")
    assert (report.recipient, report.status, report.code) == ("447700900001", "Delivered", 0)


@pytest.mark.usefixtures("delivered_and_failed")
def test_listing_delivery_reports(client):
    reports = {r.recipient: r.status for r in client.list_delivery_reports()}
    assert reports == {"447700900001": "Delivered", "447700900555": "Failed"}


def test_delivery_feedback_is_accepted_and_checked(client, delivered_and_failed):
    client.send_delivery_feedback(delivered_and_failed.id, ["+447700900001"])
    client.send_delivery_feedback(delivered_and_failed.id)  # [] means every recipient
    with pytest.raises(sh.ValidationError, match="not in this batch"):
        client.send_delivery_feedback(delivered_and_failed.id, ["+447700900002"])
    unasked = client.send_batch(["+447700900001"], "Hi", "+447700900100")
    with pytest.raises(sh.ValidationError, match="feedback_enabled"):
        client.send_delivery_feedback(unasked.id)


@pytest.mark.usefixtures("delivered_and_failed")
def test_a_reply_becomes_an_inbound(client):
    reply = client.sandbox.reply_from("+447700900001", "Thanks")
    assert [i.id for i in client.list_inbounds()] == [reply.id]
    inbound = client.get_inbound(reply.id)
    assert (inbound.body, inbound.from_, inbound.to) == ("Thanks", "447700900001", "447700900100")


@pytest.mark.usefixtures("delivered_and_failed")
def test_a_phone_shows_what_it_received_and_sent(client):
    client.sandbox.reply_from("+447700900001", "Thanks")
    screen = client.sandbox.phone("+447700900001")
    assert screen[["direction", "body"]].values.tolist() == [["received", "Hi"], ["sent", "Thanks"]]


def test_groups_from_creation_to_deletion(client):
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
    assert "<table>" in result._repr_html_()
    assert '"number_of_messages": 1' in repr(result)


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
    assert err.status in (400, 403, 404)
    assert err.code
    assert err.text
    assert err.method in ("GET", "POST")
    assert err.url.startswith(client.base_url)
    assert hint in err.hint
    assert hint in str(err)


def test_update_after_dispatch_hint(client):
    batch = client.send_batch(["+447700900001"], "x", "Co")
    with pytest.raises(sh.ForbiddenError) as error:
        client.update_batch(batch.id, body="y")
    assert error.value.code == "batch_already_dispatched"
    assert "new batch" in error.value.hint


def test_wrong_token_names_the_region(plan):
    wrong = sh.SmsClient(sh.Credentials(plan.plan_id, "x" * 32, base_url=plan.sandbox.url))
    with pytest.raises(sh.AuthenticationError) as error:
        wrong.get_batch("x")
    assert "region" in error.value.hint
    assert plan.plan_id in error.value.hint
    assert f"base URL {plan.sandbox.url}" in error.value.hint


def test_region_shows_in_hint_for_regional_credentials():
    client = sh.SmsClient(sh.Credentials("plan", "x" * 32, region="br"))
    assert "region 'br'" in client.transport.hint(401, "unauthorized", "")


def test_unreachable_server_is_a_connection_error_with_a_hint():
    dead = sh.SmsClient(
        sh.Credentials("p", "t" * 16, base_url=f"http://127.0.0.1:{free_port()}"),
        retries=1,
        backoff=0.01,
        sandbox=True,
    )
    with pytest.raises(sh.ConnectionFailed) as error:
        dead.send_batch(["+447700900001"], "x", "Co")
    assert "is running" in error.value.hint
    assert "SINCH_SANDBOX_URL" in error.value.hint  # a sandbox of its own: the setting named


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
    client.transport.timeout = 0.5
    plan.fault(method="POST", path="/batches", **fault)
    batch = client.send_batch(["+447700900001"], "exactly once", "Co")
    assert plan.batch_count() == 1
    assert client.get_batch(batch.id)["body"] == "exactly once"


def test_a_server_that_is_not_the_api_gets_a_clear_error(plan):
    """The sandbox's HTML phones page stands in for a wrong base URL that answers HTML."""
    credentials = sh.Credentials(plan.plan_id, plan.token, base_url=plan.sandbox.url)
    client = sh.SmsClient(credentials, retries=0, sandbox=True)
    with pytest.raises(sh.SmsApiError) as error:
        client.transport.request("GET", "/../../../sandbox/phones/447700900001")
    assert "not JSON" in str(error.value)
    assert "SINCH_BASE_URL" in error.value.hint


def test_sandbox_controls_draw_phones_and_explain_bad_numbers(client):
    client.send_batch(["+447700900001"], "Hi phone", "Co")
    assert "Hi phone" in client.sandbox.show_phones(["+447700900001"]).data
    with pytest.raises(sh.ValidationError) as error:
        client.sandbox.show_phones(["not a number"])
    assert "numbers" in str(error.value)


def test_a_live_client_has_no_sandbox_controls(client):
    live = sh.SmsClient(client.credentials)
    assert live.sandbox is None
    assert live.mode == "live"
    assert client.sandbox is not None
    assert client.mode == "sandbox"


def test_callbacks_reach_the_plans_inbox_in_the_sandbox(client):
    batch = client.send_batch(
        ["+447700900001", "+447700900512"],
        "Hi",
        "Co",
        delivery_report="per_recipient_final",
        callback_url=client.sandbox.inbox_url,
    )
    arrived = client.sandbox.inbox(batch_id=batch.id, at_least=2)
    assert sorted(arrived["status"]) == ["Delivered", "Failed"]
    assert set(arrived["batch_id"]) == {batch.id}
