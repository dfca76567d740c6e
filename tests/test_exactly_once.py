"""A send whose answer is lost is looked for, never sent again while it may still arrive.

Real HTTP against the sandbox; the faults (``latency``: wait before processing; ``timeout``:
process, then wait; ``drop``: process, then close; ``status``: answer without processing) are
the sandbox's own.
"""

from __future__ import annotations

import json
import time

import pytest

import sinch_helpers as sh
from sinch_helpers_machinery.exactly_once import settle_seconds

NUMBERS = [f"+4477009{n:05d}" for n in range(30)]


def test_a_send_held_past_the_timeout_is_found_not_sent_again(client, plan):
    """The request arrives 2 s after the client gave up: the client waits for it."""
    client.transport.timeout = 1.0
    plan.fault(kind="latency", seconds=3, method="POST", path="/batches")
    batch = client.send_batch(["+447700900001"], "held", "Co", client_reference="held-1")
    assert batch["client_reference"] == "held-1"
    time.sleep(0.5)  # nothing else is on its way
    assert plan.batch_count() == 1


def test_a_send_that_does_not_arrive_in_time_is_reported_not_resent(client, plan):
    client.transport.timeout = 0.5
    window = settle_seconds(0.5)
    plan.fault(kind="latency", seconds=window + 2, method="POST", path="/batches")
    started = time.monotonic()
    with pytest.raises(sh.SendOutcomeUnknown) as error:
        client.send_batch(["+447700900001"], "late", "Co", client_reference="late-1")
    assert window <= time.monotonic() - started < window + 1.5
    assert "late-1" in str(error.value)
    assert "client.find_sent('late-1')" in error.value.hint
    assert "not sent again" in str(error.value)
    assert plan.batch_count() == 0
    time.sleep(3)  # the first attempt arrives after all, and it is the only one
    assert plan.batch_count() == 1
    assert client.find_sent("late-1") is not None


def test_a_gateway_timeout_is_not_taken_for_a_refusal(client, plan):
    """A 504 comes from a gateway whose backend may still be at work: look, do not resend."""
    client.transport.timeout = 0.3
    plan.fault(kind="status", status=504, method="POST", path="/batches", count=5)
    with pytest.raises(sh.SendOutcomeUnknown):
        client.send_batch(["+447700900001"], "x", "Co", client_reference="gw-1")
    assert plan.batch_count() == 0


def test_a_refusal_is_sent_again_once_the_lookup_finds_nothing(client, plan):
    """A 500 answered the attempt: it is over, so a second attempt cannot duplicate it."""
    plan.fault(kind="status", status=500, method="POST", path="/batches")
    client.send_batch(["+447700900001"], "x", "Co")
    assert plan.batch_count() == 1


def test_lookups_that_keep_failing_end_in_send_outcome_unknown(client, plan):
    client.transport.timeout = 0.3
    plan.fault(kind="drop", method="POST", path="/batches")
    plan.fault(kind="status", status=503, count=1000, method="GET")
    with pytest.raises(sh.SendOutcomeUnknown) as error:
        client.send_batch(["+447700900001"], "x", "Co", client_reference="ref-42")
    assert "looking it up failed" in str(error.value)
    assert "ref-42" in error.value.hint
    assert plan.batch_count() == 1
    plan.control("DELETE", "/faults", params={"plan_id": plan.plan_id})
    assert client.find_sent("ref-42") is not None


def test_send_bulk_stops_on_an_unknown_outcome_and_the_rerun_finds_the_batch(
    client, plan, tmp_path
):
    client.transport.timeout = 0.5
    journal = tmp_path / "bulk.jsonl"
    send = {"batch_size": 10, "journal": journal, "progress": False}
    plan.fault(
        kind="latency", seconds=settle_seconds(0.5) + 1, method="POST", path="/batches", after=1
    )
    with pytest.raises(sh.BulkSendInterrupted) as stopped:
        sh.send_bulk(client, NUMBERS, "Hi", "Co", **send)
    assert "journal=" in stopped.value.hint
    again = sh.send_bulk(client, NUMBERS, "Hi", "Co", **send)
    assert again["state"].tolist() == ["already sent", "already sent", "sent"]
    assert plan.batch_count() == 3


def test_a_rerun_waits_for_a_batch_that_was_on_its_way(client, plan, tmp_path, capsys):
    """Killed just after writing its attempt: the rerun looks until the attempt has had time
    to arrive, then sends; and a batch the API refused is sent again at once."""
    client.transport.timeout = 0.3
    journal = tmp_path / "bulk.jsonl"
    send = {"batch_size": 10, "journal": journal, "progress": False}
    plan.fault(kind="status", status=400, method="POST", path="/batches", after=1)
    with pytest.raises(sh.BulkSendInterrupted):
        sh.send_bulk(client, NUMBERS, "Hi", "Co", **send)
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert lines[-1] == {"attempt": 2, "over": True}  # refused: nothing of it can arrive
    lines.append({"attempt": 3, "at": time.time()})  # as if killed right after this line
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    started = time.monotonic()
    again = sh.send_bulk(client, NUMBERS, "Hi", "Co", **send)
    assert time.monotonic() - started >= settle_seconds(0.3) - 0.5
    assert "Batch 3 was on its way" in capsys.readouterr().out
    assert again["state"].tolist() == ["already sent", "sent", "sent"]
    assert plan.batch_count() == 3
