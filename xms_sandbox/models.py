"""The sandbox's service: plans, batches and their recipients, reports, groups, inbounds.

This is the one place that knows the API's rules. It takes validated Python values from the
routes, keeps its state in :class:`~xms_sandbox.storage.Storage`, and returns plain data that
``responses`` renders as JSON. It knows nothing about HTTP.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from . import lifecycle
from .encoding import analyse, truncate_to_one_part
from .errors import ApiError, constraint, not_found
from .lifecycle import Event, Recipient, Timing
from .storage import Storage, dumps, new_id
from .substitution import placeholders, render, unmatched
from .timeutil import now as wall_clock
from .timeutil import render_time
from .validation import MAX_VALIDITY, check_validity

DAY = 24 * 3600
REPORTING_MODES = ("summary", "full", "per_recipient", "per_recipient_final")


@dataclass
class SandboxConfig:
    """How the sandbox behaves; every field has a sensible default."""

    timing: Timing = field(default_factory=Timing)
    #: Accept any plan ID on first use and remember the token it came with.
    open_plans: bool = False
    #: First callback retry after this many seconds, then doubling.
    callback_retry_base: float = 1.0
    callback_max_attempts: int = 8
    callback_timeout: float = 5.0
    #: Settings every new plan starts with (``messages_per_second``, ...).
    plan_defaults: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    id: str
    token: str
    settings: dict[str, Any]


@dataclass
class Batch:
    id: str
    plan_id: str
    spec: dict[str, Any]
    created_at: float
    modified_at: float
    expire_at: float
    canceled_at: float | None

    @property
    def canceled(self) -> bool:
        return self.canceled_at is not None


@dataclass
class Page:
    items: list[Any]
    page: int
    count: int


@dataclass
class RecipientReport:
    batch: Batch
    msisdn: str
    event: Event


def _batch(row: sqlite3.Row) -> Batch:
    return Batch(
        id=row["id"],
        plan_id=row["plan_id"],
        spec=json.loads(row["data"]),
        created_at=row["created_at"],
        modified_at=row["modified_at"],
        expire_at=row["expire_at"],
        canceled_at=row["canceled_at"],
    )


def _windowed(
    select: str,
    column: str,
    start: float,
    end: float | None,
    equal: dict[str, Any],
    among: dict[str, list[str] | None],
) -> tuple[str, list[Any]]:
    """``select`` narrowed to ``start <= column < end`` and the given filters, newest first."""
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


def _page(items: list[Any], page: int, size: int) -> Page:
    return Page(items[page * size : (page + 1) * size], page, len(items))


class XmsBackend:
    """Every operation of the API, on the data of one storage."""

    def __init__(
        self, storage: Storage, config: SandboxConfig | None = None, clock=wall_clock
    ) -> None:
        self.storage = storage
        self.config = config or SandboxConfig()
        self.clock = clock

    # ----------------------------------------------------------------- plans and auth
    def add_plan(self, plan_id: str, token: str, **settings: Any) -> Plan:
        """Create a plan, or change the token and settings of an existing one."""
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

    def configure_plan(self, plan_id: str, **settings: Any) -> Plan:
        """Change settings (callback URLs, throughput, default originator) of a plan."""
        plan = self.plan(plan_id)
        if plan is None:
            raise not_found(f"Service plan '{plan_id}'")
        merged = {k: v for k, v in {**plan.settings, **settings}.items() if v is not None}
        with self.storage.write() as db:
            db.execute("UPDATE plans SET settings = ? WHERE id = ?", (dumps(merged), plan_id))
        return Plan(plan_id, plan.token, merged)

    def plan(self, plan_id: str) -> Plan | None:
        rows = self.storage.query("SELECT * FROM plans WHERE id = ?", (plan_id,))
        if not rows:
            return None
        return Plan(rows[0]["id"], rows[0]["token"], json.loads(rows[0]["settings"]))

    def plans(self) -> list[Plan]:
        rows = self.storage.query("SELECT * FROM plans ORDER BY id")
        return [Plan(r["id"], r["token"], json.loads(r["settings"])) for r in rows]

    def authenticate(self, plan_id: str, token: str | None) -> Plan:
        """The plan when ``token`` is its token; 401 otherwise."""
        plan = self.plan(plan_id)
        if plan is None and self.config.open_plans and token:
            plan = self.add_plan(plan_id, token)
        if token is None:
            raise ApiError(
                401,
                "unauthorized",
                "Missing 'Authorization: Bearer <API token>' header.",
            )
        if plan is None or plan.token != token:
            raise ApiError(
                401,
                "unauthorized",
                f"The API token is not valid for service plan '{plan_id}'. A token only works "
                "with its own service plan, in the region where that plan lives.",
            )
        return plan

    # ----------------------------------------------------------------- batches
    def send(self, plan: Plan, spec: dict[str, Any]) -> Batch:
        """Accept a batch: check it, expand its recipients and schedule each one."""
        moment = self.clock()
        spec = self._complete(plan, spec, moment)
        batch_id = new_id()
        with self.storage.write() as db:
            numbers = self._expand(db, plan, spec["to"])
            expire_at = self._expiry(spec, moment)
            db.execute(
                "INSERT INTO batches (id, plan_id, created_at, modified_at, sender, "
                "client_reference, expire_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    batch_id,
                    plan.id,
                    moment,
                    moment,
                    spec.get("from"),
                    spec.get("client_reference"),
                    expire_at,
                    dumps(spec),
                ),
            )
            self._schedule(db, plan, batch_id, spec, numbers, moment)
            row = db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        return _batch(row)

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
        spec["deliver_after"] = self.config.timing.deliver_after
        return spec

    @staticmethod
    def _expiry(spec: dict[str, Any], moment: float) -> float:
        start = max(spec.get("send_at") or moment, moment)
        return spec.get("expire_at") or start + MAX_VALIDITY

    def _expand(
        self,
        db: sqlite3.Connection,
        plan: Plan,
        targets: list[str],
        deleted_groups_are_empty: bool = False,
    ) -> list[str]:
        """Numbers and group IDs → the unique numbers to send to, in order."""
        numbers: dict[str, None] = {}
        for index, target in enumerate(targets):
            if target.isdigit():
                numbers[target] = None
                continue
            try:
                members = self._group_members(db, plan, target, f"to[{index}]")
            except ApiError:
                if not deleted_groups_are_empty:
                    raise
                members = []
            numbers.update(dict.fromkeys(members))
        return list(numbers)

    def _refresh_scheduled(self, db: sqlite3.Connection, plan: Plan, group_id: str) -> None:
        """Batches still waiting to go out that target the group get its members as they are
        now (the API expands groups at send time; a deleted group counts as empty)."""
        moment = self.clock()
        rows = db.execute(
            "SELECT * FROM batches WHERE plan_id = ? AND canceled_at IS NULL AND instr(data, ?)",
            (plan.id, f'"{group_id}"'),
        ).fetchall()
        for batch in map(_batch, rows):
            if group_id in batch.spec["to"] and not self._dispatched(db, batch.id, moment):
                numbers = self._expand(db, plan, batch.spec["to"], deleted_groups_are_empty=True)
                self._schedule(db, plan, batch.id, batch.spec, numbers, moment)

    def _group_members(
        self, db: sqlite3.Connection, plan: Plan, group_id: str, field_name: str
    ) -> list[str]:
        row = db.execute(
            "SELECT data FROM groups WHERE id = ? AND plan_id = ?", (group_id, plan.id)
        ).fetchone()
        if row is None:
            raise ApiError(403, "unknown_group", f"Unknown group '{group_id}' in '{field_name}'.")
        ids = [group_id, *json.loads(row["data"]).get("child_groups", [])]
        marks = ",".join("?" * len(ids))
        members = db.execute(
            f"SELECT DISTINCT msisdn FROM group_members WHERE group_id IN ({marks}) "
            "ORDER BY msisdn",
            ids,
        ).fetchall()
        return [m["msisdn"] for m in members]

    def _schedule(
        self,
        db: sqlite3.Connection,
        plan: Plan,
        batch_id: str,
        spec: dict[str, Any],
        numbers: list[str],
        moment: float,
    ) -> None:
        """(Re)create the batch's recipient rows with their dispatch times and abort codes."""
        db.execute("DELETE FROM recipients WHERE batch_id = ?", (batch_id,))
        start = max(spec.get("send_at") or moment, moment) + self.config.timing.dispatch_after
        times = self._queue_slots(db, plan, start, len(numbers))
        codes = self._abort_codes(spec, numbers)
        db.executemany(
            "INSERT INTO recipients (batch_id, idx, msisdn, dispatch_at, abort_code) "
            "VALUES (?, ?, ?, ?, ?)",
            [(batch_id, i, number, times[i], codes[i]) for i, number in enumerate(numbers)],
        )
        due = moment if spec.get("delivery_report", "none") in REPORTING_MODES else None
        db.execute("UPDATE batches SET callbacks_pending = ? WHERE id = ?", (due, batch_id))

    def _queue_slots(
        self, db: sqlite3.Connection, plan: Plan, start: float, count: int
    ) -> list[float]:
        """When each message leaves the plan's FIFO queue at its messages-per-second rate."""
        rate = plan.settings.get("messages_per_second")
        if not rate:
            return [start] * count
        tail = db.execute("SELECT queue_tail FROM plans WHERE id = ?", (plan.id,)).fetchone()[0]
        first = max(start, tail)
        db.execute("UPDATE plans SET queue_tail = ? WHERE id = ?", (first + count / rate, plan.id))
        return [first + i / rate for i in range(count)]

    @staticmethod
    def _abort_codes(spec: dict[str, Any], numbers: list[str]) -> list[int | None]:
        """405 where a placeholder has no value, 411 where the text needs too many parts."""
        body, limit = spec.get("body", ""), spec.get("max_number_of_message_parts")
        if spec["type"] != "mt_text" or ("${" not in body and not limit):
            return [None] * len(numbers)
        parameters, keys = spec.get("parameters"), placeholders(body)
        codes: list[int | None] = []
        for number in numbers:
            if unmatched(keys, parameters, number):
                codes.append(lifecycle.UNMATCHED_PARAMETER)
            elif limit and not spec.get("truncate_concat"):
                too_long = analyse(render(body, parameters, number)).parts > limit
                codes.append(lifecycle.EXCEEDED_PARTS if too_long else None)
            else:
                codes.append(None)
        return codes

    def get(self, plan: Plan, batch_id: str) -> Batch:
        rows = self.storage.query(
            "SELECT * FROM batches WHERE id = ? AND plan_id = ?", (batch_id, plan.id)
        )
        if not rows:
            raise not_found(f"Batch '{batch_id}'")
        return _batch(rows[0])

    def list_batches(
        self,
        plan: Plan,
        page: int,
        size: int,
        senders: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        client_reference: str | None = None,
        tags: list[str] | None = None,
    ) -> Page:
        """Newest first; by default the last 24 hours, as the API does."""
        sql, params = _windowed(
            "SELECT * FROM batches WHERE plan_id = ?",
            "created_at",
            start if start is not None else self.clock() - DAY,
            end,
            {"client_reference": client_reference},
            {"sender": senders},
        )
        batches = [_batch(row) for row in self.storage.query(sql, [plan.id, *params])]
        if tags:
            batches = [b for b in batches if set(tags) & set(b.spec.get("tags", []))]
        return _page(batches, page, size)

    def _dispatched(self, db: sqlite3.Connection, batch_id: str, moment: float) -> bool:
        row = db.execute(
            "SELECT MIN(dispatch_at) FROM recipients WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        return row[0] is not None and row[0] <= moment

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
            if batch.canceled or self._dispatched(db, batch_id, moment):
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

    def _rewrite(
        self,
        db: sqlite3.Connection,
        plan: Plan,
        batch: Batch,
        spec: dict[str, Any],
        moment: float,
        restart: bool = False,
    ) -> Batch:
        check_validity(spec, moment)
        numbers = self._expand(db, plan, spec["to"])
        db.execute(
            "UPDATE batches SET modified_at = ?, sender = ?, client_reference = ?, "
            "expire_at = ?, data = ?, canceled_at = CASE WHEN ? THEN NULL ELSE canceled_at END "
            "WHERE id = ?",
            (
                moment,
                spec.get("from"),
                spec.get("client_reference"),
                self._expiry(spec, moment),
                dumps(spec),
                restart,
                batch.id,
            ),
        )
        if restart:
            db.execute("UPDATE batches SET created_at = ? WHERE id = ?", (moment, batch.id))
        self._schedule(db, plan, batch.id, spec, numbers, moment)
        return _batch(db.execute("SELECT * FROM batches WHERE id = ?", (batch.id,)).fetchone())

    def cancel(self, plan: Plan, batch_id: str) -> Batch:
        """Cancel: recipients not yet dispatched end Cancelled (407); the rest carry on."""
        self.get(plan, batch_id)
        moment = self.clock()
        with self.storage.write() as db:
            db.execute(
                "UPDATE batches SET canceled_at = COALESCE(canceled_at, ?), modified_at = ? "
                "WHERE id = ?",
                (moment, moment, batch_id),
            )
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
        known = {row.msisdn for row in self._recipients(batch)}
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

    # ----------------------------------------------------------------- dry run
    def dry_run(
        self, plan: Plan, spec: dict[str, Any], per_recipient: bool, limit: int
    ) -> dict[str, Any]:
        """What sending would do: recipients, total parts and, if asked, each final text."""
        with self.storage.read() as db:
            numbers = self._expand(db, plan, spec["to"])
        total, details = 0, []
        for number in numbers:
            body, parts, encoding = self._message_for(spec, number)
            total += parts
            if per_recipient and len(details) < limit:
                details.append(
                    {
                        "recipient": number,
                        "body": body,
                        "number_of_parts": parts,
                        "encoding": encoding,
                    }
                )
        result: dict[str, Any] = {"number_of_recipients": len(numbers), "number_of_messages": total}
        if per_recipient:
            result["per_recipient"] = details
        return result

    @staticmethod
    def _message_for(spec: dict[str, Any], number: str) -> tuple[str, int, str]:
        """The text one recipient gets, its parts (0 = not sent) and its encoding."""
        if spec["type"] == "mt_binary":
            return spec["body"], 1, "binary"
        text = render(spec["body"], spec.get("parameters"), number)
        if text is None:
            return spec["body"], 0, analyse(spec["body"]).encoding
        if spec.get("truncate_concat"):
            text = truncate_to_one_part(text)
        info = analyse(text)
        limit = spec.get("max_number_of_message_parts")
        return text, 0 if limit and info.parts > limit else info.parts, info.encoding

    # ----------------------------------------------------------------- delivery reports
    @dataclass
    class _Row:
        index: int
        msisdn: str
        recipient: Recipient
        reported: int

    def _recipients(self, batch: Batch, msisdn: str | None = None) -> list[_Row]:
        sql = "SELECT * FROM recipients WHERE batch_id = ?"
        params: list[Any] = [batch.id]
        if msisdn is not None:
            sql += " AND msisdn = ?"
            params.append(msisdn)
        rows = self.storage.query(sql + " ORDER BY idx", params)
        return [self._row(batch, row) for row in rows]

    @staticmethod
    def _row(batch: Batch, row: sqlite3.Row) -> XmsBackend._Row:
        recipient = Recipient(
            msisdn=row["msisdn"],
            queued_at=batch.created_at,
            dispatch_at=row["dispatch_at"],
            expire_at=batch.expire_at,
            deliver_after=batch.spec.get("deliver_after", 1.0),
            abort_code=row["abort_code"],
            canceled_at=batch.canceled_at,
        )
        return XmsBackend._Row(row["idx"], row["msisdn"], recipient, row["reported"])

    def batch_report(
        self,
        plan: Plan,
        batch_id: str,
        full: bool,
        statuses: set[str] | None = None,
        codes: set[int] | None = None,
    ) -> dict[str, Any]:
        """Recipients counted by (code, status), with their numbers when ``full``."""
        batch = self.get(plan, batch_id)
        rows = self._recipients(batch)
        return self._report_from(batch, rows, self.clock(), full, statuses, codes)

    def recipient_report(self, plan: Plan, batch_id: str, msisdn: str) -> RecipientReport:
        batch = self.get(plan, batch_id)
        rows = self._recipients(batch, msisdn)
        if not rows:
            raise not_found(f"Recipient '{msisdn}' of batch '{batch_id}'")
        event = lifecycle.state_at(rows[0].recipient, self.clock())
        return RecipientReport(batch, msisdn, event)

    def list_reports(
        self,
        plan: Plan,
        page: int,
        size: int,
        start: float | None = None,
        end: float | None = None,
        statuses: set[str] | None = None,
        codes: set[int] | None = None,
        client_reference: str | None = None,
    ) -> Page:
        """Recipient reports that reached a final status, newest first."""
        moment = self.clock()
        start = start if start is not None else moment - DAY
        end = end if end is not None else math.inf
        wanted = {s.lower() for s in statuses or ()}
        sql = "SELECT * FROM batches WHERE plan_id = ? AND expire_at >= ? AND created_at < ?"
        params: list[Any] = [plan.id, start, end]
        if client_reference is not None:
            sql += " AND client_reference = ?"
            params.append(client_reference)
        reports = []
        for batch in map(_batch, self.storage.query(sql, params)):
            for row in self._recipients(batch):
                event = lifecycle.state_at(row.recipient, moment)
                if not event.final or not start <= event.at < end:
                    continue
                if (wanted and event.status.lower() not in wanted) or (
                    codes and event.code not in codes
                ):
                    continue
                reports.append(RecipientReport(batch, row.msisdn, event))
        reports.sort(key=lambda r: (r.event.at, r.batch.id, r.msisdn), reverse=True)
        return _page(reports, page, size)

    # ----------------------------------------------------------------- tags (legacy)
    def tags(self, plan: Plan, kind: str, item_id: str) -> list[str]:
        """Tags of a batch or group (``kind`` is ``batches`` or ``groups``)."""
        if kind == "batches":
            return sorted(self.get(plan, item_id).spec.get("tags", []))
        return sorted(self.get_group(plan, item_id)["tags"])

    def set_tags(self, plan: Plan, kind: str, item_id: str, tags: list[str]) -> list[str]:
        """Replace the tags of a batch or group."""
        tags = sorted(set(tags))
        table = "batches" if kind == "batches" else "groups"
        owner = self.get(plan, item_id) if kind == "batches" else None
        with self.storage.write() as db:
            if owner is None:
                owner_data = json.loads(self._group_row(db, plan, item_id)["data"])
            else:
                owner_data = owner.spec
            data = dumps({**owner_data, "tags": tags})
            db.execute(f"UPDATE {table} SET data = ? WHERE id = ?", (data, item_id))
        return tags

    def change_tags(
        self, plan: Plan, kind: str, item_id: str, add: list[str], remove: list[str]
    ) -> list[str]:
        """Add, then remove, tags of a batch or group."""
        current = set(self.tags(plan, kind, item_id))
        return self.set_tags(plan, kind, item_id, list((current | set(add)) - set(remove)))

    # ----------------------------------------------------------------- groups
    def _group_row(self, db: sqlite3.Connection, plan: Plan, group_id: str) -> sqlite3.Row:
        row = db.execute(
            "SELECT * FROM groups WHERE id = ? AND plan_id = ?", (group_id, plan.id)
        ).fetchone()
        if row is None:
            raise not_found(f"Group '{group_id}'")
        return row

    def _group(self, db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        data = json.loads(row["data"])
        ids = [row["id"], *data.get("child_groups", [])]
        size = db.execute(
            f"SELECT COUNT(DISTINCT msisdn) FROM group_members "
            f"WHERE group_id IN ({','.join('?' * len(ids))})",
            ids,
        ).fetchone()[0]
        return {
            "id": row["id"],
            "name": row["name"],
            "size": size,
            "created_at": row["created_at"],
            "modified_at": row["modified_at"],
            "child_groups": data.get("child_groups", []),
            "auto_update": data.get("auto_update"),
            "tags": data.get("tags", []),
        }

    def _check_name(self, db, plan: Plan, name: str | None, group_id: str | None) -> None:
        if name is None:
            return
        clash = db.execute(
            "SELECT id FROM groups WHERE plan_id = ? AND name = ? AND id IS NOT ?",
            (plan.id, name, group_id),
        ).fetchone()
        if clash:
            raise ApiError(403, "conflict_group_name", f"A group named '{name}' already exists.")

    def _check_children(self, db, plan: Plan, children: list[str], field_name: str) -> None:
        for index, child in enumerate(children):
            found = db.execute(
                "SELECT 1 FROM groups WHERE id = ? AND plan_id = ?", (child, plan.id)
            ).fetchone()
            if not found:
                raise ApiError(
                    403, "unknown_group", f"Unknown group '{child}' in '{field_name}[{index}]'."
                )

    def create_group(self, plan: Plan, spec: dict[str, Any]) -> dict[str, Any]:
        moment = self.clock()
        group_id = new_id()
        with self.storage.write() as db:
            self._check_name(db, plan, spec.get("name"), None)
            self._check_children(db, plan, spec["child_groups"], "child_groups")
            data = {k: spec[k] for k in ("child_groups", "auto_update", "tags") if k in spec}
            db.execute(
                "INSERT INTO groups (id, plan_id, name, created_at, modified_at, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (group_id, plan.id, spec.get("name"), moment, moment, dumps(data)),
            )
            self._add_members(db, group_id, spec["members"])
            return self._group(db, self._group_row(db, plan, group_id))

    @staticmethod
    def _add_members(db: sqlite3.Connection, group_id: str, numbers: list[str]) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO group_members (group_id, msisdn) VALUES (?, ?)",
            [(group_id, n) for n in numbers],
        )

    def get_group(self, plan: Plan, group_id: str) -> dict[str, Any]:
        with self.storage.read() as db:
            return self._group(db, self._group_row(db, plan, group_id))

    def list_groups(self, plan: Plan, page: int, size: int, tags: list[str] | None) -> Page:
        with self.storage.read() as db:
            rows = db.execute(
                "SELECT * FROM groups WHERE plan_id = ? ORDER BY created_at DESC, rowid DESC",
                (plan.id,),
            ).fetchall()
            groups = [self._group(db, row) for row in rows]
        if tags:
            groups = [g for g in groups if set(tags) & set(g["tags"])]
        return _page(groups, page, size)

    def group_members(self, plan: Plan, group_id: str) -> list[str]:
        with self.storage.read() as db:
            self._group_row(db, plan, group_id)
            return self._group_members(db, plan, group_id, "group_id")

    def update_group(self, plan: Plan, group_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Adds first, then removes (a number in both ends up outside the group)."""
        with self.storage.write() as db:
            row = self._group_row(db, plan, group_id)
            data = json.loads(row["data"])
            name = spec["name"] if "name" in spec else row["name"]
            self._check_name(db, plan, name, group_id)
            adds, removes = list(spec.get("add", [])), list(spec.get("remove", []))
            if spec.get("add_from_group"):
                adds += self._group_members(db, plan, spec["add_from_group"], "add_from_group")
            if spec.get("remove_from_group"):
                removes += self._group_members(
                    db, plan, spec["remove_from_group"], "remove_from_group"
                )
            children = [
                c
                for c in data.get("child_groups", [])
                if c not in spec.get("child_groups_remove", [])
            ]
            new_children = spec.get("child_groups_add", [])
            self._check_children(db, plan, new_children, "child_groups_add")
            data["child_groups"] = children + [c for c in new_children if c not in children]
            if "auto_update" in spec:
                data["auto_update"] = spec["auto_update"]
            self._add_members(db, group_id, adds)
            db.executemany(
                "DELETE FROM group_members WHERE group_id = ? AND msisdn = ?",
                [(group_id, n) for n in removes],
            )
            self._touch_group(db, group_id, name, data)
            self._refresh_scheduled(db, plan, group_id)
            return self._group(db, self._group_row(db, plan, group_id))

    def _touch_group(self, db, group_id: str, name: str | None, data: dict[str, Any]) -> None:
        db.execute(
            "UPDATE groups SET name = ?, data = ?, modified_at = ? WHERE id = ?",
            (name, dumps({k: v for k, v in data.items() if v is not None}), self.clock(), group_id),
        )

    def replace_group(self, plan: Plan, group_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        with self.storage.write() as db:
            row = self._group_row(db, plan, group_id)
            self._check_name(db, plan, spec.get("name"), group_id)
            self._check_children(db, plan, spec["child_groups"], "child_groups")
            data = {
                **json.loads(row["data"]),
                "child_groups": spec["child_groups"],
                "auto_update": spec.get("auto_update"),
            }
            db.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
            self._add_members(db, group_id, spec["members"])
            self._touch_group(db, group_id, spec.get("name"), data)
            self._refresh_scheduled(db, plan, group_id)
            return self._group(db, self._group_row(db, plan, group_id))

    def delete_group(self, plan: Plan, group_id: str) -> None:
        with self.storage.write() as db:
            self._group_row(db, plan, group_id)
            db.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
            db.execute("DELETE FROM groups WHERE id = ?", (group_id,))
            self._refresh_scheduled(db, plan, group_id)

    # ----------------------------------------------------------------- inbounds and handsets
    def get_inbound(self, plan: Plan, inbound_id: str) -> dict[str, Any]:
        rows = self.storage.query(
            "SELECT data FROM inbounds WHERE id = ? AND plan_id = ?", (inbound_id, plan.id)
        )
        if not rows:
            raise not_found(f"Inbound message '{inbound_id}'")
        return json.loads(rows[0]["data"])

    def list_inbounds(
        self,
        plan: Plan,
        page: int,
        size: int,
        to: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        client_reference: str | None = None,
    ) -> Page:
        sql, params = _windowed(
            "SELECT data FROM inbounds WHERE plan_id = ?",
            "received_at",
            start if start is not None else self.clock() - DAY,
            end,
            {"client_reference": client_reference},
            {"to_number": to},
        )
        rows = self.storage.query(sql, [plan.id, *params])
        return _page([json.loads(r["data"]) for r in rows], page, size)

    def handset_messages(self, msisdn: str) -> list[dict[str, Any]]:
        """What one virtual phone shows: messages it received and replies it sent, by time."""
        moment = self.clock()
        rows = self.storage.query(
            "SELECT b.*, r.idx, r.msisdn, r.dispatch_at, r.abort_code, r.reported "
            "FROM recipients r JOIN batches b ON b.id = r.batch_id WHERE r.msisdn = ?",
            (msisdn,),
        )
        messages = []
        for row in rows:
            batch = _batch(row)
            recipient = self._row(batch, row).recipient
            event = lifecycle.state_at(recipient, moment)
            if event.status != "Delivered":
                continue
            text, _, _ = self._message_for(batch.spec, msisdn)
            messages.append(
                {
                    "direction": "received",
                    "from": batch.spec.get("from"),
                    "body": text,
                    "at": event.at,
                    "batch_id": batch.id,
                    "plan_id": batch.plan_id,
                }
            )
        for row in self.storage.query(
            "SELECT plan_id, data FROM inbounds WHERE from_number = ?", (msisdn,)
        ):
            inbound = json.loads(row["data"])
            messages.append(
                {
                    "direction": "sent",
                    "to": inbound["to"],
                    "body": inbound["body"],
                    "at": inbound["_received_epoch"],
                    "inbound_id": inbound["id"],
                    "plan_id": row["plan_id"],
                }
            )
        return sorted(messages, key=lambda m: m["at"])

    def handsets(self) -> list[str]:
        rows = self.storage.query(
            "SELECT msisdn FROM recipients UNION SELECT from_number FROM inbounds ORDER BY 1"
        )
        return [row[0] for row in rows]

    def reply_from_handset(
        self, msisdn: str, body: str, to: str | None = None, plan_id: str | None = None
    ) -> dict[str, Any]:
        """A phone answers: the reply becomes an inbound of the plan that last wrote to it."""
        sql = "SELECT b.* FROM recipients r JOIN batches b ON b.id = r.batch_id WHERE r.msisdn = ?"
        params: list[Any] = [msisdn]
        if to is not None:
            sql += " AND b.sender = ?"
            params.append(to)
        if plan_id is not None:
            sql += " AND b.plan_id = ?"
            params.append(plan_id)
        rows = self.storage.query(sql + " ORDER BY b.created_at DESC LIMIT 1", params)
        if rows:
            batch = _batch(rows[0])
            plan_id, to = batch.plan_id, to or batch.spec.get("from")
            client_reference = batch.spec.get("client_reference")
        elif plan_id is None or to is None or self.plan(plan_id) is None:
            raise ApiError(
                404,
                "not_found",
                f"No message was sent to {msisdn}; give 'to' and 'service_plan_id' to write "
                "to a plan first.",
            )
        else:
            client_reference = None
        return self._store_inbound(plan_id, msisdn, to, body, client_reference)

    def _store_inbound(
        self, plan_id: str, sender: str, to: str, body: str, client_reference: str | None
    ) -> dict[str, Any]:
        moment = self.clock()
        inbound: dict[str, Any] = {
            "type": "mo_text",
            "id": new_id(),
            "from": sender,
            "to": to,
            "body": body,
            "received_at": render_time(moment),
            "sent_at": render_time(moment),
        }
        if client_reference is not None:
            inbound["client_reference"] = client_reference
        stored = {**inbound, "_received_epoch": moment}
        with self.storage.write() as db:
            db.execute(
                "INSERT INTO inbounds (id, plan_id, received_at, to_number, from_number, "
                "client_reference, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (inbound["id"], plan_id, moment, to, sender, client_reference, dumps(stored)),
            )
            self._apply_keywords(db, plan_id, sender, to, body)
            plan = self.plan(plan_id)
            url = plan.settings.get("mo_callback_url") if plan else None
            if url:
                self._enqueue(db, plan_id, "inbound", url, inbound, moment)
        return stored

    def _apply_keywords(self, db, plan_id: str, sender: str, to: str, body: str) -> None:
        """Groups with ``auto_update`` add or remove the sender on their keywords."""
        words = [w.lower() for w in body.split()[:2]]
        for row in db.execute("SELECT id, data FROM groups WHERE plan_id = ?", (plan_id,)):
            rule = json.loads(row["data"]).get("auto_update")
            if not rule or rule.get("to") not in (to, "+" + to):
                continue
            for action in ("add", "remove"):
                keywords = rule.get(action) or {}
                expected = [keywords.get("first_word"), keywords.get("second_word")]
                expected = [w.lower() for w in expected if w]
                if expected and words[: len(expected)] == expected:
                    if action == "add":
                        self._add_members(db, row["id"], [sender])
                    else:
                        db.execute(
                            "DELETE FROM group_members WHERE group_id = ? AND msisdn = ?",
                            (row["id"], sender),
                        )

    # ----------------------------------------------------------------- callbacks
    def _enqueue(self, db, plan_id: str, kind: str, url: str, payload: Any, at: float) -> None:
        db.execute(
            "INSERT INTO outbox (plan_id, kind, url, payload, next_at) VALUES (?, ?, ?, ?, ?)",
            (plan_id, kind, url, dumps(payload), at),
        )

    def collect_delivery_callbacks(self, render_recipient) -> int:
        """Queue the delivery-report callbacks whose moment has come; returns how many."""
        moment = self.clock()
        queued = 0
        # A cheap read first: most rounds have nothing to do and need no write lock.
        if not self.storage.query(
            "SELECT 1 FROM batches WHERE callbacks_pending <= ? LIMIT 1", (moment,)
        ):
            return 0
        with self.storage.write() as db:
            rows = db.execute(
                "SELECT * FROM batches WHERE callbacks_pending <= ? LIMIT 50", (moment,)
            ).fetchall()
            for row in rows:
                queued += self._batch_callbacks(db, _batch(row), moment, render_recipient)
        return queued

    def _batch_callbacks(self, db, batch: Batch, moment: float, render_recipient) -> int:
        plan = self.plan(batch.plan_id)
        url = batch.spec.get("callback_url") or (
            plan.settings.get("callback_url") if plan else None
        )
        mode = batch.spec.get("delivery_report", "none")
        rows = [
            self._row(batch, r)
            for r in db.execute("SELECT * FROM recipients WHERE batch_id = ?", (batch.id,))
        ]
        queued, pending_times = 0, []
        finals = []
        for row in rows:
            events = lifecycle.timeline(row.recipient)
            seen = [e for e in events if e.at <= moment]
            future = [e.at for e in events if e.at > moment]
            if future:
                pending_times.append(min(future))
            finals.append(seen[-1] if seen and seen[-1].final else None)
            if mode not in ("per_recipient", "per_recipient_final") or not url:
                continue
            fresh = seen[row.reported :]
            if mode == "per_recipient_final":
                fresh = [e for e in fresh if e.final]
            for event in fresh:
                payload = render_recipient(RecipientReport(batch, row.msisdn, event))
                self._enqueue(db, batch.plan_id, "delivery_report", url, payload, moment)
                queued += 1
            db.execute(
                "UPDATE recipients SET reported = ? WHERE batch_id = ? AND idx = ?",
                (len(seen), batch.id, row.index),
            )
        all_final = all(finals)
        if mode in ("summary", "full") and url and all_final:
            report = self._report_from(batch, rows, moment, full=mode == "full")
            self._enqueue(db, batch.plan_id, "delivery_report", url, report, moment)
            queued += 1
        due = None if all_final else (min(pending_times) if pending_times else None)
        db.execute("UPDATE batches SET callbacks_pending = ? WHERE id = ?", (due, batch.id))
        return queued

    @staticmethod
    def _report_from(
        batch: Batch,
        rows: list[XmsBackend._Row],
        moment: float,
        full: bool,
        statuses: set[str] | None = None,
        codes: set[int] | None = None,
    ) -> dict[str, Any]:
        """The batch report (``delivery_report_sms``) at ``moment``, optionally filtered."""
        buckets: dict[tuple[int, str], list[str]] = {}
        for row in rows:
            event = lifecycle.state_at(row.recipient, moment)
            buckets.setdefault((event.code, event.status), []).append(row.msisdn)
        wanted = {s.lower() for s in statuses or ()}
        entries = []
        for (code, status), numbers in sorted(buckets.items()):
            if (wanted and status.lower() not in wanted) or (codes and code not in codes):
                continue
            entry: dict[str, Any] = {"code": code, "status": status, "count": len(numbers)}
            if full:
                entry["recipients"] = numbers
            entries.append(entry)
        report: dict[str, Any] = {
            "type": "delivery_report_sms",
            "batch_id": batch.id,
            "total_message_count": len(rows),
            "statuses": entries,
        }
        if batch.spec.get("client_reference") is not None:
            report["client_reference"] = batch.spec["client_reference"]
        return report

    def claim_callbacks(self, limit: int = 20, lease: float = 60.0) -> list[sqlite3.Row]:
        """Due callbacks, leased to this process so no other process sends them too."""
        moment = self.clock()
        due = "SELECT * FROM outbox WHERE state IN ('pending', 'sending') AND next_at <= ? "
        if not self.storage.query(due + "LIMIT 1", (moment,)):
            return []
        with self.storage.write() as db:
            rows = db.execute(
                "SELECT * FROM outbox WHERE state IN ('pending', 'sending') AND next_at <= ? "
                "ORDER BY id LIMIT ?",
                (moment, limit),
            ).fetchall()
            db.executemany(
                "UPDATE outbox SET state = 'sending', next_at = ? WHERE id = ?",
                [(moment + lease, row["id"]) for row in rows],
            )
        return rows

    def finish_callback(self, callback_id: int, error: str | None, retry: bool) -> None:
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

    def callbacks(self, plan_id: str | None = None) -> list[dict[str, Any]]:
        """Every callback with its state, for the sandbox's own inspection endpoint."""
        sql = "SELECT * FROM outbox"
        params: tuple = ()
        if plan_id:
            sql, params = sql + " WHERE plan_id = ?", (plan_id,)
        return [
            {
                "id": r["id"],
                "plan_id": r["plan_id"],
                "kind": r["kind"],
                "url": r["url"],
                "state": r["state"],
                "attempts": r["attempts"],
                "last_error": r["last_error"],
                "payload": json.loads(r["payload"]),
            }
            for r in self.storage.query(sql + " ORDER BY id", params)
        ]

    def count_batches(self, plan_id: str | None = None) -> int:
        sql, params = "SELECT COUNT(*) FROM batches", ()
        if plan_id:
            sql, params = sql + " WHERE plan_id = ?", (plan_id,)
        return self.storage.query(sql, params)[0][0]
