"""Helpers for the "Sending SMS with Python" notebooks: one import for the whole tutorial.

- Credentials: :class:`Credentials`, :func:`load_credentials` (environment and ``.env``) and
  :func:`credentials_form` (an ipywidgets form that never keeps the token in the notebook).
- A client for the Sinch SMS REST API ("XMS") built on ``requests``: :func:`connect` returns an
  :class:`SmsClient`. With no credentials it starts the offline sandbox (``xms_sandbox``), so
  every notebook runs with no account and no network.
- pandas helpers: :func:`load_recipients`, :func:`parameters_from_frame`, :func:`check_message`,
  :func:`preview`, :func:`send_bulk`, :func:`wait_for_delivery`, :func:`delivery_frame`,
  :func:`plot_delivery` (an SVG bar chart that needs no plotting library).

Errors are :class:`SmsApiError` subclasses that carry the HTTP status, the API's ``code`` and
``text``, the request, and a hint that says what to fix. The API token never appears in any repr,
message or log line.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter


class _ImportedOnFirstUse:
    """A module that is imported the first time one of its names is looked up.

    pandas and numpy take about half a second to import, which every notebook would pay before its
    first cell finished; deferring them leaves that cost to the first table.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    @functools.cached_property
    def _module(self) -> Any:
        return importlib.import_module(self._name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._module, attribute)


if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = _ImportedOnFirstUse("numpy")
    pd = _ImportedOnFirstUse("pandas")

__version__ = "0.1.0"
USER_AGENT = f"sinch-sms-notebooks/{__version__} python-requests/{requests.__version__}"

REGIONS: dict[str, str] = {
    "us": "https://us.sms.api.sinch.com",
    "eu": "https://eu.sms.api.sinch.com",
    "au": "https://au.sms.api.sinch.com",
    "br": "https://br.sms.api.sinch.com",
    "ca": "https://ca.sms.api.sinch.com",
}
MAX_BATCH_RECIPIENTS = 1000
MAX_BODY_LENGTH = 2000
MAX_PARAMETER_VALUE = 1600
PARAMETER_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,16}")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.\-]{1,16})\}")
NEAR_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}|(?<!\$)\{([A-Za-z_][\w.\-]*)\}|\$([A-Za-z_]\w*)")
FINAL_STATUSES = frozenset(
    {"Delivered", "Failed", "Expired", "Rejected", "Aborted", "Cancelled", "Deleted", "Unknown"}
)
# Number ranges reserved for fiction (Ofcom's drama numbers, the North American 555-01xx): they
# are fine in the sandbox and never reach a real phone, so live sends refuse them.
FICTIONAL = re.compile(r"\+?(?:447700900\d{3}|1[2-9]\d{2}5550[1]\d{2})")


# =============================================================================== errors
class SmsApiError(Exception):
    """Something went wrong talking to the SMS API; ``str(error)`` says what and how to fix it."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        text: str | None = None,
        method: str | None = None,
        url: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.text = status, code, text
        self.method, self.url, self.hint = method, url, hint

    def __str__(self) -> str:
        lines = [self.args[0]]
        if self.method and self.url:
            lines.append(f"Request: {self.method} {self.url}")
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        return "\n".join(lines)


class CredentialsError(SmsApiError, ValueError):
    """The credentials are incomplete or malformed (nothing was sent)."""


class ConnectionFailed(SmsApiError):
    """The API could not be reached, or did not answer in time."""


class RequestTimeout(ConnectionFailed):
    """The API did not answer within the timeout."""


class ValidationError(SmsApiError):
    """400 (or 415): the request does not follow the API's rules."""


class AuthenticationError(SmsApiError):
    """401: the token is not valid for this service plan in this region."""


class ForbiddenError(SmsApiError):
    """403: the request is well formed but cannot be carried out."""


class NotFoundError(SmsApiError):
    """404: no such batch, group, inbound or recipient for this service plan."""


class RateLimitedError(SmsApiError):
    """429: too many requests; ``retry_after`` says how long the API asked us to wait."""

    retry_after: float | None = None


class ServerError(SmsApiError):
    """5xx: the service had a problem."""


class SendOutcomeUnknown(SmsApiError):
    """A send may or may not have been accepted, and looking it up failed too."""


class BulkSendInterrupted(SmsApiError):
    """A bulk send stopped part-way; ``.sent`` lists the batches accepted so far."""

    sent: pd.DataFrame


class RecipientsError(ValueError):
    """The recipients file or frame cannot be used as given."""


_ERROR_TYPES: dict[int, type[SmsApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    415: ValidationError,
    429: RateLimitedError,
}

# =============================================================================== credentials


def mask(secret: str | None) -> str:
    """At most the last four characters of a secret, for messages and reprs."""
    if not secret:
        return "(none)"
    return "…" + secret[-4:] if len(secret) >= 12 else "…"


def _strip_xms(url: str) -> str:
    """``https://us.sms.api.sinch.com/xms/`` → ``https://us.sms.api.sinch.com``."""
    url = url.strip().rstrip("/")
    return url[: -len("/xms")] if url.endswith("/xms") else url


@dataclass(frozen=True)
class Credentials:
    """A service plan ID, its API token and where the plan lives (a region or a base URL)."""

    service_plan_id: str
    api_token: str = field(repr=False)
    region: str = "us"
    base_url: str | None = None

    def __post_init__(self) -> None:
        if not self.service_plan_id or not self.service_plan_id.strip():
            raise CredentialsError("The service plan ID is empty.", hint=_ENV_HINT)
        if not self.api_token or not self.api_token.strip():
            raise CredentialsError("The API token is empty.", hint=_ENV_HINT)
        region = (self.region or "us").strip().lower()
        if region not in REGIONS:
            raise CredentialsError(
                f"Unknown region {self.region!r}.",
                hint=f"Use one of {', '.join(REGIONS)}: the region your service plan lives in "
                "(shown next to it in the Sinch dashboard).",
            )
        object.__setattr__(self, "region", region)
        object.__setattr__(self, "service_plan_id", self.service_plan_id.strip())
        object.__setattr__(self, "api_token", self.api_token.strip())
        if self.base_url:
            object.__setattr__(self, "base_url", _strip_xms(self.base_url))

    @property
    def origin(self) -> str:
        """Scheme and host, e.g. ``https://us.sms.api.sinch.com``."""
        return self.base_url or REGIONS[self.region]

    @property
    def endpoint(self) -> str:
        """The endpoint as the tutorial writes it: ``<origin>/xms``."""
        return f"{self.origin}/xms"

    def __repr__(self) -> str:
        where = f"base_url={self.base_url!r}" if self.base_url else f"region={self.region!r}"
        return (
            f"Credentials(service_plan_id={self.service_plan_id!r}, "
            f"api_token={mask(self.api_token)!r}, {where})"
        )


_ENV_HINT = (
    "Set SINCH_SERVICE_PLAN_ID, SINCH_API_TOKEN and SINCH_REGION (us, eu, au, br or ca) in your "
    "environment or in a .env file next to the notebooks (see .env.example), or leave all of "
    "them unset to use the offline sandbox."
)


def _first(environ: Mapping[str, str | None], *names: str) -> str | None:
    for name in names:
        value = environ.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def read_settings(env_file: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The ``.env`` file (found from the working folder upwards) overlaid by the environment."""
    from dotenv import dotenv_values, find_dotenv

    path = env_file if env_file is not None else find_dotenv(usecwd=True)
    settings = {k: v for k, v in dotenv_values(path).items() if v is not None} if path else {}
    settings.update({k: v for k, v in os.environ.items() if k.startswith("SINCH_")})
    return settings


def load_credentials(env_file: str | os.PathLike[str] | None = None) -> Credentials | None:
    """Credentials from the environment and ``.env``, or None when none are configured.

    Reads ``SINCH_SERVICE_PLAN_ID``, ``SINCH_API_TOKEN`` (or ``SINCH_SMS_API_TOKEN``),
    ``SINCH_REGION`` (or ``SINCH_SMS_REGION``) and ``SINCH_BASE_URL`` (with or without ``/xms``).
    Half a configuration (a plan ID without a token, say) is an error, not a silent fallback.
    """
    settings = read_settings(env_file)
    plan = _first(settings, "SINCH_SERVICE_PLAN_ID")
    token = _first(settings, "SINCH_API_TOKEN", "SINCH_SMS_API_TOKEN")
    if plan is None and token is None:
        return None
    if plan is None or token is None:
        missing = "SINCH_SERVICE_PLAN_ID" if plan is None else "SINCH_API_TOKEN"
        raise CredentialsError(
            f"{missing} is not set, but the rest of the credentials are.", hint=_ENV_HINT
        )
    return Credentials(
        service_plan_id=plan,
        api_token=token,
        region=_first(settings, "SINCH_REGION", "SINCH_SMS_REGION") or "us",
        base_url=_first(settings, "SINCH_BASE_URL"),
    )


# =============================================================================== results


class ApiObject(dict):
    """A JSON object from the API: a dict with the API's field names, readable as attributes
    (``batch.id``, ``batch.from_`` for ``from``) and shown as a table in notebooks."""

    def __getattr__(self, name: str) -> Any:
        key = "from" if name == "from_" else name
        try:
            return self[key]
        except KeyError:
            raise AttributeError(name) from None

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{_html(k)}</th><td style='text-align:left'>"
            f"<code>{_html(_compact(v))}</code></td></tr>"
            for k, v in self.items()
        )
        return f"<table>{rows}</table>"

    def __repr__(self) -> str:
        return json.dumps(_shortened(dict(self)), indent=2, ensure_ascii=False)


def _shortened(value: Any, keep: int = 10) -> Any:
    """The value with long lists cut to ``keep`` items and a note of how many more there are."""
    if isinstance(value, dict):
        return {k: _shortened(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        head = [_shortened(v, keep) for v in value[:keep]]
        return [*head, f"… {len(value) - keep} more"] if len(value) > keep else head
    return value


def _compact(value: Any, limit: int = 120) -> str:
    text = json.dumps(_shortened(value, 5), ensure_ascii=False)
    text = text[1:-1] if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _html(value: Any) -> str:
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _wrap(value: Any) -> Any:
    """Dicts in an API answer become ApiObjects, however deeply nested (lists of plain values,
    such as a batch's 1000 numbers, are kept as they are: no call per item)."""
    if isinstance(value, dict):
        return ApiObject(
            {k: _wrap(v) if isinstance(v, dict | list) else v for k, v in value.items()}
        )
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value[:1]):
        return [_wrap(v) for v in value]
    return value


def frame(items: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame from API objects (batches, groups, inbounds, reports...)."""
    rows = [dict(item) for item in items]
    return pd.DataFrame(rows, columns=list(columns) if columns is not None else None)


# =============================================================================== the client

_sandbox_lock = threading.Lock()
_embedded: dict[str, Any] = {}
SANDBOX_PLAN = "sandbox-plan"


def _embedded_sandbox() -> tuple[str, Credentials]:
    """Start the built-in sandbox once per Python process and return its URL and credentials."""
    with _sandbox_lock:
        if "sandbox" not in _embedded:
            import xms_sandbox  # only here: the sandbox never needs this module

            token = secrets.token_hex(16)
            db = os.environ.get("SINCH_SANDBOX_DB", ":memory:")
            _embedded["sandbox"] = xms_sandbox.start(
                db=db, plans={SANDBOX_PLAN: token}, timing=xms_sandbox.Timing(0.005, 0.02)
            )
            _embedded["credentials"] = Credentials(
                SANDBOX_PLAN, token, base_url=_embedded["sandbox"].url
            )
        return _embedded["sandbox"].url, _embedded["credentials"]


def _shared_sandbox_credentials(url: str, settings: Mapping[str, str]) -> Credentials:
    """A plan of one's own on a shared (workshop) sandbox run with ``--open``."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user with no name
        user = "learner"
    plan = _first(settings, "SINCH_SANDBOX_PLAN") or f"learner-{user}"
    token = hashlib.sha256(f"sandbox:{plan}".encode()).hexdigest()[:32]
    return Credentials(plan, token, base_url=_strip_xms(url))


def connect(
    credentials: Credentials | None = None, *, timeout: float = 10.0, retries: int = 3
) -> SmsClient:
    """A client for the API: live with credentials, otherwise the offline sandbox.

    Without credentials (none passed, none in the environment or ``.env``) it uses the sandbox at
    ``SINCH_SANDBOX_URL`` if set (a workshop's shared one), else starts the built-in sandbox in
    this process. Either way it prints one line saying which, so you always know.
    """
    credentials = credentials or load_credentials()
    if credentials is not None:
        client = SmsClient(credentials, timeout=timeout, retries=retries, mode="live")
        print(
            f"Live mode: service plan {credentials.service_plan_id} at {credentials.endpoint} "
            f"(token {mask(credentials.api_token)}). Messages reach real phones and cost money."
        )
        return client
    settings = read_settings()
    shared = _first(settings, "SINCH_SANDBOX_URL")
    if shared:
        creds = _shared_sandbox_credentials(shared, settings)
        print(
            f"Sandbox mode: the shared sandbox at {creds.endpoint} (plan {creds.service_plan_id})"
            ". No message leaves that sandbox."
        )
    else:
        _, creds = _embedded_sandbox()
        print(
            "Sandbox mode: no Sinch credentials found, so the built-in offline sandbox is "
            "answering. No message leaves this machine."
        )
    return SmsClient(creds, timeout=timeout, retries=retries, mode="sandbox")


_SAFE_METHODS = frozenset({"GET", "PUT", "DELETE"})
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MAX_WAIT = 30.0


class SmsClient:
    """One service plan's view of the API over a keep-alive ``requests.Session``.

    Every method returns the API's JSON (as :class:`ApiObject`) with the API's field names.
    Idempotent calls are retried on 429/502/503/504 and connection errors with exponential
    backoff that honours ``Retry-After``; sends are retried only when that is certainly safe,
    and when the outcome of a send is unknown the client looks the batch up by its
    ``client_reference`` instead of sending it again.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        mode: str = "live",
    ) -> None:
        self.credentials = credentials
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.mode = mode
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_maxsize=8, max_retries=0))
        self.session.mount("https://", HTTPAdapter(pool_maxsize=8, max_retries=0))
        self.session.headers.update(
            {
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Authorization": f"Bearer {credentials.api_token}",
            }
        )

    # ------------------------------------------------------------------ plumbing
    @property
    def base_url(self) -> str:
        """``<origin>/xms/v1/<service_plan_id>``: every path below hangs off this."""
        return f"{self.credentials.endpoint}/v1/{self.credentials.service_plan_id}"

    def __repr__(self) -> str:
        return (
            f"SmsClient(mode={self.mode!r}, service_plan_id="
            f"{self.credentials.service_plan_id!r}, endpoint={self.credentials.endpoint!r})"
        )

    def close(self) -> None:
        self.session.close()

    def _url(self, path: str) -> str:
        return self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        retry: bool | None = None,
    ) -> Any:
        """One API call with retries; returns the decoded JSON (or None for an empty body)."""
        retry = method in _SAFE_METHODS if retry is None else retry
        url = self._url(path)
        attempt = 0
        while True:
            try:
                answer = self.session.request(
                    method, url, json=json_body, params=params, timeout=self.timeout
                )
            except requests.RequestException as exc:
                error = self._connection_error(exc, method, url)
                if attempt < self.retries and (retry or _never_left(exc)):
                    attempt += 1
                    time.sleep(self._delay(attempt, None))
                    continue
                raise error from exc
            if answer.status_code < 400:
                return self._decoded(answer, method, url)
            error = self._api_error(answer, method, url)
            retryable = answer.status_code in _RETRY_STATUSES and (
                retry or answer.status_code == 429
            )
            if retryable and attempt < self.retries:
                attempt += 1
                time.sleep(self._delay(attempt, answer.headers.get("Retry-After")))
                continue
            raise error

    def _decoded(self, answer: requests.Response, method: str, url: str) -> Any:
        if not answer.content:
            return None
        try:
            return _wrap(answer.json())
        except ValueError:
            raise SmsApiError(
                f"HTTP {answer.status_code} but the answer is not JSON "
                f"({answer.headers.get('Content-Type', 'no content type')}).",
                status=answer.status_code,
                method=method,
                url=url,
                hint=f"Something other than the SMS API answered at {self.credentials.origin}. "
                "Check SINCH_BASE_URL: it should look like https://us.sms.api.sinch.com/xms.",
            ) from None

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), _MAX_WAIT)
            except ValueError:
                pass
        return min(self.backoff * 2 ** (attempt - 1), _MAX_WAIT)

    def _where(self) -> str:
        creds = self.credentials
        return f"base URL {creds.origin}" if creds.base_url else f"region '{creds.region}'"

    def _connection_error(self, exc: Exception, method: str, url: str) -> SmsApiError:
        if isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectTimeout):
            return RequestTimeout(
                f"No answer within {self.timeout} s.",
                method=method,
                url=url,
                hint="The API may be slow or the request large; try again, or raise the timeout "
                "with connect(timeout=...). For sends the client already checked whether the "
                "batch arrived.",
            )
        return ConnectionFailed(
            f"Could not reach {self.credentials.origin} ({type(exc).__name__}).",
            method=method,
            url=url,
            hint=f"Check your network and the {self._where()} (SINCH_REGION / SINCH_BASE_URL); "
            "for a sandbox, check that it is running (make sandbox).",
        )

    def _api_error(self, answer: requests.Response, method: str, url: str) -> SmsApiError:
        try:
            body = answer.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code, text = body.get("code"), body.get("text") or answer.reason
        status = answer.status_code
        kind = _ERROR_TYPES.get(status, ServerError if status >= 500 else SmsApiError)
        error = kind(
            f"HTTP {status} from the SMS API" + (f" [{code}]" if code else "") + f": {text}",
            status=status,
            code=code,
            text=text,
            method=method,
            url=url,
            hint=self._hint(status, code, text or ""),
        )
        if isinstance(error, RateLimitedError):
            error.retry_after = _seconds(answer.headers.get("Retry-After"))
        return error

    def _hint(self, status: int, code: str | None, text: str) -> str:
        plan = self.credentials.service_plan_id
        if status == 401:
            return (
                f"Check that the API token belongs to service plan '{plan}' and that the plan "
                f"lives where this request went ({self._where()}): a token only works in its "
                f"own plan's region. Regions: {', '.join(REGIONS)}."
            )
        if status == 404:
            return (
                f"Check the ID in the URL. Batches, groups and inbounds are visible only to the "
                f"service plan that made them ('{plan}', {self._where()})."
            )
        if status == 429:
            return (
                "Too many requests: the client waited and retried as the API asked. Send in "
                "fewer, larger batches (send_bulk) or wait a moment and try again."
            )
        if status >= 500:
            return (
                "The service had a problem; idempotent requests were retried automatically. "
                "Wait a little and try again."
            )
        return _FORBIDDEN_HINTS.get(
            code or "",
            _validation_hint(text)
            if status in (400, 415)
            else "Read the API's text above; it names the problem.",
        )

    # ------------------------------------------------------------------ batches
    def send_batch(
        self,
        to: Sequence[str] | str,
        body: str,
        sender: str | None = None,
        *,
        parameters: Mapping[str, Mapping[str, str]] | None = None,
        client_reference: str | None = None,
        **fields: Any,
    ) -> ApiObject:
        """Send one batch (at most 1000 recipients) and return it, with its ``id``.

        A ``client_reference`` is set when you give none, so that when the answer is lost (a
        timeout, a dropped connection, a 5xx) the client can find out whether the batch was
        accepted instead of sending it twice.
        """
        recipients = [to] if isinstance(to, str) else list(to)
        if self.mode == "live":
            _refuse_fictional(recipients)
        payload = {"to": recipients, "body": body, **fields}
        if sender is not None:
            payload["from"] = sender
        if parameters is not None:
            payload["parameters"] = {k: dict(v) for k, v in parameters.items()}
        payload["client_reference"] = client_reference or f"nb-{uuid.uuid4()}"
        return self._send_once(payload)

    def _send_once(self, payload: dict[str, Any]) -> ApiObject:
        reference = payload["client_reference"]
        started = time.time()
        attempt = 0
        while True:
            try:
                return self.request("POST", "/batches", json_body=payload, retry=False)
            except (RequestTimeout, ConnectionFailed, ServerError) as error:
                if isinstance(error, ConnectionFailed) and _cause_never_left(error):
                    raise
                try:
                    existing = self.find_sent(reference, since=started)
                except SmsApiError as lookup:
                    raise SendOutcomeUnknown(
                        f"The send failed ({error.args[0]}) and checking whether it arrived "
                        f"failed too ({lookup.args[0]}).",
                        method="POST",
                        url=self._url("/batches"),
                        hint=f"Before sending again, look for client_reference '{reference}' "
                        "with client.find_sent(...).",
                    ) from error
                if existing is not None:
                    return existing
                if attempt >= self.retries:
                    raise
                attempt += 1
                time.sleep(self._delay(attempt, None))

    def find_sent(self, client_reference: str, since: float | None = None) -> ApiObject | None:
        """The batch sent with this ``client_reference`` (since ``since``, a Unix time; default
        the last 24 hours), or None when the API has none."""
        since = time.time() - 86400 if since is None else since
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since - 300))
        found = self.request(
            "GET",
            "/batches",
            params={"client_reference": client_reference, "start_date": start, "page_size": 100},
        )
        # Check the reference too: a server that ignores the filter must not hand back a
        # different batch as if it were ours.
        matching = [
            b for b in found.get("batches", []) if b.get("client_reference") == client_reference
        ]
        return matching[0] if matching else None

    def dry_run(
        self,
        to: Sequence[str],
        body: str,
        sender: str | None = None,
        *,
        parameters: Mapping[str, Mapping[str, str]] | None = None,
        per_recipient: bool = True,
        number_of_recipients: int = MAX_BATCH_RECIPIENTS,
        **fields: Any,
    ) -> ApiObject:
        """What the API would send, without sending: parts, encoding and each final text."""
        payload = {"to": list(to), "body": body, **fields}
        if sender is not None:
            payload["from"] = sender
        if parameters is not None:
            payload["parameters"] = {k: dict(v) for k, v in parameters.items()}
        params = {"per_recipient": str(per_recipient).lower()}
        if per_recipient:
            params["number_of_recipients"] = number_of_recipients
        return self.request(
            "POST", "/batches/dry_run", json_body=payload, params=params, retry=True
        )

    def get_batch(self, batch_id: str) -> ApiObject:
        return self.request("GET", f"/batches/{_segment(batch_id)}")

    def list_batches(self, *, page_size: int = 100, **filters: Any) -> Iterator[ApiObject]:
        """Every batch matching the filters (``from``, ``start_date``, ``end_date``,
        ``client_reference``), newest first, fetching page after page as you iterate."""
        yield from self._pages("/batches", "batches", page_size, filters)

    def update_batch(self, batch_id: str, **fields: Any) -> ApiObject:
        """Change a batch that has not been dispatched yet (``to_add``, ``to_remove``,
        ``body``, ``send_at``, ...). ``None`` resets a field to its default."""
        return self.request("POST", f"/batches/{_segment(batch_id)}", json_body=fields, retry=True)

    def replace_batch(
        self, batch_id: str, to: Sequence[str], body: str, sender: str | None = None, **fields
    ) -> ApiObject:
        payload = {"to": list(to), "body": body, **fields}
        if sender is not None:
            payload["from"] = sender
        return self.request("PUT", f"/batches/{_segment(batch_id)}", json_body=payload)

    def cancel_batch(self, batch_id: str) -> ApiObject:
        return self.request("DELETE", f"/batches/{_segment(batch_id)}")

    def send_delivery_feedback(self, batch_id: str, recipients: Sequence[str] = ()) -> None:
        """Tell the API these recipients got the message (``[]`` = all of them)."""
        self.request(
            "POST",
            f"/batches/{_segment(batch_id)}/delivery_feedback",
            json_body={"recipients": list(recipients)},
            retry=True,
        )

    # ------------------------------------------------------------------ delivery reports
    def delivery_report(
        self,
        batch_id: str,
        type: str = "summary",
        status: Sequence[str] | None = None,
        code: Sequence[int] | None = None,
    ) -> ApiObject:
        """The batch's report: counts per status (``summary``) or also the numbers (``full``)."""
        params: dict[str, Any] = {"type": type}
        if status:
            params["status"] = ",".join(status)
        if code:
            params["code"] = ",".join(str(c) for c in code)
        return self.request("GET", f"/batches/{_segment(batch_id)}/delivery_report", params=params)

    def recipient_report(self, batch_id: str, recipient: str) -> ApiObject:
        return self.request(
            "GET", f"/batches/{_segment(batch_id)}/delivery_report/{_segment(recipient)}"
        )

    def list_delivery_reports(self, *, page_size: int = 100, **filters: Any) -> Iterator[ApiObject]:
        """Recipient reports that reached a final status (filters: ``status``, ``code``,
        ``start_date``, ``end_date``, ``client_reference``)."""
        yield from self._pages("/delivery_reports", "delivery_reports", page_size, filters)

    # ------------------------------------------------------------------ inbounds
    def list_inbounds(self, *, page_size: int = 100, **filters: Any) -> Iterator[ApiObject]:
        """Messages your numbers received (filters: ``to``, ``start_date``, ``end_date``)."""
        yield from self._pages("/inbounds", "inbounds", page_size, filters)

    def get_inbound(self, inbound_id: str) -> ApiObject:
        return self.request("GET", f"/inbounds/{_segment(inbound_id)}")

    # ------------------------------------------------------------------ groups
    def create_group(self, name: str | None = None, members: Sequence[str] = (), **fields) -> Any:
        payload = {"members": list(members), **fields}
        if name is not None:
            payload["name"] = name
        return self.request("POST", "/groups", json_body=payload, retry=False)

    def list_groups(self, *, page_size: int = 100) -> Iterator[ApiObject]:
        yield from self._pages("/groups", "groups", page_size, {})

    def get_group(self, group_id: str) -> ApiObject:
        return self.request("GET", f"/groups/{_segment(group_id)}")

    def update_group(self, group_id: str, **fields: Any) -> ApiObject:
        """``add``, ``remove`` (numbers), ``name``, ``add_from_group``, ``remove_from_group``."""
        return self.request("POST", f"/groups/{_segment(group_id)}", json_body=fields, retry=True)

    def replace_group(self, group_id: str, members: Sequence[str], **fields: Any) -> ApiObject:
        payload = {"members": list(members), **fields}
        return self.request("PUT", f"/groups/{_segment(group_id)}", json_body=payload)

    def delete_group(self, group_id: str) -> None:
        self.request("DELETE", f"/groups/{_segment(group_id)}")

    def group_members(self, group_id: str) -> list[str]:
        return list(self.request("GET", f"/groups/{_segment(group_id)}/members"))

    # ------------------------------------------------------------------ paging
    def _pages(
        self, path: str, key: str, page_size: int, filters: Mapping[str, Any]
    ) -> Iterator[ApiObject]:
        params = {k: _query_value(v) for k, v in filters.items() if v is not None}
        page = 0
        while True:
            answer = self.request(
                "GET", path, params={**params, "page": page, "page_size": page_size}
            )
            yield from answer[key]
            if not answer[key] or (page + 1) * page_size >= answer["count"]:
                return
            page += 1

    # ------------------------------------------------------------------ sandbox extras
    @property
    def sandbox_url(self) -> str | None:
        """The sandbox's address in sandbox mode (None in live mode)."""
        return self.credentials.origin if self.mode == "sandbox" else None

    def _sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        if self.sandbox_url is None:
            raise SmsApiError(
                "Phones and replies are a sandbox feature.",
                hint="In live mode, look at your own phone and reply from it.",
            )
        answer = self.session.request(
            method, f"{self.sandbox_url}/sandbox{path}", timeout=self.timeout, **kwargs
        )
        if answer.status_code >= 400:
            raise self._api_error(answer, method, answer.url)
        if answer.headers.get("Content-Type", "").startswith("text/html"):
            return answer.text
        return answer.json() if answer.content else None

    def phone(self, number: str) -> pd.DataFrame:
        """(Sandbox) what a virtual phone shows: messages received and replies sent."""
        messages = self._sandbox(
            "GET",
            f"/handsets/{_segment(number)}",
            params={"plan_id": self.credentials.service_plan_id},
        )
        return frame(messages, ["direction", "from", "to", "body"])

    def show_phones(self, numbers: Sequence[str]) -> Any:
        """(Sandbox) phone screens for these numbers, drawn in the notebook."""
        from IPython.display import HTML

        page = self._sandbox(
            "GET",
            "/phones",
            params={
                "numbers": ",".join(numbers),
                "embed": "true",
                "plan_id": self.credentials.service_plan_id,
            },
        )
        return HTML(page)

    def sandbox_outcomes(self) -> pd.DataFrame:
        """(Sandbox) how the sandbox ends messages to each range of fictional numbers."""
        return frame(self._sandbox("GET", "/outcomes"))

    def sandbox_fault(self, kind: str, **options: Any) -> None:
        """(Sandbox) make the sandbox misbehave on purpose for the next request(s) of this plan:
        ``kind`` is ``status`` (with ``status=503``), ``latency``, ``timeout`` or ``drop``
        (see ``xms_sandbox.faults``); ``method``, ``path``, ``count`` and ``after`` aim it."""
        self._sandbox(
            "POST",
            "/faults",
            json={"kind": kind, "plan_id": self.credentials.service_plan_id, **options},
        )

    def clear_sandbox_faults(self) -> None:
        """(Sandbox) forget every fault still waiting to happen."""
        self._sandbox("DELETE", "/faults")

    def reply_from(self, number: str, body: str) -> ApiObject:
        """(Sandbox) make a phone answer the last message it got: it becomes an inbound."""
        return _wrap(
            self._sandbox(
                "POST",
                f"/handsets/{_segment(number)}/reply",
                json={"body": body, "service_plan_id": self.credentials.service_plan_id},
            )
        )


_FORBIDDEN_HINTS = {
    "missing_callback_url": "You asked for delivery reports to be pushed but gave no "
    "callback_url. Pass callback_url=..., or leave delivery_report unset and poll with "
    "client.delivery_report(batch_id) (or wait_for_delivery).",
    "batch_already_dispatched": "The batch has already left the queue, so it can no longer be "
    "changed. Send a new batch instead (or cancel this one early next time).",
    "unknown_group": "A group ID in 'to' (or in child_groups) does not exist for this service "
    "plan. Create the group first, or check the ID.",
    "conflict_group_name": "Another group already has that name; pick a different name.",
    "syntax_invalid_json": "The body must be a JSON object; the helper functions build it for you.",
}


def _validation_hint(text: str) -> str:
    if re.search(r"'(to|to_add|to_remove|members)\[\d+\]'", text):
        return (
            "Phone numbers must be international: +44 7700 900123 or 447700900123, not "
            "07700 900123. load_recipients(..., default_region='GB') converts them for you."
        )
    if "parameters" in text:
        return (
            "Parameter keys may use A-Z, a-z, 0-9, '_', '.', '-' (up to 16); each value maps a "
            "phone number (or 'default') to text. parameters_from_frame() builds this shape."
        )
    return "The API's text names the field to fix."


def _segment(value: str) -> str:
    """A path segment, escaped (``+`` becomes ``%2B``)."""
    from urllib.parse import quote

    if not isinstance(value, str) or not value:
        raise ValueError("An ID or number is required here.")
    return quote(value, safe="")


def _query_value(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return ",".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _seconds(header: str | None) -> float | None:
    try:
        return float(header) if header else None
    except ValueError:
        return None


def _never_left(exc: Exception) -> bool:
    """True when the request certainly never reached the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc
    while reason is not None:
        name = type(reason).__name__
        if name in ("NewConnectionError", "NameResolutionError", "ConnectionRefusedError"):
            return True
        reason = reason.__context__ or reason.__cause__ or getattr(reason, "reason", None)
        if isinstance(reason, str):
            return False
    return False


def _cause_never_left(error: SmsApiError) -> bool:
    cause = error.__cause__
    return isinstance(cause, Exception) and _never_left(cause)


def _refuse_fictional(recipients: Sequence[str]) -> None:
    fictional = [r for r in recipients if FICTIONAL.fullmatch(re.sub(r"[\s\-()]", "", r))]
    if fictional:
        raise ValidationError(
            f"{len(fictional)} recipient(s) are fictional numbers ({fictional[0]}, ...) that no "
            "phone can receive.",
            hint="In live mode, send to your own numbers: set SINCH_TEST_NUMBERS (comma-separated)"
            " and use my_numbers(). The sample files only work in the sandbox.",
        )


# =============================================================================== live-mode numbers


def my_numbers(client: SmsClient, sandbox_numbers: Sequence[str]) -> list[str]:
    """Who a notebook may send to: the sample numbers in the sandbox; in live mode only the
    numbers you configured as your own in ``SINCH_TEST_NUMBERS`` (empty if none)."""
    if client.mode == "sandbox":
        return list(sandbox_numbers)
    configured = _first(read_settings(), "SINCH_TEST_NUMBERS") or ""
    return [n.strip() for n in configured.split(",") if n.strip()]


def my_sender(client: SmsClient, sandbox_sender: str = "+447700900100") -> str:
    """The sender to use: ``SINCH_FROM`` in live mode, a fictional number in the sandbox."""
    if client.mode == "sandbox":
        return sandbox_sender
    return _first(read_settings(), "SINCH_FROM") or sandbox_sender


def ready_to_send(client: SmsClient, numbers: Sequence[str]) -> bool:
    """False (with an explanation) when a live notebook has nobody it may send to."""
    if numbers:
        return True
    print(
        "Skipping this send: in live mode the notebooks only send to numbers you list as your "
        "own in SINCH_TEST_NUMBERS (and from SINCH_FROM). Set them and run the cell again."
    )
    return False


# =============================================================================== credentials form

_NO_WIDGETS_TEXT = (
    "Credentials form (needs a Jupyter front end with widgets). Without one, set the "
    "environment variables SINCH_SERVICE_PLAN_ID, SINCH_API_TOKEN and SINCH_REGION (or put them "
    "in a .env file, see .env.example) and restart the kernel. With nothing set, the notebooks "
    "use the offline sandbox."
)


class CredentialsForm:
    """An ipywidgets form for the service plan ID, API token and region.

    After **Connect** the token is read into :attr:`credentials` and the password box is
    emptied at once, so neither the notebook file nor saved widget state can hold it. Nothing
    waits for the form: if it is never filled in, :attr:`credentials` stays ``None`` and
    :func:`connect` falls back to the environment, then to the sandbox.
    """

    def __init__(self, base_url: str | None = None) -> None:
        import ipywidgets as widgets

        self.credentials: Credentials | None = None
        self.base_url = base_url
        style = {"description_width": "140px"}
        layout = widgets.Layout(width="460px")
        self.plan = widgets.Text(description="Service plan ID", style=style, layout=layout)
        self.token = widgets.Password(description="API token", style=style, layout=layout)
        self.region = widgets.Dropdown(
            options=list(REGIONS), value="us", description="Region", style=style
        )
        self.button = widgets.Button(description="Connect", button_style="primary", icon="plug")
        self.status = widgets.HTML(value="")
        self.button.on_click(lambda _: self.submit())
        self.box = widgets.VBox([self.plan, self.token, self.region, self.button, self.status])

    def submit(self) -> Credentials | None:
        """Read the fields, forget the token in the widget, and check the credentials."""
        token, self.token.value = self.token.value, ""
        try:
            candidate = Credentials(
                self.plan.value, token, region=self.region.value, base_url=self.base_url
            )
        except CredentialsError as error:
            self._show(False, f"{error.args[0]} {error.hint or ''}")
            return None
        client = SmsClient(candidate, timeout=10, retries=0)
        try:
            client.request("GET", "/batches", params={"page_size": 1})
        except SmsApiError as error:
            self._show(False, f"{error.args[0]}<br>{error.hint or ''}")
            return None
        finally:
            client.close()
        self.credentials = candidate
        self._show(
            True,
            f"Connected to service plan {candidate.service_plan_id} in region "
            f"'{candidate.region}'. Now run <code>connect(form.credentials)</code>.",
        )
        return candidate

    def _show(self, ok: bool, message: str) -> None:
        colour = "#1a7f37" if ok else "#b42318"
        self.status.value = f"<span style='color:{colour}'>{message}</span>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.box._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        return {**bundle, "text/plain": _NO_WIDGETS_TEXT}


def credentials_form(base_url: str | None = None) -> CredentialsForm | None:
    """Show the credentials form; returns it (or None, with instructions, without ipywidgets).

    ``base_url`` (or ``SINCH_BASE_URL``) sends the check somewhere other than the region's
    standard host, for example a workshop's sandbox.
    """
    try:
        return CredentialsForm(base_url or _first(read_settings(), "SINCH_BASE_URL"))
    except ImportError:
        print(_NO_WIDGETS_TEXT)
        return None


# =============================================================================== phone numbers

_IGNORED_IN_NUMBERS = r"[\s\-().\u00a0/]"


# Arrow-backed strings run each regular expression over a whole column in C++ (RE2).
@functools.cache
def _text_dtype() -> pd.StringDtype:
    return pd.StringDtype("pyarrow")


_NUMBER_KINDS = (
    ("mobile", "mobile"),
    ("fixed_line", "landline"),
    ("voip", "VoIP"),
    ("personal_number", "personal"),
    ("toll_free", "toll-free"),
    ("premium_rate", "premium-rate"),
    ("shared_cost", "shared-cost"),
    ("uan", "UAN"),
    ("voicemail", "voicemail"),
    ("pager", "pager"),
)
_KIND_LABELS = ("invalid", *(label for _, label in _NUMBER_KINDS))
_SMS_CAPABLE = frozenset({"mobile", "VoIP", "personal"})
_BAD_FOR_SMS = [i for i, label in enumerate(_KIND_LABELS) if i and label not in _SMS_CAPABLE]


def _matching(numbers: pd.Series, description: Any, general: Any) -> np.ndarray:
    """Which national numbers fit one libphonenumber description (pattern and lengths)."""
    pattern = getattr(description, "national_number_pattern", None)
    if pattern is None or numbers.empty:
        return np.zeros(len(numbers), dtype=bool)
    lengths = [n for n in (description.possible_length or general.possible_length) if n > 0]
    fits = numbers.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
    if lengths:
        fits &= numbers.str.len().isin(lengths).to_numpy(dtype=bool)
    return fits


def _kinds_for_country(national: pd.Series, country_code: int) -> np.ndarray:
    """The kind of each national number as an index into ``_KIND_LABELS`` (0 = invalid), using
    libphonenumber's metadata: one regular expression over the whole column at a time, and
    each number checked only until its kind is known."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    kinds = np.zeros(len(national), dtype=np.int8)
    open_rows = np.arange(len(national))
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        if metadata is None or not open_rows.size:
            continue
        candidates = national.iloc[open_rows]
        general = _matching(candidates, metadata.general_desc, metadata.general_desc)
        rows, candidates = open_rows[general], candidates[general]
        for kind, (attribute, _) in enumerate(_NUMBER_KINDS, start=1):
            if not rows.size:
                break
            found = _matching(candidates, getattr(metadata, attribute), metadata.general_desc)
            kinds[rows[found]] = kind
            rows, candidates = rows[~found], candidates[~found]
        open_rows = np.flatnonzero(kinds == 0)
    return kinds


def normalise_numbers(raw: pd.Series, default_region: str | None = None) -> pd.DataFrame:
    """E.164 numbers and a problem (or NA) for each raw phone number, vectorised.

    International numbers (``+44 7700 900123``, ``0044...``) are read as they are; national ones
    (``07700 900123``) need ``default_region`` (``"GB"``). Numbers in ranges reserved for fiction
    count as valid (they only work in the sandbox).
    """
    import phonenumbers

    text = raw.astype(_text_dtype()).str.strip()
    missing = text.fillna("").eq("")
    problem = pd.Series(pd.NA, index=text.index, dtype=_text_dtype())
    problem = problem.mask(missing, "no phone number")
    # Most files hold tidy "+<digits>" numbers: take those in one pass, work on the rest.
    clean = text.str.fullmatch(r"\+[1-9][0-9]{6,14}").fillna(False).astype(bool)
    digits = text.str[1:].where(clean)
    untidy = ~clean & ~missing
    if untidy.any():
        found, trouble = _read_untidy_numbers(text[untidy], default_region)
        digits = digits.fillna(found)
        problem = problem.fillna(trouble)

    known = [str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE]
    codes = np.full(len(text), None, dtype=object)
    for size in (1, 2, 3):  # country codes are prefix-free: at most one length matches
        head = digits.str[:size]
        hit = head.isin(known).fillna(False).to_numpy(dtype=bool)
        codes[hit] = head[hit].to_numpy(dtype=object)
    unknown = digits.notna().to_numpy(dtype=bool) & (codes == None)  # noqa: E711 (elementwise)
    if unknown.any():
        problem[unknown] = "'" + text[unknown] + "' starts with no known country code"

    fictional = digits.str.fullmatch(FICTIONAL.pattern).fillna(False).to_numpy(dtype=bool)
    kinds = np.full(len(text), -1, dtype=np.int8)  # -1: not looked up (no number, fictional)
    for code in pd.unique(codes[codes != None]):  # noqa: E711 (elementwise)
        rows = (codes == code) & ~fictional
        kinds[rows] = _kinds_for_country(digits[rows].str[len(code) :], int(code))
    e164 = "+" + digits
    invalid = kinds == 0
    if invalid.any():
        problem[invalid] = e164[invalid] + " is not a valid phone number"
    no_sms = np.isin(kinds, _BAD_FOR_SMS)
    if no_sms.any():
        labels = np.array(_KIND_LABELS, dtype=object)[kinds[no_sms]]
        names = pd.Series(labels, index=text.index[no_sms], dtype=_text_dtype())
        problem[no_sms] = e164[no_sms] + " is a " + names + " number: SMS cannot reach it"
    return pd.DataFrame({"e164": e164.where(problem.isna()), "problem": problem})


def _read_untidy_numbers(
    text: pd.Series, default_region: str | None
) -> tuple[pd.Series, pd.Series]:
    """Digits (with country code) and problems for numbers written with spaces, brackets,
    ``00`` or in national form."""
    import phonenumbers

    digits = pd.Series(pd.NA, index=text.index, dtype=_text_dtype())
    problem = pd.Series(pd.NA, index=text.index, dtype=_text_dtype())
    squeezed = text.str.replace(_IGNORED_IN_NUMBERS, "", regex=True)
    plus = squeezed.str.startswith("+").fillna(False).astype(bool)
    double_zero = squeezed.str.startswith("00").fillna(False).astype(bool)
    digits = digits.fillna(squeezed.str[1:].where(plus)).fillna(squeezed.str[2:].where(double_zero))
    national = squeezed[~plus & ~double_zero]
    words = ~national.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
    problem[words[words].index] = "'" + text[words[words].index] + "' is not a phone number"
    national = national[~words]
    if default_region is None:
        problem[national.index] = (
            "'" + text[national.index] + "' has no country code: write it as +<country code>"
            "<number>, or pass default_region (for example 'GB')"
        )
    else:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(default_region.upper())
        if metadata is None:
            raise RecipientsError(
                f"Unknown default_region {default_region!r}: use a two-letter ISO country "
                "code such as 'GB', 'US', 'SE' or 'DE'."
            )
        prefix = metadata.national_prefix or ""
        stripped = national.str.removeprefix(prefix) if prefix else national
        digits[national.index] = str(metadata.country_code) + stripped

    all_digits = digits.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
    garbage = digits.notna() & ~all_digits & problem.isna()
    problem[garbage] = "'" + text[garbage] + "' is not a phone number"
    plausible = digits.str.fullmatch(r"[1-9][0-9]{5,16}").fillna(False).astype(bool)
    wrong_length = all_digits & ~plausible & problem.isna()
    problem[wrong_length] = "+" + digits[wrong_length] + " is not a valid phone number"
    return digits.where(plausible), problem


def _sniff_separator(source: Any, encoding: str) -> tuple[Any, str]:
    """The separator (``,`` ``;`` tab or ``|``) that the header line uses most.

    Returns a source pandas can still read from the start (a path, or the buffer's text).
    """
    if isinstance(source, str | os.PathLike):
        with open(source, encoding=encoding, errors="replace") as handle:
            head = handle.read(65536)
    else:
        text = source.read()
        if isinstance(text, bytes):
            text = text.decode(encoding, errors="replace").removeprefix("\ufeff")
        source, head = io.StringIO(text), text[:65536]
    header = next((line for line in head.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    return source, max(counts, key=counts.get) if any(counts.values()) else ","


def load_recipients(
    path_or_buffer: str | os.PathLike[str] | io.IOBase,
    phone_column: str = "phone",
    default_region: str | None = None,
    *,
    sep: str | None = None,
    encoding: str = "utf-8-sig",
) -> pd.DataFrame:
    """Read a recipients CSV and check every number; no row is dropped.

    Every column is read as text (so ``+`` and leading zeros survive); a byte-order mark, ``;``
    or tab separators and blank lines are handled. The result has the file's columns plus
    ``e164`` (the number in international form), ``valid`` and ``problem`` (what is wrong with
    the row, in words: missing, not a number, no country code, invalid, landline, duplicate).
    The index is the data row number, counting from 1 below the header.
    """
    source, sniffed = _sniff_separator(path_or_buffer, encoding)
    table = pd.read_csv(
        source,
        sep=sep or sniffed,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=True,
        skipinitialspace=True,
        encoding=encoding,
    )
    table.columns = [str(c).strip() for c in table.columns]
    return check_recipients(table, phone_column, default_region)


def check_recipients(
    table: pd.DataFrame, phone_column: str = "phone", default_region: str | None = None
) -> pd.DataFrame:
    """Add ``e164``, ``valid`` and ``problem`` to a frame of recipients (see load_recipients)."""
    if phone_column not in table.columns:
        raise RecipientsError(
            f"No column named {phone_column!r}; the columns are {list(table.columns)}. "
            "Pass phone_column='...' to say which one holds the numbers."
        )
    table = table.copy()
    table.index = pd.RangeIndex(1, len(table) + 1, name="row")
    checked = normalise_numbers(table[phone_column], default_region)
    repeat = checked["e164"].notna() & checked["e164"].duplicated(keep="first")
    if repeat.any():
        first_row = (
            pd.Series(checked.index, index=checked.index)
            .groupby(checked["e164"])
            .transform("first")
            .astype("Int64")
        )
        checked.loc[repeat, "problem"] = (
            "duplicate of row "
            + first_row[repeat].astype(str)
            + " ("
            + checked["e164"][repeat]
            + ")"
        )
        checked.loc[repeat, "e164"] = pd.NA
    table["e164"] = checked["e164"]
    table["valid"] = checked["problem"].isna()
    table["problem"] = checked["problem"]
    return table


def recipients_report(recipients: pd.DataFrame) -> pd.DataFrame:
    """The rows that will not be sent and why; empty when every row is fine."""
    bad = recipients.loc[~recipients["valid"]]
    return bad.drop(columns=["e164", "valid"])


# =============================================================================== parameters

_DERIVED = ("e164", "valid", "problem")


def parameters_from_frame(
    recipients: pd.DataFrame,
    columns: Sequence[str] | Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
    *,
    phone_column: str = "e164",
) -> dict[str, dict[str, str]]:
    """The API's ``parameters``: ``{key: {number: value, ..., "default": ...}}``.

    One key per column (``columns`` may map column names to keys); only valid rows count, and
    missing or blank cells are left out so that the ``default`` applies to those recipients.
    """
    rows = recipients.loc[recipients["valid"]] if "valid" in recipients else recipients
    if columns is None:
        columns = [c for c in recipients.columns if c not in (*_DERIVED, "phone", phone_column)]
    keys = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    defaults = dict(defaults or {})
    numbers = rows[phone_column].astype(_text_dtype())
    every_number = numbers.tolist()  # converted once, reused by every complete column
    result: dict[str, dict[str, str]] = {}
    for column, key in keys.items():
        if not PARAMETER_KEY.fullmatch(key):
            suggestion = re.sub(r"[^A-Za-z0-9_.\-]", "_", key)[:16] or "value"
            raise RecipientsError(
                f"{key!r} cannot be a parameter key (use 1-16 of A-Z a-z 0-9 _ . -). Rename it: "
                f"columns={{{column!r}: {suggestion!r}}}."
            )
        values = rows[column].astype(_text_dtype())
        blank = values.str.isspace().fillna(True).to_numpy(dtype=bool)
        present = (
            values.notna().to_numpy(dtype=bool)
            & ~blank
            & values.ne("").fillna(False).to_numpy(dtype=bool)
        )
        # tolist() converts a whole Arrow column at once; iterating it would go item by item.
        if present.all():
            pairs = zip(every_number, values.tolist(), strict=True)
        else:
            pairs = zip(numbers[present].tolist(), values[present].tolist(), strict=True)
        result[key] = dict(pairs)
        if key in defaults:
            result[key]["default"] = defaults[key]
    unknown = set(defaults) - set(result)
    for key in unknown:
        result[key] = {"default": defaults[key]}
    return result


_PLAIN_INTERNATIONAL = re.compile(r"\+?([0-9]+)")
_IGNORED_PATTERN = re.compile(_IGNORED_IN_NUMBERS)


def _normalised(number: str) -> str:
    """Bare digits, the way the API compares numbers (``+``/``00`` and separators dropped)."""
    plain = _PLAIN_INTERNATIONAL.fullmatch(number)
    if plain and not number.startswith("00"):
        return plain.group(1)
    squeezed = _IGNORED_PATTERN.sub("", str(number))
    if squeezed.startswith("+"):
        return squeezed[1:]
    return squeezed[2:] if squeezed.startswith("00") else squeezed


@functools.cache
def _message_check_type() -> type[pd.DataFrame]:
    """The type of :func:`check_message`'s result, defined on first use: it subclasses a pandas
    type, and pandas is imported only when first needed."""

    class MessageCheck(pd.DataFrame):
        """The problems :func:`check_message` found: a DataFrame that says so when empty."""

        _ALL_CLEAR = "No problems found."

        @property
        def _constructor(self) -> type[pd.DataFrame]:
            return pd.DataFrame  # slices and copies are plain frames

        def __repr__(self) -> str:
            return self._ALL_CLEAR if self.empty else super().__repr__()

        def _repr_html_(self) -> str | None:
            return f"<p>{self._ALL_CLEAR}</p>" if self.empty else super()._repr_html_()

    MessageCheck.__module__, MessageCheck.__qualname__ = __name__, "MessageCheck"
    return MessageCheck


def check_message(
    body: str,
    to: Sequence[str],
    parameters: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Problems to fix before sending, as a table (empty when there are none).

    Finds placeholders with no parameter, parameters the body never uses, per-recipient values
    for numbers that are not recipients, recipients who would get no value and no default (the
    API aborts those with code 405), invalid keys, and bodies or values that are too long.
    """
    parameters = parameters or {}
    problems: list[tuple[str, str, str]] = []
    used = set(PLACEHOLDER.findall(body))
    recipients = {_normalised(n): n for n in to}
    if len(body) > MAX_BODY_LENGTH:
        problems.append(
            (
                "error",
                f"The body is {len(body)} characters; the API allows {MAX_BODY_LENGTH}.",
                "Shorten the message.",
            )
        )
    for match in NEAR_PLACEHOLDER.finditer(body):
        inner = next(g for g in match.groups() if g is not None)
        if match.group(0).startswith("${") and PARAMETER_KEY.fullmatch(inner):
            continue
        problems.append(
            (
                "warning",
                f"{match.group(0)!r} looks like a placeholder but is not "
                "one, so it is sent as written.",
                "Placeholders are written ${key}, with a key of 1-16 letters, digits, "
                "'_', '.' or '-'.",
            )
        )
    for key in sorted(used - set(parameters)):
        problems.append(
            (
                "error",
                f"${{{key}}} has no entry in parameters: every recipient would "
                "be aborted (code 405).",
                f"Add parameters[{key!r}] with values or a 'default'.",
            )
        )
    for key, values in parameters.items():
        if not PARAMETER_KEY.fullmatch(str(key)):
            problems.append(
                ("error", f"{key!r} is not a valid parameter key.", "Use 1-16 of A-Z a-z 0-9 _ . -")
            )
        if key not in used:
            problems.append(
                (
                    "warning",
                    f"parameters[{key!r}] is never used in the body.",
                    f"Add ${{{key}}} to the body, or drop the parameter.",
                )
            )
        strangers = [k for k in values if k != "default" and _normalised(k) not in recipients]
        if strangers:
            problems.append(
                (
                    "warning",
                    f"parameters[{key!r}] has values for {len(strangers)} "
                    f"number(s) not in 'to', e.g. {strangers[0]}.",
                    "Use the same numbers as keys as in 'to' (a typo or an old list?).",
                )
            )
        long_values = [k for k, v in values.items() if len(str(v)) > MAX_PARAMETER_VALUE]
        if long_values:
            problems.append(
                (
                    "error",
                    f"parameters[{key!r}] has values over {MAX_PARAMETER_VALUE} characters.",
                    "Shorten them.",
                )
            )
        if key in used and "default" not in values:
            given = {_normalised(k) for k in values}
            uncovered = [n for d, n in recipients.items() if d not in given]
            if uncovered:
                problems.append(
                    (
                        "error",
                        f"{len(uncovered)} recipient(s) have no value for "
                        f"${{{key}}} and there is no default, e.g. {uncovered[0]}: "
                        "they would be aborted (code 405).",
                        f"Add parameters[{key!r}]['default'], or values for them.",
                    )
                )
    return _message_check_type()(problems, columns=["severity", "problem", "fix"])


class _ParameterIndex:
    """Slices ``parameters`` for each batch of a bulk send at the cost of that batch's recipients.

    Keys are looked up as written first (the usual case: the same ``+44...`` strings as in the
    recipient list); only a miss pays for normalising, against an index built on first need.
    """

    def __init__(self, parameters: Mapping[str, Mapping[str, str]] | None) -> None:
        self.parameters = parameters or {}
        self._by_digits: dict[str, dict[str, tuple[str, str]]] = {}

    def _find(self, key: str, number: str) -> tuple[str, str] | None:
        index = self._by_digits.get(key)
        if index is None:
            values = self.parameters[key]
            index = {_normalised(k): (k, v) for k, v in values.items() if k != "default"}
            self._by_digits[key] = index
        return index.get(_normalised(number))

    def slice(self, numbers: Sequence[str]) -> dict[str, dict[str, str]] | None:
        """The part of ``parameters`` that concerns these recipients (plus every default)."""
        if not self.parameters:
            return None
        sliced = {}
        for key, values in self.parameters.items():
            entry = {}
            for number in numbers:
                if number in values:
                    entry[number] = values[number]
                elif found := self._find(key, number):
                    entry[found[0]] = found[1]
            if "default" in values:
                entry["default"] = values["default"]
            sliced[key] = entry
        return sliced


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _numbers(recipients: pd.DataFrame | pd.Series | Sequence[str]) -> list[str]:
    if isinstance(recipients, pd.DataFrame):
        column = "e164" if "e164" in recipients else "phone"
        rows = recipients.loc[recipients["valid"]] if "valid" in recipients else recipients
        return rows[column].astype(str).tolist()
    if isinstance(recipients, pd.Series):
        return recipients.dropna().astype(str).tolist()
    return [str(n) for n in recipients]


def preview(
    client: SmsClient,
    body: str,
    to: pd.DataFrame | Sequence[str],
    parameters: Mapping[str, Mapping[str, str]] | None = None,
    sender: str | None = None,
) -> pd.DataFrame:
    """Each recipient's final text, encoding and parts, straight from the API's dry run."""
    rows = []
    index = _ParameterIndex(parameters)
    for chunk in _chunks(_numbers(to), MAX_BATCH_RECIPIENTS):
        result = client.dry_run(chunk, body, sender, parameters=index.slice(chunk))
        rows.extend(result.get("per_recipient", []))
    table = frame(rows, ["recipient", "body", "encoding", "number_of_parts"])
    return table.rename(columns={"body": "text", "number_of_parts": "parts"})


# =============================================================================== bulk sending


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """Accepted chunks by fingerprint; a torn last line (a crash mid-write) is ignored."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[entry["fingerprint"]] = entry
    return done


PROGRESS_AFTER = 0.5  # seconds of work before a progress bar is worth drawing


class _Progress:
    """A tqdm progress bar that appears only once the work has taken ``PROGRESS_AFTER`` seconds.

    Quick work (most of it, against the local sandbox) leaves no half-drawn bar behind and does
    not pay the ~0.15 s it takes to import tqdm's notebook widgets.
    """

    def __init__(self, total: int, description: str, enabled: bool = True) -> None:
        self.total, self.description, self.enabled = total, description, enabled
        self.n = 0
        self._started = time.monotonic()
        self._bar: Any = None

    def update(self, count: int) -> None:
        self.n += count
        if self._bar is not None:
            self._bar.update(count)
        elif self.enabled and time.monotonic() - self._started >= PROGRESS_AFTER:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.total, initial=self.n, desc=self.description, unit="msg", leave=True
            )

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.close()


def send_bulk(
    client: SmsClient,
    recipients: pd.DataFrame | pd.Series | Sequence[str],
    body: str,
    sender: str | None = None,
    parameters: Mapping[str, Mapping[str, str]] | None = None,
    batch_size: int = MAX_BATCH_RECIPIENTS,
    journal: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    **fields: Any,
) -> pd.DataFrame:
    """Send to any number of recipients in batches of at most ``batch_size`` (≤ 1000).

    Each batch carries only its recipients' slice of ``parameters``. With a ``journal`` file,
    every accepted batch is recorded as it goes; run the same call again after a crash or an
    interrupt and only the batches not yet accepted are sent. Returns one row per batch.
    """
    if not 1 <= batch_size <= MAX_BATCH_RECIPIENTS:
        raise ValueError(f"batch_size must be 1 to {MAX_BATCH_RECIPIENTS}, not {batch_size}.")
    numbers = _numbers(recipients)
    chunks = _chunks(numbers, batch_size)
    job = _fingerprint(body, sender, numbers, fields)[:12]
    path = Path(journal) if journal is not None else None
    done = _read_journal(path) if path else {}
    resuming = bool(done)
    by_number = _ParameterIndex(parameters)
    rows: list[dict[str, Any]] = []
    with _Progress(len(numbers), "Sending", progress) as bar:
        for index, chunk in enumerate(chunks, start=1):
            sliced = by_number.slice(chunk)
            fingerprint = _fingerprint(job, index, chunk, sliced)
            reference = f"bulk-{job}-{index}"
            entry = done.get(fingerprint)
            state = "already sent"
            if entry is None:
                try:
                    # After a crash a batch may have been accepted but not journaled yet.
                    batch = client.find_sent(reference) if resuming else None
                    if batch is None:
                        batch = client.send_batch(
                            chunk,
                            body,
                            sender,
                            parameters=sliced,
                            client_reference=reference,
                            **fields,
                        )
                        state = "sent"
                except SmsApiError as error:
                    raise _interrupted(error, rows, index, len(chunks), path) from error
                entry = {
                    "fingerprint": fingerprint,
                    "batch": index,
                    "batch_id": batch["id"],
                    "recipients": len(chunk),
                    "client_reference": reference,
                }
                if path is not None:
                    with path.open("a", encoding="utf-8") as handle:
                        handle.write(json.dumps(entry) + "\n")
                        handle.flush()
                        os.fsync(handle.fileno())
            rows.append(
                {
                    **{
                        k: entry[k] for k in ("batch", "batch_id", "recipients", "client_reference")
                    },
                    "state": state,
                }
            )
            bar.update(len(chunk))
    return frame(rows, ["batch", "recipients", "batch_id", "client_reference", "state"])


def _interrupted(
    error: SmsApiError, rows: list[dict], index: int, total: int, path: Path | None
) -> BulkSendInterrupted:
    again = (
        (
            f"Run the same send_bulk call again with journal={str(path)!r}: batches already "
            "accepted are skipped."
        )
        if path
        else ("Pass journal='bulk.jsonl' so that a rerun skips the batches already accepted.")
    )
    stopped = BulkSendInterrupted(
        f"Batch {index} of {total} failed: {error.args[0]}",
        status=error.status,
        code=error.code,
        text=error.text,
        method=error.method,
        url=error.url,
        hint=f"{error.hint or ''} {again}".strip(),
    )
    stopped.sent = frame(rows, ["batch", "recipients", "batch_id", "client_reference", "state"])
    return stopped


# =============================================================================== delivery


def _final_count(report: Mapping[str, Any]) -> int:
    return sum(s["count"] for s in report.get("statuses", []) if s["status"] in FINAL_STATUSES)


def wait_for_delivery(
    client: SmsClient,
    batch_id: str,
    timeout: float = 60.0,
    poll_interval: float = 2.0,
    progress: bool = True,
) -> ApiObject:
    """Poll the batch's report until every recipient has a final status or ``timeout`` passes.

    The first polls come quickly (a local sandbox finishes in a fraction of a second) and the
    pause doubles up to ``poll_interval`` seconds, so a long wait on the live API stays polite.
    Prints which of the two happened and returns the last summary report; its ``finished``
    attribute is True when every recipient reached a final status.
    """
    deadline = time.monotonic() + timeout
    pause = min(0.025, poll_interval)
    report = client.delivery_report(batch_id)
    total = report["total_message_count"]
    with _Progress(total, "Final", progress) as bar:
        while True:
            final = _final_count(report)
            bar.update(final - bar.n)
            if final >= total or time.monotonic() >= deadline:
                break
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, poll_interval)
            report = client.delivery_report(batch_id)
    finished = final >= total
    report.finished = finished
    if finished:
        print(f"All {total} recipient(s) of batch {batch_id} reached a final status.")
    else:
        waiting = ", ".join(
            f"{s['count']} {s['status']}"
            for s in report["statuses"]
            if s["status"] not in FINAL_STATUSES
        )
        print(
            f"Stopped waiting after {timeout:g} s: {total - final} of {total} recipient(s) "
            f"still in progress ({waiting}). Call wait_for_delivery again to keep waiting."
        )
    return report


def delivery_frame(report: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Delivery reports as a table.

    A ``full`` batch report gives one row per recipient; a summary gives one row per status; a
    list of recipient reports (``list_delivery_reports``) gives one row per report.
    """
    if isinstance(report, Mapping):
        if report.get("type") == "recipient_delivery_report_sms":
            return delivery_frame([report])
        statuses = report.get("statuses", [])
        if not statuses or any("recipients" in status for status in statuses):
            rows = [
                {
                    "batch_id": report["batch_id"],
                    "recipient": number,
                    "status": status["status"],
                    "code": status["code"],
                }
                for status in statuses
                for number in status.get("recipients", [])
            ]
            return frame(rows, ["batch_id", "recipient", "status", "code"])
        rows = [
            {
                "batch_id": report["batch_id"],
                "status": status["status"],
                "code": status["code"],
                "count": status["count"],
            }
            for status in statuses
        ]
        return frame(rows, ["batch_id", "status", "code", "count"])
    columns = ["batch_id", "recipient", "status", "code", "at"]
    return frame(report, columns)


STATUS_COLOURS = {
    "Delivered": "#2e7d32",
    "Dispatched": "#64b5f6",
    "Queued": "#bdbdbd",
    "Failed": "#c62828",
    "Expired": "#ef6c00",
    "Rejected": "#8e24aa",
    "Aborted": "#6d4c41",
    "Cancelled": "#757575",
    "Deleted": "#455a64",
    "Unknown": "#fbc02d",
}


def _status_counts(report: Any) -> list[tuple[str, int]]:
    """(status, recipients) pairs, most common first, from a report or a delivery frame."""
    table = report if isinstance(report, pd.DataFrame) else delivery_frame(report)
    if "status" not in table:
        raise ValueError(
            "plot_delivery needs a delivery report (client.delivery_report(...)) or a table "
            f"from delivery_frame(); this table has no 'status' column: {list(table.columns)}."
        )
    if "count" in table:
        counts = table.groupby("status")["count"].sum()
    else:
        counts = table["status"].value_counts()
    return sorted(((str(s), int(n)) for s, n in counts.items()), key=lambda p: (-p[1], p[0]))


@dataclass(frozen=True)
class StatusChart:
    """Recipients per status as a horizontal bar chart.

    Jupyter draws it as SVG; anywhere else (a terminal, a test, a stored notebook's plain-text
    output) it prints as text bars. It needs no plotting library, so it costs nothing to import.
    """

    counts: tuple[tuple[str, int], ...]
    title: str = "Delivery status"

    _ROW = 26  # pixels per bar
    _LABEL = 100  # pixels for the status names
    _BARS = 360  # pixels for the longest bar

    def __repr__(self) -> str:
        if not self.counts:
            return f"{self.title}\n(no recipients)"
        widest = max(len(status) for status, _ in self.counts)
        most = max(n for _, n in self.counts) or 1
        lines = [self.title]
        for status, n in self.counts:
            bar = "█" * max(1 if n else 0, round(30 * n / most))
            lines.append(f"{status:<{widest}}  {bar} {n}" if bar else f"{status:<{widest}}  {n}")
        return "\n".join(lines)

    def _repr_svg_(self) -> str:
        from html import escape

        most = max((n for _, n in self.counts), default=0) or 1
        top = 34
        height = top + self._ROW * max(1, len(self.counts)) + 8
        width = self._LABEL + self._BARS + 60
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="13">',
            '<rect width="100%" height="100%" fill="white"/>',  # readable on dark themes too
            f'<text x="{self._LABEL}" y="20" font-weight="bold">{escape(self.title)}</text>',
        ]
        for row, (status, n) in enumerate(self.counts):
            y = top + row * self._ROW
            length = max(1.0, self._BARS * n / most) if n else 0.0
            colour = STATUS_COLOURS.get(status, "#90a4ae")
            parts += [
                f'<text x="{self._LABEL - 8}" y="{y + 16}" text-anchor="end">'
                f"{escape(status)}</text>",
                f'<rect x="{self._LABEL}" y="{y + 3}" width="{length:.1f}" height="{self._ROW - 6}"'
                f' fill="{colour}"/>',
                f'<text x="{self._LABEL + length + 6:.1f}" y="{y + 16}">{n}</text>',
            ]
        parts.append("</svg>")
        return "\n".join(parts)


def plot_delivery(report: Any, title: str = "Delivery status") -> StatusChart:
    """A bar chart of recipients per status, from a report or a :func:`delivery_frame`.

    For a chart of your own, start from the same numbers:
    ``delivery_frame(report)["status"].value_counts().plot.barh()`` (needs matplotlib).
    """
    return StatusChart(tuple(_status_counts(report)), title)
