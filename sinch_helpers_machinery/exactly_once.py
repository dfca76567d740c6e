"""Sending a batch exactly once: when the answer to a send is lost, find out what happened
before anything is sent again.

Every send carries a ``client_reference``. When its answer is lost, the client does not know
whether the API accepted the batch, so it asks the API (``GET /batches?client_reference=...``).
What it does next depends on whether the first attempt could still be on its way:

- the server answered (500, 503): that attempt is over. If the lookup finds nothing, sending
  again is safe, and the client does so (within its retries);
- no answer came (a timeout, a connection closed after the request went out, a gateway's 502 or
  504): the request may still be travelling or being worked on. Sending again now could deliver
  the message twice, so the client only looks, with growing pauses, for a bounded time
  (:func:`settle_seconds`). Found: that batch is the answer. Not found: ``SendOutcomeUnknown``,
  which says how to check later and how to resume safely.
"""

from __future__ import annotations

import time
from typing import Any

from .api_objects import ApiObject
from .errors import ConnectionFailed, RequestTimeout, SendOutcomeUnknown, ServerError, SmsApiError
from .transport import XmsTransport, cause_never_left

#: Answers from a gateway in front of the API: the request may still be at work behind it.
GATEWAY_STATUSES = frozenset({502, 504})
#: The first pause between two lookups; it doubles up to LOOKUP_PAUSE_MAX.
LOOKUP_PAUSE = 0.25
LOOKUP_PAUSE_MAX = 4.0


def settle_seconds(timeout: float) -> float:
    """How long a send whose answer was lost is looked for before the client gives up: three
    times the request timeout, plus two seconds for the lookups themselves.

    A request that has not reached the API in three times the time it was allowed is, in
    practice, lost; the bound keeps a notebook cell from hanging for ever.

    >>> settle_seconds(10)
    32.0
    """
    return 3.0 * timeout + 2.0


def send_exactly_once(transport: XmsTransport, payload: dict[str, Any]) -> ApiObject:
    """POST a batch; when the answer is lost, look it up by ``client_reference`` before any
    second attempt, and never send again while the first attempt may still arrive."""
    reference = payload["client_reference"]
    started = time.time()
    attempt = 0
    while True:
        try:
            return transport.request("POST", "/batches", json_body=payload, retry=False)
        except (RequestTimeout, ConnectionFailed, ServerError) as error:
            if isinstance(error, ConnectionFailed) and cause_never_left(error):
                raise  # no connection was ever made: nothing was sent
            if may_still_arrive(error):
                return wait_for_arrival(transport, reference, started, error)
            existing = look_up_once(transport, reference, started, error)
            if existing is not None:
                return existing
            if attempt >= transport.retries:
                raise
            attempt += 1
            time.sleep(transport.delay(attempt, None))


def may_still_arrive(error: SmsApiError) -> bool:
    """True when the failed attempt may still reach the API or still be at work there."""
    if isinstance(error, ServerError):
        return error.status in GATEWAY_STATUSES
    return True  # a timeout or a connection closed after the request went out


def look_up_once(
    transport: XmsTransport, reference: str, since: float, error: SmsApiError
) -> ApiObject | None:
    """The batch the API accepted with this reference, or None; SendOutcomeUnknown when the
    lookup itself fails (then nobody knows, and nothing may be sent again)."""
    try:
        return transport.find_sent(reference, since=since)
    except SmsApiError as lookup:
        why = f"looking it up failed too ({lookup.args[0]})"
        raise unknown(transport, reference, error, why) from error


def wait_for_arrival(
    transport: XmsTransport, reference: str, since: float, error: SmsApiError
) -> ApiObject:
    """The batch, looked up until it is found or :func:`settle_seconds` have passed since
    ``since``; then SendOutcomeUnknown."""
    deadline = since + settle_seconds(transport.timeout)
    found, failure = look_until(transport, reference, since, deadline)
    if found is not None:
        return found
    waited = f"{time.time() - since:.0f} s"
    why = (
        f"looking it up failed for {waited} ({failure.args[0]})"
        if failure is not None
        else f"it has not appeared in {waited} of looking"
    )
    raise unknown(transport, reference, error, why) from error


def look_until(
    transport: XmsTransport, reference: str, since: float, deadline: float
) -> tuple[ApiObject | None, SmsApiError | None]:
    """Look the batch sent since ``since`` up, pausing longer each time, until it is found or
    the ``deadline`` (a Unix time) passes; at least once. Returns the batch (or None) and the
    error of the last lookup when that one failed."""
    pause = LOOKUP_PAUSE
    while True:
        try:
            found, failure = transport.find_sent(reference, since=since), None
        except SmsApiError as lookup:  # the API may be struggling: keep trying until the deadline
            found, failure = None, lookup
        left = deadline - time.time()
        if found is not None or left <= 0:
            return found, failure
        time.sleep(min(pause, left))
        pause = min(pause * 2, LOOKUP_PAUSE_MAX)


def unknown(
    transport: XmsTransport, reference: str, error: SmsApiError, why: str
) -> SendOutcomeUnknown:
    """The error for a send nobody can say was accepted or not; it was not sent again."""
    return SendOutcomeUnknown(
        f"The batch with client_reference '{reference}' may or may not have been accepted: "
        f"{error.args[0]} and {why}. It was not sent again.",
        method="POST",
        url=transport.base_url + "/batches",
        hint=f"Check later with client.find_sent('{reference}'): if it finds the batch, it was "
        "sent, so do not send it again. If it still finds nothing after a few minutes, the "
        "batch was not accepted and sending it again is safe. send_bulk does this for you: run "
        "the same call with the same journal again, and it looks for the batch before sending.",
    )
