"""The API's JSON answers as Python objects that read well in a notebook."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from .lazy import pd


class ApiObject(dict):
    """A JSON object from the API: a dict with the API's field names, readable as attributes
    (``batch.id``, ``batch.from_`` for ``from``) and shown as a table in notebooks.

    >>> batch = ApiObject({"id": "01H", "from": "+447700900100"})
    >>> batch.id, batch.from_
    ('01H', '+447700900100')
    """

    def __getattr__(self, name: str) -> Any:
        key = "from" if name == "from_" else name
        try:
            return self[key]
        except KeyError:
            raise AttributeError(name) from None

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(str(k), quote=False)}</th>"
            f"<td style='text-align:left'><code>{escape(compact(v), quote=False)}</code></td></tr>"
            for k, v in self.items()
        )
        return f"<table>{rows}</table>"

    def __repr__(self) -> str:
        return json.dumps(shortened(dict(self)), indent=2, ensure_ascii=False)


def shortened(value: Any, keep: int = 10) -> Any:
    """The value with long lists cut to ``keep`` items and a note of how many more there are.

    >>> shortened(list(range(12)), keep=2)
    [0, 1, '… 10 more']
    """
    if isinstance(value, dict):
        return {k: shortened(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        head = [shortened(v, keep) for v in value[:keep]]
        return [*head, f"… {len(value) - keep} more"] if len(value) > keep else head
    return value


def compact(value: Any, limit: int = 120) -> str:
    """One line of JSON, at most ``limit`` characters, for a table cell."""
    text = json.dumps(shortened(value, 5), ensure_ascii=False)
    text = text[1:-1] if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wrap(value: Any) -> Any:
    """Dicts in an API answer become ApiObjects, however deeply nested (lists of plain values,
    such as a batch's 1000 numbers, are kept as they are: no call per item)."""
    if isinstance(value, dict):
        return ApiObject(
            {k: wrap(v) if isinstance(v, dict | list) else v for k, v in value.items()}
        )
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value[:1]):
        return [wrap(v) for v in value]
    return value


def frame(items: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame from API objects (batches, groups, inbounds, reports...), one row each.

    >>> frame([{"id": "01H", "to": ["447700900001"]}], ["id", "to"]).shape
    (1, 2)
    """
    rows = [dict(item) for item in items]
    return pd.DataFrame(rows, columns=list(columns) if columns is not None else None)
