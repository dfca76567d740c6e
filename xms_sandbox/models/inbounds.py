"""Inbound messages and the virtual handsets that send them.

Every number the sandbox delivers to is a virtual phone: it shows the messages that reached it
and can reply. A reply becomes an inbound (MO) message of the plan that last wrote to the phone,
runs the plan's keyword rules for auto-updating groups, and is posted to the plan's
``mo_callback_url`` when it has one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from typing import Any

from .. import lifecycle
from ..errors import ApiError, not_found
from ..storage import Storage, dumps, new_id
from ..substitution import Parameters, by_number
from .config import Clock
from .groups import GroupStore
from .outbox import Outbox
from .plans import PlanStore
from .queries import DAY, batch_from_row, paginate, recipient_from_row, windowed
from .records import Batch, HandsetMessage, Inbound, Page, Plan
from .scheduling import message_for


def _inbound(row: sqlite3.Row) -> Inbound:
    """An ``inbounds`` row as a record.

    ``data`` holds the inbound as the API rendered it when it arrived (times as text) plus
    ``_received_epoch``; the time is read from the ``received_at`` column, which has the same
    value, so rows written by any version read alike. A phone's message arrives the moment it
    is sent, so ``sent_at`` is ``received_at``.
    """
    data = json.loads(row["data"])
    return Inbound(
        id=data["id"],
        plan_id=row["plan_id"],
        sender=data["from"],
        to=data["to"],
        body=data["body"],
        received_at=row["received_at"],
        sent_at=row["received_at"],
        client_reference=data.get("client_reference"),
    )


class InboundStore:
    """The ``inbounds`` table, and the handsets' view of ``recipients`` and ``inbounds``.

    An inbound is stored, as well as posted, as the API renders it, with the outbox's renderer,
    so this store needs no JSON of its own.
    """

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        plans: PlanStore,
        groups: GroupStore,
        outbox: Outbox,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.plans = plans
        self.groups = groups
        self.outbox = outbox

    # ------------------------------------------------------------------ the API's inbounds
    def get(self, plan: Plan, inbound_id: str) -> Inbound:
        rows = self.storage.query(
            "SELECT * FROM inbounds WHERE id = ? AND plan_id = ?", (inbound_id, plan.id)
        )
        if not rows:
            raise not_found(f"Inbound message '{inbound_id}'")
        return _inbound(rows[0])

    def listing(
        self,
        plan: Plan,
        page: int,
        size: int,
        to: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        client_reference: str | None = None,
    ) -> Page[Inbound]:
        """Newest first; by default the last 24 hours, as the API does."""
        sql, params = windowed(
            "SELECT * FROM inbounds WHERE plan_id = ?",
            "received_at",
            start if start is not None else self.clock() - DAY,
            end,
            {"client_reference": client_reference},
            {"to_number": to},
        )
        rows = self.storage.query(sql, [plan.id, *params])
        return paginate([_inbound(row) for row in rows], page, size)

    # ------------------------------------------------------------------ virtual handsets
    def handsets(self, plan_id: str | None = None) -> list[str]:
        """Every number that was sent a message or sent one itself; only those of ``plan_id``'s
        batches and inbounds when it is given."""
        if plan_id is None:
            rows = self.storage.query(
                "SELECT msisdn FROM recipients UNION SELECT from_number FROM inbounds ORDER BY 1"
            )
        else:
            rows = self.storage.query(
                "SELECT r.msisdn FROM recipients r JOIN batches b ON b.id = r.batch_id "
                "WHERE b.plan_id = ? UNION SELECT from_number FROM inbounds WHERE plan_id = ? "
                "ORDER BY 1",
                (plan_id, plan_id),
            )
        return [row[0] for row in rows]

    def latest_phones(self, plan_id: str | None, most: int) -> tuple[list[str], int]:
        """The ``most`` phones of ``plan_id`` (of every plan, when None) written to or from
        last (by their newest batch or reply), and how many phones it has in all.

        Worked out by SQLite alone, and only ``most`` rows come back (each with the count), so
        that a wall of a whole room (tens of thousands of phones) costs one grouped read.
        """
        where, params = self._scope("b.plan_id", plan_id)
        where_inbound, more = self._scope("plan_id", plan_id)
        rows = self.storage.query(
            "SELECT number, MAX(at), COUNT(*) OVER () FROM ("
            f"SELECT r.msisdn AS number, b.created_at AS at FROM batches b "
            f"JOIN recipients r ON r.batch_id = b.id{where} UNION ALL "
            f"SELECT from_number, received_at FROM inbounds{where_inbound}"
            ") GROUP BY number ORDER BY 2 DESC, 1 LIMIT ?",
            [*params, *more, most],
        )
        return [row[0] for row in rows], rows[0][2] if rows else 0

    def phone_screens(
        self, plan_id: str | None, numbers: Collection[str] | None = None
    ) -> dict[str, list[HandsetMessage]]:
        """What each phone shows of ``plan_id``'s messages (of every plan's, when None): the
        messages delivered to it by now and the replies it sent, by time; only ``numbers``'
        phones when given. One pass over the plan's recipients, however many phones.

        A failed or pending message never reached the phone, so only delivered ones count.
        There is no index by number: one would cost each send a page per recipient (a room
        sends to the same few numbers, spread over the whole index), while every screen is a
        plan's, found through the plan's batches.
        """
        moment = self.clock()
        wanted = sorted(set(numbers)) if numbers is not None else None
        where, params = self._scope("b.plan_id", plan_id, "r.msisdn", wanted)
        rows = self.storage.query(
            "SELECT b.*, r.idx, r.msisdn, r.dispatch_at, r.abort_code, r.reported "
            f"FROM batches b JOIN recipients r ON r.batch_id = b.id{where}",
            params,
        )
        screens: dict[str, list[HandsetMessage]] = {}
        batches: dict[str, tuple[Batch, Parameters]] = {}
        for row in rows:
            if row["id"] not in batches:  # a batch's JSON is read once, not once a recipient
                batch = batch_from_row(row)
                batches[batch.id] = batch, by_number(batch.spec.get("parameters"))
            batch, table = batches[row["id"]]
            number = row["msisdn"]
            event = lifecycle.state_at(recipient_from_row(batch, row).recipient, moment)
            if event.status != "Delivered":
                continue
            text, _, _ = message_for(batch.spec, number, table)
            sender = batch.spec.get("from")
            screens.setdefault(number, []).append(
                HandsetMessage("received", sender, text, event.at, batch.id, batch.plan_id)
            )
        where, params = self._scope("plan_id", plan_id, "from_number", wanted)
        for row in self.storage.query(f"SELECT * FROM inbounds{where}", params):
            sent = _inbound(row)
            screens.setdefault(sent.sender, []).append(
                HandsetMessage("sent", sent.to, sent.body, sent.received_at, sent.id, sent.plan_id)
            )
        for messages in screens.values():
            messages.sort(key=lambda m: m.at)
        return screens

    @staticmethod
    def _scope(
        plan_column: str,
        plan_id: str | None,
        number_column: str = "",
        numbers: list[str] | None = None,
    ) -> tuple[str, list[Any]]:
        """A WHERE clause (or nothing) for one plan's rows and some numbers'."""
        conditions, params = [], list[Any]()
        if plan_id is not None:
            conditions.append(f"{plan_column} = ?")
            params.append(plan_id)
        if numbers is not None:
            conditions.append(f"{number_column} IN ({', '.join('?' * len(numbers))})")
            params.extend(numbers)
        return (" WHERE " + " AND ".join(conditions) if conditions else ""), params

    def reply_from_handset(
        self, msisdn: str, body: str, to: str | None = None, plan_id: str | None = None
    ) -> Inbound:
        """A phone answers: the reply becomes an inbound of the plan that last wrote to it.

        ``to`` and ``plan_id`` pick among the batches sent to the phone; with both given, a
        phone that was never written to can still write to a plan's number.
        """
        # Newest first, through the plan's batches when the plan is known (there is no index
        # by number: see phone_screens); the first batch that wrote to the phone ends it.
        sql = "SELECT b.* FROM batches b WHERE EXISTS (SELECT 1 FROM recipients r "
        sql += "WHERE r.batch_id = b.id AND r.msisdn = ?)"
        params: list[Any] = [msisdn]
        if to is not None:
            sql += " AND b.sender = ?"
            params.append(to)
        if plan_id is not None:
            sql += " AND b.plan_id = ?"
            params.append(plan_id)
        rows = self.storage.query(sql + " ORDER BY b.created_at DESC LIMIT 1", params)
        if rows:
            batch = batch_from_row(rows[0])
            return self._store(
                batch.plan_id,
                msisdn,
                to or batch.spec["from"],
                body,
                batch.spec.get("client_reference"),
            )
        if plan_id is None or to is None or self.plans.find(plan_id) is None:
            raise ApiError(
                404,
                "not_found",
                f"No message was sent to {msisdn}; give 'to' and 'service_plan_id' to write "
                "to a plan first.",
            )
        return self._store(plan_id, msisdn, to, body, None)

    def _store(
        self, plan_id: str, sender: str, to: str, body: str, client_reference: str | None
    ) -> Inbound:
        moment = self.clock()
        inbound = Inbound(new_id(), plan_id, sender, to, body, moment, moment, client_reference)
        # ``data`` keeps the format every version wrote, the API's JSON plus the epoch, so that
        # an older sandbox sharing this database file (a notebook kernel started before an
        # update) still reads these rows.
        stored = dumps({**self.outbox.render(inbound), "_received_epoch": moment})
        with self.storage.write() as db:
            db.execute(
                "INSERT INTO inbounds (id, plan_id, received_at, to_number, from_number, "
                "client_reference, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (inbound.id, plan_id, moment, to, sender, client_reference, stored),
            )
            self.groups.apply_keywords(db, plan_id, sender, to, body)
            plan = self.plans.find(plan_id)
            url = plan.settings.get("mo_callback_url") if plan else None
            if url:
                self.outbox.enqueue(db, plan_id, "inbound", url, inbound, moment)
        return inbound
