"""Fault injection and request-rate limiting, so client retry logic can be tested for real.

Faults are kept in this process's memory (they belong to one running server) and apply to
``/xms/`` requests only. Kinds:

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

import itertools
import math
import threading
import time
from dataclasses import dataclass, field

from .errors import ApiError

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


@dataclass
class _Bucket:
    tokens: float
    updated: float = field(default_factory=time.monotonic)


class FaultBox:
    """Faults waiting to fire and per-plan request buckets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._buckets: dict[str, _Bucket] = {}

    def add(self, fault: Fault) -> Fault:
        """Keep ``fault`` until it has fired; 400 when its plan has too many waiting."""
        with self._lock:
            waiting = sum(1 for f in self._faults if f.plan_id == fault.plan_id)
            if waiting >= MAX_PENDING_PER_PLAN:
                raise ApiError(
                    400,
                    "syntax_constraint_violation",
                    f"{waiting} faults are already waiting for this plan; clear them "
                    "(DELETE /sandbox/faults?plan_id=...) before adding more.",
                )
            fault.id = next(self._ids)
            self._faults.append(fault)
        return fault

    def clear(self, plan_id: str | None = None) -> None:
        """Forget the faults aimed at ``plan_id`` (or every fault, when it is None)."""
        with self._lock:
            if plan_id is None:
                self._faults.clear()
            else:
                self._faults = [f for f in self._faults if f.plan_id != plan_id]

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str, plan_id: str | None) -> Fault | None:
        """The first matching fault, counted down; None when nothing should go wrong."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, plan_id):
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def throttle(self, plan_id: str, per_second: float) -> float | None:
        """Seconds to wait when the plan is over its request rate, else None (token bucket)."""
        with self._lock:
            bucket = self._buckets.setdefault(plan_id, _Bucket(tokens=max(per_second, 1.0)))
            moment = time.monotonic()
            elapsed = moment - bucket.updated
            bucket.tokens = min(max(per_second, 1.0), bucket.tokens + elapsed * per_second)
            bucket.updated = moment
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / per_second


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
