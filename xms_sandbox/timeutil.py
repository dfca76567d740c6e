"""Timestamps: parse what clients send, render what the API answers (UTC, milliseconds)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def render_time(epoch: float) -> str:
    """ISO-8601 in UTC with milliseconds, e.g. ``2016-12-17T08:15:29.969Z``."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(raw: object) -> float | None:
    """Epoch seconds from an ISO-8601 string (``T`` or space, ``Z``, offset or none = UTC, or
    a plain date). None when it cannot be read."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        # An unencoded '+' in a query string arrives as a space: "...T10:00:00 01:00".
        head, _, offset = text.rpartition(" ")
        if not head or not offset[:2].isdigit():
            return None
        try:
            moment = datetime.fromisoformat(f"{head}+{offset}")
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
