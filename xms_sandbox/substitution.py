"""Parameter substitution: ``${key}`` placeholders filled per recipient, with ``default``.

A placeholder is ``${`` + a valid key (1 to 16 of ``A-Z a-z 0-9 _ . -``) + ``}``; anything else
is literal text. Keys are case-sensitive. Values are looked up by the recipient's normalised
number, then ``default``. When a placeholder has neither, that recipient cannot be sent (delivery
code 405, Aborted) while the others go ahead.

A batch keeps its parameters as they were sent (``"+447700900001"``), because the API echoes them
that way; :func:`by_number` turns them into the table the lookups use.
"""

from __future__ import annotations

import re

from .msisdn import normalize_msisdn

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.\-]{1,16})\}")
VALID_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,16}")
DEFAULT = "default"

Parameters = dict[str, dict[str, str]]


def by_number(parameters: Parameters | None) -> Parameters:
    """``parameters`` with each recipient key as bare digits, the way numbers are compared.

    Two keys for one number (``"+447700900001"`` and ``"447700900001"``): the later one wins, as
    it would in a JSON object that named the same key twice.

    >>> by_number({"name": {"+44 7700 900001": "Ann", "default": "you"}})
    {'name': {'447700900001': 'Ann', 'default': 'you'}}
    """
    table: Parameters = {}
    for key, values in (parameters or {}).items():
        table[key] = {
            (recipient if recipient == DEFAULT else normalize_msisdn(recipient) or recipient): text
            for recipient, text in values.items()
        }
    return table


def placeholders(body: str) -> set[str]:
    """The parameter keys a body refers to."""
    return set(PLACEHOLDER.findall(body))


def render(body: str, parameters: Parameters | None, msisdn: str) -> str | None:
    """The body as ``msisdn`` receives it, or None when a placeholder has no value for them.

    ``parameters`` is keyed by bare digits (:func:`by_number`), as ``msisdn`` is."""
    if "${" not in body:
        return body
    parameters = parameters or {}
    missing = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal missing
        values = parameters.get(match.group(1))
        if values is None:
            missing = True
            return match.group(0)
        value = values.get(msisdn, values.get(DEFAULT))
        if value is None:
            missing = True
            return match.group(0)
        return value

    text = PLACEHOLDER.sub(substitute, body)
    return None if missing else text


def unmatched(keys: set[str], parameters: Parameters | None, msisdn: str) -> bool:
    """True when a placeholder key has no value and no default for ``msisdn``.

    Cheaper than :func:`render` when only the answer matters (checked for every recipient);
    ``keys`` is ``placeholders(body)``, worked out once per batch.
    """
    parameters = parameters or {}
    for key in keys:
        values = parameters.get(key)
        if values is None or (msisdn not in values and DEFAULT not in values):
            return True
    return False
