"""Settings from a ``.env`` file and the environment (the environment wins), and secrets
kept out of sight: a token is a :class:`Secret` (masked in any repr, so in tracebacks too) and
is checked for the invisible characters and line breaks that copying and ``.env`` quoting add."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .api_facts import REGIONS
from .errors import CredentialsError

ENV_HINT = (
    "Set SINCH_SERVICE_PLAN_ID, SINCH_API_TOKEN and SINCH_REGION (us, eu, au, br or ca) in your "
    "environment or in a .env file next to the notebooks (see .env.example), or leave all of "
    "them unset to use the offline sandbox."
)
#: Settings whose values are secrets: read_settings hands them out as :class:`Secret`.
SECRET_SETTING = re.compile(r"TOKEN|SECRET|PASSWORD")
#: ``Bearer `` (or a whole ``Authorization: Bearer `` header) pasted in front of a token.
BEARER_PREFIX = re.compile(r"(?:authorization\s*:\s*)?bearer\s+", re.IGNORECASE)
#: Characters that end a line, for a message that guesses at a mis-quoted ``.env`` line.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")

C = TypeVar("C", bound=type)
_bearer_noted: set[int] = set()  # hashes of tokens already told about, so each is told once


def mask(secret: str | None) -> str:
    """At most the last four characters of a secret, for messages and reprs.

    >>> mask("0123456789abcdef"), mask("short")
    ('…cdef', '…')
    """
    if not secret:
        return "(none)"
    return "…" + secret[-4:] if len(secret) >= 12 else "…"


class Secret(str):
    """A ``str`` in every way but its repr, which is masked like :func:`mask`.

    Debuggers and IPython's verbose tracebacks (``%xmode Verbose``) show every variable by its
    repr, and a traceback saved in a notebook goes wherever the notebook goes: a token held as a
    Secret shows there as ``'…cdef'``, while requests still sends it whole.

    >>> token = Secret("0123456789abcdef")
    >>> token, f"Bearer {token}", token == "0123456789abcdef"
    ('…cdef', 'Bearer 0123456789abcdef', True)
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask(self))


def hidden(value: Any) -> Any:
    """``value`` as a :class:`Secret` when it is text; anything else as it is (checks follow).

    >>> hidden("0123456789abcdef"), hidden(None)
    ('…cdef', None)
    """
    return Secret(value) if isinstance(value, str) else value


def hides_token(cls: C) -> C:
    """Class decorator for a dataclass with an ``api_token`` field: the token becomes a
    :class:`Secret` before the dataclass's own ``__init__`` runs.

    A traceback keeps the arguments of every call it passes through, and IPython's verbose mode
    prints them; wrapped first, the token shows masked in ``__init__``, ``__post_init__`` and
    every check below them when a check fails.

    >>> @hides_token
    ... @dataclasses.dataclass
    ... class Plan:
    ...     service_plan_id: str
    ...     api_token: str
    >>> Plan("p", "0123456789abcdef")
    Plan(service_plan_id='p', api_token='…cdef')
    """
    generated: Callable[..., None] = cls.__init__  # type: ignore[misc]
    position = [f.name for f in dataclasses.fields(cls)].index("api_token")

    @functools.wraps(generated)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # Rebound first thing: this frame's arguments then hold the token only as a Secret.
        if len(args) > position:
            args = (*args[:position], hidden(args[position]), *args[position + 1 :])
        if "api_token" in kwargs:
            kwargs = {**kwargs, "api_token": hidden(kwargs["api_token"])}
        generated(self, *args, **kwargs)

    setattr(cls, "__init__", __init__)  # noqa: B010 (mypy refuses to assign to a method)
    return cls


def read_settings(env_file: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The ``.env`` file (found from the working folder upwards) overlaid by ``SINCH_*``
    environment variables; tokens come as :class:`Secret`.

    >>> isinstance(read_settings(), dict)
    True
    """
    from dotenv import dotenv_values, find_dotenv

    path = env_file if env_file is not None else find_dotenv(usecwd=True)
    settings = {k: v for k, v in dotenv_values(path).items() if v is not None} if path else {}
    settings.update({k: v for k, v in os.environ.items() if k.startswith("SINCH_")})
    return {k: hidden(v) if SECRET_SETTING.search(k) else v for k, v in settings.items()}


def first_setting(settings: Mapping[str, str | None], *names: str) -> str | None:
    """The first of ``names`` that is set to something other than blanks, stripped (a
    :class:`Secret` stays one).

    >>> first_setting({"A": " ", "B": " x "}, "A", "B")
    'x'
    """
    for name in names:
        value = settings.get(name)
        if value is not None and value.strip():
            return Secret(value.strip()) if isinstance(value, Secret) else value.strip()
    return None


def credential_fields(settings: Mapping[str, str]) -> tuple[str, str, str, str | None] | None:
    """The service plan ID, token, region and base URL the settings hold, or None when they
    hold none. Half a configuration (a plan ID without a token, say) is an error.

    >>> credential_fields({"SINCH_SERVICE_PLAN_ID": "p", "SINCH_API_TOKEN": "t"})
    ('p', 't', 'us', None)
    """
    plan = first_setting(settings, "SINCH_SERVICE_PLAN_ID")
    token = first_setting(settings, "SINCH_API_TOKEN", "SINCH_SMS_API_TOKEN")
    if plan is None and token is None:
        return None
    if plan is None or token is None:
        missing = "SINCH_SERVICE_PLAN_ID" if plan is None else "SINCH_API_TOKEN"
        raise CredentialsError(
            f"{missing} is not set, but the rest of the credentials are.", hint=ENV_HINT
        )
    region = first_setting(settings, "SINCH_REGION", "SINCH_SMS_REGION") or "us"
    return plan, token, region, first_setting(settings, "SINCH_BASE_URL")


def checked_credentials(
    plan: str, token: str, region: str | None, base_url: str | None
) -> tuple[str, str, str, str | None]:
    """The four fields of a ``Credentials``, stripped and checked (the token as a
    :class:`Secret`, without a pasted ``Bearer``); CredentialsError says what to fix. A base URL
    may be given with or without ``/xms``.

    >>> checked_credentials(" my-plan ", "my-token", "EU", "http://127.0.0.1:8765/xms/")
    ('my-plan', '…', 'eu', 'http://127.0.0.1:8765')
    """
    token = hidden(token)  # first: should a check below fail, its traceback shows it masked
    if not plan or not plan.strip():
        raise CredentialsError("The service plan ID is empty.", hint=ENV_HINT)
    if not token or not token.strip():
        raise CredentialsError("The API token is empty.", hint=ENV_HINT)
    problem = malformed(plan, "service plan ID") or malformed(token, "API token")
    if problem is not None:
        raise problem
    cleaned = (region or "us").strip().lower()
    if cleaned not in REGIONS:
        raise CredentialsError(
            f"Unknown region {region!r}.",
            hint=f"Use one of {', '.join(REGIONS)}: the region your service plan lives in "
            "(shown next to it in the Sinch dashboard).",
        )
    token = Secret(without_bearer(token.strip()))
    return plan.strip(), token, cleaned, origin_of(base_url) if base_url else base_url


def tidy_credentials(credentials: Any) -> None:
    """Check a ``Credentials`` being made and write its fields back tidied, in place (the
    dataclass is frozen: this is the one write, from its ``__post_init__``).

    >>> tidy_credentials(credentials)  # doctest: +SKIP
    """
    names = ("service_plan_id", "api_token", "region", "base_url")
    tidy = checked_credentials(*(getattr(credentials, name) for name in names))
    for name, value in zip(names, tidy, strict=True):
        object.__setattr__(credentials, name, value)


def without_bearer(token: str) -> str:
    """The token without a ``Bearer `` pasted in front (the helpers add it to every request
    themselves); says so, once per token.

    >>> without_bearer("0123456789abcdef")
    '0123456789abcdef'
    """
    prefix = BEARER_PREFIX.match(token)
    if prefix is None:
        return token
    token = token[prefix.end() :]
    if hash(token) not in _bearer_noted:
        _bearer_noted.add(hash(token))
        print(
            f"Note: {prefix.group().strip()!r} was pasted in front of the API token "
            f"({mask(token)}); the helpers add it to every request themselves, so it was left out."
        )
    return token


def malformed(value: str, what: str, *, stripped: bool = True) -> CredentialsError | None:
    """The error for a plan ID or token (``what`` says which) that holds a character no real
    one has: a line break, a tab, an invisible or control character or, in a token, a space or
    anything but plain ASCII. It names the character and where it is, never the value.
    Blanks around the value count only with ``stripped=False`` (for a value sent as it is).

    >>> print(malformed("0123456789abcdef\\n0123", "API token").args[0])
    The API token contains a line break at character 17 of 21 — a mis-quoted .env line?
    """
    core = value.strip() if stripped else value
    start = len(value) - len(value.lstrip()) if stripped else 0
    if what == "API token" and (prefix := BEARER_PREFIX.match(core)):
        core, start = core[prefix.end() :], start + prefix.end()  # told about, not an error
    found = [(i, odd) for i, ch in enumerate(core) if (odd := odd_character(ch, what))]
    if not found:
        return None
    index, odd = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    breaks = core[index] in LINE_BREAKS
    guess = " — a mis-quoted .env line?" if breaks else " — copied along with it?"
    return CredentialsError(
        f"The {what} contains {odd} at character {start + index + 1} of {len(value)}{more}" + guess,
        hint=malformed_hint(what, breaks),
    )


def malformed_hint(what: str, line_break: bool) -> str:
    """What to do about a plan ID or token with a stray character (the value is not shown)."""
    setting = "SINCH_API_TOKEN" if what == "API token" else "SINCH_SERVICE_PLAN_ID"
    where = (
        f"In .env keep it on one line: {setting}=... with no quotes, or a matching pair on "
        "that same line; then restart the kernel."
        if line_break
        else "Web pages, chats and documents add characters you cannot see; paste into a "
        "plain-text editor first, or type it out."
    )
    return (
        f"Copy the {what} again from the Sinch dashboard (SMS → APIs) and paste it alone. "
        f"{where} Sinch's plan IDs and tokens are plain letters and digits."
    )


def odd_character(ch: str, what: str) -> str | None:
    """``ch`` in words when it has no place in a plan ID or token (``what``), else None.

    >>> odd_character("\\u200b", "API token"), odd_character("a", "API token")
    ('an invisible character (U+200B ZERO WIDTH SPACE)', None)
    """
    code, name = f"U+{ord(ch):04X}", unicodedata.name(ch, "")
    category = unicodedata.category(ch)
    token = what == "API token"
    if ch in LINE_BREAKS:
        return "a line break"
    if ch == " ":  # a sandbox's plan may be named by a person ("Ada L"), never a token
        return "a space" if token else None
    if ch == "\t":
        return "a tab"
    if ch.isspace():
        return f"a special space ({code} {name})"
    if ch == "\ufeff":
        return f"an invisible byte-order mark ({code})"
    if category == "Cf":  # format characters: zero-width spaces and joiners, soft hyphens, ...
        return f"an invisible character ({code} {name})"
    if category.startswith("C"):  # control, private-use, unassigned, surrogate
        return f"a control character ({code})"
    # A plan ID in a sandbox may be a JupyterHub user name, which can be any letters; a token
    # goes into an HTTP header, and Sinch's are ASCII.
    if token and not ch.isascii():
        return f"a character that is not plain ASCII ({code} {name})"
    return None


def origin_of(url: str) -> str:
    """Scheme and host of an endpoint given with or without ``/xms`` and a trailing slash.

    >>> origin_of(" http://127.0.0.1:8765/xms/ ")
    'http://127.0.0.1:8765'
    """
    return url.strip().rstrip("/").removesuffix("/xms")


def state_dir() -> Path:
    """Where the helpers keep what must outlive a kernel (the embedded sandbox's database, its
    token, unfinished bulk sends): ``$XDG_STATE_HOME`` or ``~/.local/state``, then
    ``sinch-sms-notebooks``. One per user, so a JupyterHub home keeps its own."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "sinch-sms-notebooks"
