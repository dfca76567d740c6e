"""A keyword argument the API does not document is a TypeError that names the closest valid
one, raised before anything is sent (``sendat=`` once sent the batch at once, silently)."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import sinch_helpers as sh
from sinch_helpers_machinery.api_facts import BATCH_FIELDS
from sinch_helpers_machinery.transport import HELPER_FIELDS

ROOT = Path(__file__).resolve().parent.parent
LATER = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()


def test_a_misspelt_send_at_sends_nothing(client, plan):
    with pytest.raises(TypeError) as error:
        client.send_batch(["+447700900001"], "Hi", "Co", sendat=LATER)
    assert str(error.value) == (
        "send_batch() got an unexpected keyword argument 'sendat'. Did you mean 'send_at'?"
    )
    assert plan.batch_count() == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda c: c.send_batch(["+447700900001"], "Hi", "Co", delivery_reprot="full"),
            "send_batch() got an unexpected keyword argument 'delivery_reprot'. "
            "Did you mean 'delivery_report'?",
        ),
        (
            lambda c: c.send_batch(["+447700900001"], "Hi", "Co", parametres={}),
            "Did you mean 'parameters'?",  # the helper's own parameters count too
        ),
        (
            lambda c: c.send_batch(["+447700900001"], "Hi", sendr="Co"),
            "Did you mean 'sender'?",
        ),
        (
            lambda c: c.send_batch(["+447700900001"], "Hi", "Co", colour="red"),
            "send_batch() got an unexpected keyword argument 'colour'. The API documents these "
            "fields for it: body, callback_url, client_reference, delivery_report, expire_at, ",
        ),
        (
            lambda c: c.dry_run(["+447700900001"], "Hi", per_recipients=False),
            "dry_run() got an unexpected keyword argument 'per_recipients'. "
            "Did you mean 'per_recipient'?",
        ),
        (
            lambda c: list(c.list_batches(client_refrence="x")),
            "list_batches() got an unexpected keyword argument 'client_refrence'. "
            "Did you mean 'client_reference'?",
        ),
        (
            lambda c: c.list_delivery_reports(stauts="Delivered"),  # raised at the call
            "Did you mean 'status'?",
        ),
        (lambda c: c.list_inbounds(start="2025-01-01"), "Did you mean 'start_date'?"),
        (lambda c: c.list_batches(page=2), "Did you mean 'page_size'?"),
        (
            lambda c: c.create_group("Team", ["+447700900001"], auto_updates={}),
            "create_group() got an unexpected keyword argument 'auto_updates'. "
            "Did you mean 'auto_update'?",
        ),
    ],
)
def test_every_helper_names_the_closest_field(client, plan, call, message):
    with pytest.raises(TypeError) as error:
        call(client)
    assert message in str(error.value)
    assert plan.batch_count() == 0
    assert list(client.list_groups()) == []


def test_changes_to_a_batch_are_checked_before_they_are_sent(client, plan):
    batch = client.send_batch(["+447700900001"], "Hi", "Co", send_at=LATER)
    with pytest.raises(TypeError, match=r"'to_ad'\. Did you mean 'to_add'"):
        client.update_batch(batch.id, to_ad=["+447700900002"], body="Changed")
    with pytest.raises(TypeError, match=r"replace_batch.*'sendat'\. Did you mean 'send_at'"):
        client.replace_batch(batch.id, ["+447700900003"], "Replaced", "Co", sendat=LATER)
    unchanged = client.get_batch(batch.id)
    assert (unchanged.body, unchanged.to) == ("Hi", ["447700900001"])
    assert plan.batch_count() == 1


def test_changes_to_a_group_are_checked_before_they_are_sent(client):
    group = client.create_group("Team", ["+447700900001"])
    with pytest.raises(TypeError, match=r"update_group.*'ad'\. Did you mean 'add'"):
        client.update_group(group.id, ad=["+447700900002"])
    with pytest.raises(TypeError, match=r"replace_group.*'nam'\. Did you mean 'name'"):
        client.replace_group(group.id, ["+447700900003"], nam="Other")
    assert client.group_members(group.id) == ["447700900001"]
    assert client.get_group(group.id).name == "Team"


def test_send_bulk_checks_before_its_journal_or_any_batch(client, plan, tmp_path):
    journal = tmp_path / "bulk.jsonl"
    numbers = ["+447700900001", "+447700900002"]
    with pytest.raises(TypeError) as error:
        sh.send_bulk(client, numbers, "Hi", "Co", journal=journal, progress=False, sendat=LATER)
    assert str(error.value) == (
        "send_bulk() got an unexpected keyword argument 'sendat'. Did you mean 'send_at'?"
    )
    # It numbers each batch's client_reference itself.
    with pytest.raises(TypeError, match=r"send_bulk\(\) .* 'client_reference'"):
        sh.send_bulk(client, numbers, "Hi", "Co", progress=False, client_reference="mine")
    assert plan.batch_count() == 0
    assert not journal.exists()


def test_documented_fields_go_through(client, plan, tmp_path):
    batch = client.send_batch(
        ["+447700900001"],
        "Hi",
        "Co",
        send_at=LATER,
        expire_at=(dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)).isoformat(),
        flash_message=False,
        truncate_concat=False,
        max_number_of_message_parts=3,
        feedback_enabled=True,
        type="mt_text",
        from_ton=5,
        from_npi=0,
    )
    assert batch.send_at.startswith(LATER[:16])
    client.update_batch(batch.id, to_remove=["+447700900001"], to_add=["+447700900002"])
    assert client.dry_run(["+447700900001"], "Hi", **{"from": "Co"}).number_of_messages == 1
    assert list(client.list_batches(**{"from": "Co"}, start_date="2000-01-01")) != []
    rows = sh.send_bulk(
        client, ["+447700900003"], "Bulk", "Co", journal=tmp_path / "j.jsonl", progress=False,
        send_at=LATER,
    )  # fmt: skip
    assert len(rows) == 1
    assert plan.batch_count() == 2


def test_every_helper_that_takes_keywords_is_checked():
    for name, method in vars(sh.SmsClient).items():
        if not inspect.isfunction(method):
            continue
        kinds = {p.kind for p in inspect.signature(method).parameters.values()}
        if inspect.Parameter.VAR_KEYWORD in kinds:
            assert name in HELPER_FIELDS, name
            assert hasattr(method, "__wrapped__"), f"{name} is not checked"
    assert hasattr(sh.send_bulk, "__wrapped__")


def keyword_calls(source: str) -> Iterator[tuple[str, str]]:
    """(helper, keyword) for each call of a checked helper in Python source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in HELPER_FIELDS:
                yield from ((name, k.arg) for k in node.keywords if k.arg is not None)


def notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = [
        "" if line.lstrip().startswith(("%", "!")) else line  # IPython's magics and shell
        for cell in cells
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
    ]
    return "\n".join(lines)


def test_every_keyword_the_notebooks_tests_and_bulk_use_is_accepted():
    sources = {p: notebook_code(p) for p in (ROOT / "notebooks").glob("*.ipynb")}
    others = [
        *(ROOT / "notebooks" / "solutions").glob("*.py"),
        *(p for p in (ROOT / "tests").glob("*.py") if p.name != Path(__file__).name),
        ROOT / "sinch_helpers_machinery" / "bulk.py",
    ]
    sources |= {p: p.read_text(encoding="utf-8") for p in others}
    used = {(name, key, p.name) for p, code in sources.items() for name, key in keyword_calls(code)}
    assert len(used) > 20  # the search finds them
    helpers = {**vars(sh.SmsClient), "send_bulk": sh.send_bulk}
    for name, key, where in used:
        own = inspect.signature(helpers[name]).parameters
        assert key in HELPER_FIELDS[name] or key in own, f"{where}: {name}({key}=...)"


def test_send_bulk_takes_what_send_batch_takes_but_its_own():
    assert HELPER_FIELDS["send_bulk"] == BATCH_FIELDS - {"to", "client_reference"}
