"""Service plans: their tokens and settings, authentication, and each plan's sending queue."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from ..errors import INVENTED_CODES, ApiError, not_found
from ..storage import Storage, dumps
from ..tokens import token_hash, token_matches
from .config import SandboxConfig
from .records import Plan

#: The names a plan may be made with by its first use (``--open``) or ``POST /sandbox/plans``:
#: what one URL path segment carries as it is (Sinch's own plan IDs are hex). Invented by the
#: sandbox; plans named on the command line or by JupyterHub are taken as they are.
NEW_PLAN_NAME = re.compile(r"[\w.@+-]{1,64}")


def new_plan_name_problem(plan_id: str) -> str | None:
    """Why no plan can be made with this name, or None.

    >>> new_plan_name_problem("ada-lovelace"), new_plan_name_problem("zoë")
    (None, None)
    >>> new_plan_name_problem("Ada Lovelace")[:40]
    'A new plan needs a name of 1 to 64 lette'
    """
    if NEW_PLAN_NAME.fullmatch(plan_id) and plan_id.strip("."):
        return None
    return (
        "A new plan needs a name of 1 to 64 letters, digits and - _ . @ + (no spaces or "
        f"slashes, not only dots), e.g. {suggested_plan_name(plan_id)!r}."
    )


def suggested_plan_name(plan_id: str) -> str:
    """``plan_id`` made into a name a plan can have (``"Ada Lovelace"`` → ``"Ada-Lovelace"``)."""
    return re.sub(r"[^\w.@+-]+", "-", plan_id).strip("-.")[:64] or "my-plan"


def _plan(row: sqlite3.Row) -> Plan:
    return Plan(row["id"], row["token"], json.loads(row["settings"]))


class PlanStore:
    """The ``plans`` table. A plan's ``queue_tail`` is when its FIFO queue next has room."""

    def __init__(self, storage: Storage, config: SandboxConfig) -> None:
        self.storage = storage
        self.config = config

    def add(self, plan_id: str, token: str, *, from_hub: bool = False, **settings: Any) -> Plan:
        """Create a plan, or change the token and settings of an existing one. Only the token's
        hash is stored: the sandbox compares tokens, it never needs to show one. A JupyterHub
        token (``from_hub``) is marked, and opens the plan only while the Hub vouches for it."""
        token = token_hash(token, from_hub=from_hub)
        with self.storage.write() as db:
            row = db.execute("SELECT settings FROM plans WHERE id = ?", (plan_id,)).fetchone()
            current = json.loads(row["settings"]) if row else dict(self.config.plan_defaults)
            merged = {**current, **settings}
            db.execute(
                "INSERT INTO plans (id, token, settings) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET "
                "token = excluded.token, settings = excluded.settings",
                (plan_id, token, dumps(merged)),
            )
        return Plan(plan_id, token, merged)

    def configure(self, plan_id: str, **settings: Any) -> Plan:
        """Change settings (callback URLs, throughput, default originator); None removes one."""
        plan = self.find(plan_id)
        if plan is None:
            raise not_found(f"Service plan '{plan_id}'")
        merged = {k: v for k, v in {**plan.settings, **settings}.items() if v is not None}
        with self.storage.write() as db:
            db.execute("UPDATE plans SET settings = ? WHERE id = ?", (dumps(merged), plan_id))
        return Plan(plan_id, plan.token, merged)

    def find(self, plan_id: str) -> Plan | None:
        """The plan, or None: callers decide whether a missing plan is a 401, 404 or nothing."""
        rows = self.storage.query("SELECT * FROM plans WHERE id = ?", (plan_id,))
        return _plan(rows[0]) if rows else None

    def find_by_token(self, token: str) -> Plan | None:
        """The one plan whose token this is (None when none, or more than one, has it)."""
        rows = self.storage.query(
            "SELECT * FROM plans WHERE token IN (?, ?) LIMIT 2", (token_hash(token), token)
        )
        return _plan(rows[0]) if len(rows) == 1 else None

    def all(self) -> list[Plan]:
        return [_plan(row) for row in self.storage.query("SELECT * FROM plans ORDER BY id")]

    def authenticate(self, plan_id: str, token: str | None) -> Plan:
        """The plan when ``token`` is its token; 401 otherwise.

        With ``open_plans`` an unknown plan is created on first use with the token it came with,
        so a class can share one sandbox without anyone registering plans first.
        """
        plan = self.find(plan_id)
        if plan is None and self.config.open_plans and token:
            problem = new_plan_name_problem(plan_id)
            if problem is not None:
                raise ApiError(
                    401, INVENTED_CODES[401], f"There is no service plan {plan_id!r}. {problem}"
                )
            plan = self.add(plan_id, token)
        if token is None:
            raise ApiError(
                401,
                INVENTED_CODES[401],
                "Missing 'Authorization: Bearer <API token>' header.",
            )
        if plan is None or not token_matches(token, plan.token):
            raise ApiError(
                401,
                INVENTED_CODES[401],
                f"The API token is not valid for service plan '{plan_id}'. A token only works "
                "with its own service plan.",
            )
        return plan

    @staticmethod
    def queue_slots(db: sqlite3.Connection, plan: Plan, start: float, count: int) -> list[float]:
        """When each of ``count`` messages leaves the plan's FIFO queue at its
        ``messages_per_second`` rate, starting no earlier than ``start``.

        Runs inside the caller's write transaction: reading and moving the queue's tail in the
        same transaction is what keeps two processes from booking the same slots.
        """
        rate = plan.settings.get("messages_per_second")
        if not rate:
            return [start] * count
        tail = db.execute("SELECT queue_tail FROM plans WHERE id = ?", (plan.id,)).fetchone()[0]
        first = max(start, tail)
        db.execute("UPDATE plans SET queue_tail = ? WHERE id = ?", (first + count / rate, plan.id))
        return [first + i / rate for i in range(count)]
