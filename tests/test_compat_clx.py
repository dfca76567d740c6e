"""The legacy ``clx-sdk-xms`` client (the one the tutorial uses), unchanged, against the sandbox."""

from __future__ import annotations

import datetime as dt

import clx.xms
import clx.xms.api as api
import clx.xms.exceptions as exceptions
import pytest


@pytest.fixture
def client(plan):
    return clx.xms.Client(plan.plan_id, plan.token, plan.endpoint, 10)


def text_batch(recipients, body="Hello, ${name}!", parameters=None):
    create = api.MtBatchTextSmsCreate()
    create.sender = "12345"
    create.recipients = set(recipients)
    create.body = body
    if parameters is not None:
        create.parameters = parameters
    return create


def test_tutorial_send_returns_a_batch_id(client):
    parameters = {"name": {"+447700900001": "John", "default": "valued customer"}}
    batch = client.create_batch(
        text_batch(["+447700900001", "+447700900002"], parameters=parameters)
    )
    assert len(batch.batch_id) == 26
    assert batch.recipients == {"447700900001", "447700900002"}
    # Echoed as sent, "+" and all (as in Sinch's own SDK fixtures).
    assert batch.parameters == {"name": {"+447700900001": "John", "default": "valued customer"}}
    assert batch.canceled is False
    fetched = client.fetch_batch(batch.batch_id)
    assert fetched.batch_id == batch.batch_id
    assert fetched.body == "Hello, ${name}!"


def test_dry_run_per_recipient_bodies(client):
    parameters = {"name": {"+447700900001": "John", "default": "friend"}}
    result = client.create_batch_dry_run(
        text_batch(["+447700900001", "+447700900002"], parameters=parameters), 10
    )
    assert result.number_of_recipients == 2
    assert result.number_of_messages == 2
    bodies = {r.recipient: r.body for r in result.per_recipient}
    assert bodies == {"447700900001": "Hello, John!", "447700900002": "Hello, friend!"}
    assert {r.encoding for r in result.per_recipient} == {"text"}


def test_binary_batch_with_trailing_newline_base64(client):
    create = api.MtBatchBinarySmsCreate()
    create.sender = "12345"
    create.recipients = {"447700900003"}
    create.udh = b"\x05\x00\x03\x01\x02\x01"
    create.body = b"\x00\x01\x02\x03"
    batch = client.create_batch(create)
    assert batch.body == b"\x00\x01\x02\x03"
    assert batch.udh == b"\x05\x00\x03\x01\x02\x01"


def test_cancel_update_replace_and_tags(client):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    create = text_batch(["447700900010"], body="Later")
    create.send_at = later
    batch = client.create_batch(create)
    update = api.MtBatchTextSmsUpdate()
    update.recipient_insertions = {"447700900011"}
    update.body = "Later, updated"
    updated = client.update_batch(batch.batch_id, update)
    assert updated.recipients == {"447700900010", "447700900011"}
    assert updated.body == "Later, updated"
    replaced = client.replace_batch(batch.batch_id, text_batch(["447700900012"], body="New"))
    assert replaced.batch_id == batch.batch_id
    assert replaced.recipients == {"447700900012"}
    assert client.replace_batch_tags(batch.batch_id, ["b", "a"]) == {"a", "b"}
    assert client.update_batch_tags(batch.batch_id, ["c"], ["a"]) == {"b", "c"}
    assert client.fetch_batch_tags(batch.batch_id) == {"b", "c"}
    client.cancel_batch(batch.batch_id)  # the legacy client returns nothing here
    assert client.fetch_batch(batch.batch_id).canceled is True


def test_paging_stops_at_the_end(client):
    for index in range(7):
        client.create_batch(text_batch([f"44770090010{index}"], body=f"n{index}"))
    pages = client.fetch_batches(page_size=3)
    seen = [batch.batch_id for page in pages for batch in page]
    assert len(seen) == 7
    assert len(set(seen)) == 7


def test_delivery_reports(client):
    batch = client.create_batch(
        text_batch(["447700900020", "447700900520"], body="Hi", parameters=None)
    )
    summary = client.fetch_delivery_report(batch.batch_id)
    assert summary.total_message_count == 2
    assert {(s.code, s.status) for s in summary.statuses} == {(0, "Delivered"), (11, "Failed")}
    full = client.fetch_delivery_report(batch.batch_id, kind="full", status={"Failed"})
    assert [s.recipients for s in full.statuses] == [{"447700900520"}]
    one = client.fetch_recipient_delivery_report(batch.batch_id, "+447700900020")
    assert one.status == "Delivered"
    assert one.code == 0
    assert one.recipient == "447700900020"


def test_groups(client):
    create = api.GroupCreate()
    create.name = "clx friends"
    create.members = {"447700900030", "447700900031"}
    group = client.create_group(create)
    assert group.size == 2
    assert group.child_groups == set()
    update = api.GroupUpdate()
    update.member_insertions = {"447700900032"}
    update.member_removals = {"447700900030"}
    assert client.update_group(group.group_id, update).size == 2
    assert client.fetch_group_members(group.group_id) == {"447700900031", "447700900032"}
    assert client.fetch_group(group.group_id).name == "clx friends"
    assert [g.group_id for page in client.fetch_groups() for g in page] == [group.group_id]
    replace = api.GroupCreate()
    replace.members = {"447700900040"}
    assert client.replace_group(group.group_id, replace).size == 1
    assert client.replace_group_tags(group.group_id, ["x"]) == {"x"}
    assert client.update_group_tags(group.group_id, ["y"], []) == {"x", "y"}
    assert client.fetch_group_tags(group.group_id) == {"x", "y"}
    sent = client.create_batch(text_batch([group.group_id], body="To a group"))
    assert client.fetch_delivery_report(sent.batch_id).total_message_count == 1
    client.delete_group(group.group_id)
    with pytest.raises(exceptions.NotFoundException):
        client.fetch_group(group.group_id)


def test_inbounds(client, plan):
    batch = client.create_batch(text_batch(["447700900050"], body="Reply?"))
    reply = plan.sandbox.backend.inbounds.reply_from_handset("447700900050", "Yes please")
    listed = [mo for page in client.fetch_inbounds() for mo in page]
    assert [mo.message_id for mo in listed] == [reply.id]
    fetched = client.fetch_inbound(reply.id)
    assert fetched.body == "Yes please"
    assert fetched.sender == "447700900050"
    assert fetched.recipient == "12345"
    assert batch.batch_id


def test_errors_map_to_the_clients_exceptions(client, plan):
    with pytest.raises(exceptions.ErrorResponseException) as bad:
        client.create_batch(text_batch(["+1"]))
    assert bad.value.error_code == "syntax_invalid_parameter_format"
    with pytest.raises(exceptions.NotFoundException):
        client.fetch_batch("01AAAAAAAAAAAAAAAAAAAAAAAA")
    wrong = clx.xms.Client(plan.plan_id, "wrong-token", plan.endpoint, 10)
    with pytest.raises(exceptions.UnauthorizedException):
        wrong.fetch_batch("x")
    plan.fault(kind="status", status=429)
    with pytest.raises(exceptions.UnexpectedResponseException):
        client.fetch_batches().get(0)
