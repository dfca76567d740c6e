"""The callback outbox: delivery reports and inbound messages waiting to be posted.

Callbacks are rows, not threads, so every process sharing the database can post them and none
loses them on a restart. Delivery reports are *collected* into the outbox when their moment comes
(a batch's ``callbacks_pending`` says when to look at it again); a worker then *claims* due rows
for a while (a lease, so no other process posts them too) and *finishes* each one: done, retried
later with doubling waits, or given up.

Payloads are stored as the JSON text that is posted, rendered when they are queued by the
``render`` function the composition root hands in (``responses.callback_body``): the model never
imports ``responses``, which imports the model's records.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from .. import lifecycle
from ..lifecycle import Event
from ..storage import Storage, dumps
from .config import Clock, SandboxConfig
from .plans import PlanStore
from .queries import batch_from_row
from .records import Batch, Callback, CallbackBody, RecipientReport, RecipientRow
from .reports import summarise
from .scheduling import Scheduler

#: Turns a record into the JSON object that is posted.
CallbackRenderer = Callable[[CallbackBody], dict[str, Any]]

_PER_RECIPIENT = ("per_recipient", "per_recipient_final")
_PER_BATCH = ("summary", "full")
#: Batches looked at per round: a round holds the write lock, so it stays short.
_BATCHES_PER_ROUND = 50


def _callback(row: sqlite3.Row) -> Callback:
    return Callback(
        id=row["id"],
        plan_id=row["plan_id"],
        kind=row["kind"],
        url=row["url"],
        payload=row["payload"],
        state=row["state"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        next_at=row["next_at"],
    )


class Outbox:
    """The ``outbox`` table, and the ``callbacks_pending`` and ``reported`` marks it follows."""

    def __init__(
        self,
        storage: Storage,
        config: SandboxConfig,
        clock: Clock,
        plans: PlanStore,
        scheduler: Scheduler,
        render: CallbackRenderer,
    ) -> None:
        self.storage = storage
        self.config = config
        self.clock = clock
        self.plans = plans
        self.scheduler = scheduler
        self.render = render

    def enqueue(
        self,
        db: sqlite3.Connection,
        plan_id: str,
        kind: str,
        url: str,
        body: CallbackBody,
        at: float,
    ) -> None:
        """Queue ``body`` (rendered now) for ``url``, due at ``at``, in the caller's transaction."""
        db.execute(
            "INSERT INTO outbox (plan_id, kind, url, payload, next_at) VALUES (?, ?, ?, ?, ?)",
            (plan_id, kind, url, dumps(self.render(body)), at),
        )

    # ------------------------------------------------------------------ delivery reports
    def collect_due(self) -> int:
        """Queue the delivery-report callbacks whose moment has come; returns how many."""
        moment = self.clock()
        # A cheap read first: most rounds have nothing to do and need no write lock.
        if not self.storage.query(
            "SELECT 1 FROM batches WHERE callbacks_pending <= ? LIMIT 1", (moment,)
        ):
            return 0
        queued = 0
        with self.storage.write() as db:
            rows = db.execute(
                "SELECT * FROM batches WHERE callbacks_pending <= ? LIMIT ?",
                (moment, _BATCHES_PER_ROUND),
            ).fetchall()
            for row in rows:
                queued += self._collect_batch(db, batch_from_row(row), moment)
        return queued

    def _collect_batch(self, db: sqlite3.Connection, batch: Batch, moment: float) -> int:
        """Queue what one batch owes its callback URL by ``moment``, and note when to look at
        it again: its next status change, or never once every recipient is final."""
        url = self._callback_url(batch)
        mode = batch.spec.get("delivery_report", "none")
        rows = self.scheduler.recipients(db, batch)
        queued, next_changes, all_final = 0, [], True
        for row in rows:
            events = lifecycle.timeline(row.recipient)
            seen = [e for e in events if e.at <= moment]
            future = [e.at for e in events if e.at > moment]
            if future:
                next_changes.append(min(future))
            if not (seen and seen[-1].final):
                all_final = False
            if mode in _PER_RECIPIENT and url:
                final_only = mode == "per_recipient_final"
                queued += self._recipient_callbacks(db, batch, row, seen, final_only, url, moment)
        if mode in _PER_BATCH and url and all_final:
            report = summarise(batch, rows, moment, full=mode == "full")
            self.enqueue(db, batch.plan_id, "delivery_report", url, report, moment)
            queued += 1
        due = None if all_final else (min(next_changes) if next_changes else None)
        db.execute("UPDATE batches SET callbacks_pending = ? WHERE id = ?", (due, batch.id))
        return queued

    def _recipient_callbacks(
        self,
        db: sqlite3.Connection,
        batch: Batch,
        row: RecipientRow,
        seen: list[Event],
        final_only: bool,
        url: str,
        moment: float,
    ) -> int:
        """Queue one recipient's status changes not yet posted (only the final one when
        ``final_only``); ``reported`` remembers how far the recipient's timeline has been read."""
        fresh = seen[row.reported :]
        if final_only:
            fresh = [e for e in fresh if e.final]
        for event in fresh:
            report = RecipientReport(batch, row.msisdn, event)
            self.enqueue(db, batch.plan_id, "delivery_report", url, report, moment)
        self.scheduler.mark_reported(db, batch.id, row.index, len(seen))
        return len(fresh)

    def _callback_url(self, batch: Batch) -> str | None:
        """The batch's own callback URL, else its plan's default."""
        plan = self.plans.find(batch.plan_id)
        url: str | None = batch.spec.get("callback_url") or (
            plan.settings.get("callback_url") if plan else None
        )
        return url

    # ------------------------------------------------------------------ posting
    def claim(self, limit: int = 20, lease: float = 60.0) -> list[Callback]:
        """Due callbacks, leased to this process so no other process sends them too.

        A lease that runs out (the process died mid-post) makes the callback due again.
        """
        moment = self.clock()
        due = "SELECT * FROM outbox WHERE state IN ('pending', 'sending') AND next_at <= ? "
        if not self.storage.query(due + "LIMIT 1", (moment,)):
            return []
        with self.storage.write() as db:
            rows = db.execute(due + "ORDER BY id LIMIT ?", (moment, limit)).fetchall()
            db.executemany(
                "UPDATE outbox SET state = 'sending', next_at = ? WHERE id = ?",
                [(moment + lease, row["id"]) for row in rows],
            )
        return [_callback(row) for row in rows]

    def finish(self, callback_id: int, error: str | None, retry: bool) -> None:
        """Record a callback's result: done, retried later with backoff, or given up."""
        with self.storage.write() as db:
            row = db.execute("SELECT attempts FROM outbox WHERE id = ?", (callback_id,)).fetchone()
            attempts = row["attempts"] + 1
            if error is None:
                state, next_at = "done", self.clock()
            elif retry and attempts < self.config.callback_max_attempts:
                state = "pending"
                next_at = self.clock() + self.config.callback_retry_base * 2 ** (attempts - 1)
            else:
                state, next_at = "failed", self.clock()
            db.execute(
                "UPDATE outbox SET state = ?, attempts = ?, next_at = ?, last_error = ? "
                "WHERE id = ?",
                (state, attempts, next_at, error, callback_id),
            )

    def listing(self, plan_id: str | None = None) -> list[Callback]:
        """Every callback with its state, oldest first, for the sandbox's inspection endpoint."""
        sql = "SELECT * FROM outbox"
        params: tuple[str, ...] = ()
        if plan_id:
            sql, params = sql + " WHERE plan_id = ?", (plan_id,)
        return [_callback(row) for row in self.storage.query(sql + " ORDER BY id", params)]
