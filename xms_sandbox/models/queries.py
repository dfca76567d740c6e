"""Query helpers several stores share: rows read back as records, time windows, pages.

Batches and their recipient rows are read by more than the batch store (reports, the outbox and
the virtual handsets read them too), so turning those rows into records lives here rather than
in any one store, which keeps the stores from importing each other.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, TypeVar

from ..lifecycle import Recipient
from .records import Batch, Page, Plan, RecipientRow

T = TypeVar("T")

#: Listings without a ``start_date`` go back one day, as the API's do.
DAY = 24 * 3600
#: Every batch stores its ``deliver_after`` when accepted; this (Timing's default) only covers a
#: row that lacks it, such as one written by hand.
_FALLBACK_DELIVER_AFTER = 1.0


def batch_from_row(row: sqlite3.Row) -> Batch:
    """A ``batches`` row (``SELECT *``, or ``b.*`` of a join) as a :class:`Batch`."""
    return Batch(
        id=row["id"],
        plan_id=row["plan_id"],
        spec=json.loads(row["data"]),
        created_at=row["created_at"],
        modified_at=row["modified_at"],
        expire_at=row["expire_at"],
        canceled_at=row["canceled_at"],
    )


def recipient_from_row(batch: Batch, row: sqlite3.Row) -> RecipientRow:
    """A ``recipients`` row of ``batch``, with everything its timeline depends on."""
    return recipients_from_rows(
        batch, [(row["idx"], row["msisdn"], row["dispatch_at"], row["abort_code"], row["reported"])]
    )[0]


#: The columns :func:`recipients_from_rows` reads, in its order.
RECIPIENT_COLUMNS = "idx, msisdn, dispatch_at, abort_code, reported"


def recipients_from_rows(batch: Batch, rows: list[tuple[Any, ...]]) -> list[RecipientRow]:
    """Rows of ``batch`` (plain tuples of RECIPIENT_COLUMNS) as records; a report makes one
    per recipient each time it is asked for, so the batch's part is worked out once."""
    deliver_after = batch.spec.get("deliver_after", _FALLBACK_DELIVER_AFTER)
    # Queued when sent, or when last replaced; rows written before queued_at was kept (and
    # never replaced since) were queued at created_at.
    start = batch.spec.get("queued_at", batch.created_at)
    expire, canceled = batch.expire_at, batch.canceled_at
    return [
        RecipientRow(
            idx,
            msisdn,
            Recipient(msisdn, start, dispatch_at, expire, deliver_after, abort_code, canceled),
            reported,
        )
        for idx, msisdn, dispatch_at, abort_code, reported in rows
    ]


def windowed(
    select: str,
    column: str,
    start: float,
    end: float | None,
    equal: dict[str, Any],
    among: dict[str, list[str] | None],
) -> tuple[str, list[Any]]:
    """``select`` narrowed to ``start <= column < end`` and the given filters, newest first.

    Filters whose value is None (or an empty list) are left out: an absent query parameter
    means "any". Ties on ``column`` fall back to insertion order, so pages never overlap.
    """
    sql = f"{select} AND {column} >= ?"
    params: list[Any] = [start]
    if end is not None:
        sql += f" AND {column} < ?"
        params.append(end)
    for name, value in equal.items():
        if value is not None:
            sql += f" AND {name} = ?"
            params.append(value)
    for name, values in among.items():
        if values:
            sql += f" AND {name} IN ({','.join('?' * len(values))})"
            params.extend(values)
    return sql + f" ORDER BY {column} DESC, rowid DESC", params


def paginate(items: list[T], page: int, size: int) -> Page[T]:
    """Page ``page`` (from 0) of ``size`` items; past the end is an empty page, not an error."""
    return Page(items[page * size : (page + 1) * size], page, len(items))


def marks(count: int) -> str:
    """``?,?,?``: placeholders for an ``IN (...)`` of ``count`` values."""
    return ",".join("?" * count)


class Tagged:
    """The legacy tag operations of a store whose items carry tags (batches and groups): the
    store says how to read and replace them, and adding-then-removing is written once here."""

    def tags(self, plan: Plan, item_id: str) -> list[str]:
        raise NotImplementedError

    def set_tags(self, plan: Plan, item_id: str, tags: list[str]) -> list[str]:
        raise NotImplementedError

    def change_tags(self, plan: Plan, item_id: str, add: list[str], remove: list[str]) -> list[str]:
        """Add, then remove, tags."""
        current = set(self.tags(plan, item_id))
        return self.set_tags(plan, item_id, list((current | set(add)) - set(remove)))
