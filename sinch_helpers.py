"""Helpers for the "Sending SMS with Python" notebooks: one import for the whole tutorial.

Read it top to bottom, in the tutorial's order:

1. Credentials: :class:`Credentials`, :func:`load_credentials` (environment and ``.env``) and
   :func:`credentials_form` (a form that never keeps the token in the notebook).
2. Connect and the client: :func:`connect` returns an :class:`SmsClient`, live with credentials,
   otherwise the offline sandbox (``xms_sandbox``), so every notebook runs with no account.
3. Recipients and parameters: :func:`load_recipients`, :func:`parameters_from_frame`,
   :func:`check_message`, :func:`preview`.
4. Send: one batch is ``client.send_batch`` (step 2); :func:`send_bulk` sends any number.
   :func:`my_numbers`, :func:`my_people` and :func:`my_sender` keep live mode to your own
   phones (``SINCH_TEST_NUMBERS``) and number (``SINCH_FROM``); ``connect()`` decides once.
5. Delivery: :func:`wait_for_delivery`, :func:`delivery_frame`, :func:`plot_delivery`.

Errors are :class:`SmsApiError` subclasses that carry the HTTP status, the API's ``code`` and
``text``, the request, and a hint that says what to fix. The API token never appears in any
repr, message or log line. The machinery (HTTP and retries, vectorised phone-number checks, the
bulk journal, charts, the sandbox's controls) lives in the ``sinch_helpers_machinery`` package.

>>> import sinch_helpers as sh; client = sh.connect()  # doctest: +SKIP
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import requests

from sinch_helpers_machinery import bulk, sandbox_controls, transport
from sinch_helpers_machinery.api_facts import MAX_BATCH_RECIPIENTS, REGIONS
from sinch_helpers_machinery.api_objects import ApiObject, frame
from sinch_helpers_machinery.charts import StatusChart, status_counts
from sinch_helpers_machinery.credentials_form import NO_WIDGETS_TEXT, CredentialsForm
from sinch_helpers_machinery.delivery import delivery_frame, poll_until_final, wait_outcome
from sinch_helpers_machinery.errors import (
    AuthenticationError,
    BulkSendInterrupted,
    ConnectionFailed,
    CredentialsError,
    ForbiddenError,
    JournalError,
    NotFoundError,
    RateLimitedError,
    RecipientsError,
    RequestTimeout,
    SendOutcomeUnknown,
    ServerError,
    SmsApiError,
    ValidationError,
)
from sinch_helpers_machinery.exactly_once import send_exactly_once
from sinch_helpers_machinery.lazy import pd
from sinch_helpers_machinery.live_safety import (
    SendingRules,
    live_fallback_note,
    my_numbers,
    my_people,
    my_sender,
)
from sinch_helpers_machinery.parameters import ParameterIndex, Parameters, chunks, values_by_number
from sinch_helpers_machinery.recipients import (
    check_recipients,
    read_text_table,
    recipient_numbers,
    recipients_report,
)
from sinch_helpers_machinery.sandbox_controls import SandboxControls
from sinch_helpers_machinery.settings import (
    credential_fields,
    first_setting,
    hides_token,
    mask,
    read_settings,
    tidy_credentials,
)
from sinch_helpers_machinery.transport import XmsTransport, batch_payload, known_fields, segment

if TYPE_CHECKING:
    from sinch_helpers_machinery.message_check import MessageCheck

# fmt: off
__all__ = [  # noqa: RUF022 (step by step, in the tutorial's order; then the exceptions)
    "REGIONS", "Credentials", "mask", "load_credentials", "credentials_form",  # 1
    "connect", "SmsClient", "frame",  # 2
    "load_recipients", "recipients_report", "parameters_from_frame", "check_message",  # 3
    "preview",
    "my_numbers", "my_people", "my_sender", "send_bulk",  # 4
    "wait_for_delivery", "delivery_frame", "plot_delivery",  # 5
    "SmsApiError", "CredentialsError", "ValidationError", "AuthenticationError",  # errors
    "ForbiddenError", "NotFoundError", "RateLimitedError", "ServerError", "ConnectionFailed",
    "RequestTimeout", "SendOutcomeUnknown", "BulkSendInterrupted", "JournalError",
    "RecipientsError",
]
# fmt: on

__version__ = "0.1.0"
USER_AGENT = f"sinch-sms-notebooks/{__version__} python-requests/{requests.__version__}"

# ================================================================ 1. credentials


@hides_token  # the token is kept as a Secret: masked in any repr, and so in any traceback
@dataclass(frozen=True)
class Credentials:
    """A service plan ID, its API token and where the plan lives (a region or a base URL).

    >>> Credentials("my-plan", "my-token", region="EU").endpoint
    'https://eu.sms.api.sinch.com/xms'
    """

    service_plan_id: str
    api_token: str = field(repr=False)
    region: str = "us"
    base_url: str | None = None

    def __post_init__(self) -> None:
        # Checked and tidied here, once: a frozen dataclass never changes afterwards.
        tidy_credentials(self)  # stray characters, a pasted "Bearer ", the region's spelling

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


def load_credentials(env_file: str | os.PathLike[str] | None = None) -> Credentials | None:
    """Credentials from the environment and ``.env``, or None when none are configured.

    Reads ``SINCH_SERVICE_PLAN_ID``, ``SINCH_API_TOKEN`` (or ``SINCH_SMS_API_TOKEN``),
    ``SINCH_REGION`` (or ``SINCH_SMS_REGION``) and ``SINCH_BASE_URL`` (with or without ``/xms``).
    Half a configuration (a plan ID without a token, say) is an error, not a silent fallback.

    >>> load_credentials("no-such.env") is None  # with no SINCH_* variables  # doctest: +SKIP
    True
    """
    fields = credential_fields(read_settings(env_file))
    return Credentials(*fields) if fields else None


def credentials_form(base_url: str | None = None) -> CredentialsForm | None:
    """Show a form for the plan ID, token and region; returns it (or None without ipywidgets).

    **Connect** checks the credentials against the API and empties the token box at once.
    ``base_url`` (or ``SINCH_BASE_URL``) sends the check somewhere other than the region's
    standard host, for example a workshop's sandbox.

    >>> form = credentials_form()  # doctest: +SKIP
    >>> client = connect(form.credentials)  # after Connect  # doctest: +SKIP
    """
    base_url = base_url or first_setting(read_settings(), "SINCH_BASE_URL")

    def check(plan: str, token: str, region: str) -> Credentials:
        candidate = Credentials(plan, token, region=region, base_url=base_url)
        with closing(SmsClient(candidate, timeout=10, retries=0)) as client:
            next(client.list_batches(page_size=1), None)  # any answer but 401 proves them
        return candidate

    try:
        return CredentialsForm(check)
    except ImportError:
        print(NO_WIDGETS_TEXT)
        return None


# ================================================================ 2. connect and the client


def connect(
    credentials: Credentials | None = None, *, timeout: float = 10.0, retries: int = 3
) -> SmsClient:
    """A client for the API: live with credentials, otherwise the offline sandbox.

    The one place that decides. Live mode needs credentials (passed, or from the environment or
    ``.env``) plus ``SINCH_TEST_NUMBERS`` and ``SINCH_FROM``, else it says what is missing and
    uses a sandbox: ``SINCH_SANDBOX_URL`` (a workshop's) or the built-in one, one per process.
    Credentials for a sandbox mean sandbox mode. It prints which, so you know.

    >>> client = connect()  # doctest: +SKIP
    Sandbox mode: no Sinch credentials found, ...
    """
    settings = read_settings()
    fields = None if credentials else credential_fields(settings)
    credentials = credentials or (Credentials(*fields) if fields else None)
    note, why = "", "no Sinch credentials found, so "
    if credentials is not None and not sandbox_controls.serves_sandbox(credentials.base_url):
        rules = SendingRules.from_settings(settings)
        if not rules.missing():
            print(
                f"Live mode: service plan {credentials.service_plan_id} at {credentials.endpoint}"
                f" (token {mask(credentials.api_token)}). Messages reach real phones and cost "
                f"money: the notebooks text only {', '.join(rules.own_numbers)}, from "
                f"{rules.sender()}."
            )
            return SmsClient(credentials, timeout=timeout, retries=retries, rules=rules)
        note, why, credentials = live_fallback_note(rules) + "\n", "", None
    if credentials is None:
        origin, plan, token, banner = sandbox_controls.choose_sandbox(settings, why)
        credentials = Credentials(plan, token, base_url=origin)
    else:
        plan, token = credentials.service_plan_id, credentials.api_token
        banner = sandbox_controls.reached_banner(credentials.origin, plan, token)
    print(note + banner)
    return SmsClient(credentials, timeout=timeout, retries=retries, sandbox=True)


@known_fields  # a keyword the API does not document (sendat=...) is a TypeError, not ignored
class SmsClient:
    """One service plan's view of the API: one method per operation, named as the API names it.

    Every method returns the API's JSON as :class:`ApiObject` (a dict with the API's field
    names, also readable as attributes: ``batch.id``, ``batch.from_``). HTTP, retries and the
    exactly-once send live in ``client.transport``; ``client.rules`` says where it may send;
    ``client.sandbox`` holds what only the sandbox can do (phones, replies, faults), or None.

    >>> client = SmsClient(Credentials("my-plan", "my-token", region="eu"))
    >>> client.base_url
    'https://eu.sms.api.sinch.com/xms/v1/my-plan'
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        sandbox: bool = False,
        rules: SendingRules | None = None,
    ) -> None:
        self.credentials = credentials
        self.transport = XmsTransport(
            credentials, timeout=timeout, retries=retries, backoff=backoff, user_agent=USER_AGENT
        )
        self.sandbox: SandboxControls | None = SandboxControls(self.transport) if sandbox else None
        # A live client made by hand (not by connect) reads SINCH_TEST_NUMBERS and SINCH_FROM.
        if sandbox:
            rules = SendingRules.sandbox()
        self.rules = rules or SendingRules.from_settings(read_settings())

    def with_options(
        self, *, timeout: float | None = None, retries: int | None = None
    ) -> SmsClient:
        """The same plan and mode with another ``timeout`` or number of ``retries``, e.g.
        ``client.with_options(retries=0)``; nothing is printed, nothing else changes."""
        timeout = self.transport.timeout if timeout is None else timeout
        retries = self.transport.retries if retries is None else retries
        return SmsClient(
            self.credentials, timeout=timeout, retries=retries, sandbox=self.sandbox is not None,
            rules=self.rules, backoff=self.transport.backoff,
        )  # fmt: skip

    @property
    def mode(self) -> str:
        """``"sandbox"`` or ``"live"``, for people to read; code tests ``if client.sandbox:``."""
        return "sandbox" if self.sandbox else "live"

    @property
    def base_url(self) -> str:
        """``<origin>/xms/v1/<service_plan_id>``: every path below hangs off this."""
        return self.transport.base_url

    @property
    def last_request(self) -> transport.WireRequest | None:
        """The last API request, token masked: ``print(client.last_request)``, ``.as_curl()``."""
        return self.transport.last_request

    def __repr__(self) -> str:
        plan, endpoint = self.credentials.service_plan_id, self.credentials.endpoint
        return f"SmsClient(mode={self.mode!r}, service_plan_id={plan!r}, endpoint={endpoint!r})"

    def close(self) -> None:
        """Close the keep-alive connections (a client is also fine to simply drop)."""
        self.transport.close()

    # ------------------------------------------------------------------ batches
    def send_batch(
        self,
        to: Sequence[str] | str,
        body: str,
        sender: str | None = None,
        *,
        parameters: Parameters | None = None,
        client_reference: str | None = None,
        **fields: Any,
    ) -> ApiObject:
        """``POST /batches``: send one batch (at most 1000 recipients) and return it.

        A ``client_reference`` is set when you give none, so that when the answer is lost (a
        timeout, a dropped connection, a 5xx) the client can find out whether the batch was
        accepted instead of sending it twice.

        >>> client.send_batch(["+447700900001"], "Hi!", "+447700900100").id  # doctest: +SKIP
        '01M8F5WZ0H9347QNWY7MZ9MFT8'
        """
        recipients = [to] if isinstance(to, str) else list(to)
        self.rules.check(recipients)
        payload = batch_payload(recipients, body, sender, parameters, fields)
        payload["client_reference"] = client_reference or f"nb-{uuid.uuid4()}"
        return send_exactly_once(self.transport, payload)

    def find_sent(self, client_reference: str, since: float | None = None) -> ApiObject | None:
        """``GET /batches?client_reference=...``: the batch sent with this reference since
        ``since`` (a Unix time; default the last 24 hours), or None."""
        return self.transport.find_sent(client_reference, since)

    def dry_run(
        self,
        to: Sequence[str],
        body: str,
        sender: str | None = None,
        *,
        parameters: Parameters | None = None,
        per_recipient: bool = True,
        number_of_recipients: int = MAX_BATCH_RECIPIENTS,
        **fields: Any,
    ) -> ApiObject:
        """``POST /batches/dry_run``: parts, encoding and each final text, without sending."""
        limit = number_of_recipients if per_recipient else None
        params = {"per_recipient": str(per_recipient).lower(), "number_of_recipients": limit}
        payload = batch_payload(list(to), body, sender, parameters, fields)
        return self.transport.request(
            "POST", "/batches/dry_run", json_body=payload, params=params, retry=True
        )

    def get_batch(self, batch_id: str) -> ApiObject:
        """``GET /batches/{id}``."""
        return self.transport.request("GET", f"/batches/{segment(batch_id)}")

    def list_batches(self, *, page_size: int = 100, **filters: Any) -> Iterator[ApiObject]:
        """``GET /batches``: every batch matching the filters (``from``, ``start_date``,
        ``end_date``, ``client_reference``), newest first, page after page as you iterate."""
        yield from self.transport.pages("/batches", "batches", page_size, filters)

    def update_batch(self, batch_id: str, **fields: Any) -> ApiObject:
        """``POST /batches/{id}``: change a batch not yet dispatched (``to_add``, ``to_remove``,
        ``body``, ``send_at``, ...); ``None`` resets a field to its default."""
        path = f"/batches/{segment(batch_id)}"
        return self.transport.request("POST", path, json_body=fields, retry=True)

    def replace_batch(
        self, batch_id: str, to: Sequence[str], body: str, sender: str | None = None, **fields: Any
    ) -> ApiObject:
        """``PUT /batches/{id}``: a new batch under the same ID, if not yet dispatched."""
        payload = batch_payload(list(to), body, sender, None, fields)
        return self.transport.request("PUT", f"/batches/{segment(batch_id)}", json_body=payload)

    def cancel_batch(self, batch_id: str) -> ApiObject:
        """``DELETE /batches/{id}``: recipients not yet dispatched end Cancelled."""
        return self.transport.request("DELETE", f"/batches/{segment(batch_id)}")

    def send_delivery_feedback(self, batch_id: str, recipients: Sequence[str] = ()) -> None:
        """``POST /batches/{id}/delivery_feedback``: these recipients got it (``[]`` = all)."""
        path = f"/batches/{segment(batch_id)}/delivery_feedback"
        body = {"recipients": list(recipients)}
        self.transport.request("POST", path, json_body=body, retry=True)

    # ------------------------------------------------------------------ delivery reports
    def delivery_report(
        self,
        batch_id: str,
        type: str = "summary",  # noqa: A002 (the API's own name for the report type)
        status: Sequence[str] | None = None,
        code: Sequence[int] | None = None,
    ) -> ApiObject:
        """``GET /batches/{id}/delivery_report``: counts per status (``summary``), with the
        numbers too (``full``), optionally only some statuses or codes."""
        params = {"type": type, "status": status or None, "code": code or None}
        path = f"/batches/{segment(batch_id)}/delivery_report"
        return self.transport.request("GET", path, params=params)

    def recipient_report(self, batch_id: str, recipient: str) -> ApiObject:
        """``GET /batches/{id}/delivery_report/{number}``: one recipient's status."""
        path = f"/batches/{segment(batch_id)}/delivery_report/{segment(recipient)}"
        return self.transport.request("GET", path)

    def list_delivery_reports(self, *, page_size: int = 100, **filters: Any) -> Iterator[ApiObject]:
        """``GET /delivery_reports``: recipient reports that reached a final status (filters:
        ``status``, ``code``, ``start_date``, ``end_date``, ``client_reference``)."""
        yield from self.transport.pages("/delivery_reports", "delivery_reports", page_size, filters)

    # ------------------------------------------------------------------ inbounds
    def list_inbounds(self, *, page_size: int = 100, **filters: Any) -> Iterator[ApiObject]:
        """``GET /inbounds``: messages your numbers received (``to``, ``start_date``, ...)."""
        yield from self.transport.pages("/inbounds", "inbounds", page_size, filters)

    def get_inbound(self, inbound_id: str) -> ApiObject:
        """``GET /inbounds/{id}``."""
        return self.transport.request("GET", f"/inbounds/{segment(inbound_id)}")

    # ------------------------------------------------------------------ groups
    def create_group(
        self, name: str | None = None, members: Sequence[str] = (), **fields: Any
    ) -> ApiObject:
        """``POST /groups``: a named group of numbers (``auto_update`` for keywords)."""
        payload = {"members": list(members), **fields}
        if name is not None:
            payload["name"] = name
        return self.transport.request("POST", "/groups", json_body=payload, retry=False)

    def list_groups(self, *, page_size: int = 100) -> Iterator[ApiObject]:
        """``GET /groups``: every group of the plan."""
        yield from self.transport.pages("/groups", "groups", page_size, {})

    def get_group(self, group_id: str) -> ApiObject:
        """``GET /groups/{id}``."""
        return self.transport.request("GET", f"/groups/{segment(group_id)}")

    def update_group(self, group_id: str, **fields: Any) -> ApiObject:
        """``POST /groups/{id}``: ``add``, ``remove`` (numbers), ``name``, ``add_from_group``..."""
        path = f"/groups/{segment(group_id)}"
        return self.transport.request("POST", path, json_body=fields, retry=True)

    def replace_group(self, group_id: str, members: Sequence[str], **fields: Any) -> ApiObject:
        """``PUT /groups/{id}``: new members (and name) for the group."""
        payload = {"members": list(members), **fields}
        return self.transport.request("PUT", f"/groups/{segment(group_id)}", json_body=payload)

    def delete_group(self, group_id: str) -> None:
        """``DELETE /groups/{id}``."""
        self.transport.request("DELETE", f"/groups/{segment(group_id)}")

    def group_members(self, group_id: str) -> list[str]:
        """``GET /groups/{id}/members``: the numbers in the group."""
        return list(self.transport.request("GET", f"/groups/{segment(group_id)}/members"))


# ================================================================ 3. recipients and parameters


def load_recipients(
    path_or_buffer: str | os.PathLike[str] | IO[str] | IO[bytes],
    phone_column: str = "phone",
    default_region: str | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read a recipients CSV or .xlsx file and check every number; no row is dropped or merged.

    Every cell is read as text (so ``+`` and leading zeros survive); UTF-8, UTF-16 or
    Windows-1252, ``;`` or tab separators and blank lines are handled. The result has the
    file's columns plus ``e164`` (international form), ``valid`` and ``problem`` (in words:
    missing, not a number, no country code, invalid, landline, duplicate, Excel's 4.47701E+11,
    a quote that joined rows). The index is the data row number, from 1 below the header.

    >>> people = load_recipients("../data/recipients.csv")  # doctest: +SKIP
    >>> people[["name", "e164", "valid", "problem"]]  # doctest: +SKIP
    """
    table = read_text_table(path_or_buffer, sep, encoding, phone_column)
    return check_recipients(table, phone_column, default_region)


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

    >>> parameters_from_frame(people, ["name"], defaults={"name": "there"})  # doctest: +SKIP
    {'name': {'+447700900001': 'Amélie', ..., 'default': 'there'}}
    """
    if columns is None:
        derived = ("e164", "valid", "problem", "phone", phone_column)
        columns = [c for c in recipients.columns if c not in derived]
    keys = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    result = values_by_number(recipients, keys, phone_column)  # valid rows only
    for key, default in (defaults or {}).items():
        result.setdefault(key, {})["default"] = default
    return result


def check_message(
    body: str, to: Sequence[str], parameters: Parameters | None = None
) -> MessageCheck:
    """Problems to fix before sending, as a table (it says "No problems found." when empty).

    Finds placeholders with no parameter, parameters the body never uses, per-recipient values
    for numbers that are not recipients, recipients who would get no value and no default (the
    API aborts those with code 405), invalid keys, and bodies or values that are too long.

    >>> check_message("Hi ${name}!", ["+447700900001"], {"name": {"default": "you"}})
    No problems found.
    """
    from sinch_helpers_machinery import message_check  # imports pandas: only when needed

    return message_check.check(body, to, parameters)


def preview(
    client: SmsClient,
    body: str,
    to: pd.DataFrame | Sequence[str],
    parameters: Parameters | None = None,
    sender: str | None = None,
) -> pd.DataFrame:
    """Each recipient's final text, encoding and parts, straight from the API's dry run.

    >>> preview(client, "Hi ${name}!", people, params, "+447700900100")  # doctest: +SKIP
    """
    rows = []
    index = ParameterIndex(parameters)
    for chunk in chunks(recipient_numbers(to), MAX_BATCH_RECIPIENTS):
        result = client.dry_run(chunk, body, sender, parameters=index.slice(chunk))
        rows.extend(result.get("per_recipient", []))
    table = frame(rows, ["recipient", "body", "encoding", "number_of_parts"])
    return table.rename(columns={"body": "text", "number_of_parts": "parts"})


# ================================================================ 4. send


@known_fields
def send_bulk(
    client: SmsClient,
    recipients: pd.DataFrame | pd.Series | Sequence[str],
    body: str,
    sender: str | None = None,
    parameters: Parameters | None = None,
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

    >>> send_bulk(client, people, "Hi", sender, journal="bulk.jsonl")  # doctest: +SKIP
    """
    if not 1 <= batch_size <= MAX_BATCH_RECIPIENTS:
        raise ValueError(f"batch_size must be 1 to {MAX_BATCH_RECIPIENTS}, not {batch_size}.")
    numbers = recipient_numbers(recipients)
    plan = bulk.BulkPlan(numbers, body, sender, parameters, batch_size, fields)
    rows = bulk.send_all(client, plan, journal, progress)
    return frame(rows, bulk.BULK_COLUMNS)


# ================================================================ 5. delivery


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

    >>> report = wait_for_delivery(client, batch.id, timeout=30)  # doctest: +SKIP
    All 3 recipient(s) of batch ... reached a final status.
    """
    report = poll_until_final(client.delivery_report, batch_id, timeout, poll_interval, progress)
    print(wait_outcome(report, batch_id, timeout))
    return report


def plot_delivery(report: Any, title: str = "Delivery status") -> StatusChart:
    """A bar chart of recipients per status, from a report or a :func:`delivery_frame`.

    It draws as SVG in Jupyter and as text bars elsewhere. For a chart of your own, start from
    the same numbers: ``delivery_frame(report)["status"].value_counts().plot.barh()``.

    >>> plot_delivery(client.delivery_report(batch.id, "full"))  # doctest: +SKIP
    """
    table = report if isinstance(report, pd.DataFrame) else delivery_frame(report)
    return StatusChart(tuple(status_counts(table)), title)
