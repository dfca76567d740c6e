"""The helpers' exceptions, one class per cause, and the hints that say what to fix.

Every error is an :class:`SmsApiError` that carries the HTTP status, the API's ``code`` and
``text``, the request (method and URL, never headers) and a ``hint``; ``str(error)`` shows them.
None is chained to an exception of requests or urllib3: those hold the headers, token included.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .api_facts import REGIONS

if TYPE_CHECKING:
    import pandas as pd


class SmsApiError(Exception):
    """Something went wrong talking to the SMS API; ``str(error)`` says what and how to fix it.

    Example::

        try:
            client.send_batch(["07700 900123"], "Hi", "+447700900100")
        except sh.SmsApiError as error:
            print(error.status, error.code, error.hint)
    """

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
    """The credentials are incomplete or malformed (nothing was sent).

    Example: ``Credentials("my-plan", "")`` raises it, saying the token is empty.
    """


class ConnectionFailed(SmsApiError):
    """The API could not be reached, or did not answer in time.

    Example: a ``base_url`` where nothing listens raises it, with a hint to check the address.
    The message names the library's exception and its reason; that exception is not chained, as
    its frames hold the request's headers, the token among them.
    """

    #: True when no connection was ever made, so the request certainly never reached the API.
    never_left: bool = False


class RequestTimeout(ConnectionFailed):
    """The API did not answer within the timeout.

    Example: ``connect(timeout=0.2)`` against a slow server raises it after 0.2 s.
    """


class ValidationError(SmsApiError):
    """400 (or 415): the request does not follow the API's rules.

    Example: ``client.send_batch(["07700 900123"], "Hi", sender)`` (a national number).
    """


class AuthenticationError(SmsApiError):
    """401: the token is not valid for this service plan in this region.

    Example: a token from another plan, or a plan that lives in ``eu`` reached through ``us``.
    """


class ForbiddenError(SmsApiError):
    """403: the request is well formed but cannot be carried out.

    Example: ``client.update_batch(batch_id, body="...")`` after the batch went out.
    """


class NotFoundError(SmsApiError):
    """404: no such batch, group, inbound or recipient for this service plan.

    Example: ``client.get_batch("01AAAAAAAAAAAAAAAAAAAAAAAA")``.
    """


class RateLimitedError(SmsApiError):
    """429: too many requests; ``retry_after`` says how long the API asked us to wait.

    Example: ``error.retry_after`` is ``1.0`` after an answer with ``Retry-After: 1``.
    """

    retry_after: float | None = None


class ServerError(SmsApiError):
    """5xx: the service had a problem.

    Example: a 503 that is still there after the client's retries.
    """


class SendOutcomeUnknown(SmsApiError):
    """A send may or may not have been accepted, and looking it up failed too.

    Example: the connection dropped after the send and the API stayed unreachable; the hint
    names the ``client_reference`` to look for with ``client.find_sent(...)``.
    """


class BulkSendInterrupted(SmsApiError):
    """A bulk send stopped part-way; ``.sent`` lists the batches accepted so far.

    Example::

        try:
            sh.send_bulk(client, people, "Hi", sender, journal="bulk.jsonl")
        except sh.BulkSendInterrupted as stopped:
            print(stopped.sent)  # then run the same call again
    """

    sent: pd.DataFrame


class JournalError(ValueError):
    """A bulk send's journal cannot be used for this call (nothing was sent).

    Example: ``send_bulk(..., journal="bulk.jsonl")`` while another process is sending with the
    same journal, or with a journal that records a different message; the text says what to do.
    """


class RecipientsError(ValueError):
    """The recipients file or frame cannot be used as given.

    Example: ``load_recipients("people.csv", phone_column="mobile")`` when there is no such
    column; the message lists the columns there are.
    """


ERROR_TYPES: dict[int, type[SmsApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    415: ValidationError,
    429: RateLimitedError,
}

FORBIDDEN_HINTS = {
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


def error_type(status: int) -> type[SmsApiError]:
    """The exception class for an HTTP status."""
    return ERROR_TYPES.get(status, ServerError if status >= 500 else SmsApiError)


def hint_for(
    status: int,
    code: str | None,
    text: str,
    *,
    plan: str,
    where: str,
    retries: int = 3,
    shared_sandbox: str | None = None,
) -> str:
    """What to do about an error answer; ``where`` is "region 'eu'" or "base URL ...",
    ``retries`` how often the client may try a request again, and ``shared_sandbox`` the
    address of the room's sandbox when SINCH_SANDBOX_URL chose it.

    >>> hint_for(404, "not_found", "", plan="p", where="region 'us'")[:20]
    'Check the ID in the '
    """
    if status == 401 and shared_sandbox:
        return (
            f"The shared sandbox at {shared_sandbox} (SINCH_SANDBOX_URL) knows plan '{plan}' "
            "by the token it was first used with, and this is not it. If you did not choose "
            "this token yourself, someone else's plan has this name: pick a name of your own "
            "with SINCH_SANDBOX_PLAN (or the instructor can give this plan your token)."
        )
    if status == 401:
        return (
            f"Check that the API token belongs to service plan '{plan}' and that the plan "
            f"lives where this request went ({where}): a token only works in its "
            f"own plan's region. Regions: {', '.join(REGIONS)}."
        )
    if status == 404:
        return (
            f"Check the ID in the URL. Batches, groups and inbounds are visible only to the "
            f"service plan that made them ('{plan}', {where})."
        )
    tried = (
        f"the client tried up to {retries} more time(s) where that was safe"
        if retries
        else "this client was made with retries=0, so it did not try again"
    )
    if status == 429:
        return (
            f"Too many requests: {tried}, waiting as the API asked. Send in fewer, larger "
            "batches (send_bulk) or wait a moment and try again."
        )
    if status >= 500:
        return f"The service had a problem; {tried}. Wait a little and try again."
    if code in FORBIDDEN_HINTS:
        return FORBIDDEN_HINTS[code]
    if status in (400, 415):
        return validation_hint(text)
    return "Read the API's text above; it names the problem."


def validation_hint(text: str) -> str:
    """A hint for a 400, from the field the API's text names."""
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
