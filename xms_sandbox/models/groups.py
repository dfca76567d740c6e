"""Groups: their members and child groups, legacy tags, and keyword auto-update rules.

A group's ``data`` column holds what has no column of its own: ``child_groups``, ``auto_update``
and ``tags``. Members live in ``group_members``; a group's size and membership include its child
groups' members (one level deep, as the API documents), each number counted once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from ..errors import ApiError, not_found
from ..storage import Storage, dumps, new_id
from .config import Clock
from .queries import Tagged, marks, paginate
from .records import Group, Page, Plan

#: Called inside the write transaction after a group's members changed (or it was deleted), so
#: that batches still waiting to go out can be expanded again. The scheduler provides it; taking
#: it as a callback keeps this module from importing the scheduler, which imports this one.
MembersChanged = Callable[[sqlite3.Connection, Plan, str], None]


def members_of(db: sqlite3.Connection, plan: Plan, group_id: str, field_name: str) -> list[str]:
    """The numbers of a group and its child groups, sorted, each once.

    403 ``unknown_group`` naming ``field_name`` when the plan has no such group: this is how
    the API answers a batch or a group update that refers to a group it does not know.
    """
    row = db.execute(
        "SELECT data FROM groups WHERE id = ? AND plan_id = ?", (group_id, plan.id)
    ).fetchone()
    if row is None:
        raise ApiError(403, "unknown_group", f"Unknown group '{group_id}' in '{field_name}'.")
    ids = [group_id, *json.loads(row["data"]).get("child_groups", [])]
    members = db.execute(
        f"SELECT DISTINCT msisdn FROM group_members WHERE group_id IN ({marks(len(ids))}) "
        "ORDER BY msisdn",
        ids,
    ).fetchall()
    return [m["msisdn"] for m in members]


class GroupStore(Tagged):
    """The ``groups`` and ``group_members`` tables."""

    def __init__(self, storage: Storage, clock: Clock, on_members_changed: MembersChanged) -> None:
        self.storage = storage
        self.clock = clock
        self.on_members_changed = on_members_changed

    # ------------------------------------------------------------------ reading
    def get(self, plan: Plan, group_id: str) -> Group:
        with self.storage.read() as db:
            return self._record(db, self._row(db, plan, group_id))

    def listing(self, plan: Plan, page: int, size: int, tags: list[str] | None) -> Page[Group]:
        """Newest first; ``tags`` keeps groups with any of them (legacy client only)."""
        with self.storage.read() as db:
            rows = db.execute(
                "SELECT * FROM groups WHERE plan_id = ? ORDER BY created_at DESC, rowid DESC",
                (plan.id,),
            ).fetchall()
            groups = [self._record(db, row) for row in rows]
        if tags:
            groups = [g for g in groups if set(tags) & set(g.tags)]
        return paginate(groups, page, size)

    def members(self, plan: Plan, group_id: str) -> list[str]:
        with self.storage.read() as db:
            self._row(db, plan, group_id)  # 404 (not 403) for the group the path names
            return members_of(db, plan, group_id, "group_id")

    # ------------------------------------------------------------------ writing
    def create(self, plan: Plan, spec: dict[str, Any]) -> Group:
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
            return self._record(db, self._row(db, plan, group_id))

    def update(self, plan: Plan, group_id: str, spec: dict[str, Any]) -> Group:
        """Adds first, then removes (a number in both ends up outside the group)."""
        with self.storage.write() as db:
            row = self._row(db, plan, group_id)
            data = json.loads(row["data"])
            name = spec["name"] if "name" in spec else row["name"]
            self._check_name(db, plan, name, group_id)
            adds, removes = self._member_changes(db, plan, spec)
            data["child_groups"] = self._children_after(db, plan, data, spec)
            if "auto_update" in spec:
                data["auto_update"] = spec["auto_update"]
            self._add_members(db, group_id, adds)
            db.executemany(
                "DELETE FROM group_members WHERE group_id = ? AND msisdn = ?",
                [(group_id, n) for n in removes],
            )
            self._touch(db, group_id, name, data)
            self.on_members_changed(db, plan, group_id)
            return self._record(db, self._row(db, plan, group_id))

    def replace(self, plan: Plan, group_id: str, spec: dict[str, Any]) -> Group:
        """New name, members, children and rule; the tags stay (only the tag routes set them)."""
        with self.storage.write() as db:
            row = self._row(db, plan, group_id)
            self._check_name(db, plan, spec.get("name"), group_id)
            self._check_children(db, plan, spec["child_groups"], "child_groups")
            data = {
                **json.loads(row["data"]),
                "child_groups": spec["child_groups"],
                "auto_update": spec.get("auto_update"),
            }
            db.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
            self._add_members(db, group_id, spec["members"])
            self._touch(db, group_id, spec.get("name"), data)
            self.on_members_changed(db, plan, group_id)
            return self._record(db, self._row(db, plan, group_id))

    def delete(self, plan: Plan, group_id: str) -> None:
        with self.storage.write() as db:
            self._row(db, plan, group_id)
            db.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
            db.execute("DELETE FROM groups WHERE id = ?", (group_id,))
            self.on_members_changed(db, plan, group_id)

    # ------------------------------------------------------------------ tags (legacy client)
    def tags(self, plan: Plan, item_id: str) -> list[str]:
        with self.storage.read() as db:
            return sorted(json.loads(self._row(db, plan, item_id)["data"]).get("tags", []))

    def set_tags(self, plan: Plan, item_id: str, tags: list[str]) -> list[str]:
        """Replace the group's tags; like the API, this does not count as modifying it."""
        tags = sorted(set(tags))
        with self.storage.write() as db:
            data = json.loads(self._row(db, plan, item_id)["data"])
            db.execute(
                "UPDATE groups SET data = ? WHERE id = ?", (dumps({**data, "tags": tags}), item_id)
            )
        return tags

    # ------------------------------------------------------------------ keyword rules
    def apply_keywords(
        self, db: sqlite3.Connection, plan_id: str, sender: str, to: str, body: str
    ) -> None:
        """Groups with an ``auto_update`` rule for the number ``to`` add or remove ``sender``
        when the message starts with the rule's keywords (case-insensitive)."""
        words = [w.lower() for w in body.split()[:2]]
        for row in db.execute("SELECT id, data FROM groups WHERE plan_id = ?", (plan_id,)):
            rule = json.loads(row["data"]).get("auto_update")
            if not rule or rule.get("to") not in (to, "+" + to):
                continue
            for action in ("add", "remove"):
                keywords = rule.get(action) or {}
                expected = [keywords.get("first_word"), keywords.get("second_word")]
                expected = [w.lower() for w in expected if w]
                if not expected or words[: len(expected)] != expected:
                    continue
                if action == "add":
                    self._add_members(db, row["id"], [sender])
                else:
                    db.execute(
                        "DELETE FROM group_members WHERE group_id = ? AND msisdn = ?",
                        (row["id"], sender),
                    )

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _row(db: sqlite3.Connection, plan: Plan, group_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM groups WHERE id = ? AND plan_id = ?", (group_id, plan.id)
        ).fetchone()
        if row is None:
            raise not_found(f"Group '{group_id}'")
        return row

    @staticmethod
    def _record(db: sqlite3.Connection, row: sqlite3.Row) -> Group:
        data = json.loads(row["data"])
        ids = [row["id"], *data.get("child_groups", [])]
        size = db.execute(
            "SELECT COUNT(DISTINCT msisdn) FROM group_members "
            f"WHERE group_id IN ({marks(len(ids))})",
            ids,
        ).fetchone()[0]
        return Group(
            id=row["id"],
            name=row["name"],
            size=size,
            created_at=row["created_at"],
            modified_at=row["modified_at"],
            child_groups=data.get("child_groups", []),
            auto_update=data.get("auto_update"),
            tags=data.get("tags", []),
        )

    @staticmethod
    def _check_name(
        db: sqlite3.Connection, plan: Plan, name: str | None, group_id: str | None
    ) -> None:
        """Names are unique within a plan (403 ``conflict_group_name``)."""
        if name is None:
            return
        clash = db.execute(
            "SELECT id FROM groups WHERE plan_id = ? AND name = ? AND id IS NOT ?",
            (plan.id, name, group_id),
        ).fetchone()
        if clash:
            raise ApiError(403, "conflict_group_name", f"A group named '{name}' already exists.")

    @staticmethod
    def _check_children(
        db: sqlite3.Connection, plan: Plan, children: list[str], field_name: str
    ) -> None:
        for index, child in enumerate(children):
            found = db.execute(
                "SELECT 1 FROM groups WHERE id = ? AND plan_id = ?", (child, plan.id)
            ).fetchone()
            if not found:
                raise ApiError(
                    403, "unknown_group", f"Unknown group '{child}' in '{field_name}[{index}]'."
                )

    @staticmethod
    def _member_changes(
        db: sqlite3.Connection, plan: Plan, spec: dict[str, Any]
    ) -> tuple[list[str], list[str]]:
        """Numbers an update adds and removes, including those copied from other groups."""
        adds, removes = list(spec.get("add", [])), list(spec.get("remove", []))
        if spec.get("add_from_group"):
            adds += members_of(db, plan, spec["add_from_group"], "add_from_group")
        if spec.get("remove_from_group"):
            removes += members_of(db, plan, spec["remove_from_group"], "remove_from_group")
        return adds, removes

    def _children_after(
        self, db: sqlite3.Connection, plan: Plan, data: dict[str, Any], spec: dict[str, Any]
    ) -> list[str]:
        """The child groups after an update: removals first, then new ones (checked) appended."""
        removed = spec.get("child_groups_remove", [])
        children = [c for c in data.get("child_groups", []) if c not in removed]
        new_children = spec.get("child_groups_add", [])
        self._check_children(db, plan, new_children, "child_groups_add")
        return children + [c for c in new_children if c not in children]

    @staticmethod
    def _add_members(db: sqlite3.Connection, group_id: str, numbers: list[str]) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO group_members (group_id, msisdn) VALUES (?, ?)",
            [(group_id, n) for n in numbers],
        )

    def _touch(
        self, db: sqlite3.Connection, group_id: str, name: str | None, data: dict[str, Any]
    ) -> None:
        """Store the name and data (unset fields dropped) and bump ``modified_at``."""
        db.execute(
            "UPDATE groups SET name = ?, data = ?, modified_at = ? WHERE id = ?",
            (name, dumps({k: v for k, v in data.items() if v is not None}), self.clock(), group_id),
        )
