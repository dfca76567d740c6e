"""API tokens as the sandbox keeps them: hashed, compared in constant time, never shown."""

from __future__ import annotations

import hashlib
import hmac

#: How the database keeps a token: its SHA-256, never the token itself.
HASH_PREFIX = "sha256:"
#: How it keeps a JupyterHub token that a plan was given (the sandbox as a Hub service,
#: :mod:`.hub`): its SHA-256 as well, marked so that only the Hub's word opens the plan with it.
#: A token the Hub has revoked then stops working once the Hub's last answer has expired.
HUB_HASH_PREFIX = "hub-sha256:"


def token_hash(token: str, *, from_hub: bool = False) -> str:
    """What the database stores for a token.

    >>> token_hash("t")[:15], token_hash("t", from_hub=True)[:19]
    ('sha256:e3b98a4d', 'hub-sha256:e3b98a4d')
    """
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return (HUB_HASH_PREFIX if from_hub else HASH_PREFIX) + digest


def token_matches(token: str | None, stored: str) -> bool:
    """Whether ``token`` is the one ``stored`` was made from, in constant time (a database
    written before tokens were hashed holds them as they were). Never for a Hub token: the
    Hub says whether those still stand (:func:`hub_token_matches`).

    >>> token_matches("t", token_hash("t")), token_matches("t", token_hash("t", from_hub=True))
    (True, False)
    """
    if not token or stored.startswith(HUB_HASH_PREFIX):
        return False
    presented = token_hash(token) if stored.startswith(HASH_PREFIX) else token
    return hmac.compare_digest(presented.encode("utf-8"), stored.encode("utf-8"))


def hub_token_matches(token: str, stored: str) -> bool:
    """Whether ``stored`` is this JupyterHub token's (once the Hub has said it stands)."""
    presented = token_hash(token, from_hub=True)
    return hmac.compare_digest(presented.encode("utf-8"), stored.encode("utf-8"))


def phones_key(stored: str) -> str:
    """The key that opens a plan's phones page (and nothing else), made from what the database
    stores for its token: the sandbox can check it, and the plan's owner, who knows the token,
    can work it out (``phones_key(token_hash(token))``).

    >>> len(phones_key(token_hash("t")))  # shorter than a token, so never mistaken for one
    24
    >>> phones_key(token_hash("t", from_hub=True)) == phones_key(token_hash("t"))
    True
    """
    if stored.startswith(HUB_HASH_PREFIX):  # the learner works it out from the token alone
        stored = HASH_PREFIX + stored.removeprefix(HUB_HASH_PREFIX)
    return hmac.new(stored.encode("utf-8"), b"phones page", hashlib.sha256).hexdigest()[:24]
