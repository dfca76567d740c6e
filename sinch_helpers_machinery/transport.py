"""HTTP to the SMS API: a keep-alive session, retries with backoff, typed errors with hints.
Sending a batch exactly once builds on it, in :mod:`.exactly_once`. Each call to the API
leaves a :class:`WireRequest` behind (``transport.last_request``): the request as it was sent,
the token masked, to read as an HTTP message or as a ``curl`` command.

The token never leaves the session's headers: errors are never chained to the exceptions of
requests and urllib3 (whose frames hold those headers), and keyword arguments the API does not
document are refused before anything is sent (:func:`known_fields`)."""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import shlex
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from .api_facts import REQUEST_FIELDS
from .api_objects import ApiObject, wrap
from .errors import (
    ConnectionFailed,
    CredentialsError,
    RateLimitedError,
    RequestTimeout,
    SmsApiError,
    error_type,
    hint_for,
)
from .settings import BEARER_PREFIX, Secret, malformed, mask

SAFE_METHODS = frozenset({"GET", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_WAIT = 30.0  # seconds: the longest pause between two attempts, whatever Retry-After says
MAX_REASON = 300  # characters of a library's reason kept in a message
#: The helpers whose ``**fields`` (or ``**filters``) go to the API, and the names each takes:
#: those the API documents for its request. send_bulk numbers each batch's client_reference.
HELPER_FIELDS: dict[str, frozenset[str]] = {
    "send_batch": REQUEST_FIELDS["POST /batches"],
    "dry_run": REQUEST_FIELDS["POST /batches/dry_run"],
    "replace_batch": REQUEST_FIELDS["PUT /batches/{id}"],
    "update_batch": REQUEST_FIELDS["POST /batches/{id}"],
    "list_batches": REQUEST_FIELDS["GET /batches"],
    "list_delivery_reports": REQUEST_FIELDS["GET /delivery_reports"],
    "list_inbounds": REQUEST_FIELDS["GET /inbounds"],
    "create_group": REQUEST_FIELDS["POST /groups"],
    "replace_group": REQUEST_FIELDS["PUT /groups/{id}"],
    "update_group": REQUEST_FIELDS["POST /groups/{id}"],
    "send_bulk": REQUEST_FIELDS["POST /batches"] - {"to", "client_reference"},
}
#: Exceptions of an HTTP exchange that got no answer: requests' own, and the UnicodeError that
#: http.client raises for a header it cannot encode (which requests lets through).
NO_ANSWER = (requests.RequestException, UnicodeError)
#: Headers a WireRequest leaves out: they describe the client and the connection (requests adds
#: most of them itself, and their values change with its version), not what is asked of the API.
UNSHOWN_HEADERS = frozenset({"user-agent", "accept-encoding", "connection", "content-length"})

T = TypeVar("T")


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


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request to the API as it was sent, the token masked: ``print()`` shows it as an
    HTTP message (method and URL, headers, JSON body), :meth:`as_curl` as a ``curl`` command.

    ``headers`` are those that say what is asked of the API (``User-Agent`` and the connection's
    own are left out); ``content`` is the body's bytes as sent, ``body`` the same decoded.

    >>> wire = WireRequest(
    ...     "POST",
    ...     "https://us.sms.api.sinch.com/xms/v1/my-plan/batches",
    ...     {"Authorization": "Bearer …cdef", "Content-Type": "application/json"},
    ...     b'{"to": ["+447700900001"], "body": "Hi!"}',
    ... )
    >>> print(wire)
    POST https://us.sms.api.sinch.com/xms/v1/my-plan/batches
    Authorization: Bearer …cdef
    Content-Type: application/json
    <BLANKLINE>
    {
      "to": [
        "+447700900001"
      ],
      "body": "Hi!"
    }
    >>> print(wire.as_curl())
    curl -X POST https://us.sms.api.sinch.com/xms/v1/my-plan/batches \\
      -H "Authorization: Bearer $SINCH_API_TOKEN" \\
      -H 'Content-Type: application/json' \\
      --data-raw '{"to": ["+447700900001"], "body": "Hi!"}'
    """

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes | None = field(default=None, repr=False)

    @classmethod
    def of(cls, prepared: requests.PreparedRequest) -> WireRequest:
        """The record of a request requests prepared, its Authorization header masked."""
        headers = {
            name: masked_header(name, str(value))
            for name, value in prepared.headers.items()
            if name.lower() not in UNSHOWN_HEADERS
        }
        content = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        return cls(str(prepared.method), str(prepared.url), headers, content)

    @property
    def body(self) -> Any:
        """The JSON body decoded (dicts and lists), its text when it is not JSON, or None."""
        if not self.content:
            return None
        text = self.content.decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except ValueError:
            return text

    def __str__(self) -> str:
        lines = [f"{self.method} {self.url}", *(f"{k}: {v}" for k, v in self.headers.items())]
        body = self.body
        if body is not None:
            shown = (
                body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False)
            )
            lines += ["", shown]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # noqa: ARG002 (IPython's API)
        """How IPython shows it at the end of a cell: as :meth:`__str__` writes it."""
        printer.text(str(self))

    def as_curl(self, token_variable: str | None = "SINCH_API_TOKEN") -> str:
        """The request as a ``curl`` command for a POSIX shell (bash, zsh). The token is never in
        it: it reads ``$SINCH_API_TOKEN`` (``token_variable``), or shows the masked token when
        ``token_variable`` is None. The body is the same JSON, on one line.

        >>> print(WireRequest("GET", "https://h/xms/v1/p/batches?page=0&page_size=1", {}).as_curl())
        curl -X GET 'https://h/xms/v1/p/batches?page=0&page_size=1'
        """
        if token_variable is not None and not token_variable.isidentifier():
            raise ValueError(f"Not a shell variable name: {token_variable!r}")
        parts = [f"curl -X {self.method} {shlex.quote(self.url)}"]
        for name, value in self.headers.items():
            if name.lower() == "authorization" and token_variable:
                parts.append(f'-H "{name}: Bearer ${token_variable}"')
            else:
                parts.append(f"-H {shlex.quote(f'{name}: {value}')}")
        body = self.body
        if body is not None:
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
            parts.append(f"--data-raw {shlex.quote(text)}")
        return " \\\n  ".join(parts)


def masked_header(name: str, value: str) -> str:
    """A header's value fit to show: an Authorization header's token masked.

    >>> masked_header("Authorization", "Bearer 0123456789abcdef")
    'Bearer …cdef'
    """
    if name.lower() != "authorization":
        return value
    prefix = BEARER_PREFIX.match(value)
    return value[: prefix.end()] + mask(value[prefix.end() :]) if prefix else mask(value)


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
        # Sent as it is: checked as it is (Credentials are, but a plan made by hand may not be).
        problem = malformed(credentials.api_token, "API token", stripped=False)
        if problem is not None:
            raise problem
        self.credentials = credentials
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        #: The setting that chose where requests go, named in hints about reaching it.
        self.address_setting = "SINCH_REGION / SINCH_BASE_URL"
        #: The last request to the API, token masked (None before the first, or when the last
        #: one could not be sent at all); the sandbox's own /sandbox/ routes are not recorded.
        self.last_request: WireRequest | None = None
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_maxsize=8, max_retries=0))
        self.session.mount("https://", HTTPAdapter(pool_maxsize=8, max_retries=0))
        self.session.headers.update(
            {
                "User-Agent": user_agent,
                "Accept": "application/json",
                # A Secret: masked in the reprs of requests' and urllib3's frames too.
                "Authorization": Secret(f"Bearer {credentials.api_token}"),
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
                answer = self.exchange(method, url, json=json_body, params=params)
            except ConnectionFailed as error:
                if attempt < self.retries and (retry or error.never_left):
                    attempt += 1
                    time.sleep(self.delay(attempt, None))
                    continue
                raise
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

    def exchange(self, method: str, url: str, **options: Any) -> requests.Response:
        """One HTTP request (``options`` as for ``requests``) and its answer, whatever the status;
        ConnectionFailed (or RequestTimeout) when no answer came.

        The library's exception is turned into ours and dropped, not chained: its frames hold
        the request's headers, token included, and a chained traceback (IPython's verbose mode
        prints every frame's variables) would carry them into a saved notebook.
        """
        options.setdefault("timeout", self.timeout)
        try:
            answer = self.session.request(method, url, **options)
        except NO_ANSWER as exc:
            self.remember(url, getattr(exc, "request", None))
            failure = self.connection_error(exc, method, url)
        else:
            self.remember(url, answer.request)
            return answer
        raise failure  # out here, so that the library's exception is not its __context__

    def remember(self, url: str, prepared: requests.PreparedRequest | None) -> None:
        """Keep the record of a request to the API (``prepared`` is None when requests could
        not even build it); only the bytes already made are kept, so a large send costs
        nothing more."""
        if url.startswith(self.base_url):
            self.last_request = WireRequest.of(prepared) if prepared is not None else None

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
            pass  # raised below, so that the decoder's exception is not chained
        raise SmsApiError(
            f"HTTP {answer.status_code} but the answer is not JSON "
            f"({answer.headers.get('Content-Type', 'no content type')}).",
            status=answer.status_code,
            method=method,
            url=url,
            hint=f"Something other than the SMS API answered at {self.credentials.origin}. "
            "Check SINCH_BASE_URL: it should look like https://us.sms.api.sinch.com/xms.",
        )

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before attempt number ``attempt`` (from 1)."""
        asked = seconds(retry_after)
        if asked is not None:
            return min(asked, MAX_WAIT)
        return min(self.backoff * 2 ** (attempt - 1), MAX_WAIT)

    def connection_error(self, exc: Exception, method: str, url: str) -> SmsApiError:
        """The typed error for a request that got no HTTP answer; its message keeps the
        library's exception type and reason (the token masked), not the exception itself."""
        header_problem = self.authorization_problem()
        if header_problem is not None:  # requests refused the header, or could not encode it
            return header_problem
        reason = failure_reason(exc, self.secrets())
        if isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectTimeout):
            return RequestTimeout(
                f"No answer within {self.timeout} s ({reason}).",
                method=method,
                url=url,
                hint="The API may be slow or the request large; try again, or raise the timeout "
                "with connect(timeout=...). For sends the client already checked whether the "
                "batch arrived.",
            )
        error = ConnectionFailed(
            f"Could not reach {self.credentials.origin} ({reason}).",
            method=method,
            url=url,
            hint=f"Check your network and the {self.where} ({self.address_setting}); "
            + (
                "check that the room's sandbox is running (ask the instructor)."
                if self.address_setting == "SINCH_SANDBOX_URL"
                else "for a sandbox, check that it is running (make sandbox)."
            ),
        )
        error.never_left = never_left(exc)
        return error

    def authorization_problem(self) -> CredentialsError | None:
        """The error for an Authorization header that cannot be sent as it is (a line break or
        an invisible character in the token, put there after the checks), or None."""
        header = str(self.session.headers.get("Authorization") or "")
        prefix = BEARER_PREFIX.match(header)
        return malformed(header[prefix.end() :] if prefix else header, "API token", stripped=False)

    def secrets(self) -> list[str]:
        """The token and the Authorization header, as far as this client knows them."""
        header = self.session.headers.get("Authorization")
        return [s for s in (self.credentials.api_token, header) if isinstance(s, str) and s]

    def api_error(self, answer: requests.Response, method: str, url: str) -> SmsApiError:
        """The typed error for an HTTP error answer, with the API's code and text."""
        try:
            body = answer.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code, text = body.get("code"), body.get("text") or answer.reason
        text = scrubbed(str(text), self.secrets()) if text else text  # never echo a token
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
        shared = self.address_setting == "SINCH_SANDBOX_URL"
        return hint_for(
            status,
            code,
            text,
            plan=self.credentials.service_plan_id,
            where=self.where,
            retries=self.retries,
            shared_sandbox=self.credentials.origin if shared else None,
        )


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


def known_fields(target: T) -> T:
    """Make the helpers listed in :data:`HELPER_FIELDS` refuse keyword arguments the API does
    not document, before anything is sent: a class's methods (those it has), or one function.

    ``TypeError: send_batch() got an unexpected keyword argument 'sendat'. Did you mean
    'send_at'?`` beats a batch that silently goes out at once.

    >>> @known_fields
    ... def list_batches(*, page_size=100, **filters): return filters
    >>> list_batches(start_dat="2025-01-01")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: list_batches() got ... argument 'start_dat'. Did you mean 'start_date'?
    """
    if not isinstance(target, type):
        return checking_fields(target)  # type: ignore[arg-type, return-value]
    for name in HELPER_FIELDS.keys() & vars(target).keys():
        setattr(target, name, checking_fields(vars(target)[name]))
    return target


def checking_fields(helper: Callable[..., T]) -> Callable[..., T]:
    """``helper``, checking the names in its ``**fields`` against :data:`HELPER_FIELDS`."""
    name, allowed = helper.__name__, HELPER_FIELDS[helper.__name__]
    own = [
        p.name
        for p in inspect.signature(helper).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]

    @functools.wraps(helper)
    def checked(*args: Any, **kwargs: Any) -> T:
        unknown = [key for key in kwargs if key not in allowed and key not in own]
        if unknown:
            raise TypeError(unknown_keyword(name, unknown[0], allowed, own))
        return helper(*args, **kwargs)

    return checked


def unknown_keyword(helper: str, key: str, allowed: Collection[str], own: Iterable[str]) -> str:
    """Python's own message for an unknown keyword, plus the closest valid name (or them all).

    >>> unknown_keyword("send_batch", "sendat", {"send_at", "expire_at"}, ["sender"])
    "send_batch() got an unexpected keyword argument 'sendat'. Did you mean 'send_at'?"
    """
    message = f"{helper}() got an unexpected keyword argument '{key}'."
    close = difflib.get_close_matches(key, sorted({*allowed, *own}), n=1)
    if close:
        return f"{message} Did you mean '{close[0]}'?"
    return f"{message} The API documents these fields for it: {', '.join(sorted(allowed))}."


def failure_reason(exc: BaseException, secrets: Iterable[str]) -> str:
    """``Type: reason`` for a library's exception: its type and the innermost reason in its
    chain (urllib3 nests three deep), any secret in it masked, at most MAX_REASON characters.

    >>> failure_reason(ConnectionError("[Errno 111] Connection refused"), [])
    'ConnectionError: [Errno 111] Connection refused'
    """
    reason: Any = exc
    texts = [str(exc)]
    for _ in range(10):  # a chain is short; the bound guards against a cycle
        reason = reason.__cause__ or reason.__context__ or getattr(reason, "reason", None)
        if not isinstance(reason, BaseException):
            break
        texts.append(str(reason))
    text = next((t for t in reversed(texts) if t.strip()), "no reason given")
    text = scrubbed(text, secrets)
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 1] + "…"
    return f"{type(exc).__name__}: {text}"


def scrubbed(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret masked, written as it is or as a repr writes it (a line
    break as backslash-n, say).

    >>> scrubbed("header value: 'Bearer 0123456789abcdef'", ["0123456789abcdef"])
    "header value: 'Bearer …cdef'"
    """
    for secret in sorted(secrets, key=len, reverse=True):
        for form in (secret, repr(secret)[1:-1]):
            text = text.replace(form, mask(secret))
    return text


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
    """True when the error shows the request never reached the server (no connection was
    made): worked out from the library's exception when it was caught, as that is not kept."""
    return isinstance(error, ConnectionFailed) and error.never_left
