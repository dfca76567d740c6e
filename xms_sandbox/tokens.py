"""API tokens as the sandbox keeps them: hashed, compared in constant time, never shown."""

from __future__ import annotations

import hashlib
import hmac

#: How the database keeps a token: its SHA-256, never the token itself.
HASH_PREFIX = "sha256:"


def token_hash(token: str) -> str:
    """What the database stores for a token.

    >>> token_hash("t")[:15]
    'sha256:e3b98a4d'
    """
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str | None, stored: str) -> bool:
    """Whether ``token`` is the one ``stored`` was made from, in constant time (a database
    written before tokens were hashed holds them as they were)."""
    if not token:
        return False
    presented = token_hash(token) if stored.startswith(HASH_PREFIX) else token
    return hmac.compare_digest(presented.encode("utf-8"), stored.encode("utf-8"))


def phones_key(stored: str) -> str:
    """The key that opens a plan's phones page (and nothing else), made from what the database
    stores for its token: the sandbox can check it, and the plan's owner, who knows the token,
    can work it out (``phones_key(token_hash(token))``).

    >>> len(phones_key(token_hash("t")))  # shorter than a token, so never mistaken for one
    24
    """
    return hmac.new(stored.encode("utf-8"), b"phones page", hashlib.sha256).hexdigest()[:24]
