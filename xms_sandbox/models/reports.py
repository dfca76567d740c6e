"""Delivery reports: a batch's report, one recipient's report, and the list of recipient reports.

Nothing here is stored: every report is worked out from the recipient rows and the clock, so it
is always as fresh as the moment it is asked for (see :mod:`~xms_sandbox.lifecycle`).
"""

from __future__ import annotations

import math
from typing import Any

from .. import lifecycle
from ..errors import not_found
from ..storage import Storage
from .batches import BatchStore
from .config import Clock
from .queries import DAY, batch_from_row, paginate
from .records import (
    Batch,
    BatchReport,
    Page,
    Plan,
    RecipientReport,
    RecipientRow,
    StatusBucket,
)
from .scheduling import Scheduler, parts_counter, parts_reported


def _kept(code: int, status: str, wanted: set[str], codes: set[int] | None) -> bool:
    """Whether a status passes the filters: ``wanted`` statuses (lower case) and ``codes``;
    an empty filter keeps everything."""
    return not (wanted and status.lower() not in wanted) and not (codes and code not in codes)


def summarise(
    batch: Batch,
    rows: list[RecipientRow],
    moment: float,
    full: bool,
    statuses: set[str] | None = None,
    codes: set[int] | None = None,
) -> BatchReport:
    """The batch report at ``moment``: recipients bucketed by (code, status), buckets sorted,
    keeping only the wanted statuses (any case) and codes when those are given."""
    buckets: dict[tuple[int, str], list[str]] = {}
    # Recipients of one batch differ only in these, and most share them: each story once.
    seen: dict[tuple[lifecycle.Outcome, float, int | None], lifecycle.Event] = {}
    for row in rows:
        recipient = row.recipient
        key = (lifecycle.outcome_for(row.msisdn), recipient.dispatch_at, recipient.abort_code)
        event = seen.get(key)
        if event is None:
            event = seen[key] = lifecycle.state_at(recipient, moment)
        buckets.setdefault((event.code, event.status), []).append(row.msisdn)
    wanted = {s.lower() for s in statuses or ()}
    kept = [
        StatusBucket(code, status, numbers)
        for (code, status), numbers in sorted(buckets.items())
        if _kept(code, status, wanted, codes)
    ]
    return BatchReport(batch, len(rows), kept, full)


class ReportStore:
    """Reports read from ``batches`` and ``recipients``; it writes nothing."""

    def __init__(
        self, storage: Storage, clock: Clock, batches: BatchStore, scheduler: Scheduler
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.batches = batches
        self.scheduler = scheduler

    def batch_report(
        self,
        plan: Plan,
        batch_id: str,
        full: bool,
        statuses: set[str] | None = None,
        codes: set[int] | None = None,
    ) -> BatchReport:
        """Recipients counted by (code, status), with their numbers when ``full``."""
        batch = self.batches.get(plan, batch_id)
        with self.storage.read() as db:
            rows = self.scheduler.recipients(db, batch)
        return summarise(batch, rows, self.clock(), full, statuses, codes)

    def recipient_report(self, plan: Plan, batch_id: str, msisdn: str) -> RecipientReport:
        batch = self.batches.get(plan, batch_id)
        with self.storage.read() as db:
            rows = self.scheduler.recipients(db, batch, msisdn)
        if not rows:
            raise not_found(f"Recipient '{msisdn}' of batch '{batch_id}'")
        event = lifecycle.state_at(rows[0].recipient, self.clock())
        return RecipientReport(batch, msisdn, event, parts_reported(batch.spec, msisdn))

    def listing(
        self,
        plan: Plan,
        page: int,
        size: int,
        start: float | None = None,
        end: float | None = None,
        statuses: set[str] | None = None,
        codes: set[int] | None = None,
        client_reference: str | None = None,
    ) -> Page[RecipientReport]:
        """Recipient reports that reached a final status in ``[start, end)``, newest first.

        The window applies to when each recipient's final status happened, so only batches
        that could have one in it (not expired before ``start``, created before ``end``) are read.
        """
        moment = self.clock()
        start = start if start is not None else moment - DAY
        end = end if end is not None else math.inf
        wanted = {s.lower() for s in statuses or ()}
        sql = "SELECT * FROM batches WHERE plan_id = ? AND expire_at >= ? AND created_at < ?"
        params: list[Any] = [plan.id, start, end]
        if client_reference is not None:
            sql += " AND client_reference = ?"
            params.append(client_reference)
        reports: list[RecipientReport] = []
        for batch in map(batch_from_row, self.storage.query(sql, params)):
            # One batch's rows at a time, each read on its own: a long listing neither holds
            # them all in memory nor keeps the database lock from other requests meanwhile.
            with self.storage.read() as db:
                rows = self.scheduler.recipients(db, batch)
            parts_of = parts_counter(batch.spec)
            for row in rows:
                event = lifecycle.state_at(row.recipient, moment)
                final_in_window = event.final and start <= event.at < end
                if final_in_window and _kept(event.code, event.status, wanted, codes):
                    reports.append(RecipientReport(batch, row.msisdn, event, parts_of(row.msisdn)))
        reports.sort(key=lambda r: (r.event.at, r.batch.id, r.msisdn), reverse=True)
        return paginate(reports, page, size)
