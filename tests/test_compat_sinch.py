"""The official ``sinch`` SDK 2.x, unchanged, against the sandbox.

The SDK builds URLs from ``configuration.sms_origin_with_service_plan_id``, a public setting, so
pointing it at the sandbox needs no patching.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sinch import SinchClient
from sinch.core.clients.retry_configuration import RetryConfiguration
from sinch.domains.sms.api.v1.exceptions import SmsException


def sdk_client(plan, token=None, retries: int = 3) -> SinchClient:
    client = SinchClient(
        service_plan_id=plan.plan_id,
        sms_api_token=token or plan.token,
        sms_region="us",
        retry_configuration=RetryConfiguration(max_retries=retries),
    )
    client.configuration.sms_origin_with_service_plan_id = plan.sandbox.url
    return client


@pytest.fixture
def sms(plan):
    return sdk_client(plan).sms


def test_send_with_parameters_and_read_back(sms):
    sent = sms.batches.send_sms(
        to=["+447700900001", "+447700900002"],
        from_="12345",
        body="Hello, ${name}!",
        parameters={"name": {"+447700900001": "John", "default": "valued customer"}},
        client_reference="order-17",
    )
    assert len(sent.id) == 26
    assert sent.canceled is False
    # Echoed as sent, "+" and all (as in Sinch's own SDK fixtures).
    assert sent.parameters == {"name": {"+447700900001": "John", "default": "valued customer"}}
    fetched = sms.batches.get(batch_id=sent.id)
    assert fetched.id == sent.id
    assert fetched.client_reference == "order-17"


def test_dry_run_per_recipient(sms):
    result = sms.batches.dry_run_sms(
        to=["447700900001", "447700900002"],
        from_="12345",
        body="Hi ${name} 🙂",
        parameters={"name": {"447700900001": "Zoë"}},
        per_recipient=True,
        number_of_recipients=5,
    )
    assert result.number_of_recipients == 2
    by_number = {r.recipient: r for r in result.per_recipient}
    assert by_number["447700900001"].body == "Hi Zoë 🙂"
    assert by_number["447700900001"].encoding == "unicode"
    assert by_number["447700900002"].number_of_parts == 0  # no value, no default: not sent
    assert result.number_of_messages == 1


def test_binary_send(sms):
    sent = sms.batches.send_binary(
        to=["447700900003"], from_="12345", body="AAECAw==", udh="050003010201"
    )
    assert sent.type == "mt_binary"
    assert sent.udh == "050003010201"


def test_update_replace_cancel(sms):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    sent = sms.batches.send_sms(to=["447700900010"], from_="12345", body="x", send_at=later)
    updated = sms.batches.update_sms(
        batch_id=sent.id, to_add=["+447700900011"], to_remove=["447700900010"], body="y"
    )
    assert updated.to == ["447700900011"]
    assert updated.body == "y"
    replaced = sms.batches.replace_sms(
        batch_id=sent.id, to=["447700900012"], from_="12345", body="z", send_at=later
    )
    assert replaced.id == sent.id
    assert replaced.to == ["447700900012"]
    canceled = sms.batches.cancel(batch_id=sent.id)
    assert canceled.canceled is True
    # Cancelled before its send_at: nothing was sent, so the report is empty.
    report = sms.delivery_reports.get(batch_id=sent.id, report_type="full")
    assert (report.total_message_count, report.statuses) == (0, [])


def test_list_batches_pages_to_the_end(sms):
    ids = {
        sms.batches.send_sms(to=["447700900100"], from_=sender, body="n").id
        for sender in ("111", "222", "111", "111", "222")
    }
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    listed = list(sms.batches.list(page_size=2, start_date=start).iterator())
    assert {b.id for b in listed} == ids
    only = list(sms.batches.list(page_size=2, from_=["111"]).iterator())
    assert len(only) == 3


def test_delivery_reports_and_feedback(sms):
    sent = sms.batches.send_sms(
        to=["447700900020", "447700900720"], from_="12345", body="Hi", feedback_enabled=True
    )
    summary = sms.delivery_reports.get(batch_id=sent.id)
    assert summary.total_message_count == 2
    assert {(s.code, s.status) for s in summary.statuses} == {(0, "Delivered"), (61, "Rejected")}
    failed = sms.delivery_reports.get(batch_id=sent.id, report_type="full", status=["REJECTED"])
    assert [s.recipients for s in failed.statuses] == [["447700900720"]]
    one = sms.delivery_reports.get_for_number(batch_id=sent.id, recipient="+447700900020")
    assert one.status == "Delivered"
    assert one.code == 0
    listed = list(sms.delivery_reports.list(page_size=1, status=["DELIVERED"]).iterator())
    assert [r.recipient for r in listed] == ["447700900020"]
    assert sms.batches.send_delivery_feedback(batch_id=sent.id, recipients=[]) is None


def test_groups(sms):
    group = sms.groups.create(name="sdk friends", members=["447700900030", "447700900031"])
    assert group.size == 2
    assert group.child_groups == []
    # SDK 2.x sends "name": null when no name is given, which the API reads as "remove the
    # name"; keep it by passing it again.
    updated = sms.groups.update(
        group_id=group.id, add=["447700900032"], remove=["447700900030"], name="sdk friends"
    )
    assert updated.size == 2
    assert sms.groups.update(group_id=group.id).name is None
    members = list(sms.groups.list_members(group_id=group.id).iterator())
    assert sorted(members) == ["447700900031", "447700900032"]
    assert [g.id for g in sms.groups.list().iterator()] == [group.id]
    assert sms.groups.delete(group_id=group.id) is None


def test_inbounds(sms, plan):
    sms.batches.send_sms(to=["447700900050"], from_="12345", body="Reply?")
    reply = plan.sandbox.backend.inbounds.reply_from_handset("447700900050", "Yes")
    listed = list(sms.inbounds.list(to=["12345"]).iterator())
    assert [mo.id for mo in listed] == [reply.id]
    assert sms.inbounds.get(inbound_id=reply.id).body == "Yes"


@pytest.mark.parametrize(
    ("status", "call"),
    [
        (400, lambda sms: sms.batches.send_sms(to=["+1"], from_="1", body="x")),
        (404, lambda sms: sms.batches.get(batch_id="01AAAAAAAAAAAAAAAAAAAAAAAA")),
    ],
)
def test_errors_raise_sms_exception(sms, status, call):
    with pytest.raises(SmsException) as error:
        call(sms)
    assert error.value.http_response.status_code == status
    assert "text" in error.value.http_response.body


def test_wrong_token_and_rate_limit(plan):
    with pytest.raises(SmsException) as error:
        sdk_client(plan, token="not-the-token").sms.batches.get(batch_id="x")
    assert error.value.http_response.status_code == 401
    plan.fault(kind="status", status=429)
    with pytest.raises(SmsException) as limited:
        sdk_client(plan, retries=0).sms.batches.get(batch_id="x")
    assert limited.value.http_response.status_code == 429
    assert limited.value.http_response.headers["Retry-After"] == "1"


def test_sdk_retries_429_after_retry_after(plan):
    """SDK 2.3 retries rate-limited calls itself, honouring Retry-After."""
    sent = sdk_client(plan).sms.batches.send_sms(to=["447700900060"], from_="1", body="x")
    plan.fault(kind="status", status=429, method="GET")
    assert sdk_client(plan).sms.batches.get(batch_id=sent.id).id == sent.id
    assert plan.batch_count() == 1
