"""Settings from a ``.env`` file and the environment (the environment wins), and secrets
kept out of sight."""

from __future__ import annotations

import os
from collections.abc import Mapping

from .api_facts import REGIONS
from .errors import CredentialsError

ENV_HINT = (
    "Set SINCH_SERVICE_PLAN_ID, SINCH_API_TOKEN and SINCH_REGION (us, eu, au, br or ca) in your "
    "environment or in a .env file next to the notebooks (see .env.example), or leave all of "
    "them unset to use the offline sandbox."
)


def mask(secret: str | None) -> str:
    """At most the last four characters of a secret, for messages and reprs.

    >>> mask("0123456789abcdef"), mask("short")
    ('…cdef', '…')
    """
    if not secret:
        return "(none)"
    return "…" + secret[-4:] if len(secret) >= 12 else "…"


def read_settings(env_file: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The ``.env`` file (found from the working folder upwards) overlaid by ``SINCH_*``
    environment variables.

    >>> isinstance(read_settings(), dict)
    True
    """
    from dotenv import dotenv_values, find_dotenv

    path = env_file if env_file is not None else find_dotenv(usecwd=True)
    settings = {k: v for k, v in dotenv_values(path).items() if v is not None} if path else {}
    settings.update({k: v for k, v in os.environ.items() if k.startswith("SINCH_")})
    return settings


def first_setting(settings: Mapping[str, str | None], *names: str) -> str | None:
    """The first of ``names`` that is set to something other than blanks, stripped.

    >>> first_setting({"A": " ", "B": " x "}, "A", "B")
    'x'
    """
    for name in names:
        value = settings.get(name)
        if value is not None and value.strip():
            return value.strip()
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
    """The four fields of a ``Credentials``, stripped and checked; CredentialsError says what
    to fix. A base URL may be given with or without ``/xms``.

    >>> checked_credentials(" my-plan ", "my-token", "EU", "http://127.0.0.1:8765/xms/")
    ('my-plan', 'my-token', 'eu', 'http://127.0.0.1:8765')
    """
    if not plan or not plan.strip():
        raise CredentialsError("The service plan ID is empty.", hint=ENV_HINT)
    if not token or not token.strip():
        raise CredentialsError("The API token is empty.", hint=ENV_HINT)
    cleaned = (region or "us").strip().lower()
    if cleaned not in REGIONS:
        raise CredentialsError(
            f"Unknown region {region!r}.",
            hint=f"Use one of {', '.join(REGIONS)}: the region your service plan lives in "
            "(shown next to it in the Sinch dashboard).",
        )
    return plan.strip(), token.strip(), cleaned, origin_of(base_url) if base_url else base_url


def origin_of(url: str) -> str:
    """Scheme and host of an endpoint given with or without ``/xms`` and a trailing slash.

    >>> origin_of(" http://127.0.0.1:8765/xms/ ")
    'http://127.0.0.1:8765'
    """
    return url.strip().rstrip("/").removesuffix("/xms")
