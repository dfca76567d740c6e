"""The vectorised phone-number path (``normalise_numbers``) against ``phonenumbers`` itself.

``normalise_numbers`` runs libphonenumber's metadata regular expressions over whole columns
instead of calling ``phonenumbers.parse`` per row, so it has to re-implement parse's reading
(international prefixes, national prefixes, country codes shared by several regions) and
``number_type``'s order of checks. These tests compare the two row by row: property tests over
mutated example numbers of many regions written in many formats, then examples for each
disagreement the property tests found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODES_FOR_NON_GEO_REGIONS, SUPPORTED_REGIONS

from sinch_helpers_machinery.api_facts import FICTIONAL
from sinch_helpers_machinery.errors import RecipientsError
from sinch_helpers_machinery.phone_numbers import normalise_numbers

# The regions the brief names, the Crown dependencies that share +44 with GB, North American
# islands that share +1 with the US, and other regions with shared codes or unusual parsing
# (national prefix transforms in AR/BR/JP/MG, leading digits in RU/KZ, NO/SJ, FI/AX, MA/EH).
REGIONS = (
    *("GB", "US", "CA", "DE", "FR", "SE", "IN", "AU", "BR", "JP", "NL", "ES", "IT", "CH"),
    *("ZA", "NG", "MX", "GG", "JE", "IM", "AG", "BS", "JM", "PR", "DO", "TT", "KY", "VI"),
    *("GU", "AR", "RU", "KZ", "NO", "SJ", "FI", "AX", "MA", "EH", "IE", "CN", "SG", "NZ"),
    *("AT", "BE", "PL", "KR", "MG", "CC", "CX", "SM", "VA", "GA", "NF", "HU", "CO", "IR"),
)
KINDS = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
)
LABELS = {
    PhoneNumberType.MOBILE: "mobile",
    # libphonenumber answers FIXED_LINE_OR_MOBILE where a country's number ranges do not tell
    # the two apart (all of North America, some ranges elsewhere). Such a number may well be a
    # mobile, and refusing it would refuse every North American number, so the fast path calls
    # it "mobile" and lets it through.
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.VOIP: "VoIP",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.TOLL_FREE: "toll-free",
    PhoneNumberType.PREMIUM_RATE: "premium-rate",
    PhoneNumberType.SHARED_COST: "shared-cost",
    PhoneNumberType.UAN: "UAN",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.PAGER: "pager",
}
SMS_CAPABLE = {"mobile", "VoIP", "personal"}


@dataclass(frozen=True)
class Seed:
    """An example number of one region and type: country code and national significant number."""

    region: str
    country_code: int
    national: str


@dataclass(frozen=True)
class Row:
    """One input cell, and how phonenumbers should read it.

    ``reference`` is the text handed to ``phonenumbers.parse`` (usually the cell itself);
    ``exact`` says whether the answers must agree both ways (well-formed input) or only one way
    (garbage: we must never accept what phonenumbers rejects).
    """

    text: str | None
    reference: str | None
    exact: bool
    style: str


def _seeds_for(region: str) -> list[Seed]:
    """The example numbers libphonenumber ships for each number type of one region."""
    found = (phonenumbers.example_number_for_type(region, kind) for kind in KINDS)
    return [
        Seed(region, number.country_code, phonenumbers.national_significant_number(number))
        for number in found
        if number is not None
    ]


def _non_geographic_seeds() -> list[Seed]:
    """Example numbers of the worldwide services (+800 freephone, +882/+883 networks, ...)."""
    seeds = []
    for code in sorted(COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            national = phonenumbers.national_significant_number(number)
            seeds.append(Seed("001", code, national))
    return seeds


SEEDS = [seed for region in REGIONS for seed in _seeds_for(region)] + _non_geographic_seeds()
SEEDS_BY_CODE: dict[int, list[Seed]] = {}
for _seed in SEEDS:
    SEEDS_BY_CODE.setdefault(_seed.country_code, []).append(_seed)


def phone_number(country_code: int, national: str) -> PhoneNumber:
    """A PhoneNumber object for digits, keeping leading zeros the way parse would."""
    zeros = len(national) - len(national.lstrip("0"))
    zeros = min(zeros, len(national) - 1)
    return PhoneNumber(
        country_code=country_code,
        national_number=int(national),
        italian_leading_zero=zeros > 0 or None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )


# --- strategies: numbers --------------------------------------------------------------------

DIGITS = st.text("0123456789", min_size=1, max_size=3)


@st.composite
def mutated(draw: st.DrawFn, national: str) -> str:
    """The national number itself, or with digits changed, dropped, added or cut: mutants near
    real ranges, some still valid, some of another type, some of the wrong length."""
    how = draw(st.sampled_from(["keep", "keep", "change", "drop", "add", "cut", "tail"]))
    at = draw(st.integers(0, len(national) - 1))
    if how == "change":
        national = national[:at] + draw(DIGITS)[0] + national[at + 1 :]
    elif how == "drop" and len(national) > 1:
        national = national[:at] + national[at + 1 :]
    elif how == "add":
        national = national[:at] + draw(DIGITS) + national[at:]
    elif how == "cut" and at > 0:
        national = national[:at]
    elif how == "tail":  # same leading digits (same range), random rest
        rest = draw(st.text("0123456789", min_size=len(national) - at, max_size=len(national)))
        national = national[:at] + rest
    return national


@st.composite
def numbers(draw: st.DrawFn, country_code: int | None = None) -> PhoneNumber:
    """A mutant of an example number, of one country code or of any."""
    pool = SEEDS_BY_CODE[country_code] if country_code else SEEDS
    seed = draw(st.sampled_from(pool))
    return phone_number(seed.country_code, draw(mutated(seed.national)))


# --- strategies: ways of writing a number ---------------------------------------------------


def regrouped(formatted: str, separator: str, bracket: int | None) -> str:
    """The digit groups of a formatted number joined by another separator, one group maybe in
    brackets: ``+44-7911-123456``, ``07911.123456``, ``+44 (7911) 123456``."""
    groups = re.findall(r"[0-9]+", formatted)
    if bracket is not None:
        groups[bracket % len(groups)] = f"({groups[bracket % len(groups)]})"
    return ("+" if formatted.startswith("+") else "") + separator.join(groups)


def international_prefix(region: str | None) -> str | None:
    """The digits a caller in ``region`` dials before a country code (``011`` in the US), when
    the metadata gives a single one."""
    metadata = region and phonenumbers.PhoneMetadata.metadata_for_region(region)
    if not metadata:
        return None
    for prefix in (metadata.preferred_international_prefix, metadata.international_prefix):
        if prefix and prefix.isdigit():
            return prefix
    return None


def with_double_zero(number: PhoneNumber, region: str | None, separator: str) -> Row:
    """``0044 7911 123456``. With a default region, phonenumbers reads this by that region's
    own international prefix (00 in most of the world, not in North America or Japan), and so
    must we. Without one phonenumbers refuses anything that lacks a ``+``, but the fast path
    also takes ``00`` for it (so that such files need no default region): phonenumbers is then
    asked about the ``+`` form."""
    text = "00" + regrouped(_formatted(number, "international"), separator, None)[1:]
    digits = re.sub(r"[^0-9]", "", text)
    return Row(text, text if region else "+" + digits[2:], True, "00")


def with_region_prefix(number: PhoneNumber, region: str | None, separator: str) -> Row:
    """``011 44 7911 123456`` read in the US: the default region's own international prefix."""
    prefix = international_prefix(region)
    if prefix is None:
        return with_double_zero(number, region, separator)
    text = prefix + " " + regrouped(_formatted(number, "international"), separator, None)[1:]
    return Row(text, text, True, "idd")


def with_bracketed_prefix(number: PhoneNumber, _region: str | None, _separator: str) -> Row:
    """``+44 (0) 7911123456``: the national prefix in brackets after the country code."""
    national = phonenumbers.national_significant_number(number)
    text = f"+{number.country_code} ({_national_prefix(number.country_code)}) {national}"
    return Row(text, text, True, "(0)")


def without_plus(number: PhoneNumber, _region: str | None, _separator: str) -> Row:
    """``447911123456``: country code and number, no ``+`` (spreadsheets drop it)."""
    digits = str(number.country_code) + phonenumbers.national_significant_number(number)
    return Row(digits, digits, True, "without +")


WRITERS = {
    "00": with_double_zero,
    "idd": with_region_prefix,
    "(0)": with_bracketed_prefix,
    "without +": without_plus,
}
INTERNATIONAL_STYLES = ("e164", "international", "00", "idd", "(0)")
STYLES = (*INTERNATIONAL_STYLES, "national", "national", "without +")


@st.composite
def well_formed(draw: st.DrawFn, region: str | None) -> Row:
    """A mutant number written the way people write numbers, with ``region`` the default.
    National styles use numbers of the region's own country code."""
    style = draw(st.sampled_from(STYLES))
    local = phonenumbers.country_code_for_region(region or "ZZ")
    local_style = style not in INTERNATIONAL_STYLES and local in SEEDS_BY_CODE
    number = draw(numbers(local if local_style else None))
    separator = draw(st.sampled_from([" ", "-", ".", "", " - "]))
    if style in WRITERS:
        return WRITERS[style](number, region, separator)
    text = _formatted(number, style)
    if draw(st.booleans()):
        text = regrouped(text, separator, draw(st.none() | st.integers(0, 4)))
    text = draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", " "]))
    return Row(text, text, True, style)


def _formatted(number: PhoneNumber, style: str) -> str:
    """The number in one of libphonenumber's own formats."""
    form = {
        "e164": PhoneNumberFormat.E164,
        "international": PhoneNumberFormat.INTERNATIONAL,
        "national": PhoneNumberFormat.NATIONAL,
    }[style]
    return phonenumbers.format_number(number, form)


def _national_prefix(country_code: int) -> str:
    """The national prefix of a country code's main region (``0`` in the UK, ``8`` in Russia)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    return (metadata and metadata.national_prefix) or "0"


UNICODE_SPACES = ("\u00a0", "\u202f", "\u2009", "\u3000", "\t", "  ")


@st.composite
def unusual_spaces(draw: st.DrawFn, region: str | None) -> Row:
    """A well-formed number with no-break, narrow, thin or ideographic spaces (from Word, web
    pages, French formatting). phonenumbers refuses several of them; the fast path takes any
    Unicode space as a separator on purpose, so phonenumbers is asked about plain spaces."""
    row = draw(well_formed(region))
    text = (row.text or "").replace(" ", draw(st.sampled_from(UNICODE_SPACES)))
    return Row(text, row.reference, True, "unicode spaces")


UNICODE_DIGITS = ("٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "०१२३४५६७८९")


@st.composite
def garbage(draw: st.DrawFn, region: str | None) -> Row:
    """Text that is not a tidy phone number: letters, wrong lengths, other digits, words, an
    extension, a ``tel:`` link, nothing at all. phonenumbers reads some of it anyway (it digs
    numbers out of text, turns letters into digits), which we do not want to copy."""
    base = draw(well_formed(region)).text or ""
    how = draw(st.sampled_from(GARBAGE))
    if how == "letter":
        at = draw(st.integers(0, len(base)))
        text = base[:at] + draw(st.sampled_from("aZxO#*~[]")) + base[at:]
    elif how == "unicode digits":
        text = base.translate(str.maketrans("0123456789", draw(st.sampled_from(UNICODE_DIGITS))))
    elif how == "extension":
        text = base + draw(st.sampled_from([" ext. 12", " x 7", "#55", ";ext=1"]))
    elif how == "short":
        text = draw(st.sampled_from(["+", "", "0"])) + draw(DIGITS)
    elif how == "long":
        text = "+" + draw(st.text("0123456789", min_size=18, max_size=25))
    else:
        text = {
            "text": draw(st.text(max_size=20)),
            "tel": "tel:" + base,
            "vanity": base[:-4] + "FLWR",
            "plus plus": "++" + base.lstrip("+"),
            "blank": draw(st.sampled_from(["", "   ", None])),
        }[how]
    return Row(text, text, False, how)


GARBAGE = ("letter", "unicode digits", "extension", "short", "long", "text", "tel", "vanity")
GARBAGE += ("plus plus", "blank")


@st.composite
def batches(draw: st.DrawFn) -> tuple[str | None, list[Row]]:
    """A default region (or none) and up to 50 cells for one call, mostly well-formed."""
    region = draw(st.sampled_from((None, *REGIONS)))
    row = st.one_of(
        well_formed(region), well_formed(region), unusual_spaces(region), garbage(region)
    )
    return region, draw(st.lists(row, min_size=1, max_size=50))


# --- comparing one row ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What one side says about one cell."""

    valid: bool
    e164: str | None
    kind: str | None
    fictional: bool = False


def reference(text: str | None, region: str | None) -> Verdict:
    """What phonenumbers says: parse, then is_valid_number and number_type. Any Unicode space
    counts as a plain one (see ``unusual_spaces``).

    Bare digits (``447911123456``: a spreadsheet dropped the ``+``) are also parsed with a
    ``+`` in front, and that reading is taken where it is valid and the plain one is not (or
    there is no default region, where parse refuses them): a deliberate extension."""
    verdict = _parsed(text, region)
    bare = (text or "").strip()
    if not verdict.valid and re.fullmatch(r"[1-9][0-9]{6,14}", bare):
        international = _parsed("+" + bare, None)
        if international.valid:
            return international
    return verdict


def _parsed(text: str | None, region: str | None) -> Verdict:
    """phonenumbers' own verdict on one cell."""
    try:
        number = phonenumbers.parse(re.sub(r"\s", " ", text or ""), region)
    except NumberParseException:
        return Verdict(False, None, None)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if FICTIONAL.fullmatch(e164):
        return Verdict(True, e164, None, fictional=True)
    if not phonenumbers.is_valid_number(number):
        return Verdict(False, e164, "invalid")
    return Verdict(True, e164, LABELS[phonenumbers.number_type(number)])


def ours(row: pd.Series) -> Verdict:
    """What normalise_numbers says about one row: valid means a kind (the e164 column is NA
    for landlines and other kinds SMS cannot reach, but their kind is still known)."""
    kind = None if pd.isna(row["kind"]) else str(row["kind"])
    e164 = None if pd.isna(row["e164"]) else row["e164"]
    problem = None if pd.isna(row["problem"]) else row["problem"]
    if kind is None:  # no lookup: missing, unreadable (a problem) or fictional (no problem)
        return Verdict(problem is None, e164, None, fictional=problem is None)
    if kind == "invalid":
        return Verdict(False, e164, kind)
    expected = None if kind in SMS_CAPABLE else f" is a {kind} number: SMS cannot reach it"
    assert (problem is None) == (expected is None), problem
    if expected:
        assert e164 is None, e164
        assert problem.endswith(expected), problem
        return Verdict(True, problem.removesuffix(expected), kind)
    return Verdict(True, e164, kind)


def check(rows: list[Row], region: str | None) -> None:
    """Every row of one call against phonenumbers: exactly for well-formed rows; for garbage,
    only that whatever we accept, phonenumbers accepts as the same number and kind."""
    table = normalise_numbers(pd.Series([row.text for row in rows], dtype=object), region)
    for row, (_, answer) in zip(rows, table.iterrows(), strict=True):
        mine, theirs = ours(answer), reference(row.reference, region)
        context = f"{row.style} {row.text!r} (region {region}): ours {mine}, phonenumbers {theirs}"
        if (row.exact or mine.valid) and (mine.valid or theirs.valid):
            assert mine == theirs, context
        if not mine.valid:
            assert pd.isna(answer["e164"]), context
            assert not pd.isna(answer["problem"]), context


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_agrees_with_phonenumbers_on_random_numbers(batch: tuple[str | None, list[Row]]) -> None:
    """Mutants of libphonenumber's example numbers (digits changed, dropped, added, cut) for
    56 regions, ten number types and the worldwide services, up to 50 to a call, with a random
    default region or none. Written as E.164, international with spaces, national (with the
    national prefix, read with the default region), digit groups re-joined with dashes, dots,
    spaces or nothing and one group in brackets, ``00`` or the region's own international
    prefix instead of ``+``, ``+44 (0) ...``, digits with the country code but no ``+``, and
    any of these with Unicode spaces. For those the validity, E.164 form and kind must equal
    phonenumbers' ``parse``, ``is_valid_number`` and ``number_type`` exactly (two deliberate
    extensions, documented at ``with_double_zero`` and ``unusual_spaces``, are compared with
    what phonenumbers says about the plain form); numbers in the fictional ranges must be read
    as the same number and count as valid without a kind.

    A quarter of the rows are garbage: letters, a vanity ``FLWR``, extensions, ``tel:`` links,
    Arabic-Indic, full-width or Devanagari digits, ``++``, too few or too many digits, random
    text, blanks and None. phonenumbers is more lenient than we want there (it digs a number
    out of surrounding text, turns letters into digits, reads other scripts' digits), so for
    garbage we assert only that we never call valid what phonenumbers calls invalid, and that
    what we accept is the same number and kind.
    """
    region, rows = batch
    check(rows, region)


def test_every_example_number_of_every_region() -> None:
    """All of libphonenumber's example numbers (every region, every type), in E.164 and in
    national form with their own region as the default: the fast path must agree exactly."""
    for region in sorted(SUPPORTED_REGIONS):
        rows = []
        for seed in _seeds_for(region):
            number = phone_number(seed.country_code, seed.national)
            for style in ("e164", "national"):
                text = _formatted(number, style)
                rows.append(Row(text, text, True, style))
        check(rows, region)


# --- examples: one for each disagreement the property tests found ---------------------------


def one(text: str, region: str | None = None) -> tuple[str | None, str | None, str | None]:
    """``e164``, ``kind`` and ``problem`` for a single number."""
    row = normalise_numbers(pd.Series([text]), region).iloc[0]
    return tuple(None if pd.isna(row[c]) else str(row[c]) for c in ("e164", "kind", "problem"))


@pytest.mark.parametrize(
    ("text", "region", "e164", "kind"),
    [
        # parse removes a national prefix from international numbers too: "+44 (0) ..." is
        # common in the UK, and "+4407911..." is what it becomes without the brackets.
        ("+44 (0) 7911 123456", None, "+447911123456", "mobile"),
        ("+4407911123456", None, "+447911123456", "mobile"),
        # ... but not where the number only fits with that digit: Russia's prefix is 8, and
        # 800 numbers start with it.
        ("+7 800 555 35 35", None, "+78005553535", "toll-free"),
        ("8 800 555 35 35", "RU", "+78005553535", "toll-free"),
        # The prefix to strip is national_prefix_for_parsing, a pattern, not national_prefix
        # (Belarus writes 8 0xx; only "8" was stripped, leaving an invalid 0).
        ("8 029 491-19-11", "BY", "+375294911911", "mobile"),
        # national_prefix_transform_rule: Argentina's mobile "15" after the area code becomes
        # 9 before it; Antigua's seven-digit local numbers gain the area code 268; Brazil's
        # carrier code (15) goes; Guernsey's six-digit local numbers gain 1481.
        ("011 15-2345-6789", "AR", "+5491123456789", "mobile"),
        ("464 1234", "AG", "+12684641234", "mobile"),
        ("0 15 11 91234 5678", "BR", "+5511912345678", "mobile"),
        ("781234", "GG", "+441481781234", "landline"),
        # The default region's own international prefix: 011 in the US, 0011 in Australia.
        ("011 44 7911 123456", "US", "+447911123456", "mobile"),
        ("0011 61 412 345 678", "AU", "+61412345678", "mobile"),
        # With a default region, 00 means what it means there: a Japanese national toll-free
        # number starts 0037 (it was read as +37...), and 0044 is no international call in
        # the US. Without a default region, 00 is read as +.
        ("0037 1234 5678 9012 3", "JP", "+8100371234567890123", "toll-free"),
        ("0044 7911 123456", "US", None, "invalid"),
        ("0044 7911 123456", None, "+447911123456", "mobile"),
        # The country code without "+" (spreadsheets drop it), with a default region.
        ("447911123456", "GB", "+447911123456", "mobile"),
        # Valid numbers can have more than 15 digits (Japanese and Indonesian toll-free).
        ("+8100371234567890123", None, "+8100371234567890123", "toll-free"),
        # Regions sharing a code: the number goes to the region whose leading digits it has.
        ("+1 268 464 1234", None, "+12684641234", "mobile"),
        ("+44 7781 123456", None, "+447781123456", "mobile"),
        # FIXED_LINE_OR_MOBILE (all of North America) counts as mobile.
        ("+1 212 555 1234", None, "+12125551234", "mobile"),
        # Any Unicode space separates digits, and stays on the fast (RE2) path.
        ("+44\u202f7911\u00a0123456", None, "+447911123456", "mobile"),
    ],
)
def test_examples(text: str, region: str | None, e164: str | None, kind: str) -> None:
    """Each case the property test found, checked against phonenumbers and pinned down."""
    found, found_kind, problem = one(text, region)
    assert found_kind == kind
    if kind in SMS_CAPABLE:
        assert (found, problem) == (e164, None)
    elif kind == "invalid":
        assert found is None
        assert problem.endswith(" is not a valid phone number")
    else:
        assert found is None
        assert problem == f"{e164} is a {kind} number: SMS cannot reach it"
    if region or not text.startswith("00"):  # 00 without a region: our reading, not parse's
        check([Row(text, text, True, "example")], region)  # and phonenumbers agrees


def test_columns_in_several_arrow_chunks() -> None:
    """read_csv hands over Arrow columns in several chunks (the benchmark found this: a
    million rows failed where tests' small frames passed)."""
    chunks = pa.chunked_array([["+447911123456", "07911 123457"], ["+4407911123458", None]])
    numbers = pd.Series(pd.arrays.ArrowStringArray(chunks))
    table = normalise_numbers(numbers, "GB")
    assert table["e164"].tolist()[:3] == ["+447911123456", "+447911123457", "+447911123458"]
    assert table["problem"].tolist()[3] == "no phone number"


def test_an_unknown_default_region_is_refused_even_when_unused() -> None:
    """A mistyped region is reported at once, not only once a national number needs it."""
    with pytest.raises(RecipientsError, match="two-letter ISO"):
        normalise_numbers(pd.Series(["+447911123456"]), "UK")


def test_repeated_numbers_read_as_each_alone() -> None:
    """A column with every number many times (the look-up then takes each distinct number
    once, and copies its answer to the repeats) reads exactly as the distinct numbers do."""
    distinct = [
        *("+447911123456", "07911 123457", "+44 (0) 7911 123458", "447911123459", "020 7946 0000"),
        *("not a number", "", "+4412", "0044 7911 123460", "4.477009E+11", "+12125551234"),
    ]
    alone = normalise_numbers(pd.Series(distinct), "GB").reset_index(drop=True)
    column = pd.Series(distinct * 3000)  # several pieces, mostly repeats
    table = normalise_numbers(column, "GB")
    for start in (0, len(distinct) * 1500, len(column) - len(distinct)):
        piece = table.iloc[start : start + len(distinct)].reset_index(drop=True)
        pd.testing.assert_frame_equal(piece, alone)
