"""How many SMS parts a text needs, and in which encoding (what dry run reports).

GSM 03.38 (7-bit) when every character is in the default alphabet or its extension table
(extension characters cost two septets), otherwise UCS-2 counted in UTF-16 code units (an emoji
outside the Basic Multilingual Plane costs two). One part holds 160 septets or 70 units; once a
message needs more, each part holds 153 or 67 because of the concatenation header. Parts are
filled the way handsets split them: an escape pair or a surrogate pair is never cut in two.
"""

from __future__ import annotations

from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the 'gsm03.38' codec)

GSM = "text"
UNICODE = "unicode"
LIMITS = {GSM: (160, 153), UNICODE: (70, 67)}


@dataclass(frozen=True)
class TextInfo:
    """Encoding name as the API spells it, length in septets or code units, and parts."""

    encoding: str
    units: int
    parts: int


def _gsm_units(text: str) -> list[int] | None:
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return None
    if "\x1b" in text:  # a bare escape character is not something a sender can send
        return None
    return [len(char.encode("gsm03.38")) for char in text]


def _ucs2_units(text: str) -> list[int]:
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def _count_parts(units: list[int], single: int, per_part: int) -> int:
    if sum(units) <= single:
        return 1
    parts, filled = 1, 0
    for unit in units:
        if filled + unit > per_part:
            parts, filled = parts + 1, 0
        filled += unit
    return parts


def analyse(text: str) -> TextInfo:
    """Encoding, length and number of parts of one message text."""
    units = _gsm_units(text)
    encoding = GSM
    if units is None:
        units, encoding = _ucs2_units(text), UNICODE
    single, per_part = LIMITS[encoding]
    return TextInfo(encoding, sum(units), _count_parts(units, single, per_part))


def truncate_to_one_part(text: str) -> str:
    """Cut a text so that it fits one part in its own encoding (``truncate_concat``)."""
    info = analyse(text)
    if info.parts == 1:
        return text
    units = _gsm_units(text) or _ucs2_units(text)
    single = LIMITS[info.encoding][0]
    kept, total = [], 0
    for char, unit in zip(text, units, strict=True):
        if total + unit > single:
            break
        kept.append(char)
        total += unit
    return "".join(kept)
