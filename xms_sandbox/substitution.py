"""Parameter substitution: ``${key}`` placeholders filled per recipient, with ``default``.

A placeholder is ``${`` + a valid key (1 to 16 of ``A-Z a-z 0-9 _ . -``) + ``}``; anything else
is literal text. Keys are case-sensitive. Values are looked up by the recipient's normalised
number, then ``default``. When a placeholder has neither, that recipient cannot be sent (delivery
code 405, Aborted) while the others go ahead.
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.\-]{1,16})\}")
VALID_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,16}")
DEFAULT = "default"

Parameters = dict[str, dict[str, str]]


def placeholders(body: str) -> set[str]:
    """The parameter keys a body refers to."""
    return set(PLACEHOLDER.findall(body))


def render(body: str, parameters: Parameters | None, msisdn: str) -> str | None:
    """The body as ``msisdn`` receives it, or None when a placeholder has no value for them."""
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
