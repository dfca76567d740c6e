"""Reading recipient files as spreadsheets really make them, and checking every row.

A list comes from Excel, Google Sheets, LibreOffice or a script: UTF-8 with or without a
byte-order mark, UTF-16 (Excel's "Unicode text"), Windows-1252 (Excel's plain "CSV" on Western
Windows), with ``,`` ``;`` tab or ``|`` between fields and blank lines, or an .xlsx workbook.
``read_text_table`` reads any of them with every cell as text. A row that the file's own
structure makes unreliable (an unbalanced quote that joins lines, too many fields) is kept and
marked, never merged into another or dropped: the result has one row per data row.

A CSV file is read in up to three passes, each only when the one before cannot be trusted:

1. pyarrow's CSV reader: UTF-8 only, on every core, about a third of ``pandas.read_csv``'s time;
2. ``pandas.read_csv``: other encodings, and rows with missing trailing fields;
3. Python's ``csv`` module, line by line, when a field holds a line break or a row has too many
   fields: only this pass knows which lines of the file each row came from.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import RecipientsError
from .lazy import ImportedOnFirstUse, np, pd
from .phone_numbers import MISSING, check_numbers, give_back_memory, repeats

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.csv as pa_csv  # type: ignore[import-untyped]
else:
    pa = ImportedOnFirstUse("pyarrow")
    pc = ImportedOnFirstUse("pyarrow.compute")
    pa_csv = ImportedOnFirstUse("pyarrow.csv")

Source = str | os.PathLike[str] | IO[str] | IO[bytes]

_HEAD = 65536  # enough of a file to tell its kind, encoding, separator and header
_SEPARATORS = (",", ";", "\t", "|")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# A phone number inside another field: what an unbalanced quote leaves when it swallows the
# separator and the start of the next row.
_PHONE_SHAPED = r"\+?[0-9][0-9 ()\-]{6,}[0-9]"


class RecipientsWarning(UserWarning):
    """A recipients file was read one way where it might have meant another, or holds nothing.

    Example: ``447700900123`` (a number whose ``+`` Excel dropped) read as +44 7700 900123.
    """


@dataclass
class RecipientsFile:
    """A recipients table as read: every cell as text, the index the data row number (from 1,
    below the header), and a problem for each row the file's structure makes unreliable.

    >>> RecipientsFile(pd.DataFrame({"phone": ["+447700900001"]}), "people.csv").damaged
    {}
    """

    table: pd.DataFrame
    name: str
    damaged: dict[int, str] = field(default_factory=dict)


# --- where the bytes come from --------------------------------------------------------------


@dataclass
class _Input:
    """A file to read: its path, or its bytes (from a buffer), and how to name it."""

    name: str
    path: str | None = None
    data: bytes | None = None
    text: bool = False  # read from a text buffer (data is then UTF-8)

    def open(self) -> Any:
        """Something each reader can read from the start."""
        return self.path if self.path is not None else io.BytesIO(self.data or b"")

    def head(self) -> bytes:
        """The first bytes."""
        if self.path is None:
            return (self.data or b"")[:_HEAD]
        with open(self.path, "rb") as handle:
            return handle.read(_HEAD)

    def read(self) -> bytes:
        """Every byte."""
        return Path(self.path).read_bytes() if self.path is not None else self.data or b""


def _input(source: Source) -> _Input:
    """A path stays a path (the readers stream it); a buffer is read once."""
    if isinstance(source, str | os.PathLike):
        return _Input(os.fspath(source), path=os.fspath(source))
    name = getattr(source, "name", None)
    label = name if isinstance(name, str) else "the buffer"
    content = source.read()
    if isinstance(content, str):
        return _Input(label, data=content.encode("utf-8"), text=True)
    return _Input(label, data=bytes(content))


# --- the file as a whole: kind and encoding --------------------------------------------------


def read_text_table(
    source: Source,
    sep: str | None = None,
    encoding: str | None = None,
    phone_column: str = "phone",
) -> RecipientsFile:
    """Every column as text (so ``+`` and leading zeros survive), the index the data row number.

    CSV (separator sniffed from the header when ``sep`` is None; encoding detected when
    ``encoding`` is None: UTF-8, UTF-16 with or without a byte-order mark, else Windows-1252)
    or an .xlsx workbook (its first sheet). Column names are stripped of spaces. An empty
    file, a missing phone column or two of them raise a RecipientsError that says what to do.

    >>> read_text_table(io.StringIO("phone;name\\n+447700900001;Ann\\n")).table.loc[1, "name"]
    'Ann'
    """
    file = _input(source)
    if file.text:  # already text: its bytes are ours, in UTF-8
        encoding = "utf-8-sig"
    head = file.head()
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise RecipientsError(
            f"{file.name} is an Excel 97-2003 workbook (.xls), which cannot be read here. In "
            "Excel, save it as 'Excel Workbook (.xlsx)' or as 'CSV UTF-8', then load that file."
        )
    if head.startswith(b"PK\x03\x04"):
        return _read_workbook(file, phone_column)
    codec = encoding or _detect_encoding(head)
    if encoding is None and codec == "utf-8-sig" and not _decodes(head, codec):
        codec = "cp1252"
    try:
        return _read_csv(file, codec, sep, phone_column, guessed=encoding is None)
    except UnicodeDecodeError as error:
        if encoding is not None or codec != "utf-8-sig":
            raise _encoding_error(file, codec, error, encoding) from None
    try:
        return _read_csv(file, "cp1252", sep, phone_column, guessed=True)
    except UnicodeDecodeError as error:
        raise _encoding_error(file, "cp1252", error, encoding) from None


def _detect_encoding(head: bytes) -> str:
    """UTF-32 or UTF-16 from a byte-order mark, UTF-16 from its zero bytes (plain text in
    UTF-16 has one in every other byte), else UTF-8 (with or without a byte-order mark)."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[:4096]
    half = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if half and odd > half * 0.3 and even < half * 0.05:
        return "utf-16-le"
    if half and even > half * 0.3 and odd < half * 0.05:
        return "utf-16-be"
    return "utf-8-sig"


def _decodes(head: bytes, codec: str) -> bool:
    """Whether the start of a file is valid in ``codec`` (a character cut at the end is fine)."""
    try:
        codecs.getincrementaldecoder(codec)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _encoding_error(
    file: _Input, codec: str, error: UnicodeDecodeError, asked: str | None
) -> RecipientsError:
    """What to do about a file that is not in the encoding it was read with."""
    line = _line_of_bad_byte(file, codec)
    where = f"line {line}: " if line else ""
    tried = f"with encoding={asked!r}" if asked else "as UTF-8, UTF-16 or Windows-1252"
    return RecipientsError(
        f"{file.name} cannot be read {tried} ({where}{error.reason}). Pass the encoding it "
        "was saved with, for example encoding='cp1250' (Central Europe), 'latin-1' or "
        "'mac_roman', or save it again from the spreadsheet as 'CSV UTF-8'."
    )


def _line_of_bad_byte(file: _Input, codec: str) -> int | None:
    """The line holding the first byte that ``codec`` cannot decode."""
    data = file.read()
    try:
        data.decode(codec)
    except UnicodeDecodeError as error:
        return data.count(b"\n", 0, error.start) + 1
    except LookupError:
        return None
    return None


# --- the header ------------------------------------------------------------------------------


@dataclass
class _Header:
    """The header line: its (stripped, unique) column names, where it is and what separates."""

    names: list[str]
    line: int  # how many lines (blank ones) come before it
    sep: str
    phone: int  # the phone column's position


def _read_header(file: _Input, codec: str, sep: str | None, phone_column: str) -> _Header:
    """The header from the start of the file, checked: a RecipientsError for an empty file, or
    no column named ``phone_column``, or two."""
    text = file.head().decode(codec, errors="replace").removeprefix("\ufeff")
    lines = _LINE_BREAK.split(text)
    line = next((i for i, value in enumerate(lines) if value.strip()), None)
    if line is None:
        raise RecipientsError(
            f"{file.name} is empty: it has no header row and no recipients. Save the list "
            "with a header row (for example phone,name) and one recipient per row."
        )
    sep = sep or _sniff_separator(lines[line])
    fields = next(csv.reader([lines[line]], delimiter=sep, skipinitialspace=True))
    names = column_names(fields, phone_column, file.name)
    return _Header(names, line, sep, names.index(phone_column))


def _sniff_separator(header: str) -> str:
    """The separator (``,`` ``;`` tab or ``|``) that the header line uses most."""
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    return max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","


def column_names(fields: Sequence[Any], phone_column: str, name: str) -> list[str]:
    """Header cells as column names: stripped, ``Unnamed: 2`` for an empty one, ``.1`` after a
    repeated one. Exactly one must be ``phone_column``.

    >>> column_names([" phone", "name", "name", ""], "phone", "people.csv")
    ['phone', 'name', 'name.1', 'Unnamed: 3']
    """
    names = [str(f).strip() if f is not None else "" for f in fields]
    names = [n or f"Unnamed: {i}" for i, n in enumerate(names)]
    _check_phone_column(names, phone_column, name)
    unique: list[str] = []
    for value in names:
        candidate, count = value, 0
        while candidate in unique:
            count += 1
            candidate = f"{value}.{count}"
        unique.append(candidate)
    return unique


def _check_phone_column(names: list[str], phone_column: str, name: str) -> None:
    """Exactly one column named ``phone_column``, or a RecipientsError that says what to do."""
    found = [i + 1 for i, value in enumerate(names) if value == phone_column]
    if len(found) > 1:
        raise RecipientsError(
            f"{name} has {len(found)} columns named {phone_column!r} (columns "
            f"{', '.join(map(str, found))}), so it is not clear which holds the numbers. "
            "Rename or delete the others in the file, then load it again."
        )
    if not found:
        raise RecipientsError(_no_phone_column(names, phone_column, name))


def _no_phone_column(names: list[str], phone_column: str, name: str) -> str:
    """The message for a file without the phone column: the columns there are, and a guess."""
    message = (
        f"{name} has no column named {phone_column!r}; the columns are {names}. Pass "
        "phone_column='...' to say which one holds the numbers"
    )
    alike = [n for n in names if n.casefold() == phone_column.casefold()]
    if alike:
        return f"{message} (phone_column={alike[0]!r}?)."
    if any(re.fullmatch(_PHONE_SHAPED, n) for n in names):
        return (
            f"{message}. The first row holds phone numbers: the file seems to have no header "
            "row; add one (for example phone,name) above the first recipient."
        )
    return message + "."


# --- CSV: three passes, each only when the one before cannot be trusted ---------------------


def _read_csv(
    file: _Input, codec: str, sep: str | None, phone_column: str, guessed: bool
) -> RecipientsFile:
    """A CSV file in ``codec``; UnicodeDecodeError where it is not in that encoding."""
    header = _read_header(file, codec, sep, phone_column)
    table = _with_pyarrow(file, header) if codec in ("utf-8-sig", "utf-8") else None
    if table is None:
        table = _with_pandas(file, codec, header)
    if table is None or _has_line_breaks(table):
        read = _read_carefully(file, codec, header)
    else:
        read = RecipientsFile(_numbered(table), file.name, _joined_fields(table, header))
    if guessed and codec == "cp1252":
        _warn(
            f"{file.name} is not UTF-8: it was read as Windows-1252, what Excel's plain 'CSV' "
            "saves on Western Windows. If names look wrong, pass encoding='...' (for example "
            "'cp1250' or 'mac_roman'), or save the file as 'CSV UTF-8'."
        )
    return read


def _with_pyarrow(file: _Input, header: _Header) -> pd.DataFrame | None:
    """The fast pass, or None where a row has another number of fields or the file is not
    UTF-8 (pandas then tries). Quoted fields may hold line breaks, and are found afterwards."""
    names = [f"c{i}" for i in range(len(header.names))]
    try:
        table = pa_csv.read_csv(
            file.open(),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=header.line + 1),
            parse_options=pa_csv.ParseOptions(delimiter=header.sep, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                # pandas keeps text as large strings: read them so, and it need not copy them
                column_types={n: pa.large_string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid:
        return None
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)  # what pandas.read_csv(dtype=str) gives
    columns = {
        name: _without_leading_spaces(pd.Series(pd.arrays.ArrowStringArray(column), dtype=dtype))
        for name, column in zip(header.names, table.columns, strict=True)
    }
    give_back_memory()
    return pd.DataFrame(columns)


def _without_leading_spaces(values: pd.Series) -> pd.Series:
    """pandas' ``skipinitialspace``: spaces after a separator are not part of the field (and
    a field of spaces is empty). Checked first, as most columns have none."""
    strings = pa.array(values.array)
    if not pc.any(pc.starts_with(strings, " ")).as_py():
        return values
    stripped = pc.utf8_ltrim(strings, " ")
    stripped = pc.if_else(pc.equal(stripped, ""), pa.scalar(None, stripped.type), stripped)
    return pd.Series(pd.arrays.ArrowStringArray(stripped), dtype=values.dtype)


def _with_pandas(file: _Input, codec: str, header: _Header) -> pd.DataFrame | None:
    """The tolerant pass: any encoding, short rows padded; None where a row has too many fields
    (pandas would drop them or stop) or a quote is never closed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(
                file.open(),
                sep=header.sep,
                header=None,
                names=header.names,
                skiprows=header.line + 1,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                skip_blank_lines=True,
                skipinitialspace=True,
                index_col=False,
                encoding=codec,
            )
        except (pd.errors.ParserError, pd.errors.ParserWarning):
            return None


def _has_line_breaks(table: pd.DataFrame) -> bool:
    """Whether any field holds a line break: a quoted multi-line field, or an unbalanced quote
    that swallowed the lines after it."""
    for name in table.columns:
        values = pa.array(table[name].array)
        for mark in ("\n", "\r"):
            if _may_hold(values, mark) and pc.any(pc.match_substring(values, mark)).as_py():
                return True
    return False


def _may_hold(values: pa.ChunkedArray | pa.Array, character: str) -> bool:
    """Whether any of these strings may hold an ASCII character: a scan of the bytes behind
    them, a tenth of the cost of asking string by string (a "yes" may come from bytes outside
    the strings, so it is checked string by string)."""
    code = ord(character)
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        data = chunk.buffers()[-1]
        if data is not None and (np.frombuffer(data, dtype=np.uint8) == code).any():
            return True
    return False


def _joined_fields(table: pd.DataFrame, header: _Header) -> dict[int, str]:
    """Rows where a field other than the phone holds a separator followed by a phone number:
    a quote in the file joined two rows' fields. Only fields with a separator are searched."""
    damaged: dict[int, str] = {}
    pattern = re.escape(header.sep) + r"\s*" + _PHONE_SHAPED
    for position, name in enumerate(header.names):
        if position == header.phone:
            continue
        values = pa.array(table[name].array)
        if not _may_hold(values, header.sep):
            continue
        has_sep = pc.fill_null(pc.match_substring(values, header.sep), False)
        rows = np.flatnonzero(has_sep.to_numpy(zero_copy_only=False))
        if not rows.size:
            continue
        found = pc.fill_null(pc.match_substring_regex(values.take(rows), pattern), False)
        for row in rows[found.to_numpy(zero_copy_only=False)]:
            text = str(values[int(row)].as_py())
            damaged.setdefault(
                int(row) + 1,
                f'the {name!r} field holds a phone number ({_shortened(text)}): a quote (") '
                "in the file may have joined two rows; check this row in the file",
            )
    return damaged


def _shortened(text: str, size: int = 40) -> str:
    """A field's text for a message, on one line and cut to ``size`` characters."""
    flat = _LINE_BREAK.sub(" ⏎ ", text)
    return repr(flat if len(flat) <= size else flat[: size - 1] + "…")


# --- CSV, line by line: the careful pass -----------------------------------------------------


def _read_carefully(file: _Input, codec: str, header: _Header) -> RecipientsFile:
    """Every record with the lines it came from. A record that spans lines is marked; where
    the lines after its first look like rows of their own (a phone number where the phone
    column is), an unbalanced quote joined them, and each line becomes its row again."""
    text = file.read().decode(codec).removeprefix("\ufeff")
    lines = _LINE_BREAK.split(text)
    width = len(header.names)
    rows: list[list[str | None]] = []
    damaged: dict[int, str] = {}
    for first, last, record in _records(text, header):
        if last > first and _looks_joined(lines[first:last], header):
            problem = (
                f'an unbalanced quote (") joined lines {first + 1}-{last} of the file into '
                "one row; each line is shown as its own row: fix the quote in the file and "
                "load it again"
            )
            for line in lines[first:last]:
                fields = _fields_unquoted(line, header.sep)
                if fields:
                    rows.append(_fitted(fields, width))
                    damaged[len(rows)] = problem
            continue
        rows.append(_fitted(record, width))
        problem = _record_problem(record, width, first, last, header.sep)
        if problem:
            damaged[len(rows)] = problem
    table = pd.DataFrame(rows, columns=header.names, dtype=str)
    damaged = _joined_fields(table, header) | damaged
    return RecipientsFile(_numbered(table), file.name, damaged)


def _records(text: str, header: _Header) -> Iterator[tuple[int, int, list[str]]]:
    """Each record after the header with the lines it spans: from ``first`` (counting from
    0) up to, not including, ``last``. A quote that is never closed ends at the end of file."""
    source = io.StringIO(text, newline="")
    reader = csv.reader(source, delimiter=header.sep, skipinitialspace=True, strict=False)
    for _ in range(header.line + 1):
        next(source, None)  # blank lines and the header itself, one line each
    before = header.line + 1
    for record in reader:
        after = header.line + 1 + reader.line_num
        if record and any(value.strip() for value in record):
            yield before, after, record
        before = after


def _looks_joined(lines: list[str], header: _Header) -> bool:
    """Whether any line after the first of a multi-line record holds a phone number where the
    phone column is: the start of a row that a quote swallowed."""
    for line in lines[1:]:
        fields = _fields_unquoted(line, header.sep)
        if len(fields) > header.phone and re.fullmatch(_PHONE_SHAPED, fields[header.phone].strip()):
            return True
    return False


def _fields_unquoted(line: str, sep: str) -> list[str]:
    """A line's fields with quotes taken as plain characters (an empty list for a blank line)."""
    if not line.strip():
        return []
    return next(csv.reader([line], delimiter=sep, quoting=csv.QUOTE_NONE, skipinitialspace=True))


def _fitted(fields: list[str], width: int) -> list[str | None]:
    """A record as one row: missing fields (and empty ones) are missing, extra ones cut off
    (the row's problem shows them)."""
    cells: list[str | None] = [value if value.strip() else None for value in fields[:width]]
    return cells + [None] * (width - len(cells))


def _record_problem(record: list[str], width: int, first: int, last: int, sep: str) -> str:
    """What is wrong with a record that was read as one row ("" for nothing)."""
    if last - first > 1:
        return (
            f"a field holds a line break (lines {first + 1}-{last} of the file); if a quote "
            '(") there is unbalanced, fix it; otherwise remove the line break, and load the '
            "file again"
        )
    if len(record) > width:
        extra = sep.join(record[width:])
        return (
            f"{len(record)} fields where the header has {width} (extra: {_shortened(extra)}): "
            f"put quotes around a field that holds a {sep!r}, or remove the extra separator"
        )
    return ""


def _numbered(table: pd.DataFrame) -> pd.DataFrame:
    """The index as data row numbers, counting from 1 below the header."""
    table.index = pd.RangeIndex(1, len(table) + 1, name="row")
    return table


# --- Excel workbooks -------------------------------------------------------------------------


def _read_workbook(file: _Input, phone_column: str) -> RecipientsFile:
    """The first sheet of an .xlsx workbook, every cell as text; empty rows skipped, as blank
    lines are in CSV."""
    title, rows = _sheet_rows(file)
    name = f"{file.name} (sheet {title!r})"
    if not rows:
        raise RecipientsError(
            f"{name} is empty: it has no header row and no recipients. Put a header row (for "
            "example phone, name) in the first sheet and one recipient per row below it."
        )
    width = max(i + 1 for row in rows for i, value in enumerate(row) if value is not None)
    names = column_names((rows[0] + [None] * width)[:width], phone_column, name)
    data = [(row + [None] * width)[:width] for row in rows[1:]]
    return RecipientsFile(_numbered(pd.DataFrame(data, columns=names, dtype=str)), name)


def _sheet_rows(file: _Input) -> tuple[str, list[list[str | None]]]:
    """The first sheet's title and its rows that hold anything, each cell as text."""
    import openpyxl  # type: ignore[import-untyped]

    # A file object, not a path: openpyxl refuses a path whose name does not end in .xlsx.
    with open(file.path, "rb") if file.path is not None else io.BytesIO(file.data or b"") as data:
        try:
            book = openpyxl.load_workbook(data, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a zip that is no workbook
            raise RecipientsError(
                f"{file.name} is a zip file but not an Excel workbook that can be read "
                f"({error}). Save it as 'Excel Workbook (.xlsx)' or as 'CSV UTF-8', then "
                "load that file."
            ) from None
        try:
            sheet = book.worksheets[0]
            rows = [
                [cell_text(value) for value in row]
                for row in sheet.iter_rows(values_only=True)
                if any(cell_text(value) is not None for value in row)
            ]
            return sheet.title, rows
        finally:
            book.close()


def cell_text(value: Any) -> str | None:
    """A cell's value as the text it shows: whole numbers as their digits (Excel stores
    ``447700900123`` as the float 447700900123.0), dates as ISO dates; None for an empty cell.

    >>> cell_text(447700900123.0), cell_text(3.5), cell_text(True), cell_text(" ")
    ('447700900123', '3.5', 'TRUE', None)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))  # exact: a float holds every whole number up to 2**53
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


# --- checking the numbers --------------------------------------------------------------------


def check_recipients(
    table: RecipientsFile | pd.DataFrame,
    phone_column: str = "phone",
    default_region: str | None = None,
) -> pd.DataFrame:
    """Add ``e164``, ``valid`` and ``problem`` to a frame of recipients (see load_recipients).

    Rows that ``read_text_table`` marked as damaged are invalid, with its problem; numbers that
    were read in a way worth checking (bare digits taken as international) are named in a
    RecipientsWarning.

    >>> check_recipients(pd.DataFrame({"phone": ["+447700900001", "+447700900001"]}))["problem"][2]
    'duplicate of row 1 (+447700900001)'
    """
    file = table if isinstance(table, RecipientsFile) else RecipientsFile(table, "the table")
    frame = file.table
    if phone_column not in frame.columns:
        raise RecipientsError(
            f"No column named {phone_column!r}; the columns are {list(frame.columns)}. "
            "Pass phone_column='...' to say which one holds the numbers."
        )
    if not isinstance(table, RecipientsFile):
        frame = _numbered(frame.copy(deep=False))
    if frame.empty and isinstance(table, RecipientsFile):
        _warn(f"{file.name} has a header row but no recipients.")
    checked = check_numbers(frame[phone_column], default_region)
    e164, problem = _with_damage(checked.frame, file.damaged)
    keys = checked.keys
    if file.damaged:  # a damaged row's number is no first appearance
        keys = keys.copy()
        keys[np.array(sorted(file.damaged), dtype=np.int64) - 1] = MISSING
    e164, problem = _without_repeats(e164, problem, keys)
    _warn_about_readings(checked.frame["note"], default_region, file.name)
    result = frame.copy(deep=False)
    result["e164"] = _text_series(e164, frame.index)
    result["valid"] = np.asarray(_bools(problem.is_null()))
    result["problem"] = _text_series(problem, frame.index)
    give_back_memory()
    return result


def _with_damage(checked: pd.DataFrame, damaged: dict[int, str]) -> tuple[pa.Array, pa.Array]:
    """The e164 and problem columns, damaged rows' problem first (their number is not used)."""
    e164, problem = _arrow(checked["e164"]), _arrow(checked["problem"])
    if damaged:
        rows = np.array(sorted(damaged), dtype=np.int64) - 1
        texts = pa.array([damaged[row + 1] for row in rows], pa.large_string())
        problem = _replaced(problem, rows, texts)
        e164 = _replaced(e164, rows, pa.nulls(len(rows), pa.large_string()))
    return e164, problem


def _without_repeats(
    e164: pa.Array, problem: pa.Array, keys: np.ndarray
) -> tuple[pa.Array, pa.Array]:
    """Each valid number's later rows marked "duplicate of row N (+44...)": one message each."""
    repeat, first = repeats(keys)
    if not repeat.size:
        return e164, problem
    numbers = e164.take(repeat)
    rows = pa.array(first + 1).cast(pa.large_string())
    texts = pc.binary_join_element_wise(
        *(_text("duplicate of row "), rows, _text(" ("), numbers, _text(")")), _text("")
    )
    return _without_rows(e164, repeat), _replaced(problem, repeat, texts)


def _without_rows(values: pa.Array, rows: np.ndarray) -> pa.Array:
    """``values`` with these rows missing: a new validity bitmap over the same strings (no
    copy of a million of them). A slice's bitmap starts ``offset`` bits in, as its strings do."""
    valid = np.zeros(values.offset + len(values), dtype=bool)
    valid[values.offset :] = _bools(values.is_valid()) if values.null_count else True
    valid[values.offset + rows] = False
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    missing = len(valid) - values.offset - int(valid.sum())
    buffers = values.buffers()
    return pa.Array.from_buffers(
        values.type, len(values), [bitmap, *buffers[1:]], missing, values.offset
    )


def _warn_about_readings(notes: pd.Series, default_region: str | None, name: str) -> None:
    """One warning for numbers read as international though written without ``+``, one for
    numbers valid both as national and as international numbers."""
    present = notes.dropna()
    if present.empty:
        return
    international = present[present == "international"]
    if not international.empty:
        numbers, have = _the_numbers_in(international.index)
        _warn(
            f"{name}: {numbers} {have} no '+' and {'was' if have == 'has' else 'were'} read "
            "as international, as the API reads them (447700900123 as +447700900123). Check "
            "the e164 column, and keep the '+' in the file (in Excel, format the column as Text)."
        )
    both = present[present != "international"]
    if not both.empty:
        numbers, have = _the_numbers_in(both.index)
        _warn(
            f"{name}: {numbers} {'is' if have == 'has' else 'are'} valid both as "
            f"{default_region} numbers and as international numbers whose '+' was lost (row "
            f"{both.index[0]} {both.iloc[0]}), and {'was' if have == 'has' else 'were'} read "
            f"as {default_region} numbers. Write any international ones with '+'."
        )


def _the_numbers_in(index: pd.Index, shown: int = 5) -> tuple[str, str]:
    """``the number in row 3`` or ``the numbers in rows 3, 7 and 9`` (``12 rows (3, 7, ...)``),
    and the verb that goes with it.

    >>> _the_numbers_in(pd.Index([3, 7, 9]))
    ('the numbers in rows 3, 7 and 9', 'have')
    """
    numbers = [str(n) for n in index[:shown]]
    if len(index) == 1:
        return f"the number in row {numbers[0]}", "has"
    if len(index) <= shown:
        return f"the numbers in rows {', '.join(numbers[:-1])} and {numbers[-1]}", "have"
    return f"the numbers in {len(index)} rows ({', '.join(numbers)}, ...)", "have"


def _warn(message: str) -> None:
    """A RecipientsWarning pointing at the notebook cell (or script line) that loaded the file."""
    warnings.warn(message, RecipientsWarning, stacklevel=_outside_stacklevel())


def _outside_stacklevel() -> int:
    """How many frames up the first caller outside this package is."""
    import sys
    from types import FrameType

    level, frame = 1, sys._getframe(1)
    caller: FrameType | None = frame
    package = os.path.dirname(__file__)
    helpers = os.path.join(os.path.dirname(package), "sinch_helpers.py")
    while caller is not None and (
        caller.f_code.co_filename.startswith(package) or caller.f_code.co_filename == helpers
    ):
        level, caller = level + 1, caller.f_back
    return level


def _arrow(series: pd.Series) -> pa.Array:
    """The Arrow strings behind a text Series, in one chunk."""
    array = pa.array(series.array)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _text_series(array: pa.Array, index: pd.Index) -> pd.Series:
    """Arrow strings as a text Series (``<NA>`` for missing), without Python objects."""
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([array])), index=index)


def _text(value: str) -> pa.Scalar:
    """A text scalar of the type pandas' Arrow strings have."""
    return pa.scalar(value, pa.large_string())


def _bools(array: pa.Array) -> np.ndarray:
    """An Arrow boolean array as numpy."""
    return array.to_numpy(zero_copy_only=False)


def _replaced(values: pa.Array, rows: np.ndarray, new: pa.Array) -> pa.Array:
    """``values`` with the rows at ascending positions ``rows`` replaced by ``new``."""
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(values, pa.array(mask), new.cast(values.type))


# --- what the helpers use ------------------------------------------------------------------


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
