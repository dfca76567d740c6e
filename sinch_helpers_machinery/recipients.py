"""Reading recipient files (any separator, a byte-order mark, blank lines) and checking them."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import IO, Any

from .errors import RecipientsError
from .lazy import pd
from .phone_numbers import normalise_numbers


def read_text_table(
    source: str | os.PathLike[str] | IO[str] | IO[bytes], sep: str | None, encoding: str
) -> pd.DataFrame:
    """Every column as text (so ``+`` and leading zeros survive), with the separator sniffed
    from the header when ``sep`` is None and column names stripped of spaces."""
    source, sniffed = _sniff_separator(source, encoding)
    table = pd.read_csv(
        source,
        sep=sep or sniffed,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=True,
        skipinitialspace=True,
        encoding=encoding,
    )
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _sniff_separator(source: Any, encoding: str) -> tuple[Any, str]:
    """The separator (``,`` ``;`` tab or ``|``) that the header line uses most.

    Returns a source pandas can still read from the start (a path, or the buffer's text).
    """
    if isinstance(source, str | os.PathLike):
        with open(source, encoding=encoding, errors="replace") as handle:
            head = handle.read(65536)
    else:
        text = source.read()
        if isinstance(text, bytes):
            text = text.decode(encoding, errors="replace").removeprefix("\ufeff")
        source, head = io.StringIO(text), text[:65536]
    header = next((line for line in head.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    return source, max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","


def check_recipients(
    table: pd.DataFrame, phone_column: str = "phone", default_region: str | None = None
) -> pd.DataFrame:
    """Add ``e164``, ``valid`` and ``problem`` to a frame of recipients (see load_recipients).

    >>> check_recipients(pd.DataFrame({"phone": ["+447700900001", "+447700900001"]}))["problem"][2]
    'duplicate of row 1 (+447700900001)'
    """
    if phone_column not in table.columns:
        raise RecipientsError(
            f"No column named {phone_column!r}; the columns are {list(table.columns)}. "
            "Pass phone_column='...' to say which one holds the numbers."
        )
    table = table.copy()
    table.index = pd.RangeIndex(1, len(table) + 1, name="row")
    checked = normalise_numbers(table[phone_column], default_region)
    repeat = checked["e164"].notna() & checked["e164"].duplicated(keep="first")
    if repeat.any():
        first_row = (
            pd.Series(checked.index, index=checked.index)
            .groupby(checked["e164"])
            .transform("first")
            .astype("Int64")
        )
        checked.loc[repeat, "problem"] = (
            "duplicate of row "
            + first_row[repeat].astype(str)
            + " ("
            + checked["e164"][repeat]
            + ")"
        )
        checked.loc[repeat, "e164"] = pd.NA
    table["e164"] = checked["e164"]
    table["valid"] = checked["problem"].isna()
    table["problem"] = checked["problem"]
    return table


def recipient_numbers(recipients: pd.DataFrame | pd.Series | Sequence[str]) -> list[str]:
    """The numbers to send to: a recipients table's valid ``e164`` (or ``phone``) column, a
    Series without its gaps, or any list of numbers.

    >>> recipient_numbers(["+447700900001"])
    ['+447700900001']
    """
    if isinstance(recipients, pd.DataFrame):
        column = "e164" if "e164" in recipients else "phone"
        rows = recipients.loc[recipients["valid"]] if "valid" in recipients else recipients
        return rows[column].astype(str).tolist()
    if isinstance(recipients, pd.Series):
        return recipients.dropna().astype(str).tolist()
    return [str(n) for n in recipients]


def recipients_report(recipients: pd.DataFrame) -> pd.DataFrame:
    """The rows that will not be sent and why; empty when every row is fine.

    >>> recipients_report(load_recipients("../data/messy_recipients.csv"))  # doctest: +SKIP
    """
    bad = recipients.loc[~recipients["valid"]]
    return bad.drop(columns=["e164", "valid"])
