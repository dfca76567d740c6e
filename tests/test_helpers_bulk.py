"""Bulk sending with a journal, waiting for delivery, and delivery frames and plots."""

from __future__ import annotations

import functools
import json
import stat

import pandas as pd
import pytest

import sinch_helpers as sh
import xms_sandbox
from sinch_helpers_machinery.bulk import BulkPlan, Journal
from sinch_helpers_machinery.progress import PROGRESS_AFTER
from sinch_helpers_machinery.settings import state_dir

NUMBERS = [f"+4477009{i:05d}" for i in range(2500)]


def delivered_numbers(client, frame) -> list[str]:
    numbers = []
    for batch_id in frame["batch_id"]:
        report = client.delivery_report(batch_id, "full")
        numbers += [n for s in report.statuses for n in s["recipients"]]
    return numbers


def test_send_bulk_splits_and_slices_parameters(client, plan):
    parameters = {"name": {n: f"P{i}" for i, n in enumerate(NUMBERS)} | {"default": "x"}}
    result = sh.send_bulk(client, NUMBERS, "Hi ${name}", "Co", parameters, progress=False)
    assert result["recipients"].tolist() == [1000, 1000, 500]
    assert result["state"].tolist() == ["sent"] * 3
    assert plan.batch_count() == 3
    second = client.get_batch(result.loc[1, "batch_id"])
    assert set(second.parameters["name"]) == set(NUMBERS[1000:2000]) | {"default"}  # as sent
    assert sorted(delivered_numbers(client, result)) == sorted(n[1:] for n in NUMBERS)


def test_send_bulk_takes_a_recipients_frame(client):
    table = sh.load_recipients(io_text("phone,name\n+447700900001,Ann\nbad,Bob\n"))
    result = sh.send_bulk(client, table, "Hi", "Co", batch_size=10, progress=False)
    assert result["recipients"].tolist() == [1]


def io_text(text: str):
    import io

    return io.StringIO(text)


def test_resuming_after_a_failure_sends_everyone_exactly_once(client, plan, tmp_path):
    journal = tmp_path / "bulk.jsonl"
    plan.fault(kind="status", status=503, method="POST", path="/batches", after=1, count=50)
    with pytest.raises(sh.BulkSendInterrupted) as stopped:
        sh.send_bulk(client, NUMBERS, "Hi", "Co", journal=journal, progress=False)
    assert "journal=" in stopped.value.hint
    assert stopped.value.sent["batch"].tolist() == [1]
    assert plan.batch_count() == 1
    plan.control("DELETE", "/faults", params={"plan_id": plan.plan_id})
    result = sh.send_bulk(client, NUMBERS, "Hi", "Co", journal=journal, progress=False)
    assert result["state"].tolist() == ["already sent", "sent", "sent"]
    assert plan.batch_count() == 3
    numbers = delivered_numbers(client, result)
    assert len(numbers) == len(set(numbers)) == 2500


def test_a_batch_accepted_but_not_journaled_is_not_sent_again(client, plan, tmp_path):
    journal = tmp_path / "bulk.jsonl"
    sh.send_bulk(client, NUMBERS, "Hi", "Co", journal=journal, progress=False)
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])  # crash mid-write
    again = sh.send_bulk(client, NUMBERS, "Hi", "Co", journal=journal, progress=False)
    assert again["state"].tolist() == ["already sent"] * 3
    assert plan.batch_count() == 3


def test_a_journal_belongs_to_one_send(client, plan, tmp_path):
    journal = tmp_path / "bulk.jsonl"
    sh.send_bulk(client, NUMBERS[:10], "One", "Co", journal=journal, progress=False)
    with pytest.raises(sh.JournalError, match="records another send"):
        sh.send_bulk(client, NUMBERS[:10], "Two", "Co", journal=journal, progress=False)
    assert plan.batch_count() == 1


def test_a_new_journal_is_a_new_send_even_with_the_same_message(client, plan, tmp_path):
    """Sending the same message again on purpose is never mistaken for a resume."""
    for name in ("first.jsonl", "second.jsonl"):
        result = sh.send_bulk(
            client, NUMBERS[:10], "Same", "Co", journal=tmp_path / name, progress=False
        )
        assert result["state"].tolist() == ["sent"]
    assert plan.batch_count() == 2


def test_a_batch_sent_before_its_first_journal_line_is_found(client, plan, tmp_path):
    """A crash after the first batch was accepted but before anything was journaled."""
    journal = tmp_path / "bulk.jsonl"
    send = functools.partial(sh.send_bulk, client, NUMBERS[:20], "Hi", "Co", batch_size=10)
    send(journal=journal, progress=False)
    header = journal.read_text().splitlines()[0]
    journal.write_text(header + "\n")
    again = send(journal=journal, progress=False)
    assert again["state"].tolist() == ["already sent"] * 2
    assert plan.batch_count() == 2


def test_a_journal_in_use_is_refused(client, plan, tmp_path):
    journal = tmp_path / "bulk.jsonl"
    holder = Journal(journal)
    holder.open(BulkPlan(NUMBERS[:1], "Hi", "Co", None, 10, {}), plan.plan_id, "x")
    try:
        with pytest.raises(sh.JournalError, match="Another send_bulk is using"):
            sh.send_bulk(client, NUMBERS[:1], "Hi", "Co", journal=journal, progress=False)
    finally:
        holder.close()
    assert plan.batch_count() == 0


@pytest.mark.parametrize("bad_line", ["1", "{}", '{"batch": "one"}', "not json"])
def test_a_damaged_line_is_named_and_nothing_is_sent(client, plan, tmp_path, bad_line):
    journal = tmp_path / "bulk.jsonl"
    send = functools.partial(sh.send_bulk, client, NUMBERS[:20], "Hi", "Co", batch_size=10)
    send(journal=journal, progress=False)
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join([lines[0], bad_line, *lines[1:]]) + "\n")
    with pytest.raises(sh.JournalError, match="line 2 of"):
        send(journal=journal, progress=False)
    assert plan.batch_count() == 2


@pytest.mark.parametrize("text", ['{"fingerprint": "from an older version"}\n', "my notes"])
def test_a_file_that_is_not_a_journal_is_left_alone(client, plan, tmp_path, text):
    journal = tmp_path / "notes.txt"
    journal.write_text(text)
    with pytest.raises(sh.JournalError, match="does not start like a send_bulk journal"):
        sh.send_bulk(client, NUMBERS[:10], "Hi", "Co", journal=journal, progress=False)
    assert journal.read_text() == text
    assert plan.batch_count() == 0


def test_a_header_torn_mid_write_starts_the_send_afresh(client, plan, tmp_path):
    journal = tmp_path / "bulk.jsonl"
    journal.write_text('{"kind": "send_bulk journal", "job": "12')
    result = sh.send_bulk(client, NUMBERS[:10], "Hi", "Co", journal=journal, progress=False)
    assert result["state"].tolist() == ["sent"]
    assert [json.loads(line)["kind"] for line in journal.read_text().splitlines()[:1]] == [
        "send_bulk journal"
    ]
    assert plan.batch_count() == 1


def test_a_binary_file_is_not_a_journal(client, plan, tmp_path):
    journal = tmp_path / "bulk.jsonl"
    journal.write_bytes(b"\xff\xfe\x00binary\n")
    with pytest.raises(sh.JournalError, match="not text"):
        sh.send_bulk(client, NUMBERS[:10], "Hi", "Co", journal=journal, progress=False)
    assert plan.batch_count() == 0


def test_a_journal_from_a_server_that_forgot_says_so(tmp_path):
    """The embedded sandbox kept in memory forgets everything when its kernel stops."""
    journal = tmp_path / "bulk.jsonl"
    with xms_sandbox.start(plans={"plan-x": "token-x"}) as first:
        gone = sh.SmsClient(sh.Credentials("plan-x", "token-x", base_url=first.url), sandbox=True)
        sh.send_bulk(gone, NUMBERS[:10], "Hi", "Co", journal=journal, progress=False)
    with xms_sandbox.start(plans={"plan-x": "token-x"}) as second:
        fresh = sh.SmsClient(sh.Credentials("plan-x", "token-x", base_url=second.url), sandbox=True)
        with pytest.raises(sh.JournalError, match="are not on") as error:
            sh.send_bulk(fresh, NUMBERS[:10], "Hi", "Co", journal=journal, progress=False)
        assert "delete" in str(error.value)
        assert second.backend.batches.count("plan-x") == 0


def test_resuming_says_so(client, tmp_path, capsys):
    journal = tmp_path / "bulk.jsonl"
    sh.send_bulk(client, NUMBERS[:10], "Hi", "Co", journal=journal, progress=False)
    assert "Resuming" not in capsys.readouterr().out
    sh.send_bulk(client, NUMBERS[:10], "Hi", "Co", journal=journal, progress=False)
    assert "1 of 1 batch(es) were accepted before" in capsys.readouterr().out


def test_batch_size_is_checked(client):
    with pytest.raises(ValueError, match="1 to 1000"):
        sh.send_bulk(client, NUMBERS, "Hi", "Co", batch_size=1001)


def test_wait_for_delivery_finishes(client, capsys):
    batch = client.send_batch(["+447700900001", "+447700900555"], "Hi", "Co")
    report = sh.wait_for_delivery(client, batch.id, timeout=5, progress=False)
    assert report.finished is True
    assert "All 2 recipient(s)" in capsys.readouterr().out


def test_wait_for_delivery_times_out_and_says_so(sandbox_slow_client, capsys):
    batch = sandbox_slow_client.send_batch(["+447700900001"], "Hi", "Co")
    report = sh.wait_for_delivery(
        sandbox_slow_client, batch.id, timeout=0.3, poll_interval=0.1, progress=False
    )
    assert report.finished is False
    assert "1 of 1 recipient(s) still in progress (1 Queued)" in capsys.readouterr().out


def test_a_progress_bar_appears_only_when_the_work_is_slow(client, sandbox_slow_client, capsys):
    quick = client.send_batch(["+447700900001"], "Hi", "Co")
    sh.wait_for_delivery(client, quick.id, timeout=5)
    assert capsys.readouterr().err == ""  # done before a bar was worth drawing
    slow = sandbox_slow_client.send_batch(["+447700900001"], "Hi", "Co")
    sh.wait_for_delivery(sandbox_slow_client, slow.id, timeout=PROGRESS_AFTER + 0.3)
    assert "Final:   0%" in capsys.readouterr().err


@pytest.fixture
def sandbox_slow_client(slow_plan):
    credentials = sh.Credentials(slow_plan.plan_id, slow_plan.token, base_url=slow_plan.sandbox.url)
    return sh.SmsClient(credentials, sandbox=True)


@pytest.fixture
def three_friends(client):
    """A finished batch: two numbers delivered, one failed."""
    return client.send_batch(["+447700900001", "+447700900002", "+447700900555"], "Hi", "Co")


def test_a_full_report_becomes_one_row_per_recipient(client, three_friends):
    full = sh.delivery_frame(client.delivery_report(three_friends.id, "full"))
    assert full[["recipient", "status"]].values.tolist() == [
        ["447700900001", "Delivered"],
        ["447700900002", "Delivered"],
        ["447700900555", "Failed"],
    ]


def test_a_summary_becomes_one_row_per_status(client, three_friends):
    summary = sh.delivery_frame(client.delivery_report(three_friends.id))
    assert summary[["status", "count"]].values.tolist() == [["Delivered", 2], ["Failed", 1]]


@pytest.mark.usefixtures("three_friends")
def test_listed_reports_become_one_row_each(client):
    listed = sh.delivery_frame(client.list_delivery_reports())
    assert list(listed.columns) == ["batch_id", "recipient", "status", "code", "at"]
    assert sorted(listed["recipient"]) == ["447700900001", "447700900002", "447700900555"]


def test_one_recipient_report_becomes_one_row(client, three_friends):
    one = sh.delivery_frame(client.recipient_report(three_friends.id, "+447700900555"))
    assert one[["batch_id", "recipient", "status", "code"]].values.tolist() == [
        [three_friends.id, "447700900555", "Failed", 11]
    ]


def test_the_chart_prints_as_text_bars(client, three_friends):
    full = sh.delivery_frame(client.delivery_report(three_friends.id, "full"))
    chart = sh.plot_delivery(full, title="Three <friends>")
    assert chart.counts == (("Delivered", 2), ("Failed", 1))
    assert repr(chart).splitlines() == [
        "Three <friends>",
        "Delivered  " + "█" * 30 + " 2",
        "Failed     " + "█" * 15 + " 1",
    ]


def test_the_chart_draws_as_escaped_svg(client, three_friends):
    chart = sh.plot_delivery(client.delivery_report(three_friends.id, "full"), "Three <friends>")
    svg = chart._repr_svg_()
    assert svg.startswith("<svg")
    assert "Three &lt;friends&gt;" in svg
    assert svg.count("<rect") == 3  # the background and one bar per status


def test_a_summary_report_draws_the_same_chart(client, three_friends):
    from_summary = sh.plot_delivery(client.delivery_report(three_friends.id))
    assert from_summary.counts == (("Delivered", 2), ("Failed", 1))
    assert from_summary.title == "Delivery status"


def test_a_table_without_statuses_cannot_be_drawn():
    with pytest.raises(ValueError, match="no 'status' column"):
        sh.plot_delivery(pd.DataFrame({"recipient": ["447700900001"]}))


def test_a_lost_journal_of_an_unfinished_send_resumes_it(client, plan, tmp_path, capsys):
    """The journal is deleted in the middle of a send: the same call resumes that send (every
    batch looked up) rather than sending everyone the message again."""
    journal = tmp_path / "bulk.jsonl"
    plan.fault(kind="status", status=503, method="POST", path="/batches", after=1, count=50)
    with pytest.raises(sh.BulkSendInterrupted):
        sh.send_bulk(client, NUMBERS, "Hi", "Co", journal=journal, progress=False)
    plan.control("DELETE", "/faults", params={"plan_id": plan.plan_id})
    journal.unlink()
    unfinished = state_dir() / "unfinished-bulk-sends.json"
    assert stat.S_IMODE(unfinished.stat().st_mode) == 0o600  # it names the user's plans
    result = sh.send_bulk(client, NUMBERS, "Hi", "Co", journal=journal, progress=False)
    assert "never finished" in capsys.readouterr().out
    assert result["state"].tolist() == ["already sent", "sent", "sent"]
    assert plan.batch_count() == 3


def test_a_finished_send_with_its_journal_deleted_can_be_sent_again(client, plan, tmp_path):
    """Deleting the journal of a finished send is how a notebook sends the same list again."""
    journal = tmp_path / "bulk.jsonl"
    for _ in range(2):
        result = sh.send_bulk(client, NUMBERS[:10], "Hi", "Co", journal=journal, progress=False)
        assert result["state"].tolist() == ["sent"]
        journal.unlink()
    assert plan.batch_count() == 2
