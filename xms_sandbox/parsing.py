"""Query-string values read as both Python clients send them.

Booleans in any case (``true``, ``True``); dates with ``T`` or a space, with ``Z``, an offset or
none (UTC), or a plain date; lists either comma-separated or as repeated parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from .errors import ApiError, invalid_format
from .timeutil import parse_time

DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 100
#: No request the API takes nests deeper than a few levels; far deeper JSON only costs memory
#: and, past Python's recursion limit, would crash the parser.
MAX_JSON_DEPTH = 32


class MultiDict(Protocol):
    """A query string that may repeat a parameter (werkzeug's ``MultiDict``)."""

    def getlist(self, key: str) -> list[str]: ...


def boolean(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise invalid_format(name, raw, "a valid boolean")


def integer(
    query: Mapping[str, str], name: str, default: int, low: int = 0, high: int | None = None
) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise invalid_format(name, raw, "an integer") from None
    if value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise ApiError(
            400,
            "syntax_constraint_violation",
            f"Parameter '{name}' must be at least {low}{upper}; it is {value}.",
        )
    return value


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """``page`` (from 0) and ``page_size`` (1 to 100, default 30)."""
    page = integer(query, "page", 0)
    size = integer(query, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return page, size


def moment(query: Mapping[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = parse_time(raw)
    if value is None:
        raise invalid_format(name, raw, "an ISO-8601 date or date and time")
    return value


def values(query: MultiDict, name: str) -> list[str]:
    """Every value of a list filter, whether repeated or comma-separated."""
    found: list[str] = []
    for raw in query.getlist(name):
        found.extend(part.strip() for part in raw.split(",") if part.strip())
    return found


def codes(query: MultiDict, name: str = "code") -> set[int]:
    result = set()
    for raw in values(query, name):
        try:
            result.add(int(raw))
        except ValueError:
            raise invalid_format(name, raw, "a delivery code (an integer)") from None
    return result


def _too_deep() -> ApiError:
    return ApiError(
        400,
        "syntax_invalid_json",
        f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.",
    )


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest (``1`` for ``[]``, ``0`` for a number), without
    recursion, so that no document can exhaust the stack while it is measured."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def json_document(text: str | bytes, **options: Any) -> Any:
    """``json.loads`` for request bodies: 400 (not a crash) for JSON nested too deeply."""
    try:
        value = json.loads(text, **options)
    except RecursionError:
        raise _too_deep() from None
    # Counting brackets is fast C code: most bodies have too few to nest too deeply at all.
    if _brackets(text) > MAX_JSON_DEPTH and json_depth(value) > MAX_JSON_DEPTH:
        raise _too_deep()
    return value


def _brackets(text: str | bytes) -> int:
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{")
    return text.count("[") + text.count("{")
