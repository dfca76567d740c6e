"""Sending a batch exactly once: when the answer to a send is lost, find out what happened
before anything is sent again."""

from __future__ import annotations

import time
from typing import Any

from .api_objects import ApiObject
from .errors import ConnectionFailed, RequestTimeout, SendOutcomeUnknown, ServerError, SmsApiError
from .transport import XmsTransport, cause_never_left


def send_exactly_once(transport: XmsTransport, payload: dict[str, Any]) -> ApiObject:
    """POST a batch; when the answer is lost, look it up by ``client_reference`` before any
    second attempt, so a batch that did arrive is never sent again."""
    reference = payload["client_reference"]
    started = time.time()
    attempt = 0
    while True:
        try:
            return transport.request("POST", "/batches", json_body=payload, retry=False)
        except (RequestTimeout, ConnectionFailed, ServerError) as error:
            if isinstance(error, ConnectionFailed) and cause_never_left(error):
                raise
            try:
                existing = transport.find_sent(reference, since=started)
            except SmsApiError as lookup:
                raise SendOutcomeUnknown(
                    f"The send failed ({error.args[0]}) and checking whether it arrived "
                    f"failed too ({lookup.args[0]}).",
                    method="POST",
                    url=transport.base_url + "/batches",
                    hint=f"Before sending again, look for client_reference '{reference}' "
                    "with client.find_sent(...).",
                ) from error
            if existing is not None:
                return existing
            if attempt >= transport.retries:
                raise
            attempt += 1
            time.sleep(transport.delay(attempt, None))
