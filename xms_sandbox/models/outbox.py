"""The callback outbox: delivery reports and inbound messages waiting to be posted.

Callbacks are rows, not threads, so every process sharing the database can post them and none
loses them on a restart. Delivery reports are *collected* into the outbox when their moment comes
(a batch's ``callbacks_pending`` says when to look at it again); a worker then *claims* due rows
for a while (a lease, so no other process posts them too) and *finishes* each one: done, retried
later with doubling waits, or given up.

Payloads are stored as the JSON text that is posted, rendered when they are queued by the
``render`` function the composition root hands in (``responses.callback_body``): the model never
imports ``responses``, which imports the model's records.

A shared sandbox posts for a whole room, so no one plan may hold up the others: :meth:`Outbox.claim`
hands out due callbacks a few per plan at a time (plans take turns), one broken batch is recorded
as a failed callback instead of stopping the collection, and retries wait at most
``callback_max_delay``. The :class:`CallbackInbox` (invented by the sandbox; Sinch has none) keeps
the callbacks a plan asked to receive at ``/sandbox/inbox/<plan_id>``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .. import lifecycle
from ..lifecycle import Event
from ..storage import Storage, dumps
from .config import Clock, SandboxConfig
from .plans import PlanStore
from .queries import batch_from_row
from .records import Batch, Callback, CallbackBody, RecipientReport, RecipientRow
from .reports import summarise
from .scheduling import Scheduler, parts_counter

#: Turns a record into the JSON object that is posted.
CallbackRenderer = Callable[[CallbackBody], dict[str, Any]]

_PER_RECIPIENT = ("per_recipient", "per_recipient_final")
_PER_BATCH = ("summary", "full")
#: Batches looked at per round: a round holds the write lock, so it stays short.
_BATCHES_PER_ROUND = 50
#: Callbacks a plan's inbox keeps; older ones make way.
INBOX_SIZE = 500

log = logging.getLogger("xms_sandbox.callbacks")


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
                queued += self._collect_isolated(db, row, moment)
        return queued

    def _collect_isolated(self, db: sqlite3.Connection, row: sqlite3.Row, moment: float) -> int:
        """:meth:`_collect_batch` in a savepoint: a batch that cannot be read or rendered is
        recorded as a failed callback and looked at no more, and the other batches go on."""
        db.execute("SAVEPOINT collect_batch")
        try:
            queued = self._collect_batch(db, batch_from_row(row), moment)
        except Exception as exc:  # one broken batch must not stop every plan's callbacks
            db.execute("ROLLBACK TO collect_batch")
            log.exception("Cannot collect the callbacks of batch %s", row["id"])
            self._record_broken_batch(db, row, f"{type(exc).__name__}: {exc}")
            queued = 0
        db.execute("RELEASE collect_batch")
        return queued

    def _record_broken_batch(self, db: sqlite3.Connection, row: sqlite3.Row, error: str) -> None:
        """A failed callback that says why the batch's reports could not be made (so the learner
        sees it in ``/sandbox/callbacks``), and no more looking at that batch."""
        db.execute(
            "INSERT INTO outbox (plan_id, kind, url, payload, next_at, state, last_error) "
            "VALUES (?, 'delivery_report', ?, ?, ?, 'failed', ?)",
            (
                row["plan_id"],
                _spec_url(row["data"]),
                dumps({"batch_id": row["id"]}),
                self.clock(),
                f"The delivery reports of this batch could not be made: {error}",
            ),
        )
        db.execute("UPDATE batches SET callbacks_pending = NULL WHERE id = ?", (row["id"],))

    def _collect_batch(self, db: sqlite3.Connection, batch: Batch, moment: float) -> int:
        """Queue what one batch owes its callback URL by ``moment``, and note when to look at
        it again: its next status change, or never once every recipient is final."""
        url = self._callback_url(batch)
        mode = batch.spec.get("delivery_report", "none")
        rows = self.scheduler.recipients(db, batch)
        parts_of = parts_counter(batch.spec)
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
                queued += self._recipient_callbacks(
                    db, batch, row, seen, final_only, url, moment, parts_of
                )
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
        parts_of: Callable[[str], int | None],
    ) -> int:
        """Queue one recipient's status changes not yet posted (only the final one when
        ``final_only``); ``reported`` remembers how far the recipient's timeline has been read.
        ``parts_of`` gives a recipient's ``number_of_message_parts`` (:func:`parts_counter`)."""
        fresh = seen[row.reported :]
        if final_only:
            fresh = [e for e in fresh if e.final]
        parts = parts_of(row.msisdn) if fresh else None
        for event in fresh:
            report = RecipientReport(batch, row.msisdn, event, parts)
            self.enqueue(db, batch.plan_id, "delivery_report", url, report, moment)
        self.scheduler.mark_reported(db, batch.id, row.position, len(seen))
        return len(fresh)

    def _callback_url(self, batch: Batch) -> str | None:
        """The batch's own callback URL, else its plan's default."""
        plan = self.plans.find(batch.plan_id)
        url: str | None = batch.spec.get("callback_url") or (
            plan.settings.get("callback_url") if plan else None
        )
        return url

    # ------------------------------------------------------------------ posting
    def claim(
        self,
        limit: int = 20,
        lease: float = 60.0,
        *,
        per_plan: int | None = None,
        busy: frozenset[str] = frozenset(),
        plans: int | None = None,
    ) -> list[Callback]:
        """Due callbacks, leased to this process so no other process sends them too.

        Plans take turns: the oldest due callback of every plan comes before the second of
        any, and with ``per_plan`` no plan gets more than that many, so a plan with a thousand
        callbacks waiting holds up no other. Plans in ``busy`` (this process is posting theirs)
        get none, and at most ``plans`` plans get some. A lease that runs out (the process died
        mid-post) makes the callback due again.
        """
        moment = self.clock()
        due = "SELECT * FROM outbox WHERE state IN ('pending', 'sending') AND next_at <= ?"
        if not self.storage.query(due + " LIMIT 1", (moment,)):
            return []
        turns = (
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY plan_id ORDER BY id) "
            "AS turn FROM outbox WHERE state IN ('pending', 'sending') AND next_at <= ?) "
            "WHERE turn <= ? ORDER BY turn, id"
        )
        with self.storage.write() as db:
            rows = db.execute(turns, (moment, per_plan or limit)).fetchall()
            rows = _take_turns(rows, busy, plans)[:limit]
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
                state, next_at = "pending", self.clock() + self.retry_delay(attempts)
            else:
                state, next_at = "failed", self.clock()
            db.execute(
                "UPDATE outbox SET state = ?, attempts = ?, next_at = ?, last_error = ? "
                "WHERE id = ?",
                (state, attempts, next_at, error, callback_id),
            )

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` tries: doubling, up to the cap."""
        delay = self.config.retry_base * 2 ** min(attempts - 1, 62)
        return float(min(delay, self.config.callback_max_delay))

    def listing(self, plan_id: str | None = None) -> list[Callback]:
        """Every callback with its state, oldest first, for the sandbox's inspection endpoint."""
        sql = "SELECT * FROM outbox"
        params: tuple[str, ...] = ()
        if plan_id:
            sql, params = sql + " WHERE plan_id = ?", (plan_id,)
        rows = self.storage.query(sql + " ORDER BY id", params)
        return [_readable(_callback(row)) for row in rows]


def _readable(callback: Callback) -> Callback:
    """``callback`` for showing: a payload that is not JSON (a row written by hand, or by a
    bug) is shown as a JSON string rather than breaking the whole listing."""
    try:
        json.loads(callback.payload)
    except ValueError:
        return replace(callback, payload=dumps({"unreadable_payload": callback.payload}))
    return callback


def _spec_url(data: str) -> str:
    """A batch's own ``callback_url`` from its stored JSON; ``""`` when that is unreadable."""
    try:
        spec = json.loads(data)
    except ValueError:
        return ""
    url = spec.get("callback_url") if isinstance(spec, dict) else None
    return url if isinstance(url, str) else ""


def _take_turns(
    rows: list[sqlite3.Row], busy: frozenset[str], plans: int | None
) -> list[sqlite3.Row]:
    """``rows`` (in turn order) of the first ``plans`` plans not ``busy``."""
    chosen: set[str] = set()
    taken = []
    for row in rows:
        plan_id = row["plan_id"]
        if plan_id in busy:
            continue
        if plan_id not in chosen:
            if plans is not None and len(chosen) >= plans:
                continue
            chosen.add(plan_id)
        taken.append(row)
    return taken


def by_plan(callbacks: list[Callback]) -> dict[str, list[Callback]]:
    """Claimed callbacks grouped by plan, each plan's in the order they were queued."""
    grouped: dict[str, list[Callback]] = defaultdict(list)
    for callback in sorted(callbacks, key=lambda c: c.id):
        grouped[callback.plan_id].append(callback)
    return dict(grouped)


# ---------------------------------------------------------------------- the inbox
@dataclass(frozen=True)
class InboxEntry:
    """A callback that arrived in a plan's inbox: its JSON object and when it came."""

    id: int
    plan_id: str
    received_at: float
    body: Mapping[str, Any]


class CallbackInbox:
    """Each plan's callback inbox: what was posted to ``/sandbox/inbox/<plan_id>``.

    Invented by the sandbox (Sinch posts only to your own server). A notebook on a shared
    sandbox cannot receive callbacks itself (the sandbox cannot reach the learner's kernel), so
    the plan points its callback URL at its inbox and reads what arrived. Only the last
    :data:`INBOX_SIZE` entries of each plan are kept; the table (``callback_inbox``) is in
    :mod:`~xms_sandbox.storage`'s schema, so a reset empties it with everything else.
    """

    def __init__(self, storage: Storage, clock: Clock, size: int = INBOX_SIZE) -> None:
        self.storage = storage
        self.clock = clock
        self.size = size

    def keep(self, plan_id: str, body: Mapping[str, Any]) -> None:
        """Store ``body`` as arrived now, and forget what falls beyond the last ``size``."""
        with self.storage.write() as db:
            db.execute(
                "INSERT INTO callback_inbox (plan_id, received_at, payload) VALUES (?, ?, ?)",
                (plan_id, self.clock(), dumps(body)),
            )
            db.execute(
                "DELETE FROM callback_inbox WHERE plan_id = ? AND id <= (SELECT id FROM "
                "callback_inbox WHERE plan_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (plan_id, plan_id, self.size),
            )

    def keep_text(self, plan_id: str, payload: str) -> None:
        """Store a rendered payload (what the worker would have posted)."""
        body = json.loads(payload)
        self.keep(plan_id, body if isinstance(body, dict) else {"payload": body})

    def newest(self, plan_id: str, limit: int = INBOX_SIZE) -> list[InboxEntry]:
        """The plan's entries, newest first."""
        rows = self.storage.query(
            "SELECT * FROM callback_inbox WHERE plan_id = ? ORDER BY id DESC LIMIT ?",
            (plan_id, limit),
        )
        return [
            InboxEntry(row["id"], row["plan_id"], row["received_at"], json.loads(row["payload"]))
            for row in rows
        ]

    def clear(self, plan_id: str | None = None) -> None:
        """Forget one plan's entries, or (None) every plan's."""
        with self.storage.write() as db:
            if plan_id is None:
                db.execute("DELETE FROM callback_inbox")
            else:
                db.execute("DELETE FROM callback_inbox WHERE plan_id = ?", (plan_id,))
