"""Fault injection and request-rate limiting, so client retry logic can be tested for real.

Faults are kept in the sandbox's database, so every worker process of one sandbox counts them
together (and kernels whose embedded sandboxes share a database file share them too); they apply
to ``/xms/`` requests only. Kinds:

``status``   answer the next requests with this HTTP status (429, 500, 503, ...) without
             processing them.
``latency``  wait ``seconds`` before processing.
``timeout``  process the request, then wait ``seconds`` before answering (the client gives up,
             not knowing whether it worked).
``drop``     process the request, then close the connection without any answer.

``count`` says how many matching requests the fault hits; ``after`` lets that many matching
requests through untouched first (``after=2`` breaks the third).

A shared sandbox serves a whole room, so faults are bounded (:func:`~xms_sandbox.validation.fault`
checks them): ``status`` 400 to 599, ``seconds`` at most 30 (a waiting fault holds one of the
server's threads), ``count`` and ``after`` at most 1000, and at most 100 waiting per plan.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .storage import Storage

KINDS = ("status", "latency", "timeout", "drop")
#: Faults one plan (or the whole room, for faults aimed at no plan) may have waiting: each is
#: kept in memory and checked on every request, so a loop that adds faults must not grow them.
MAX_PENDING_PER_PLAN = 100


@dataclass
class Fault:
    kind: str
    count: int = 1
    status: int = 503
    seconds: float = 0.0
    method: str | None = None
    path: str | None = None
    plan_id: str | None = None
    after: int = 0
    id: int = 0

    def matches(self, method: str, path: str, plan_id: str | None) -> bool:
        return (
            (self.method is None or self.method.upper() == method)
            and (self.path is None or self.path in path)
            and (self.plan_id is None or self.plan_id == plan_id)
        )


class FaultBox:
    """Faults waiting to fire and per-plan request buckets, kept in the sandbox's database so
    that every worker process of one sandbox counts them together (``--workers``)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def add(self, fault: Fault) -> Fault:
        """Keep ``fault`` until it has fired; 400 when its plan has too many waiting."""
        with self.storage.write() as db:
            waiting = db.execute(
                "SELECT COUNT(*) FROM faults WHERE plan_id IS ?", (fault.plan_id,)
            ).fetchone()[0]
            if waiting >= MAX_PENDING_PER_PLAN:
                raise ApiError(
                    400,
                    "syntax_constraint_violation",
                    f"{waiting} faults are already waiting for this plan; clear them "
                    "(DELETE /sandbox/faults?plan_id=...) before adding more.",
                )
            cursor = db.execute(
                "INSERT INTO faults (kind, count, status, seconds, method, path, plan_id, after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *(fault.kind, fault.count, fault.status, fault.seconds, fault.method),
                    *(fault.path, fault.plan_id, fault.after),
                ),
            )
            fault.id = int(cursor.lastrowid or 0)
        return fault

    def clear(self, plan_id: str | None = None) -> None:
        """Forget the faults aimed at ``plan_id`` (or every fault, when it is None)."""
        with self.storage.write() as db:
            if plan_id is None:
                db.execute("DELETE FROM faults")
            else:
                db.execute("DELETE FROM faults WHERE plan_id = ?", (plan_id,))

    def pending(self) -> list[Fault]:
        return [_fault(row) for row in self.storage.query("SELECT * FROM faults ORDER BY id")]

    def take(self, method: str, path: str, plan_id: str | None) -> Fault | None:
        """The first matching fault, counted down; None when nothing should go wrong."""
        aimed = "SELECT * FROM faults WHERE plan_id IS NULL OR plan_id = ? ORDER BY id"
        # Most requests meet no fault: one read says so without taking the write lock.
        if not any(
            _fault(row).matches(method, path, plan_id)
            for row in self.storage.query(aimed, (plan_id,))
        ):
            return None
        with self.storage.write() as db:  # read again: another request may have used it up
            for row in db.execute(aimed, (plan_id,)).fetchall():
                fault = _fault(row)
                if not fault.matches(method, path, plan_id):
                    continue
                if fault.after > 0:
                    db.execute("UPDATE faults SET after = after - 1 WHERE id = ?", (fault.id,))
                    return None
                if fault.count <= 1:
                    db.execute("DELETE FROM faults WHERE id = ?", (fault.id,))
                else:
                    db.execute("UPDATE faults SET count = count - 1 WHERE id = ?", (fault.id,))
                return fault
        return None

    def throttle(self, plan_id: str, per_second: float) -> float | None:
        """Seconds to wait when the plan is over its request rate, else None (token bucket)."""
        capacity = max(per_second, 1.0)
        with self.storage.write() as db:
            row = db.execute(
                "SELECT tokens, updated FROM request_buckets WHERE plan_id = ?", (plan_id,)
            ).fetchone()
            moment = time.time()  # wall time: every worker process must read the same clock
            tokens = capacity if row is None else row[0] + max(moment - row[1], 0) * per_second
            tokens = min(capacity, tokens)
            wait = None if tokens >= 1.0 else (1.0 - tokens) / per_second
            db.execute(
                "INSERT OR REPLACE INTO request_buckets (plan_id, tokens, updated) "
                "VALUES (?, ?, ?)",
                (plan_id, tokens - 1.0 if wait is None else tokens, moment),
            )
        return wait


def _fault(row: Any) -> Fault:
    return Fault(
        kind=row["kind"],
        count=row["count"],
        status=row["status"],
        seconds=row["seconds"],
        method=row["method"],
        path=row["path"],
        plan_id=row["plan_id"],
        after=row["after"],
        id=row["id"],
    )


def enforce_request_rate(box: FaultBox, plan_id: str, per_second: float | None) -> None:
    """429 with ``Retry-After`` when the plan is over its ``requests_per_second``."""
    if not per_second:
        return
    wait = box.throttle(plan_id, float(per_second))
    if wait is not None:
        raise ApiError(
            429,
            "too_many_requests",
            f"More than {per_second} requests per second for service plan '{plan_id}'; "
            "wait for Retry-After seconds and try again.",
            {"Retry-After": retry_after_header(wait)},
        )


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least one, as ``Retry-After`` requires."""
    return str(max(1, math.ceil(seconds)))
