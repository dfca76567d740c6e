"""HTTP to the SMS API: a keep-alive session, retries with backoff, typed errors with hints.
Sending a batch exactly once builds on it, in :mod:`.exactly_once`."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from .api_objects import ApiObject, wrap
from .errors import (
    ConnectionFailed,
    RateLimitedError,
    RequestTimeout,
    SmsApiError,
    error_type,
    hint_for,
)

SAFE_METHODS = frozenset({"GET", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_WAIT = 30.0  # seconds: the longest pause between two attempts, whatever Retry-After says


class PlanCredentials(Protocol):
    """What the transport needs to know about a plan (``sinch_helpers.Credentials`` is one)."""

    @property
    def service_plan_id(self) -> str: ...
    @property
    def api_token(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def origin(self) -> str: ...
    @property
    def endpoint(self) -> str: ...


class XmsTransport:
    """One service plan's HTTP session: every call goes through :meth:`request`.

    Idempotent calls are retried on 429/502/503/504 and connection errors with exponential
    backoff that honours ``Retry-After``; other calls only when the request certainly never
    reached the server. The token goes into the session's headers and nowhere else: no message,
    repr or log line shows it.

    >>> transport = XmsTransport(credentials, timeout=10, retries=3)  # doctest: +SKIP
    >>> transport.request("GET", "/batches", params={"page_size": 1})  # doctest: +SKIP
    """

    def __init__(
        self,
        credentials: PlanCredentials,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        user_agent: str = "sinch-sms-notebooks",
    ) -> None:
        self.credentials = credentials
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        #: The setting that chose where requests go, named in hints about reaching it.
        self.address_setting = "SINCH_REGION / SINCH_BASE_URL"
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_maxsize=8, max_retries=0))
        self.session.mount("https://", HTTPAdapter(pool_maxsize=8, max_retries=0))
        self.session.headers.update(
            {
                "User-Agent": user_agent,
                "Accept": "application/json",
                "Authorization": f"Bearer {credentials.api_token}",
            }
        )

    @property
    def base_url(self) -> str:
        """``<origin>/xms/v1/<service_plan_id>``: every path below hangs off this."""
        return f"{self.credentials.endpoint}/v1/{self.credentials.service_plan_id}"

    @property
    def where(self) -> str:
        """Where requests go, in words: ``region 'us'`` or ``base URL http://...``."""
        creds = self.credentials
        return f"base URL {creds.origin}" if creds.base_url else f"region '{creds.region}'"

    def close(self) -> None:
        self.session.close()

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
        retry = method in SAFE_METHODS if retry is None else retry
        url = self.base_url + path
        if params is not None:  # None drops a filter; lists go comma-separated
            params = {k: query_value(v) for k, v in params.items() if v is not None}
        attempt = 0
        while True:
            try:
                answer = self.session.request(
                    method, url, json=json_body, params=params, timeout=self.timeout
                )
            except requests.RequestException as exc:
                error = self.connection_error(exc, method, url)
                if attempt < self.retries and (retry or never_left(exc)):
                    attempt += 1
                    time.sleep(self.delay(attempt, None))
                    continue
                raise error from exc
            if answer.status_code < 400:
                return self.decoded(answer, method, url)
            status = answer.status_code
            # A 429 was refused before any work, so even a send may be tried again.
            retryable = status in RETRY_STATUSES and (retry or status == 429)
            if retryable and attempt < self.retries:
                attempt += 1
                time.sleep(self.delay(attempt, answer.headers.get("Retry-After")))
                continue
            raise self.api_error(answer, method, url)

    def find_sent(self, client_reference: str, since: float | None = None) -> ApiObject | None:
        """The batch sent with this ``client_reference`` since ``since`` (a Unix time; default
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
        batches = found.get("batches", [])
        matching = [b for b in batches if b.get("client_reference") == client_reference]
        return matching[0] if matching else None

    def pages(
        self, path: str, key: str, page_size: int, filters: Mapping[str, Any]
    ) -> Iterator[ApiObject]:
        """Every item of a paged list (``GET path``), fetching the next page only when needed."""
        params = dict(filters)
        page = 0
        while True:
            answer = self.request(
                "GET", path, params={**params, "page": page, "page_size": page_size}
            )
            yield from answer[key]
            if not answer[key] or (page + 1) * page_size >= answer["count"]:
                return
            page += 1

    def decoded(self, answer: requests.Response, method: str, url: str) -> Any:
        """The answer's JSON as ApiObjects; a clear error when something else answered."""
        if not answer.content:
            return None
        try:
            return wrap(answer.json())
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

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before attempt number ``attempt`` (from 1)."""
        asked = seconds(retry_after)
        if asked is not None:
            return min(asked, MAX_WAIT)
        return min(self.backoff * 2 ** (attempt - 1), MAX_WAIT)

    def connection_error(self, exc: Exception, method: str, url: str) -> SmsApiError:
        """The typed error for a request that got no HTTP answer."""
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
            hint=f"Check your network and the {self.where} ({self.address_setting}); "
            + (
                "check that the room's sandbox is running (ask the instructor)."
                if self.address_setting == "SINCH_SANDBOX_URL"
                else "for a sandbox, check that it is running (make sandbox)."
            ),
        )

    def api_error(self, answer: requests.Response, method: str, url: str) -> SmsApiError:
        """The typed error for an HTTP error answer, with the API's code and text."""
        try:
            body = answer.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code, text = body.get("code"), body.get("text") or answer.reason
        status = answer.status_code
        error = error_type(status)(
            f"HTTP {status} from the SMS API" + (f" [{code}]" if code else "") + f": {text}",
            status=status,
            code=code,
            text=text,
            method=method,
            url=url,
            hint=self.hint(status, code, text or ""),
        )
        if isinstance(error, RateLimitedError):
            error.retry_after = seconds(answer.headers.get("Retry-After"))
        return error

    def hint(self, status: int, code: str | None, text: str) -> str:
        """What to do about an error answer, for this plan and where it lives."""
        plan = self.credentials.service_plan_id
        if status == 401 and self.address_setting == "SINCH_SANDBOX_URL":
            return (
                f"The shared sandbox at {self.credentials.origin} (SINCH_SANDBOX_URL) keeps the "
                f"token plan '{plan}' was first used with, and this is not it. Pick a plan name "
                "of your own with SINCH_SANDBOX_PLAN (or the instructor can give this plan your "
                "token)."
            )
        return hint_for(status, code, text, plan=plan, where=self.where, retries=self.retries)


def batch_payload(
    to: list[str],
    body: str,
    sender: str | None,
    parameters: Mapping[str, Mapping[str, str]] | None,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON of a text batch as the API names its fields (``from``, not ``sender``).

    >>> batch_payload(["+447700900001"], "Hi", "Co", None, {})
    {'to': ['+447700900001'], 'body': 'Hi', 'from': 'Co'}
    """
    payload: dict[str, Any] = {"to": to, "body": body, **fields}
    if sender is not None:
        payload["from"] = sender
    if parameters is not None:
        payload["parameters"] = {k: dict(v) for k, v in parameters.items()}
    return payload


def segment(value: str) -> str:
    """A path segment, escaped (``+`` becomes ``%2B``).

    >>> segment("+447700900001")
    '%2B447700900001'
    """
    if not isinstance(value, str) or not value:
        raise ValueError("An ID or number is required here.")
    return quote(value, safe="")


def query_value(value: Any) -> Any:
    """A filter value as the query string wants it: lists comma-joined, dates in ISO form."""
    if isinstance(value, list | tuple | set):
        return ",".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def seconds(header: str | None) -> float | None:
    """A ``Retry-After`` header in seconds, or None when absent or not a number."""
    try:
        return float(header) if header else None
    except ValueError:
        return None


def never_left(exc: BaseException) -> bool:
    """True when the request certainly never reached the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason: Any = exc
    while reason is not None:
        name = type(reason).__name__
        if name in ("NewConnectionError", "NameResolutionError", "ConnectionRefusedError"):
            return True
        reason = reason.__context__ or reason.__cause__ or getattr(reason, "reason", None)
        if isinstance(reason, str):
            return False
    return False


def cause_never_left(error: SmsApiError) -> bool:
    """True when the error's cause shows the request never reached the server."""
    cause = error.__cause__
    return isinstance(cause, Exception) and never_left(cause)
