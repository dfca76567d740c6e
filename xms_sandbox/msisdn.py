"""Phone-number (MSISDN) normalisation, the way the XMS API reads numbers.

The API takes international numbers with a leading ``+``, a leading ``00`` or bare digits, ignores
spaces, dashes, dots and brackets, and always answers with bare digits.
"""

from __future__ import annotations

import re
from functools import lru_cache

_IGNORED = re.compile(r"[\s\-().]")
_ALREADY_CLEAN = re.compile(r"\+?([1-9][0-9]{6,14})")
MIN_DIGITS = 7
MAX_DIGITS = 15


def normalize_msisdn(raw: object) -> str | None:
    """Return the number as bare international digits, or None when it is not an MSISDN."""
    if not isinstance(raw, str):
        return None
    clean = _ALREADY_CLEAN.fullmatch(raw)  # the common case, checked cheaply first
    return clean.group(1) if clean else _normalize_slowly(raw)


@lru_cache(maxsize=4096)
def _normalize_slowly(raw: str) -> str | None:
    digits = _IGNORED.sub("", raw)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not (digits.isascii() and digits.isdigit()):
        return None
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS or digits[0] == "0":
        return None
    return digits


def normalize_sender(raw: str) -> str:
    """Senders may be numbers, short codes or alphanumeric names; only numbers are normalised."""
    looks_international = raw.strip().startswith(("+", "00"))
    number = normalize_msisdn(raw) if looks_international else None
    return number or raw
