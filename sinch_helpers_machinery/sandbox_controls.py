"""The sandbox's own controls (phones, replies, faults) and starting the embedded sandbox.

None of this exists on the real API: a client in sandbox mode carries a :class:`SandboxControls`
as ``client.sandbox``; in live mode that attribute is ``None``, so ``if client.sandbox:`` is
the one test a notebook needs.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .api_objects import ApiObject, frame, wrap
from .settings import first_setting, origin_of
from .transport import XmsTransport, segment

if TYPE_CHECKING:
    import pandas as pd
    from IPython.display import HTML

    import xms_sandbox

#: The plan the embedded sandbox creates for this process.
EMBEDDED_PLAN = "sandbox-plan"

_lock = threading.Lock()
_embedded: dict[str, Any] = {}


def embedded_sandbox() -> tuple[str, str, str]:
    """Start the built-in sandbox once per Python process; returns its URL, plan and token."""
    with _lock:
        if "sandbox" not in _embedded:
            import xms_sandbox  # only here: the sandbox never needs the helpers

            token = secrets.token_hex(16)
            db = os.environ.get("SINCH_SANDBOX_DB", ":memory:")
            # Quick lifecycle (5 ms to dispatch, 20 ms to a receipt) so notebooks wait briefly.
            running: xms_sandbox.Sandbox = xms_sandbox.start(
                db=db, plans={EMBEDDED_PLAN: token}, timing=xms_sandbox.Timing(0.005, 0.02)
            )
            _embedded.update(sandbox=running, token=token)
        return _embedded["sandbox"].url, EMBEDDED_PLAN, _embedded["token"]


def shared_sandbox_plan(settings: Mapping[str, str]) -> tuple[str, str]:
    """A plan of one's own on a shared (workshop) sandbox run with ``--open``: the plan name
    (``SINCH_SANDBOX_PLAN``, else ``learner-<user>``) and the token that goes with it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user with no name
        user = "learner"
    plan = first_setting(settings, "SINCH_SANDBOX_PLAN") or f"learner-{user}"
    token = hashlib.sha256(f"sandbox:{plan}".encode()).hexdigest()[:32]
    return plan, token


def choose_sandbox(settings: Mapping[str, str]) -> tuple[str, str, str, str]:
    """The sandbox to use without credentials: ``SINCH_SANDBOX_URL`` (a workshop's) if set,
    else the embedded one. Returns its origin, the plan, the token and a line that says which.
    """
    shared = first_setting(settings, "SINCH_SANDBOX_URL")
    if shared:
        plan, token = shared_sandbox_plan(settings)
        origin = origin_of(shared)
        banner = (
            f"Sandbox mode: the shared sandbox at {origin}/xms (plan {plan}). No message leaves "
            "that sandbox."
        )
        return origin, plan, token, banner
    origin, plan, token = embedded_sandbox()
    banner = (
        "Sandbox mode: no Sinch credentials found, so the built-in offline sandbox is answering. "
        "No message leaves this machine."
    )
    return origin, plan, token, banner


class SandboxControls:
    """What only the sandbox can do, for one plan: phones, replies and faults.

    >>> if client.sandbox:  # doctest: +SKIP
    ...     client.sandbox.reply_from("+447700900001", "YES")
    """

    def __init__(self, transport: XmsTransport) -> None:
        self._transport = transport
        self.plan_id = transport.credentials.service_plan_id
        #: The sandbox's address, e.g. ``http://127.0.0.1:8765``.
        self.url = transport.credentials.origin

    def __repr__(self) -> str:
        return f"SandboxControls(url={self.url!r}, plan={self.plan_id!r})"

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call to ``/sandbox/...`` through the client's session, with typed errors."""
        transport = self._transport
        answer = transport.session.request(
            method, f"{self.url}/sandbox{path}", timeout=transport.timeout, **kwargs
        )
        if answer.status_code >= 400:
            raise transport.api_error(answer, method, answer.url)
        if answer.headers.get("Content-Type", "").startswith("text/html"):
            return answer.text
        return answer.json() if answer.content else None

    def phone(self, number: str) -> pd.DataFrame:
        """What a virtual phone shows: messages received and replies sent."""
        messages = self._request(
            "GET", f"/handsets/{segment(number)}", params={"plan_id": self.plan_id}
        )
        return frame(messages, ["direction", "from", "to", "body"])

    def show_phones(self, numbers: Sequence[str]) -> HTML:
        """Phone screens for these numbers, drawn in the notebook."""
        from IPython.display import HTML

        page = self._request(
            "GET",
            "/phones",
            params={"numbers": ",".join(numbers), "embed": "true", "plan_id": self.plan_id},
        )
        return HTML(page)

    def outcomes(self) -> pd.DataFrame:
        """How the sandbox ends messages to each range of fictional numbers."""
        return frame(self._request("GET", "/outcomes"))

    def fault(self, kind: str, **options: Any) -> None:
        """Make the sandbox misbehave on purpose for the next request(s) of this plan:
        ``kind`` is ``status`` (with ``status=503``), ``latency``, ``timeout`` or ``drop``
        (see ``xms_sandbox.faults``); ``method``, ``path``, ``count`` and ``after`` aim it."""
        self._request("POST", "/faults", json={"kind": kind, "plan_id": self.plan_id, **options})

    def clear_faults(self) -> None:
        """Forget every fault still waiting to happen."""
        self._request("DELETE", "/faults")

    def reply_from(self, number: str, body: str) -> ApiObject:
        """Make a phone answer the last message it got: the answer becomes an inbound."""
        return wrap(
            self._request(
                "POST",
                f"/handsets/{segment(number)}/reply",
                json={"body": body, "service_plan_id": self.plan_id},
            )
        )
