"""Phone numbers checked a whole column at a time, with libphonenumber's own metadata.

Calling ``phonenumbers.parse`` once per row costs about 20 µs, which is 20 s for a million
recipients. Here each regular expression of the metadata runs over a whole column at once
(Arrow's RE2, in C++), so a million numbers take well under a second. The result is meant to
agree with ``phonenumbers.parse``, ``is_valid_number`` and ``number_type``, so this module
repeats their steps, vectorised: the default region's international prefix, a country code
written without ``+``, the national prefix (and its rewrite rules), the region among those
sharing a country code, and the order in which number types are tried.
``tests/test_phone_numbers.py`` checks the agreement on random numbers in many regions and
formats.
"""

from __future__ import annotations

import functools
import re
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


def _arrow(series: pd.Series) -> pa.Array:
    """The Arrow array behind a text Series, in one chunk (``read_csv`` gives several)."""
    array = pa.array(series.astype(text_dtype()).array)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _series(array: pa.Array, index: pd.Index) -> pd.Series:
    """Arrow strings back into a text Series, without converting them to Python objects."""
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([array])), index=index)


def _bools(array: pa.Array) -> np.ndarray:
    """An Arrow boolean array as numpy, null counting as False."""
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def _fullmatch(numbers: pa.Array, pattern: str) -> np.ndarray:
    """Which strings the whole pattern matches."""
    if not len(numbers):
        return np.zeros(0, dtype=bool)
    return _bools(pc.match_substring_regex(numbers, f"^(?:{pattern})$"))


def _starts(numbers: pa.Array, pattern: str) -> np.ndarray:
    """Which strings begin with a match of the pattern (Python's ``re.match``)."""
    if not len(numbers):
        return np.zeros(0, dtype=bool)
    return _bools(pc.match_substring_regex(numbers, f"^(?:{pattern})"))


def _lengths(numbers: pa.Array) -> np.ndarray:
    """The length of each string of ASCII digits."""
    return pc.binary_length(numbers).to_numpy(zero_copy_only=False)


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
    if usable.all():
        return _fullmatch(numbers, pattern)
    rows = np.flatnonzero(usable)
    if rows.size:
        fits[rows] = _fullmatch(_take(numbers, rows), pattern)
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
    rest = np.flatnonzero(kinds == 0)
    landline = _fits(_take(numbers, rest), lengths[rest], metadata.fixed_line)
    kinds[rest[landline]] = _KIND["landline"]
    return kinds


def _kinds_in_region(numbers: pa.Array, metadata: Any) -> np.ndarray:
    """The kind of each national number in one region, as an index into ``_KIND_LABELS``
    (0 = invalid): libphonenumber's ``_number_type_helper``, a column at a time."""
    lengths = _lengths(numbers)
    kinds = np.zeros(len(numbers), dtype=np.int8)
    rows = np.flatnonzero(_fits(numbers, lengths, metadata.general_desc))
    if rows.size:
        numbers, lengths = _take(numbers, rows), lengths[rows]
        found = _special_kinds(numbers, lengths, metadata)
        rest = np.flatnonzero(found == 0)
        found[rest] = _fixed_or_mobile(_take(numbers, rest), lengths[rest], metadata)
        kinds[rows] = found
    return kinds


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
    anchored = f"^(?:{pattern})"
    plain = pc.replace_substring_regex(numbers, anchored, "", max_replacements=1)
    rule = metadata.national_prefix_transform_rule
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
        changed &= ~(_fullmatch(before, general) & ~_fullmatch(after, general))
    if check_length:
        changed &= _stripping_allowed(_lengths(after), metadata.general_desc)
    if not changed.any():
        return numbers, False
    return _replace_rows(numbers, rows[changed], after.filter(changed)), True


def _changed(before: pa.Array, after: pa.Array) -> np.ndarray:
    """Which strings differ."""
    return _bools(pc.not_equal(before, after))


# --- reading what people write --------------------------------------------------------------


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


def _split_international(squeezed: pd.Series, region: Any) -> tuple[pd.Series, pd.Series]:
    """The digits after ``+`` or an international prefix, and the rest (national numbers).

    With a default region, its own international prefix (``011`` in the US, ``00`` in most of
    the world), as parse reads it: not when a 0 follows it. Without one, parse would refuse
    anything without ``+``; here ``00`` (the international prefix almost everywhere) also
    counts, so that ``0044 7911 123456`` needs no default region.
    """
    plus = squeezed.str.startswith("+").fillna(False).astype(bool)
    international = squeezed.str[1:].where(plus)
    rest = squeezed.where(~plus)
    if region is None:
        after = rest.str[2:].where(rest.str.startswith("00").fillna(False).astype(bool))
    else:
        after = _after_international_prefix(rest, region.international_prefix)
    return international.fillna(after), rest.where(after.isna())


def _after_international_prefix(rest: pd.Series, prefix: str | None) -> pd.Series:
    """The digits after the region's international prefix, NA where it is not there (or a 0
    follows it, as country codes never start with 0): parse's ``_parse_prefix_as_idd``."""
    after = pd.Series(pd.NA, index=rest.index, dtype=text_dtype())
    digits = rest[rest.str.fullmatch("[0-9]+").fillna(False).astype(bool)]
    if prefix and not digits.empty:
        numbers = _arrow(digits)
        dialled = _starts(numbers, prefix)
        stripped = pc.replace_substring_regex(numbers, f"^(?:{prefix})", "", max_replacements=1)
        dialled &= ~_bools(pc.starts_with(stripped, "0"))
        after[digits.index[dialled]] = _series(stripped, digits.index)[dialled]
    return after


def _written_with_country_code(numbers: pa.Array, region: Any) -> tuple[np.ndarray, pa.Array]:
    """National-looking numbers that start with the region's own country code, and what
    follows it: parse takes ``447911123456`` (region GB) as +44 7911 123456 when the whole
    does not fit the region's pattern but the rest does, or the whole is too long."""
    code = str(region.country_code)
    rows = np.flatnonzero(_bools(pc.starts_with(numbers, code)))
    full = _take(numbers, rows)
    rest, _ = _strip_national_prefix(pc.utf8_slice_codeunits(full, len(code)), region, False)
    general = region.general_desc
    pattern = general.national_number_pattern or ""
    taken = (~_fullmatch(full, pattern) & _fullmatch(rest, pattern)) if pattern else False
    lengths, possible = _lengths(full), [n for n in general.possible_length if n > 0]
    too_long = ~_among(lengths, general.possible_length_local_only) & (lengths > max(possible))
    taken = taken | too_long
    return rows[taken], rest.filter(taken)


def _national_to_international(national: pd.Series, region: Any) -> pd.Series:
    """Country code and national significant number of numbers written in national form in
    the default region: its national prefix removed (``07911 123456`` in GB: +44 7911 123456)
    or its country code recognised (``447911123456``)."""
    code = str(region.country_code)
    numbers = _arrow(national)
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
    return _series(_prefixed(code, numbers), national.index)


def _read_untidy_numbers(text: pd.Series, region: Any) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Digits (with country code), problems, and which rows were national numbers (their
    national prefix already handled), for numbers written with spaces, brackets, an
    international prefix or in national form."""
    digits = pd.Series(pd.NA, index=text.index, dtype=text_dtype())
    problem = pd.Series(pd.NA, index=text.index, dtype=text_dtype())
    squeezed = text.str.replace(_IGNORED_IN_NUMBERS, "", regex=True)
    international, national = _split_international(squeezed, region)
    digits = digits.fillna(international)
    national = national.dropna()
    words = ~national.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
    problem[words[words].index] = "'" + text[words[words].index] + "' is not a phone number"
    national = national[~words]
    if region is None:
        problem[national.index] = (
            "'" + text[national.index] + "' has no country code: write it as +<country code>"
            "<number>, or pass default_region (for example 'GB')"
        )
    elif not national.empty:
        digits[national.index] = _national_to_international(national, region)
    local = text.index.isin(national.index) if region is not None else np.zeros(len(text), bool)

    all_digits = digits.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
    garbage = digits.notna() & ~all_digits & problem.isna()
    problem[garbage] = "'" + text[garbage] + "' is not a phone number"
    plausible = digits.str.fullmatch(r"[1-9][0-9]{2,}").fillna(False).astype(bool)
    wrong_length = all_digits & ~plausible & problem.isna()
    problem[wrong_length] = "+" + digits[wrong_length] + " is not a valid phone number"
    return digits.where(plausible), problem, np.asarray(local, dtype=bool)


# --- country codes ---------------------------------------------------------------------------


def _country_codes(digits: pa.Array) -> tuple[list[int], np.ndarray]:
    """The country codes present, and for each number the index of its own among them (-1 for
    none). The first three digits of a million numbers take only a few distinct values, so
    each is looked up once."""
    heads = pc.utf8_slice_codeunits(digits, 0, 3).dictionary_encode()
    codes: list[int] = []
    positions = []
    for head in heads.dictionary.to_pylist():
        code = _country_code_of(head)
        if code is not None and code not in codes:
            codes.append(code)
        positions.append(-1 if code is None else codes.index(code))
    lookup = np.array(positions, dtype=np.int16)
    return codes, lookup[heads.indices.to_numpy(zero_copy_only=False)]


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
    """For numbers (digits) of one country code: the digits again if removing a national
    prefix changed any (``+44 (0) 7911...``; national numbers come without one already), and
    each kind (-1 for fictional numbers, which need no look-up)."""
    national = pc.utf8_slice_codeunits(numbers, len(str(code)))
    international = np.flatnonzero(~local)
    stripped, changed = _strip_national_prefix(_take(national, international), _main_metadata(code))
    if changed:
        national = _replace_rows(national, international, stripped)
        numbers = _prefixed(str(code), national)
    fictional = _fullmatch(numbers, FICTIONAL.pattern)
    kinds = np.full(len(numbers), -1, dtype=np.int8)
    real = np.flatnonzero(~fictional)
    kinds[real] = _kinds_for_country(_take(national, real), code)
    return (numbers if changed else None), kinds


def _look_up(digits: pd.Series, local: np.ndarray) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Digits with any national prefix removed, each kind (an index into ``_KIND_LABELS``; -1
    where none was looked up: unreadable, fictional) and which start with no known code."""
    values = _arrow(digits)
    readable = np.flatnonzero(_bools(values.is_valid()))
    kinds = np.full(len(values), -1, dtype=np.int8)
    unknown = np.zeros(len(values), dtype=bool)
    present = _take(values, readable)
    codes, which = _country_codes(present)
    unknown[readable[which < 0]] = True
    changed = False
    for index, code in enumerate(codes):
        rows = np.flatnonzero(which == index)
        group, found = _look_up_country(_take(present, rows), code, local[readable[rows]])
        kinds[readable[rows]] = found
        if group is not None:
            present, changed = _replace_rows(present, rows, group), True
    if changed:
        digits = _series(_replace_rows(values, readable, present), digits.index)
    return digits, kinds, unknown


def normalise_numbers(raw: pd.Series, default_region: str | None = None) -> pd.DataFrame:
    """The E.164 form, kind and problem (or NA) of each raw phone number, vectorised.

    International numbers (``+44 7700 900123``) are read as they are; national ones
    (``07700 900123``) need ``default_region`` (``"GB"``), and so does an international prefix
    other than ``00`` (``011`` in the US). Numbers in ranges reserved for fiction count as
    valid (they only work in the sandbox). ``kind`` is ``mobile``, ``landline``, ...,
    ``invalid``, or NA where no lookup was needed (missing, unreadable or fictional).

    >>> normalise_numbers(pd.Series(["07700 900123"]), "GB")["e164"].tolist()
    ['+447700900123']
    """
    region = _region_metadata(default_region)
    text = raw.astype(text_dtype()).str.strip()
    missing = text.fillna("").eq("")
    problem = pd.Series(pd.NA, index=text.index, dtype=text_dtype())
    problem = problem.mask(missing, "no phone number")
    # Most files hold tidy "+<digits>" numbers: take those in one pass, work on the rest.
    clean = text.str.fullmatch(r"\+[1-9][0-9]{6,14}").fillna(False).astype(bool)
    digits = text.str[1:].where(clean)
    local = np.zeros(len(text), dtype=bool)  # national numbers: prefix already removed
    untidy = (~clean & ~missing).to_numpy(dtype=bool)
    if untidy.any():
        found, trouble, local[untidy] = _read_untidy_numbers(text[untidy], region)
        digits = digits.fillna(found)
        problem = problem.fillna(trouble)
    digits, kinds, unknown = _look_up(digits, local)
    if unknown.any():
        problem[unknown] = "'" + text[unknown] + "' starts with no known country code"
    return _result(text, digits, kinds, problem)


def _result(
    text: pd.Series, digits: pd.Series, kinds: np.ndarray, problem: pd.Series
) -> pd.DataFrame:
    """The ``e164``, ``kind`` and ``problem`` columns, with a problem for each invalid number
    and each kind SMS cannot reach."""
    e164 = "+" + digits
    invalid = kinds == 0
    if invalid.any():
        problem[invalid] = e164[invalid] + " is not a valid phone number"
    no_sms = np.isin(kinds, _BAD_FOR_SMS)
    if no_sms.any():
        labels = np.array(_KIND_LABELS, dtype=object)[kinds[no_sms]]
        names = pd.Series(labels, index=text.index[no_sms], dtype=text_dtype())
        problem[no_sms] = e164[no_sms] + " is a " + names + " number: SMS cannot reach it"
    # -1 (not looked up: missing, unreadable or fictional) becomes NA.
    codes: np.ndarray[Any, np.dtype[np.int8]] = kinds
    kind = pd.Categorical.from_codes(codes, categories=pd.Index(_KIND_LABELS))
    return pd.DataFrame(
        {"e164": e164.where(problem.isna()), "kind": kind, "problem": problem}, index=text.index
    )


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
