"""Building and slicing the API's ``parameters`` (``{key: {number: value, "default": ...}}``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .api_facts import PARAMETER_KEY
from .errors import RecipientsError
from .lazy import np, pd
from .phone_numbers import digits_only, text_dtype

#: The API's ``parameters``: ``{key: {number: value, ..., "default": value}}``.
Parameters = Mapping[str, Mapping[str, str]]


def require_key(column: str, key: str) -> None:
    """A RecipientsError that suggests a valid key when ``key`` is not one."""
    if not PARAMETER_KEY.fullmatch(key):
        suggestion = re.sub(r"[^A-Za-z0-9_.\-]", "_", key)[:16] or "value"
        raise RecipientsError(
            f"{key!r} cannot be a parameter key (use 1-16 of A-Z a-z 0-9 _ . -). Rename it: "
            f"columns={{{column!r}: {suggestion!r}}}."
        )


def values_by_number(
    rows: pd.DataFrame, keys: Mapping[str, str], phone_column: str
) -> dict[str, dict[str, str]]:
    """``{key: {number: value}}`` for each column, leaving out missing and blank cells, and
    rows whose ``valid`` column (when there is one) is False.

    >>> rows = pd.DataFrame({"e164": ["+447700900001", "+447700900002"], "name": ["Ann", " "]})
    >>> values_by_number(rows, {"name": "name"}, "e164")
    {'name': {'+447700900001': 'Ann'}}
    """
    valid = rows["valid"].to_numpy(dtype=bool) if "valid" in rows else None

    def column_of(name: str) -> pd.Series:
        # One column at a time, valid rows only: a copy of the whole table is never made.
        column = rows[name] if valid is None else rows[name][valid]
        return column.astype(text_dtype())

    # Each number becomes one Python string, shared by every key's dict; each distinct value
    # (a city, a first name) one string too, however many rows repeat it. A million rows made
    # this step the largest part of send-list preparation's peak memory (bench/recipients.py).
    every_number = np.array(column_of(phone_column).tolist(), dtype=object)
    result: dict[str, dict[str, str]] = {}
    for column, key in keys.items():
        require_key(column, key)
        values = column_of(column)
        present = _present(values)
        codes, distinct = pd.factorize(values[present])
        shared = np.array(distinct.tolist(), dtype=object)
        result[key] = dict(zip(every_number[present].tolist(), shared[codes].tolist(), strict=True))
    return result


def _present(values: pd.Series) -> np.ndarray:
    """Cells that hold something other than nothing or blanks."""
    blank = values.str.isspace().fillna(True).to_numpy(dtype=bool)
    return (
        values.notna().to_numpy(dtype=bool)
        & ~blank
        & values.ne("").fillna(False).to_numpy(dtype=bool)
    )


class ParameterIndex:
    """Slices ``parameters`` for each batch of a bulk send at the cost of that batch's recipients.

    Keys are looked up as written first (the usual case: the same ``+44...`` strings as in the
    recipient list); only a miss pays for normalising, against an index built on first need.

    >>> ParameterIndex({"n": {"+447700900001": "Ann", "default": "you"}}).slice(["447700900001"])
    {'n': {'+447700900001': 'Ann', 'default': 'you'}}
    """

    def __init__(self, parameters: Parameters | None) -> None:
        self.parameters = parameters or {}
        self._by_digits: dict[str, dict[str, tuple[str, str]]] = {}

    def _find(self, key: str, number: str) -> tuple[str, str] | None:
        index = self._by_digits.get(key)
        if index is None:
            values = self.parameters[key]
            index = {digits_only(k): (k, v) for k, v in values.items() if k != "default"}
            self._by_digits[key] = index
        return index.get(digits_only(number))

    def slice(self, numbers: Sequence[str]) -> dict[str, dict[str, str]] | None:
        """The part of ``parameters`` that concerns these recipients (plus every default)."""
        if not self.parameters:
            return None
        sliced = {}
        for key, values in self.parameters.items():
            entry = {}
            for number in numbers:
                if number in values:
                    entry[number] = values[number]
                elif found := self._find(key, number):
                    entry[found[0]] = found[1]
            if "default" in values:
                entry["default"] = values["default"]
            sliced[key] = entry
        return sliced


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    """``items`` in lists of at most ``size``.

    >>> chunks(["a", "b", "c"], 2)
    [['a', 'b'], ['c']]
    """
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
