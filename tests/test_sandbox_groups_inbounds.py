"""Groups, inbound messages and the virtual handsets."""

from __future__ import annotations

import json
import re

import requests

from sinch_helpers_machinery import sandbox_controls


def test_group_lifecycle(plan):
    created = plan.post(
        "/groups", json={"name": "Choir", "members": ["+447700900001", "447700900002"]}
    )
    assert created.status_code == 201
    group = created.json()
    assert group["size"] == 2
    assert group["child_groups"] == []
    assert group["name"] == "Choir"
    gid = group["id"]
    updated = plan.post(
        f"/groups/{gid}", json={"add": ["447700900003", "447700900004"], "remove": ["447700900004"]}
    ).json()
    assert updated["size"] == 3  # adds first, then removes
    assert plan.get(f"/groups/{gid}/members").json() == [
        "447700900001",
        "447700900002",
        "447700900003",
    ]
    unnamed = plan.post(f"/groups/{gid}", json={"name": None}).json()
    assert "name" not in unnamed
    replaced = plan.put(f"/groups/{gid}", json={"name": "Band", "members": ["447700900009"]})
    assert replaced.json()["size"] == 1
    assert replaced.json()["name"] == "Band"
    assert plan.delete(f"/groups/{gid}").status_code == 200
    assert plan.get(f"/groups/{gid}").status_code == 404


def test_group_rules(plan):
    first = plan.post("/groups", json={"name": "Same"}).json()
    clash = plan.post("/groups", json={"name": "Same"})
    assert clash.status_code == 403
    assert clash.json()["code"] == "conflict_group_name"
    long_name = plan.post("/groups", json={"name": "x" * 21})
    assert long_name.status_code == 400
    assert "'name'" in long_name.json()["text"]
    bad_member = plan.post("/groups", json={"members": ["447700900001", "nope"]})
    assert "'members[1]'" in bad_member.json()["text"]
    unknown_child = plan.post("/groups", json={"child_groups": ["01ZZZZZZZZZZZZZZZZZZZZZZZZ"]})
    assert unknown_child.status_code == 403
    assert unknown_child.json()["code"] == "unknown_group"
    child = plan.post("/groups", json={"members": ["447700900005"]}).json()
    parent = plan.post(
        "/groups", json={"members": ["447700900006"], "child_groups": [child["id"]]}
    ).json()
    assert parent["size"] == 2
    copied = plan.post(f"/groups/{first['id']}", json={"add_from_group": parent["id"]}).json()
    assert copied["size"] == 2


def test_sending_to_a_group_expands_it(plan):
    group = plan.post("/groups", json={"members": ["447700900001", "447700900002"]}).json()
    batch = plan.send(to=[group["id"], "447700900002", "447700900003"])
    assert batch["to"] == [group["id"], "447700900002", "447700900003"]
    report = plan.get(f"/batches/{batch['id']}/delivery_report").json()
    assert report["total_message_count"] == 3  # duplicates count once


def test_group_paging(plan):
    ids = [plan.post("/groups", json={"name": f"g{i}"}).json()["id"] for i in range(5)]
    first = plan.get("/groups?page_size=2").json()
    assert first["count"] == 5
    assert first["page_size"] == 2
    assert [g["id"] for g in first["groups"]] == ids[::-1][:2]
    assert plan.get("/groups?page=3&page_size=2").json()["page_size"] == 0


def test_handset_receives_and_replies(plan):
    plan.send(
        to=["447700900001", "447700900555"],
        body="Hi ${n}",
        parameters={"n": {"default": "there"}},
        **{"from": "447700900100"},
        client_reference="r1",
    )
    mine = {"plan_id": plan.plan_id}  # the session's sandbox is shared by many tests
    phone = plan.control("GET", "/handsets/+447700900001", params=mine).json()
    assert [(m["direction"], m["body"], m["from"]) for m in phone] == [
        ("received", "Hi there", "447700900100")
    ]
    failed_phone = plan.control("GET", "/handsets/447700900555", params=mine).json()
    assert failed_phone == []  # a failed message never reaches the phone
    reply = plan.control(
        "POST",
        "/handsets/447700900001/reply",
        json={"body": "Thanks!", "service_plan_id": plan.plan_id},
    )
    assert reply.status_code == 201
    inbound = reply.json()
    assert inbound["to"] == "447700900100"
    assert inbound["client_reference"] == "r1"
    assert plan.get(f"/inbounds/{inbound['id']}").json() == inbound
    listed = plan.get("/inbounds", params={"to": "+447700900100"}).json()
    assert listed["count"] == 1
    assert listed["inbounds"] == [inbound]
    assert plan.get("/inbounds?to=123").json()["count"] == 0
    assert plan.get("/inbounds/01AAAAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    html = plan.control("GET", "/phones/447700900001", params=mine)
    assert html.headers["Content-Type"].startswith("text/html")
    assert "Hi there" in html.text
    assert "Thanks!" in html.text
    assert "<html" in html.text
    embed = plan.control("GET", "/phones?numbers=447700900001&embed=true").text
    assert "<html" not in embed
    assert "xms-phone" in embed


def test_reply_from_a_stranger_needs_a_plan(sandbox, instructor):
    answer = instructor.post(
        f"{sandbox.url}/sandbox/handsets/46709999999/reply", json={"body": "hi"}, timeout=5
    )
    assert answer.status_code == 404
    assert "service_plan_id" in answer.json()["text"]


def test_keyword_replies_update_auto_groups(plan):
    group = plan.post(
        "/groups",
        json={
            "auto_update": {
                "to": "447700900100",
                "add": {"first_word": "join"},
                "remove": {"first_word": "stop"},
            }
        },
    ).json()
    plan.send(to=["447700900001"], **{"from": "447700900100"})
    reply = "/handsets/447700900001/reply"
    plan.control("POST", reply, json={"body": "JOIN please"})
    assert plan.get(f"/groups/{group['id']}/members").json() == ["447700900001"]
    plan.control("POST", reply, json={"body": "stop"})
    assert plan.get(f"/groups/{group['id']}/members").json() == []


def test_sandbox_plans_endpoint(sandbox, instructor):
    created = instructor.post(
        f"{sandbox.url}/sandbox/plans",
        json={"id": "made-over-http", "token": "secret-token-1"},
        timeout=5,
    )
    assert created.status_code == 201
    assert "token" not in created.json()
    listing = instructor.get(f"{sandbox.url}/sandbox/plans", timeout=5).text
    assert "secret-token-1" not in listing
    assert "made-over-http" in listing
    bad = instructor.post(
        f"{sandbox.url}/sandbox/plans/made-over-http", json={"colour": "red"}, timeout=5
    )
    assert bad.status_code == 400
    assert "colour" in bad.json()["text"]
    outcomes = requests.get(f"{sandbox.url}/sandbox/outcomes", timeout=5).json()
    assert {o["status"] for o in outcomes} >= {
        "Delivered",
        "Failed",
        "Expired",
        "Rejected",
        "Aborted",
    }


def test_scheduled_batches_see_group_changes_until_they_go_out(slow_plan):
    group = slow_plan.post("/groups", json={"members": ["447700900001"]}).json()
    later = slow_plan.send(
        to=[group["id"]], send_at="2999-01-01T00:00:00Z", expire_at="2999-01-02T00:00:00Z"
    )
    now = slow_plan.send(to=[group["id"]])  # dispatched 30 s from now in this sandbox

    def total(batch) -> int:
        report = slow_plan.get(f"/batches/{batch['id']}/delivery_report").json()
        return report["total_message_count"]

    slow_plan.post(f"/groups/{group['id']}", json={"add": ["447700900002"]})
    assert (total(later), total(now)) == (2, 2)
    slow_plan.delete(f"/groups/{group['id']}")
    assert total(later) == 0  # a deleted group counts as empty
    assert slow_plan.get(f"/batches/{later['id']}").json()["to"] == [group["id"]]


def test_dispatched_batches_keep_their_recipients(plan):
    group = plan.post("/groups", json={"members": ["447700900001"]}).json()
    sent = plan.send(to=[group["id"]])
    plan.post(f"/groups/{group['id']}", json={"add": ["447700900002"]})
    report = plan.get(f"/batches/{sent['id']}/delivery_report").json()
    assert report["total_message_count"] == 1


def test_inbound_rows_keep_the_format_every_version_reads(plan, sandbox):
    """An inbound's ``data`` is the API's JSON plus its epoch, as every version wrote it: an
    older sandbox sharing the database file (a kernel started before an update) reads it as is."""
    plan.send(to=["447700900001"], **{"from": "447700900100"}, client_reference="kept")
    reply = plan.control(
        "POST",
        "/handsets/447700900001/reply",
        json={"body": "Stored", "service_plan_id": plan.plan_id},
    ).json()
    (row,) = sandbox.backend.storage.query(
        "SELECT received_at, data FROM inbounds WHERE id = ?", (reply["id"],)
    )
    assert json.loads(row["data"]) == {**reply, "_received_epoch": row["received_at"]}
    assert list(json.loads(row["data"]))[:-1] == list(reply)  # same fields, same order
    assert plan.get(f"/inbounds/{reply['id']}").json() == reply


def test_the_phones_page_draws_the_phones_used_last_and_their_last_messages(plan):
    """A room's wall has tens of thousands of phones, and every tab reloads it every 5 s: the
    page draws the 48 used last (in order of number) and each one's last 20 messages."""
    numbers = [f"44770090{n:04d}" for n in range(60)]
    plan.send(to=numbers[:30], body="first round")
    plan.send(to=numbers[30:], body="second round")
    for n in range(25):
        plan.send(to=[numbers[-1]], body=f"note {n}")
    key = sandbox_controls.phones_key(plan.token)
    page = requests.get(
        f"{plan.sandbox.url}/sandbox/phones",
        params={"plan_id": plan.plan_id, "key": key},
        timeout=10,
    ).text
    drawn = re.findall(r"<h3>\+(\d+)</h3>", page)
    assert len(drawn) == 48
    assert drawn == sorted(drawn)
    assert set(numbers[30:]) <= set(drawn)  # the second round's phones, and 18 of the first's
    assert "The 48 phones used last, of 60." in page
    last = page.split(f"<h3>+{numbers[-1]}</h3>")[1].split('class="xms-phone"')[0]
    assert "6 earlier messages" in last  # 1 + 25 messages, the last 20 drawn
    assert "note 24" in last
    assert "note 5" in last
    assert "note 4<" not in last
    some = plan.control("GET", "/phones", params={"numbers": f"+{numbers[0]}"}).text
    assert re.findall(r"<h3>\+(\d+)</h3>", some) == [numbers[0]]
    assert "used last" not in some
