"""Scheduling: who a batch goes to, when each message leaves the queue, and what it says.

A batch's targets (numbers and group IDs) are expanded to unique numbers, and each number gets a
``recipients`` row with its dispatch time and, when it cannot be sent, an abort code. Nothing
moves those rows later: :mod:`~xms_sandbox.lifecycle` works out each recipient's status at any
moment from them. A batch that has not gone out yet is scheduled again when a group it targets
changes, because the API expands groups when it sends, not when it accepts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from .. import lifecycle
from ..encoding import GSM, analyse, truncate_to_one_part
from ..errors import ApiError
from ..substitution import DEFAULT, Parameters, by_number, placeholders, render, unmatched
from .config import Clock, SandboxConfig
from .groups import members_of
from .plans import PlanStore
from .queries import RECIPIENT_COLUMNS, batch_from_row, recipients_from_rows
from .records import Batch, Plan, RecipientRow

#: ``delivery_report`` modes that post callbacks (every mode but ``none``).
REPORTING_MODES = ("summary", "full", "per_recipient", "per_recipient_final")


def message_for(
    spec: dict[str, Any], number: str, table: Parameters | None = None
) -> tuple[str, int, str]:
    """The text one recipient gets, its parts (0 = not sent) and its encoding.

    A recipient whose placeholders have no value gets the template back with 0 parts; so does
    one whose text needs more than ``max_number_of_message_parts`` (unless ``truncate_concat``
    cuts it to one part first). ``table`` is ``by_number(spec["parameters"])`` when the caller
    has it already (a dry run asks once per recipient).
    """
    if spec["type"] == "mt_binary":
        # The documented encodings are "text" and "unicode" only; 8-bit data is neither, and
        # "text" is the sandbox's choice (its one part is counted in bytes, not UCS-2 units).
        return spec["body"], 1, GSM
    text = _text_for(spec, number, table)
    if text is None:
        return spec["body"], 0, analyse(spec["body"]).encoding
    info = analyse(text)
    limit = spec.get("max_number_of_message_parts")
    return text, 0 if limit and info.parts > limit else info.parts, info.encoding


def parts_reported(
    spec: dict[str, Any], number: str, table: Parameters | None = None
) -> int | None:
    """``number_of_message_parts`` of a recipient's delivery report: the parts its text needs,
    reported only when the batch sets ``max_number_of_message_parts`` (as the API does), and
    None for a recipient whose text could not be made (a placeholder without a value)."""
    if spec["type"] != "mt_text" or not spec.get("max_number_of_message_parts"):
        return None
    text = _text_for(spec, number, table)
    return None if text is None else analyse(text).parts


def parts_counter(spec: dict[str, Any]) -> Callable[[str], int | None]:
    """:func:`parts_reported` for many recipients of one batch, its parameters looked up once
    (and not at all when the batch reports no parts)."""
    if spec["type"] != "mt_text" or not spec.get("max_number_of_message_parts"):
        return lambda _number: None
    table = by_number(spec.get("parameters"))
    return lambda number: parts_reported(spec, number, table)


def _text_for(spec: dict[str, Any], number: str, table: Parameters | None) -> str | None:
    """A text batch's message for ``number`` as sent (parameters filled in, cut to one part
    with ``truncate_concat``), or None when a placeholder has no value for it."""
    if table is None:
        table = by_number(spec.get("parameters"))
    text = render(spec["body"], table, number)
    if text is not None and spec.get("truncate_concat"):
        text = truncate_to_one_part(text)
    return text


def abort_codes(spec: dict[str, Any], numbers: list[str]) -> list[int | None]:
    """405 where a placeholder has no value, 411 where the text needs too many parts."""
    body, limit = spec.get("body", ""), spec.get("max_number_of_message_parts")
    # Most batches have neither placeholders nor a part limit: skip the per-number work.
    if spec["type"] != "mt_text" or ("${" not in body and not limit):
        return [None] * len(numbers)
    keys = placeholders(body)
    given = spec.get("parameters") or {}
    # Every placeholder has a default and nothing limits the parts: nobody can be aborted, and
    # a room's bulk sends (a hundred recipients each, names and a default) skip the loop.
    if not limit and all(DEFAULT in given.get(key, {}) for key in keys):
        return [None] * len(numbers)
    parameters = by_number(spec.get("parameters"))
    codes: list[int | None] = []
    for number in numbers:
        if unmatched(keys, parameters, number):
            codes.append(lifecycle.UNMATCHED_PARAMETER)
        elif limit and not spec.get("truncate_concat"):
            text = render(body, parameters, number)  # not None: unmatched() said so
            too_long = text is not None and analyse(text).parts > limit
            codes.append(lifecycle.EXCEEDED_PARTS if too_long else None)
        else:
            codes.append(None)
    return codes


class Scheduler:
    """The ``recipients`` table, and the ``callbacks_pending`` mark each schedule sets."""

    def __init__(self, config: SandboxConfig, clock: Clock, plans: PlanStore) -> None:
        self.config = config
        self.clock = clock
        self.plans = plans

    def expand(
        self,
        db: sqlite3.Connection,
        plan: Plan,
        targets: list[str],
        deleted_groups_are_empty: bool = False,
    ) -> list[str]:
        """Numbers and group IDs → the unique numbers to send to, in order.

        An unknown group is a 403, except when a scheduled batch is expanded again after one
        of its groups was deleted: then it simply has no members.
        """
        numbers: dict[str, None] = {}
        for index, target in enumerate(targets):
            if target.isdigit():
                numbers[target] = None
                continue
            try:
                members = members_of(db, plan, target, f"to[{index}]")
            except ApiError:
                if not deleted_groups_are_empty:
                    raise
                members = []
            numbers.update(dict.fromkeys(members))
        return list(numbers)

    def schedule(
        self,
        db: sqlite3.Connection,
        plan: Plan,
        batch_id: str,
        spec: dict[str, Any],
        numbers: list[str],
        moment: float,
        fresh: bool = False,
    ) -> None:
        """(Re)create the batch's recipient rows with their dispatch times and abort codes.

        ``fresh``: the batch row was just inserted, with no recipients yet and its
        ``callbacks_pending`` already set, so two statements can be left out.
        """
        codes = abort_codes(spec, numbers)
        if not fresh:
            db.execute("DELETE FROM recipients WHERE batch_id = ?", (batch_id,))
        start = max(spec.get("send_at") or moment, moment) + self.config.timing.dispatch_after
        times = self.plans.queue_slots(db, plan, start, len(numbers))
        db.executemany(
            "INSERT INTO recipients (batch_id, idx, msisdn, dispatch_at, abort_code) "
            "VALUES (?, ?, ?, ?, ?)",
            [(batch_id, i, number, times[i], codes[i]) for i, number in enumerate(numbers)],
        )
        if not fresh:
            due = self.callbacks_due(spec, moment)
            db.execute("UPDATE batches SET callbacks_pending = ? WHERE id = ?", (due, batch_id))

    @staticmethod
    def callbacks_due(spec: dict[str, Any], moment: float) -> float | None:
        """From when the callback worker looks at the batch (None: never, it wants none)."""
        return moment if spec.get("delivery_report", "none") in REPORTING_MODES else None

    @staticmethod
    def unschedule(db: sqlite3.Connection, batch_id: str) -> None:
        """Forget the batch's recipients: it will send nothing and report nothing."""
        db.execute("DELETE FROM recipients WHERE batch_id = ?", (batch_id,))

    @staticmethod
    def dispatched(db: sqlite3.Connection, batch_id: str, moment: float) -> bool:
        """Whether the batch's first message has left the queue by ``moment``."""
        row = db.execute(
            "SELECT MIN(dispatch_at) FROM recipients WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        return row[0] is not None and row[0] <= moment

    def refresh_for_group(self, db: sqlite3.Connection, plan: Plan, group_id: str) -> None:
        """Batches still waiting to go out that target the group get its members as they are
        now (the API expands groups at send time; a deleted group counts as empty)."""
        moment = self.clock()
        # instr() narrows the scan to batches whose JSON mentions the ID; the check below
        # makes sure it is one of their targets and not, say, part of their text.
        rows = db.execute(
            "SELECT * FROM batches WHERE plan_id = ? AND canceled_at IS NULL AND instr(data, ?)",
            (plan.id, f'"{group_id}"'),
        ).fetchall()
        for batch in map(batch_from_row, rows):
            if group_id in batch.spec["to"] and not self.dispatched(db, batch.id, moment):
                numbers = self.expand(db, plan, batch.spec["to"], deleted_groups_are_empty=True)
                self.schedule(db, plan, batch.id, batch.spec, numbers, moment)

    @staticmethod
    def recipients(
        db: sqlite3.Connection, batch: Batch, msisdn: str | None = None
    ) -> list[RecipientRow]:
        """The batch's recipient rows in the order they were expanded (or the row of ``msisdn``)."""
        sql = f"SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE batch_id = ?"
        params: list[Any] = [batch.id]
        if msisdn is not None:
            sql += " AND msisdn = ?"
            params.append(msisdn)
        cursor = db.cursor()
        cursor.row_factory = None  # plain tuples: a hundred rows cost less than as sqlite3.Row
        return recipients_from_rows(batch, cursor.execute(sql + " ORDER BY idx", params).fetchall())

    @staticmethod
    def mark_reported(db: sqlite3.Connection, batch_id: str, index: int, count: int) -> None:
        """Remember that the first ``count`` status events of a recipient were posted."""
        db.execute(
            "UPDATE recipients SET reported = ? WHERE batch_id = ? AND idx = ?",
            (count, batch_id, index),
        )
