"""Phone numbers checked a whole column at a time, with libphonenumber's own metadata.

Calling ``phonenumbers.parse`` once per row costs about 20 µs, which is 20 s for a million
recipients. Here each regular expression of the metadata runs over many numbers at once
(Arrow's RE2, in C++), so a million numbers take well under a second. The result is meant to
agree with ``phonenumbers.parse``, ``is_valid_number`` and ``number_type``, so this module
repeats their steps, vectorised: the default region's international prefix, a country code
written without ``+``, the national prefix (and its rewrite rules), the region among those
sharing a country code, and the order in which number types are tried.
``tests/test_phone_numbers.py`` checks the agreement on random numbers in many regions and
formats. Two readings go further than parse, on purpose: ``00`` counts as ``+`` without a
default region, and bare digits (``447700900123``, a number whose ``+`` a spreadsheet dropped)
are read as international where that reading is valid and the national one is not.

How it stays fast: a column is checked in pieces of ``_PIECE`` rows, on every core (Arrow's
kernels release the GIL); tidy ``+<digits>`` cells take one pass and only the rest is read
further; simple tests (digits only, a literal prefix) use plain kernels, not regular
expressions; a piece whose numbers repeat looks each distinct number up once; and a number's
key for finding repeats is the number itself as a 64-bit integer, not its text.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .api_facts import FICTIONAL
from .errors import RecipientsError
from .lazy import ImportedOnFirstUse, np, pd

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
else:
    pa = ImportedOnFirstUse("pyarrow")
    pc = ImportedOnFirstUse("pyarrow.compute")

# Python's \s spelled out as characters: pandas runs a pattern containing \s (or a \u escape)
# through Python's re, row by row, instead of through RE2.
_SPACES = "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_IGNORED_IN_NUMBERS = f"[{_SPACES}\\-()./]"


# Arrow-backed strings run each regular expression over a whole column in C++ (RE2).
@functools.cache
def text_dtype() -> pd.StringDtype[Literal["pyarrow"]]:
    """Arrow-backed text: vectorised regular expressions, and a third of object strings' memory."""
    return pd.StringDtype("pyarrow")


_KIND_LABELS = (
    *("invalid", "mobile", "landline", "VoIP", "personal", "toll-free", "premium-rate"),
    *("shared-cost", "UAN", "voicemail", "pager"),
)
_KIND = {label: code for code, label in enumerate(_KIND_LABELS)}
# libphonenumber's number_type tries these before fixed line and mobile, in this order: a
# number that fits two descriptions is the first one's kind.
_SPECIAL_KINDS = (
    ("premium_rate", _KIND["premium-rate"]),
    ("toll_free", _KIND["toll-free"]),
    ("shared_cost", _KIND["shared-cost"]),
    ("voip", _KIND["VoIP"]),
    ("personal_number", _KIND["personal"]),
    ("pager", _KIND["pager"]),
    ("uan", _KIND["UAN"]),
    ("voicemail", _KIND["voicemail"]),
)
_SMS_CAPABLE = frozenset({"mobile", "VoIP", "personal"})
_BAD_FOR_SMS = [i for i, label in enumerate(_KIND_LABELS) if i and label not in _SMS_CAPABLE]


# --- Arrow helpers: one C++ pass over a whole array each ------------------------------------


def _arrow(series: pd.Series) -> pa.ChunkedArray:
    """The Arrow strings behind a text Series, as they are: no copy (read in chunks)."""
    array = pa.array(series.astype(text_dtype()).array)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _series(array: pa.Array, index: pd.Index) -> pd.Series:
    """Arrow strings back into a text Series, without converting them to Python objects."""
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([array])), index=index)


def _bools(array: pa.Array) -> np.ndarray:
    """An Arrow boolean array as numpy, null counting as False."""
    if array.null_count:
        array = pc.fill_null(array, False)
    return array.to_numpy(zero_copy_only=False)


def _fullmatch(numbers: pa.Array, pattern: str) -> np.ndarray:
    """Which strings the whole pattern matches."""
    if not len(numbers):
        return np.zeros(0, dtype=bool)
    return _bools(pc.match_substring_regex(numbers, f"^(?:{pattern})$"))


def _starts(numbers: pa.Array, pattern: str) -> np.ndarray:
    """Which strings begin with a match of the pattern (Python's ``re.match``)."""
    if not len(numbers):
        return np.zeros(0, dtype=bool)
    if _literal(pattern):  # most prefixes are plain digits ("0", "00"): no regex needed
        return _bools(pc.starts_with(numbers, pattern))
    return _bools(pc.match_substring_regex(numbers, f"^(?:{pattern})"))


def _literal(pattern: str) -> bool:
    """Whether a pattern is plain digits, matching only itself."""
    return bool(re.fullmatch("[0-9]+", pattern))


def _all_digits(numbers: pa.Array) -> np.ndarray:
    """Which strings are one or more ASCII digits (``[0-9]+``): a test without a regex."""
    return _bools(pc.ascii_is_decimal(numbers))


def _plus_digits(numbers: pa.Array, fewest: int, most: int = 99) -> np.ndarray:
    """Which strings are ``+`` then ``fewest`` to ``most`` digits, the first not 0
    (``\\+[1-9][0-9]{fewest-1,most-1}``): plain tests, a quarter of a regex's cost."""
    lengths = _lengths(numbers)
    plus = _bools(pc.starts_with(numbers, "+")) & ~_bools(pc.starts_with(numbers, "+0"))
    digits = _all_digits(_after(numbers, 1))
    return plus & digits & (lengths > fewest) & (lengths <= most + 1)


def _after(numbers: pa.Array, start: int, stop: int | None = None) -> pa.Array:
    """ASCII text (digits, ``+`` and digits) from position ``start`` on (up to ``stop``): a
    byte slice, several times cheaper than ``utf8_slice_codeunits``."""
    wide = pa.types.is_large_string(numbers.type)
    binary = numbers.view(pa.large_binary() if wide else pa.binary())
    # An explicit stop: pyarrow 26's binary_slice fails without one ("Negative buffer resize").
    end = 2**31 - 1 if stop is None else stop
    return pc.binary_slice(binary, start, end).view(numbers.type)


def _lengths(numbers: pa.Array) -> np.ndarray:
    """The length of each string of ASCII digits (0 for a missing one)."""
    return pc.fill_null(pc.binary_length(numbers), 0).to_numpy(zero_copy_only=False)


def _among(lengths: np.ndarray, allowed: Any) -> np.ndarray:
    """``np.isin`` for lengths, as a table look-up: ``isin`` sorts, ten times slower."""
    table = np.zeros(max((*allowed, 0)) + 2, dtype=bool)
    table[[n for n in allowed if n >= 0]] = True
    return table[np.minimum(lengths, len(table) - 1)]


def _take(numbers: pa.Array, rows: np.ndarray) -> pa.Array:
    """Some rows (ascending positions) of an array; the array itself when that is all of them."""
    return numbers if len(rows) == len(numbers) else numbers.take(rows)


def _replace_rows(numbers: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """``numbers`` with the rows at ascending positions ``rows`` replaced by ``values``."""
    if len(rows) == len(numbers):
        return values.cast(numbers.type)
    mask = np.zeros(len(numbers), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(numbers, pa.array(mask), values.cast(numbers.type))


def _prefixed(prefix: str, numbers: pa.Array) -> pa.Array:
    """Each string with ``prefix`` in front."""
    kind = numbers.type
    return pc.binary_join_element_wise(pa.scalar(prefix, kind), numbers, pa.scalar("", kind))


def _no_rows() -> np.ndarray:
    """An empty array of row positions."""
    return np.zeros(0, dtype=np.int64)


def _text(value: str) -> pa.Scalar:
    """A text scalar of the type pandas' Arrow strings have."""
    return pa.scalar(value, pa.large_string())


def _joined(*parts: pa.Array | str) -> pa.Array:
    """Strings glued together row by row (a plain string repeats on every row), null where a
    part is null: one C++ pass, where pandas' ``+`` makes a new column for each ``+``."""
    items = [_text(p) if isinstance(p, str) else p.cast(pa.large_string()) for p in parts]
    return pc.binary_join_element_wise(*items, _text(""))


def _scatter(size: int, parts: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """A text array of ``size`` rows holding each part's values at its rows (no row twice),
    null elsewhere: one ``take``, instead of a pandas assignment per part."""
    parts = [(rows, values) for rows, values in parts if len(rows)]
    if not parts:
        return pa.nulls(size, pa.large_string())
    values = pa.concat_arrays([v.cast(pa.large_string()) for _, v in parts])
    rows = np.concatenate([rows for rows, _ in parts])
    if len(rows) == size and (size < 2 or bool(np.all(np.diff(rows) > 0))):
        return values  # every row, in order: nothing to move
    where = np.full(size, -1, dtype=np.int64)
    where[rows] = np.arange(len(values))
    return values.take(pa.array(where, mask=where < 0))


class _Column:
    """A text column put together from values for some of its rows, null elsewhere."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.parts: list[tuple[np.ndarray, pa.Array]] = []

    def put(self, rows: np.ndarray, values: pa.Array | str) -> None:
        """Values (or one text for all) for rows that have none yet."""
        if len(rows):
            filled = pa.repeat(_text(values), len(rows)) if isinstance(values, str) else values
            self.parts.append((rows, filled))

    def clear(self, rows: np.ndarray) -> None:
        """Forget the values of these rows."""
        if len(rows):
            keep = np.ones(self.size, dtype=bool)
            keep[rows] = False
            self.parts = [(r[keep[r]], v.filter(pa.array(keep[r]))) for r, v in self.parts]

    def array(self) -> pa.Array:
        """The whole column."""
        return _scatter(self.size, self.parts)


# --- number types, as libphonenumber's number_type decides them ----------------------------


def _fits(numbers: pa.Array, lengths: np.ndarray, description: Any) -> np.ndarray:
    """libphonenumber's ``_is_number_matching_desc`` for a whole array: the length is one the
    description lists (when it lists any) and its pattern matches the whole number."""
    fits = np.zeros(len(numbers), dtype=bool)
    pattern = getattr(description, "national_number_pattern", None)
    if not pattern:
        return fits
    allowed = description.possible_length
    usable = _among(lengths, allowed) if allowed else np.ones(len(numbers), dtype=bool)
    fits[usable] = _where(usable, numbers, lambda some: _fullmatch(some, pattern))
    return fits


def _special_kinds(numbers: pa.Array, lengths: np.ndarray, metadata: Any) -> np.ndarray:
    """Premium-rate, toll-free, ... (0 for none of them), tried in libphonenumber's order.

    One pass with all their patterns at once finds the few candidates, so that ordinary mobile
    numbers cost one regular expression here, not eight."""
    kinds = np.zeros(len(numbers), dtype=np.int8)
    found = [(kind, getattr(metadata, name)) for name, kind in _SPECIAL_KINDS]
    found = [(kind, desc) for kind, desc in found if getattr(desc, "national_number_pattern", "")]
    if not found:
        return kinds
    rows = np.arange(len(numbers))
    if len(found) > 1:
        either = "|".join(f"(?:{desc.national_number_pattern})" for _, desc in found)
        rows = np.flatnonzero(_fullmatch(numbers, either))
    for kind, desc in found:
        if not rows.size:
            break
        fits = _fits(_take(numbers, rows), lengths[rows], desc)
        kinds[rows[fits]] = kind
        rows = rows[~fits]
    return kinds


def _fixed_or_mobile(numbers: pa.Array, lengths: np.ndarray, metadata: Any) -> np.ndarray:
    """Mobile, landline or 0 (invalid). libphonenumber's FIXED_LINE_OR_MOBILE (a number in both
    ranges, or any fixed-line number where the two share one pattern, as in North America)
    counts as mobile: SMS may reach it, and refusing it would refuse every US number."""
    if metadata.same_mobile_and_fixed_line_pattern:
        fixed = _fits(numbers, lengths, metadata.fixed_line)
        return np.where(fixed, _KIND["mobile"], 0).astype(np.int8)
    kinds = np.where(_fits(numbers, lengths, metadata.mobile), _KIND["mobile"], 0).astype(np.int8)
    rest = kinds == 0
    landline = _where(rest, numbers, lambda some: _fits(some, _lengths(some), metadata.fixed_line))
    kinds[np.flatnonzero(rest)[landline]] = _KIND["landline"]
    return kinds


def _kinds_in_region(numbers: pa.Array, metadata: Any) -> np.ndarray:
    """The kind of each national number in one region, as an index into ``_KIND_LABELS``
    (0 = invalid): libphonenumber's ``_number_type_helper``, a column at a time."""
    kinds = np.zeros(len(numbers), dtype=np.int8)
    valid = _fits(numbers, _lengths(numbers), metadata.general_desc)
    if valid.any():
        kinds[valid] = _where(valid, numbers, lambda some: _kind_of_valid(some, metadata))
    return kinds


def _kind_of_valid(numbers: pa.Array, metadata: Any) -> np.ndarray:
    """The kind of each number that fits the region's general pattern: a special kind (tried
    first), else mobile or landline (0 where it is none of them: invalid)."""
    lengths = _lengths(numbers)
    found = _special_kinds(numbers, lengths, metadata)
    rest = found == 0
    found[rest] = _where(
        rest, numbers, lambda some: _fixed_or_mobile(some, _lengths(some), metadata)
    )
    return found


def _where(rows: np.ndarray, numbers: pa.Array, answer: Any) -> np.ndarray:
    """``answer`` (a function of an array) for the numbers where ``rows`` is True, in order.

    Where nearly all are wanted, every number is asked and the rest of the answer dropped: a
    regular expression on a few extra numbers costs less than copying nearly all of them."""
    if rows.all():
        return np.asarray(answer(numbers))
    if rows.mean() > 0.75:
        return np.asarray(answer(numbers))[rows]
    wanted = np.flatnonzero(rows)
    if not wanted.size:
        return np.asarray(answer(numbers.slice(0, 0)))
    return np.asarray(answer(_take(numbers, wanted)))


def _kinds_for_country(national: pa.Array, country_code: int) -> np.ndarray:
    """The kind of each national number of one country code. Where several regions share the
    code (+1, +44, +7, ...) each number belongs to the first region whose leading digits it
    starts with or, for a region without leading digits, where it is valid: libphonenumber's
    ``region_code_for_number``."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    kinds = np.zeros(len(national), dtype=np.int8)
    open_rows = np.arange(len(national))
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        if metadata is None or not open_rows.size:
            continue
        candidates = _take(national, open_rows)
        if metadata.leading_digits and len(regions) > 1:
            claimed = _starts(candidates, metadata.leading_digits)
            kinds[open_rows[claimed]] = _kinds_in_region(candidates.filter(claimed), metadata)
            open_rows = open_rows[~claimed]
        else:
            found = _kinds_in_region(candidates, metadata)
            kinds[open_rows] = found
            open_rows = open_rows[found == 0]
    return kinds


# --- national prefixes, as libphonenumber's parse strips them ------------------------------


@functools.cache
def _main_metadata(country_code: int) -> Any:
    """The metadata parse uses for a country code: its main region's (GB for +44, US for +1)."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    region = phonenumbers.region_code_for_country_code(country_code)
    return PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)


def _without_prefix(numbers: pa.Array, metadata: Any) -> pa.Array:
    """Numbers that start with a national prefix (``national_prefix_for_parsing``), with it
    removed, or rewritten by ``national_prefix_transform_rule`` where the pattern's last group
    took part (Argentina's mobile ``15``, Brazil's carrier codes, local numbers of islands
    that gain their area code: ``4621234`` in Antigua is ``268 4621234``)."""
    pattern = metadata.national_prefix_for_parsing
    rule = metadata.national_prefix_transform_rule
    if not rule and _literal(pattern):  # "0" and the like: cut it off
        return _after(numbers, len(pattern))
    anchored = f"^(?:{pattern})"
    plain = pc.replace_substring_regex(numbers, anchored, "", max_replacements=1)
    if not rule:
        return plain
    # The last group never matches an empty string in the metadata, so "the group's text, then
    # ';'" starts with ';' exactly where the group took no part.
    probe = f"\\{re.compile(pattern).groups};"
    took_part = pc.invert(pc.starts_with(pc.replace_substring_regex(numbers, anchored, probe), ";"))
    transformed = pc.replace_substring_regex(numbers, anchored, rule, max_replacements=1)
    return pc.if_else(took_part, transformed, plain)


def _stripping_allowed(lengths: np.ndarray, general: Any) -> np.ndarray:
    """Where parse keeps a stripped national number: its length is possible, or too long,
    rather than too short, only possible for local calls, or impossible
    (``_test_number_length``)."""
    possible = [n for n in general.possible_length if n > 0]
    if not possible:
        return np.zeros(len(lengths), dtype=bool)
    allowed = _among(lengths, possible) | (lengths > max(possible))
    return allowed & ~_among(lengths, general.possible_length_local_only)


def _strip_national_prefix(
    numbers: pa.Array, metadata: Any, check_length: bool = True
) -> tuple[pa.Array, bool]:
    """National numbers without their national prefix, and whether any changed: parse's
    ``_maybe_strip_national_prefix_carrier_code``, which keeps the prefix when the number fits
    the region's pattern only with it, and (``check_length``) parse's length test after it.
    ``+44 (0) 7911 123456`` is +44 7911 123456 as much as ``07911 123456`` is."""
    if not metadata.national_prefix_for_parsing or not len(numbers):
        return numbers, False
    rows = np.flatnonzero(_starts(numbers, metadata.national_prefix_for_parsing))
    if not rows.size:
        return numbers, False
    before = _take(numbers, rows)
    after = _without_prefix(before, metadata)
    changed = _changed(before, after)
    general = metadata.general_desc.national_number_pattern
    if general:  # a number that fits only with its prefix keeps it
        unfit = np.flatnonzero(~_fullmatch(after, general))
        changed[unfit[_fullmatch(_take(before, unfit), general)]] = False
    if check_length:
        changed &= _stripping_allowed(_lengths(after), metadata.general_desc)
    if not changed.any():
        return numbers, False
    return _replace_rows(numbers, rows[changed], after.filter(changed)), True


def _changed(before: pa.Array, after: pa.Array) -> np.ndarray:
    """Which strings differ (in length, or else in content)."""
    shorter = _lengths(after) != _lengths(before)
    if shorter.all():  # a prefix was cut from every one
        return shorter
    return _bools(pc.not_equal(before, after))


# --- reading what people write --------------------------------------------------------------
# Numbers travel as "+<country code><national number>" text from here on: tidy cells already
# are, so a clean file's column is used as it is, without a copy.

# Excel shows (and saves to CSV) a long number it stored as a number like this: 4.477009E+11.
_SCIENTIFIC = r"[0-9](?:[.,][0-9]+)?[eE]\+?[0-9]{1,2}"
_EXCEL_PROBLEM = (
    "' is a number Excel wrote in scientific notation, so its last digits are lost: in Excel, "
    "format the column as Text (or as Number with 0 decimal places) and save as 'CSV UTF-8' "
    "again, or load the .xlsx file itself"
)
_NO_COUNTRY_CODE = (
    "' has no country code: write it as +<country code><number>, or pass default_region "
    "(for example 'GB')"
)
# Digits alone (7 to 15, the first not 0), as Excel leaves "+447700900123" once it has taken
# it for a number: an international number whose "+" was lost, or a national number without
# its national prefix.
_BARE = range(7, 16)


def _region_metadata(default_region: str | None) -> Any:
    """The default region's metadata (None for no default region)."""
    import phonenumbers

    if default_region is None:
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(default_region.upper())
    if metadata is None:
        raise RecipientsError(
            f"Unknown default_region {default_region!r}: use a two-letter ISO country "
            "code such as 'GB', 'US', 'SE' or 'DE'."
        )
    return metadata


@dataclass
class _Reading:
    """What reading the text found so far: each readable number as ``+<digits>`` (``found``:
    rows and values, in parts), a problem for each unreadable one, which numbers were
    national (prefix already removed), and the bare digits that may be an international
    number without its ``+``."""

    text: pa.Array
    found: list[tuple[np.ndarray, pa.Array]]
    problem: _Column
    local: np.ndarray
    bare: np.ndarray


def _read(raw: pa.Array, region: Any) -> _Reading:
    """A number or a problem for every cell. Most files hold tidy ``+<digits>`` numbers: one
    regular expression finds them, and only the rest is read further (trimmed, squeezed)."""
    size = len(raw)
    reading = _Reading(raw, [], _Column(size), np.zeros(size, dtype=bool), _no_rows())
    tidy = _plus_digits(raw, 7, 15)
    rows = np.flatnonzero(tidy)
    reading.found.append((rows, _take(raw, rows)))
    rest = np.flatnonzero(~tidy)
    if rest.size:
        _read_untidy(reading, rest, region)
    return reading


def _read_untidy(reading: _Reading, rows: np.ndarray, region: Any) -> None:
    """Cells that are empty, written with spaces, brackets or an international prefix, in
    national form, in Excel's scientific notation, or not numbers at all."""
    written = pc.utf8_trim_whitespace(_take(reading.text, rows))
    missing = ~_bools(written.is_valid()) | _bools(pc.equal(written, ""))
    reading.problem.put(rows[missing], "no phone number")
    keep = np.flatnonzero(~missing)
    rows, written = rows[keep], _take(written, keep)
    squeezed = _squeezed(written)
    international, found = _split_international(squeezed, region)
    national = np.flatnonzero(~international)
    words = ~_all_digits(_take(squeezed, national))
    _not_numbers(reading, rows[national[words]], _take(written, national[words]))
    national = national[~words]
    bare = _take(written, national)
    bare = _all_digits(bare) & ~_bools(pc.starts_with(bare, "0")) & _among(_lengths(bare), _BARE)
    reading.bare = rows[national[bare]]
    if region is None:
        wanting = _joined("'", _take(written, national), _NO_COUNTRY_CODE)
        reading.problem.put(rows[national], wanting)
    elif national.size:
        numbers = _national_to_international(_take(squeezed, national), region)
        found = _replace_rows(found, national, numbers)
        reading.local[rows[national]] = True
    _check_digits(reading, rows, written, found)


def _not_numbers(reading: _Reading, rows: np.ndarray, written: pa.Array) -> None:
    """A problem for text that is no number: in words, or Excel's scientific notation."""
    excel = _fullmatch(written, _SCIENTIFIC)
    reading.problem.put(rows[excel], _joined("'", written.filter(excel), _EXCEL_PROBLEM))
    words = np.flatnonzero(~excel)
    reading.problem.put(rows[words], _joined("'", _take(written, words), "' is not a phone number"))


def _squeezed(written: pa.Array) -> pa.Array:
    """Numbers without the spaces, dashes, brackets, dots and slashes people put in them.

    Plain spaces and dashes go by literal replacement, a tenth of a regular expression's cost;
    the expression runs only on the few numbers that still hold something else."""
    squeezed = pc.replace_substring(pc.replace_substring(written, " ", ""), "-", "")
    odd = np.flatnonzero(~_all_digits(pc.utf8_ltrim(squeezed, "+")))
    if not odd.size:
        return squeezed
    tidied = pc.replace_substring_regex(_take(squeezed, odd), _IGNORED_IN_NUMBERS, "")
    return _replace_rows(squeezed, odd, tidied)


def _split_international(squeezed: pa.Array, region: Any) -> tuple[np.ndarray, pa.Array]:
    """Which numbers are written internationally, and those as ``+<digits>`` (null for the
    others).

    With a default region, its own international prefix (``011`` in the US, ``00`` in most of
    the world), as parse reads it: digits only, and not when a 0 follows (country codes never
    start with 0). Without one, parse would refuse anything without ``+``; here ``00`` (the
    international prefix almost everywhere) also counts, so that ``0044 7911 123456`` needs no
    default region.
    """
    plus = _bools(pc.starts_with(squeezed, "+"))
    numbers = pc.if_else(pa.array(plus), squeezed, pa.scalar(None, squeezed.type))
    others = np.flatnonzero(~plus)
    prefix = "00" if region is None else region.international_prefix
    if prefix and others.size:
        candidates = _take(squeezed, others)
        dialled = _starts(candidates, prefix)
        if region is not None:
            dialled &= _all_digits(candidates)
        rows = np.flatnonzero(dialled)
        after = pc.replace_substring_regex(
            _take(candidates, rows), f"^(?:{prefix})", "+", max_replacements=1
        )
        if region is not None:
            keep = ~_bools(pc.starts_with(after, "+0"))
            rows, after = rows[keep], after.filter(keep)
        numbers = _replace_rows(numbers, others[rows], after)
        plus[others[rows]] = True
    return plus, numbers


def _written_with_country_code(numbers: pa.Array, region: Any) -> tuple[np.ndarray, pa.Array]:
    """National-looking numbers that start with the region's own country code, and what
    follows it: parse takes ``447911123456`` (region GB) as +44 7911 123456 when the whole
    does not fit the region's pattern but the rest does, or the whole is too long."""
    code = str(region.country_code)
    rows = np.flatnonzero(_bools(pc.starts_with(numbers, code)))
    full = _take(numbers, rows)
    rest, _ = _strip_national_prefix(_after(full, len(code)), region, False)
    general = region.general_desc
    pattern = general.national_number_pattern or ""
    taken = (~_fullmatch(full, pattern) & _fullmatch(rest, pattern)) if pattern else False
    lengths, possible = _lengths(full), [n for n in general.possible_length if n > 0]
    too_long = ~_among(lengths, general.possible_length_local_only) & (lengths > max(possible))
    taken = taken | too_long
    return rows[taken], rest.filter(taken)


def _national_to_international(numbers: pa.Array, region: Any) -> pa.Array:
    """``+<country code><national number>`` for numbers written in national form in the
    default region: its national prefix removed (``07911 123456`` in GB: +44 7911 123456) or
    its country code recognised (``447911123456``)."""
    code = str(region.country_code)
    rows, rest = _written_with_country_code(numbers, region)
    others = np.ones(len(numbers), dtype=bool)
    others[rows] = False
    others = np.flatnonzero(others)
    plain, _ = _strip_national_prefix(_take(numbers, others), region)
    if rows.size:
        rest, _ = _strip_national_prefix(rest, _main_metadata(region.country_code))
        numbers = _replace_rows(numbers, rows, rest)
    if others.size:
        numbers = _replace_rows(numbers, others, plain)
    return _prefixed("+" + code, numbers)


def _check_digits(reading: _Reading, rows: np.ndarray, written: pa.Array, found: pa.Array) -> None:
    """Keep the numbers that can be one; a problem for the rest (letters after a ``+``, too
    few digits)."""
    present = _bools(found.is_valid())
    all_digits = present & _bools(pc.starts_with(found, "+")) & _all_digits(_after(found, 1))
    garbage = np.flatnonzero(present & ~all_digits)
    _not_numbers(reading, rows[garbage], _take(written, garbage))
    plausible = _plus_digits(found, 3)
    short = np.flatnonzero(all_digits & ~plausible)
    reading.problem.put(rows[short], _joined(_take(found, short), " is not a valid phone number"))
    good = np.flatnonzero(plausible)
    reading.found.append((rows[good], _take(found, good)))


# --- country codes ---------------------------------------------------------------------------


def _country_codes(numbers: pa.Array) -> tuple[list[int], np.ndarray]:
    """The country codes present, and for each number the index of its own among them (-1 for
    none). Codes have one to three digits, so the first three digits decide: a table of all
    thousand answers, looked up by number."""
    heads = pc.cast(_after(numbers, 1, 4), pa.int16()).to_numpy()
    code_of_head = _code_of_head()[heads]
    codes = np.flatnonzero(np.bincount(code_of_head, minlength=1000)[1:]) + 1
    position = np.full(1000, -1, dtype=np.int16)
    position[codes] = np.arange(len(codes))
    return [int(code) for code in codes], position[code_of_head]


@functools.cache
def _code_of_head() -> np.ndarray:
    """The country code of a number starting with each three digits 000-999 (0 for none)."""
    return np.array([_country_code_of(f"{head:03d}") or 0 for head in range(1000)], np.int16)


def _country_code_of(head: str) -> int | None:
    """The country code a number starting with these (up to three) digits has, if any. Codes
    are prefix-free (no code begins another), so at most one length matches."""
    for size in (1, 2, 3):
        if len(head) >= size and int(head[:size]) in _known_codes():
            return int(head[:size])
    return None


@functools.cache
def _known_codes() -> frozenset[int]:
    """Every country code libphonenumber knows."""
    import phonenumbers

    return frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _look_up_country(
    numbers: pa.Array, code: int, local: np.ndarray
) -> tuple[pa.Array | None, np.ndarray]:
    """For numbers (``+<digits>``) of one country code: the numbers again if removing a
    national prefix changed any (``+44 (0) 7911...``; national numbers come without one
    already), and each kind (-1 for fictional numbers, which need no look-up)."""
    national = _after(numbers, len(str(code)) + 1)
    international = np.flatnonzero(~local)
    stripped, changed = _strip_national_prefix(_take(national, international), _main_metadata(code))
    if changed:
        national = _replace_rows(national, international, stripped)
        numbers = _prefixed(f"+{code}", national)
    fictional = _fullmatch(numbers, FICTIONAL.pattern)
    kinds = np.full(len(numbers), -1, dtype=np.int8)
    real = np.flatnonzero(~fictional)
    kinds[real] = _kinds_for_country(_take(national, real), code)
    return (numbers if changed else None), kinds


def _look_up_distinct(
    numbers: pa.Array, local: np.ndarray
) -> tuple[pa.Array | None, np.ndarray, np.ndarray]:
    """For numbers without gaps: the numbers with any national prefix removed (None when none
    was), each kind (an index into ``_KIND_LABELS``; -1 where none was looked up: fictional)
    and which start with no known code."""
    kinds = np.full(len(numbers), -1, dtype=np.int8)
    codes, which = _country_codes(numbers)
    changed = None
    for index, code in enumerate(codes):
        rows = np.flatnonzero(which == index)
        group, found = _look_up_country(_take(numbers, rows), code, local[rows])
        kinds[rows] = found
        if group is not None:
            changed = _replace_rows(numbers if changed is None else changed, rows, group)
    return changed, kinds, which < 0


def _look_up(numbers: pa.Array, local: np.ndarray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """For numbers without gaps: the numbers with any national prefix removed, each kind (-1
    where none was looked up: fictional) and which start with no known country code.

    Each distinct number (and way of reading it) is looked up once: lists repeat numbers.
    Where nearly all differ, the copy that picks them out would cost more than it saves."""
    if not len(numbers):
        return numbers, np.zeros(0, dtype=np.int8), np.zeros(0, dtype=bool)
    if _mostly_different(numbers, local):
        changed, kinds, unknown = _look_up_distinct(numbers, local)
        return (numbers if changed is None else changed), kinds, unknown
    codes, first = _distinct(_number_keys(numbers) * 2 + local)
    changed, kinds, unknown = _look_up_distinct(_take(numbers, first), local[first])
    numbers = numbers if changed is None else changed.take(codes)
    return numbers, kinds[codes], unknown[codes]


#: The key of a missing number: no number's key, as keys are numbers or small negatives.
MISSING = -(2**63)


def _mostly_different(numbers: pa.Array, local: np.ndarray, sample: int = 4096) -> bool:
    """Whether nine in ten numbers differ, judged on a sample: then looking each up costs less
    than finding the repeats (hashing them all and copying the distinct ones)."""
    if len(numbers) > 2 * sample:
        step = len(numbers) // sample
        numbers, local = numbers.take(np.arange(0, len(numbers), step)), local[::step]
    keys = _number_keys(numbers) * 2 + local
    return len(pd.unique(keys)) > 0.9 * len(keys)


def _number_keys(numbers: pa.Array) -> np.ndarray:
    """An integer for each ``+<digits>`` (no leading zero), equal where the numbers are equal:
    the number itself up to 18 digits (hashing integers is several times cheaper than hashing
    text), a negative one for the rare longer numbers, ``MISSING`` for a missing one."""
    digits = _after(numbers, 1)
    lengths = pc.fill_null(pc.binary_length(digits), 0).to_numpy()
    if not len(digits) or lengths.max() <= 18:
        return pc.fill_null(pc.cast(digits, pa.int64()), MISSING).to_numpy()
    keys = np.full(len(digits), MISSING, dtype=np.int64)
    short = np.flatnonzero((lengths <= 18) & (lengths > 0))
    long = np.flatnonzero(lengths > 18)
    keys[short] = pc.cast(_take(digits, short), pa.int64()).to_numpy()
    codes, _ = pd.factorize(_take(digits, long).to_numpy(zero_copy_only=False))
    keys[long] = -1 - codes
    return keys


def _distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each key the number of its distinct value, counted in order of first appearance,
    and the position where each distinct value first appears."""
    codes, _ = pd.factorize(keys)
    if not len(codes):
        return codes, _no_rows()
    # A value's number is one more than any before its first appearance.
    first = np.empty(len(codes), dtype=bool)
    first[0] = True
    first[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return codes, np.flatnonzero(first)


def repeats(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose number appeared in an earlier row, and for each that earlier row (the
    first with the same key, ``CheckedNumbers.keys``; ``MISSING`` keys count as no number).

    >>> repeats(np.array([447700900001, MISSING, 447700900001, 447700900001]))
    (array([2, 3]), array([0, 0]))
    """
    present = np.flatnonzero(keys != MISSING)
    codes, firsts = _distinct(keys[present])
    again = np.ones(len(codes), dtype=bool)
    again[firsts] = False
    again = np.flatnonzero(again)
    return present[again], present[firsts[codes[again]]]


# --- numbers whose "+" was lost --------------------------------------------------------------


@dataclass
class _Found:
    """The numbers read (rows and ``+<digits>``), after the look-up."""

    rows: np.ndarray
    numbers: pa.Array
    kinds: np.ndarray
    unknown: np.ndarray

    def valid(self) -> np.ndarray:
        """Which are real numbers (of any kind) or fictional ones."""
        return (self.kinds > 0) | ((self.kinds == -1) & ~self.unknown)


def _found(reading: _Reading) -> _Found:
    """Every number read, looked up."""
    rows = np.concatenate([rows for rows, _ in reading.found])
    numbers = pa.concat_arrays([values.cast(pa.large_string()) for _, values in reading.found])
    numbers, kinds, unknown = _look_up(numbers, reading.local[rows])
    return _Found(rows, numbers, kinds, unknown)


def _read_without_plus(reading: _Reading, found: _Found) -> tuple[_Found, _Column]:
    """Bare digits read again as an international number whose ``+`` was lost (Excel drops it
    from ``+447700900123``). That reading is taken where it is valid and the national one is
    not (or there is none: no default region); where both are valid and differ the national
    one stays, and a note says so: no guess is silent."""
    notes = _Column(len(reading.text))
    bare = reading.bare
    if not bare.size:
        return found, notes
    other = _prefixed("+", pc.utf8_trim_whitespace(_take(reading.text, bare)))
    other, other_kinds, other_unknown = _look_up(other, np.zeros(len(bare), dtype=bool))
    international = _Found(bare, other, other_kinds, other_unknown).valid()
    # Where each bare number is among those read (-1 where it has no national reading).
    where = np.full(len(reading.text), -1, dtype=np.int64)
    where[found.rows] = np.arange(len(found.rows))
    at = where[bare]
    national = np.zeros(len(bare), dtype=bool)
    national[at >= 0] = found.valid()[at[at >= 0]]
    same = np.zeros(len(bare), dtype=bool)
    same[at >= 0] = _bools(pc.equal(found.numbers.take(at[at >= 0]), other.filter(at >= 0)))
    switch = np.flatnonzero(international & ~national)
    reading.problem.clear(bare[switch])
    notes.put(bare[switch], "international")
    both = np.flatnonzero(international & national & ~same)
    notes.put(bare[both], _joined("could also be ", _take(other, both)))
    if not switch.size:
        return found, notes
    keep = np.ones(len(found.rows), dtype=bool)
    keep[at[switch][at[switch] >= 0]] = False
    merged = _Found(
        np.concatenate([found.rows[keep], bare[switch]]),
        pa.concat_arrays([found.numbers.filter(keep), _take(other, switch)]),
        np.concatenate([found.kinds[keep], other_kinds[switch]]),
        np.concatenate([found.unknown[keep], other_unknown[switch]]),
    )
    return merged, notes


# --- the whole column ------------------------------------------------------------------------


def normalise_numbers(raw: pd.Series, default_region: str | None = None) -> pd.DataFrame:
    """The E.164 form, kind, problem (or NA) and note (or NA) of each raw phone number,
    vectorised.

    International numbers (``+44 7700 900123``) are read as they are; national ones
    (``07700 900123``) need ``default_region`` (``"GB"``), and so does an international prefix
    other than ``00`` (``011`` in the US). Bare digits (``447700900123``, as Excel leaves a
    number whose ``+`` it dropped) are read as international where that is valid and the
    national reading is not; ``note`` says ``international`` there, and ``could also be +...``
    where both readings are valid (the national one is kept). Numbers in ranges reserved for
    fiction count as valid (they only work in the sandbox). ``kind`` is ``mobile``,
    ``landline``, ..., ``invalid``, or NA where no lookup was needed (missing, unreadable or
    fictional).

    >>> normalise_numbers(pd.Series(["07700 900123"]), "GB")["e164"].tolist()
    ['+447700900123']
    >>> normalise_numbers(pd.Series(["447700900123"]))["note"].tolist()
    ['international']
    """
    return check_numbers(raw, default_region).frame


@dataclass
class CheckedNumbers:
    """``normalise_numbers``' columns, and a key for each number to find repeats with: equal
    keys for equal numbers, ``MISSING`` where there is no valid number."""

    frame: pd.DataFrame
    keys: np.ndarray


def check_numbers(raw: pd.Series, default_region: str | None = None) -> CheckedNumbers:
    """``normalise_numbers``, and each number's key (see ``first_appearances``).

    >>> check_numbers(pd.Series(["+447700900001", "x"])).keys.tolist()[0]
    447700900001
    """
    region = _region_metadata(default_region)
    parts = _on_every_core(lambda piece: _checked(piece, region), list(_pieces(_arrow(raw))))
    kinds = np.concatenate([part.kinds for part in parts])
    # -1 (not looked up: missing, unreadable or fictional) becomes NA.
    codes: np.ndarray[Any, np.dtype[np.int8]] = kinds
    index = raw.index
    e164 = pa.concat_arrays([part.e164 for part in parts])
    columns = {
        "e164": _series(e164, index),
        "kind": pd.Categorical.from_codes(codes, categories=pd.Index(_KIND_LABELS)),
        "problem": _series(pa.concat_arrays([part.problem for part in parts]), index),
        "note": _series(pa.concat_arrays([part.note for part in parts]), index),
    }
    keys = np.concatenate([part.keys for part in parts])
    if ((keys < 0) & (keys != MISSING)).any():  # over 18 digits: keyed a piece at a time
        keys = _number_keys(e164)
    del parts
    give_back_memory()
    return CheckedNumbers(pd.DataFrame(columns, index=index), keys)


@dataclass
class _Piece:
    """The columns of one piece: E.164 form, kind (an index into ``_KIND_LABELS``, -1 for
    none), problem, note, and each number's key."""

    e164: pa.Array
    kinds: np.ndarray
    problem: pa.Array
    note: pa.Array
    keys: np.ndarray


# Rows checked at a time. Each step makes a new array: a piece's few megabytes stay in the
# allocator's warm pages, where whole columns of a million rows would cost a page fault every
# 4 KiB (Arrow's allocator returns freed memory to the system within milliseconds) and would
# multiply the peak memory; much smaller pieces pay Python's cost per call too often.
_PIECE = 1 << 17


def give_back_memory() -> None:
    """Return to the system the memory Arrow's allocator kept after a big step. Its readers
    and worker threads keep freed pages in heaps of their own, where neither the next step nor
    Python's own objects (``parameters_from_frame``'s dictionaries) can use them again.

    >>> give_back_memory()
    """
    pa.default_memory_pool().release_unused()


def _on_every_core(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``function`` of each item, in order, the items shared among the processor's cores:
    Arrow's kernels release the GIL, so two cores check a column in about 60% of the time."""
    workers = min(len(items), os.cpu_count() or 1, 4)
    if workers < 2:
        return [function(item) for item in items]
    answers: list[Any] = [None] * len(items)
    failed: list[BaseException] = []

    def work(first: int) -> None:
        try:
            for at in range(first, len(items), workers):
                answers[at] = function(items[at])
        except BaseException as error:  # raised again in the calling thread
            failed.append(error)
        finally:
            give_back_memory()  # this thread's own free pages: no other thread can use them

    threads = [threading.Thread(target=work, args=(first,)) for first in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return answers


def _pieces(column: pa.ChunkedArray) -> Iterator[pa.Array]:
    """The column in pieces of ``_PIECE`` rows (at least one piece, maybe empty)."""
    for start in range(0, max(len(column), 1), _PIECE):
        piece = column.slice(start, _PIECE)
        yield piece.combine_chunks() if piece.num_chunks != 1 else piece.chunk(0)


def _checked(raw: pa.Array, region: Any) -> _Piece:
    """Every number of one piece checked."""
    reading = _read(raw, region)
    found, notes = _read_without_plus(reading, _found(reading))
    problem, size = reading.problem, len(reading.text)
    invalid = np.flatnonzero(found.kinds == 0)
    problem.put(
        found.rows[invalid], _joined(_take(found.numbers, invalid), " is not a valid phone number")
    )
    for code in np.intersect1d(_BAD_FOR_SMS, found.kinds):
        at = np.flatnonzero(found.kinds == code)
        cannot = f" is a {_KIND_LABELS[code]} number: SMS cannot reach it"
        problem.put(found.rows[at], _joined(_take(found.numbers, at), cannot))
    rows = np.sort(found.rows[found.unknown])
    known = "' starts with no known country code"
    problem.put(rows, _joined("'", pc.utf8_trim_whitespace(_take(reading.text, rows)), known))
    kinds = np.full(size, -1, dtype=np.int8)
    kinds[found.rows] = found.kinds
    good = ((found.kinds > 0) & ~np.isin(found.kinds, _BAD_FOR_SMS) | (found.kinds == -1)) & (
        ~found.unknown
    )
    e164 = _scatter(size, [(found.rows[good], found.numbers.filter(good))])
    return _Piece(e164, kinds, problem.array(), notes.array(), _number_keys(e164))


_PLAIN_INTERNATIONAL = re.compile(r"\+?([0-9]+)")
_IGNORED_PATTERN = re.compile(_IGNORED_IN_NUMBERS)


def digits_only(number: str) -> str:
    """Bare digits, the way the API compares numbers (``+``/``00`` and separators dropped).

    >>> digits_only("+44 7700-900001")
    '447700900001'
    """
    plain = _PLAIN_INTERNATIONAL.fullmatch(number)
    if plain and not number.startswith("00"):
        return plain.group(1)
    squeezed = _IGNORED_PATTERN.sub("", str(number))
    if squeezed.startswith("+"):
        return squeezed[1:]
    return squeezed[2:] if squeezed.startswith("00") else squeezed
