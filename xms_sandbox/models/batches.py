"""Batches: send, read, list, update, replace, cancel, delivery feedback, dry run and tags.

A batch row keeps the validated request (``data``) plus the columns that listings filter on.
Who it goes to and when is the scheduler's business; this store decides what may change when.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..errors import ApiError, constraint, not_found
from ..storage import Storage, dumps, new_id
from ..substitution import by_number
from ..validation import MAX_VALIDITY, check_validity
from .config import Clock, SandboxConfig
from .queries import DAY, Tagged, batch_from_row, paginate, windowed
from .records import Batch, DryRun, DryRunRecipient, Page, Plan
from .scheduling import REPORTING_MODES, Scheduler, message_for


def _expiry(spec: dict[str, Any], moment: float) -> float:
    """``expire_at`` as given, else the longest validity from when sending starts."""
    start = max(spec.get("send_at") or moment, moment)
    return spec.get("expire_at") or start + MAX_VALIDITY


def _read(db: sqlite3.Connection, batch_id: str) -> Batch:
    return batch_from_row(db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone())


class BatchStore(Tagged):
    """The ``batches`` table (and ``feedback``, which only ever receives rows)."""

    def __init__(
        self, storage: Storage, config: SandboxConfig, clock: Clock, scheduler: Scheduler
    ) -> None:
        self.storage = storage
        self.config = config
        self.clock = clock
        self.scheduler = scheduler

    # ------------------------------------------------------------------ reading
    def get(self, plan: Plan, batch_id: str) -> Batch:
        """The plan's batch; 404 for an unknown ID and for another plan's batch alike."""
        rows = self.storage.query(
            "SELECT * FROM batches WHERE id = ? AND plan_id = ?", (batch_id, plan.id)
        )
        if not rows:
            raise not_found(f"Batch '{batch_id}'")
        return batch_from_row(rows[0])

    def listing(
        self,
        plan: Plan,
        page: int,
        size: int,
        senders: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        client_reference: str | None = None,
        tags: list[str] | None = None,
    ) -> Page[Batch]:
        """Newest first; by default the last 24 hours, as the API does."""
        sql, params = windowed(
            "SELECT * FROM batches WHERE plan_id = ?",
            "created_at",
            start if start is not None else self.clock() - DAY,
            end,
            {"client_reference": client_reference},
            {"sender": senders},
        )
        batches = [batch_from_row(row) for row in self.storage.query(sql, [plan.id, *params])]
        if tags:  # tags live in the JSON, so they are filtered here rather than in SQL
            batches = [b for b in batches if set(tags) & set(b.spec.get("tags", []))]
        return paginate(batches, page, size)

    def count(self, plan_id: str | None = None) -> int:
        """How many batches the plan (or the whole sandbox) holds, for ``/sandbox/``."""
        sql, params = "SELECT COUNT(*) FROM batches", []
        if plan_id:
            sql, params = sql + " WHERE plan_id = ?", [plan_id]
        count: int = self.storage.query(sql, params)[0][0]
        return count

    # ------------------------------------------------------------------ writing
    def send(self, plan: Plan, spec: dict[str, Any]) -> Batch:
        """Accept a batch: check it, expand its recipients and schedule each one."""
        moment = self.clock()
        spec = self._complete(plan, spec, moment)
        batch_id, data, expire_at = new_id(), dumps(spec), _expiry(spec, moment)
        # Only SQL inside the write: a room's sends queue for it one after another.
        with self.storage.write() as db:
            numbers = self.scheduler.expand(db, plan, spec["to"])
            db.execute(
                "INSERT INTO batches (id, plan_id, created_at, modified_at, sender, "
                "client_reference, expire_at, callbacks_pending, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *(batch_id, plan.id, moment, moment, spec.get("from")),
                    *(spec.get("client_reference"), expire_at),
                    self.scheduler.callbacks_due(spec, moment),
                    data,
                ),
            )
            self.scheduler.schedule(db, plan, batch_id, spec, numbers, moment, fresh=True)
        return Batch(batch_id, plan.id, json.loads(data), moment, moment, expire_at, None)

    def update(
        self,
        plan: Plan,
        batch_id: str,
        changes: dict[str, Any],
        added: list[str],
        removed: list[str],
        reset: set[str],
    ) -> Batch:
        """Change a batch that has not gone out yet; 403 once it has."""
        moment = self.clock()
        batch = self.get(plan, batch_id)
        with self.storage.write() as db:
            if batch.canceled or self.scheduler.dispatched(db, batch_id, moment):
                raise ApiError(
                    403,
                    "batch_already_dispatched",
                    f"Batch '{batch_id}' has already been dispatched (or canceled) and can no "
                    "longer be updated.",
                )
            spec = {k: v for k, v in batch.spec.items() if k not in reset}
            spec.update(changes)
            targets = [t for t in spec["to"] if t not in set(removed)]
            spec["to"] = targets + [t for t in added if t not in targets]
            if not spec["to"]:
                raise constraint("to_remove", "would leave the batch without recipients")
            return self._rewrite(db, plan, batch, spec, moment)

    def replace(self, plan: Plan, batch_id: str, spec: dict[str, Any]) -> Batch:
        """Replace a batch with a new one under the same ID (cancel + send, in one step)."""
        moment = self.clock()
        batch = self.get(plan, batch_id)
        spec = self._complete(plan, spec, moment)
        with self.storage.write() as db:
            return self._rewrite(db, plan, batch, spec, moment, restart=True)

    def cancel(self, plan: Plan, batch_id: str) -> Batch:
        """Cancel: recipients not yet dispatched end Cancelled (407); the rest carry on.

        A batch still waiting for its ``send_at`` has sent nothing, and its delivery report is
        then empty, as the API's documentation says (the batch reference, and the ``sinch``
        SDK's ``Batches.cancel``): its recipients are forgotten rather than cancelled one by one.
        """
        batch = self.get(plan, batch_id)
        moment = self.clock()
        with self.storage.write() as db:
            if not batch.canceled and (batch.spec.get("send_at") or 0) > moment:
                self.scheduler.unschedule(db, batch_id)
            db.execute(
                "UPDATE batches SET canceled_at = COALESCE(canceled_at, ?), modified_at = ? "
                "WHERE id = ?",
                (moment, moment, batch_id),
            )
            # Cancelling changes statuses now: a batch that reports gets looked at again now.
            db.execute(
                "UPDATE batches SET callbacks_pending = ? "
                "WHERE id = ? AND callbacks_pending IS NOT NULL",
                (moment, batch_id),
            )
        return self.get(plan, batch_id)

    def record_feedback(self, plan: Plan, batch_id: str, numbers: list[str]) -> None:
        """Delivery feedback: the sender says these recipients got the message."""
        batch = self.get(plan, batch_id)
        if not batch.spec.get("feedback_enabled"):
            raise ApiError(
                400,
                "syntax_constraint_violation",
                f"Batch '{batch_id}' was not sent with 'feedback_enabled': true.",
            )
        with self.storage.read() as db:
            known = {row.msisdn for row in self.scheduler.recipients(db, batch)}
        if not numbers:
            if any(not t.isdigit() for t in batch.spec["to"]):
                raise constraint("recipients", "must list numbers when the batch targeted a group")
            numbers = sorted(known)
        for index, number in enumerate(numbers):
            if number not in known:
                raise constraint(f"recipients[{index}]", f"'{number}' is not in this batch")
        moment = self.clock()
        with self.storage.write() as db:
            db.executemany(
                "INSERT INTO feedback (batch_id, msisdn, at) VALUES (?, ?, ?)",
                [(batch_id, n, moment) for n in numbers],
            )

    def dry_run(self, plan: Plan, spec: dict[str, Any], per_recipient: bool, limit: int) -> DryRun:
        """What sending would do: recipients, total parts and, if asked, each final text."""
        with self.storage.read() as db:
            numbers = self.scheduler.expand(db, plan, spec["to"])
        total, details = 0, list[DryRunRecipient]()
        table = by_number(spec.get("parameters"))
        for number in numbers:
            body, parts, encoding = message_for(spec, number, table)
            total += parts
            if per_recipient and len(details) < limit:
                details.append(DryRunRecipient(number, body, parts, encoding))
        return DryRun(len(numbers), total, details if per_recipient else None)

    # ------------------------------------------------------------------ tags (legacy client)
    def tags(self, plan: Plan, item_id: str) -> list[str]:
        return sorted(self.get(plan, item_id).spec.get("tags", []))

    def set_tags(self, plan: Plan, item_id: str, tags: list[str]) -> list[str]:
        """Replace the batch's tags; like the API, this does not count as modifying it."""
        tags = sorted(set(tags))
        spec = self.get(plan, item_id).spec
        with self.storage.write() as db:
            db.execute(
                "UPDATE batches SET data = ? WHERE id = ?",
                (dumps({**spec, "tags": tags}), item_id),
            )
        return tags

    # ------------------------------------------------------------------ helpers
    def _complete(self, plan: Plan, spec: dict[str, Any], moment: float) -> dict[str, Any]:
        """Fill plan defaults and check the rules that need the plan or the clock."""
        spec = dict(spec)
        if "from" not in spec:
            default = plan.settings.get("default_originator")
            if not default:
                raise constraint(
                    "from", "is required (this service plan has no default originator)"
                )
            spec["from"] = default
        spec.setdefault("delivery_report", "none")
        check_validity(spec, moment)
        wants_reports = spec["delivery_report"] in REPORTING_MODES
        if wants_reports and not (spec.get("callback_url") or plan.settings.get("callback_url")):
            raise ApiError(
                403,
                "missing_callback_url",
                "Requesting delivery reports without any callback URL: set 'callback_url' on the "
                "batch or a default callback URL on the service plan.",
            )
        # Stored with the batch so that a restart with other timing keeps its story unchanged.
        spec["deliver_after"] = self.config.timing.deliver_after
        # When its recipients joined the queue: a replace queues them again, but the batch
        # keeps its created_at (as the API's does).
        spec["queued_at"] = moment
        return spec

    def _rewrite(
        self,
        db: sqlite3.Connection,
        plan: Plan,
        batch: Batch,
        spec: dict[str, Any],
        moment: float,
        restart: bool = False,
    ) -> Batch:
        """Store a changed batch and schedule it again; ``restart`` (replace) also un-cancels
        it and queues its recipients anew, as if it had just been sent. ``created_at`` stays:
        the API keeps it on a replace and moves only ``modified_at``."""
        check_validity(spec, moment)
        numbers = self.scheduler.expand(db, plan, spec["to"])
        db.execute(
            "UPDATE batches SET modified_at = ?, sender = ?, client_reference = ?, "
            "expire_at = ?, data = ?, canceled_at = CASE WHEN ? THEN NULL ELSE canceled_at END "
            "WHERE id = ?",
            (
                moment,
                spec.get("from"),
                spec.get("client_reference"),
                _expiry(spec, moment),
                dumps(spec),
                restart,
                batch.id,
            ),
        )
        self.scheduler.schedule(db, plan, batch.id, spec, numbers, moment)
        return _read(db, batch.id)
