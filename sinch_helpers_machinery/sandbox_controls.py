"""The sandbox's own controls (phones, replies, faults) and starting the embedded sandbox.

None of this exists on the real API: a client in sandbox mode carries a :class:`SandboxControls`
as ``client.sandbox``; in live mode that attribute is ``None``, so ``if client.sandbox:`` is
the one test a notebook needs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .api_objects import ApiObject, frame, wrap
from .errors import CredentialsError
from .settings import first_setting, origin_of, state_dir
from .transport import XmsTransport, segment

if TYPE_CHECKING:
    import pandas as pd
    from IPython.display import HTML

    import xms_sandbox

#: The plan the embedded sandbox creates for this process.
EMBEDDED_PLAN = "sandbox-plan"

_lock = threading.Lock()
_embedded: dict[str, Any] = {}


def embedded_database() -> str:
    """``SINCH_SANDBOX_DB`` if set (``:memory:`` keeps nothing), else the per-user file, so a
    restarted kernel finds the batches, phones and replies of the last one."""
    chosen = os.environ.get("SINCH_SANDBOX_DB")
    if chosen:
        return chosen
    folder = state_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:  # a read-only home: keep the state in memory instead
        return ":memory:"
    return str(folder / "sandbox.sqlite3")


def embedded_token(database: str) -> str:
    """The embedded plan's token: new for an in-memory sandbox; for a file, one token kept
    beside it (readable by you only), so every kernel of yours can share that file."""
    if database == ":memory:":
        return secrets.token_hex(16)
    path = Path(f"{database}.token")
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(handle, "w", encoding="ascii") as file:
        token = secrets.token_hex(16)
        file.write(token)
    return token


def embedded_sandbox() -> tuple[str, str, str, str]:
    """Start the built-in sandbox once per Python process; its URL, plan, token and database."""
    with _lock:
        if "sandbox" not in _embedded:
            import xms_sandbox  # only here: the sandbox never needs the helpers

            db = embedded_database()
            token = embedded_token(db)
            # Quick lifecycle (5 ms to dispatch, 20 ms to a receipt) so notebooks wait briefly.
            running: xms_sandbox.Sandbox = xms_sandbox.start(
                db=db, plans={EMBEDDED_PLAN: token}, timing=xms_sandbox.Timing(0.005, 0.02)
            )
            _embedded.update(sandbox=running, token=token, db=db)
        url, token, db = _embedded["sandbox"].url, _embedded["token"], _embedded["db"]
        return url, EMBEDDED_PLAN, token, db


def remembered(name: str, make: Callable[[], str]) -> str:
    """A value kept in a file of the user's own (readable by them only) in :func:`state_dir`,
    made by ``make`` the first time; ``make()`` again when the folder cannot be written."""
    path = state_dir() / name
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return make()
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        value = make()
        file.write(value)
    return value


#: The names a shared sandbox makes plans with on first use (the sandbox's own rule, kept here
#: too so that a bad name is explained before anything is sent; tests/test_contract.py keeps
#: the two equal): what one URL path segment carries as it is.
NEW_PLAN_NAME = re.compile(r"[\w.@+-]{1,64}")


def check_plan_name(plan: str, setting: str) -> None:
    """A ``CredentialsError`` naming ``setting`` when a shared sandbox would make no plan of
    this name.

    >>> check_plan_name("ada-lovelace", "SINCH_SANDBOX_PLAN")  # fine: nothing happens
    """
    if NEW_PLAN_NAME.fullmatch(plan) and plan.strip("."):
        return
    raise CredentialsError(
        f"{setting} is {plan!r}, which cannot name a plan on a shared sandbox.",
        hint=f"Use 1 to 64 letters, digits and - _ . @ + (no spaces or slashes), e.g. "
        f"{setting}={suggested_plan_name(plan)}, then restart the kernel.",
    )


def suggested_plan_name(plan: str) -> str:
    """``plan`` made into a name a plan can have (``"Ada Lovelace"`` → ``"Ada-Lovelace"``)."""
    return re.sub(r"[^\w.@+-]+", "-", plan).strip("-.")[:64] or "my-plan"


def shared_sandbox_plan(settings: Mapping[str, str], origin: str) -> tuple[str, str]:
    """A plan of one's own on a shared (workshop) sandbox run with ``--open``, and its token.

    The plan is ``SINCH_SANDBOX_PLAN``, else the JupyterHub user name, else a random name kept
    for this user (on Binder and many hubs everyone is ``jovyan``, so the account name would
    put the whole room in one plan). The token is random, kept for this user and sandbox, and
    never derived from the plan's name: the sandbox takes it as the plan's on first use. With
    ``SINCH_SANDBOX_AUTH=jupyterhub`` (set by a Hub, see docs/jupyterhub.md) the plan is the
    Hub user and the token the kernel's Hub API token, which the sandbox checks with the Hub.
    """
    hub_user = first_setting(os.environ, "JUPYTERHUB_USER")
    hub_token = first_setting(os.environ, "JUPYTERHUB_API_TOKEN")
    # On a JupyterHub whose room sandbox is a Hub service, the Hub vouches for the learner: set
    # by the Hub's spawner only, so a Hub token never goes to a sandbox the learner picked.
    if first_setting(settings, "SINCH_SANDBOX_AUTH") == "jupyterhub" and hub_user and hub_token:
        return hub_user, hub_token
    named = first_setting(settings, "SINCH_SANDBOX_PLAN")
    plan = (
        named
        or first_setting(os.environ, "JUPYTERHUB_USER")
        or remembered("learner-id", lambda: f"learner-{secrets.token_hex(4)}")
    )
    check_plan_name(plan, "SINCH_SANDBOX_PLAN" if named else "JUPYTERHUB_USER")
    where = hashlib.sha256(f"{origin} {plan}".encode()).hexdigest()[:16]
    token = remembered(f"shared-sandbox-{where}.token", lambda: secrets.token_hex(16))
    return plan, token


def phones_key(token: str) -> str:
    """The key that opens this plan's phones page in a browser (and nothing else); the sandbox
    works out the same from the hash it keeps of the token.

    >>> phones_key("my-token")[:8]
    '8a46a573'
    """
    stored = "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()
    return hmac.new(stored.encode("utf-8"), b"phones page", hashlib.sha256).hexdigest()[:24]


def serves_sandbox(base_url: str | None) -> bool:
    """Whether credentials with this base URL reach an xms_sandbox rather than Sinch: such a
    sandbox answers ``/sandbox/outcomes``, which the real API does not have. Sinch's regional
    hosts (no base URL) are never asked.

    >>> serves_sandbox(None)
    False
    """
    if base_url is None:
        return False
    import requests

    try:
        answer = requests.get(f"{origin_of(base_url)}/sandbox/outcomes", timeout=5)
    except requests.RequestException:
        return False
    kind = answer.headers.get("Content-Type", "")
    return answer.status_code == 200 and kind.startswith("application/json")


def reached_banner(origin: str, plan: str, token: str) -> str:
    """What connect() says when credentials lead to a sandbox (a workshop's, say)."""
    return (
        f"Sandbox mode: the sandbox at {origin}/xms answers for plan {plan}. No message leaves "
        f"that sandbox.\n{phones_line(origin, plan, token)}"
    )


def phones_line(origin: str, plan: str, token: str) -> str:
    """Where to watch the virtual phones, in a browser tab or inside the notebook. The address
    holds a key that opens this plan's phones page only."""
    query = urlencode({"plan_id": plan, "key": phones_key(token)})
    return (
        f"Phones: {origin}/sandbox/phones?{query} in a browser tab, or "
        "client.sandbox.show_phones([...]) in a cell."
    )


def choose_sandbox(
    settings: Mapping[str, str], why: str = "no Sinch credentials found, so "
) -> tuple[str, str, str, str]:
    """The sandbox to use without live mode: ``SINCH_SANDBOX_URL`` (a workshop's) if set,
    else the embedded one. Returns its origin, the plan, the token and lines that say which;
    ``why`` says why it is a sandbox at all.
    """
    shared = first_setting(settings, "SINCH_SANDBOX_URL")
    if shared:
        origin = origin_of(shared)
        plan, token = shared_sandbox_plan(settings, origin)
        banner = (
            f"Sandbox mode: the shared sandbox at {origin}/xms (plan {plan}). No message leaves "
            f"that sandbox.\n{phones_line(origin, plan, token)}"
        )
        return origin, plan, token, banner
    origin, plan, token, db = embedded_sandbox()
    kept = "in memory, until the kernel stops" if db == ":memory:" else db
    banner = (
        f"Sandbox mode: {why}the built-in offline sandbox is answering. "
        f"No message leaves this machine.\n{phones_line(origin, plan, token)}\n"
        f"The sandbox keeps its batches and phones {'' if db == ':memory:' else 'in '}{kept}."
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
        if "sandbox" not in _embedded or _embedded["sandbox"].url != self.url:
            # Errors then name the setting that chose this sandbox, not the region's.
            transport.address_setting = "SINCH_SANDBOX_URL"

    def __repr__(self) -> str:
        return f"SandboxControls(url={self.url!r}, plan={self.plan_id!r})"

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call to ``/sandbox/...`` through the client's session, with typed errors."""
        transport = self._transport
        answer = transport.exchange(method, f"{self.url}/sandbox{path}", **kwargs)
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

    @property
    def inbox_url(self) -> str:
        """A ``callback_url`` inside the sandbox itself: callbacks land in this plan's inbox,
        which works even where the sandbox cannot reach your kernel (a shared sandbox)."""
        return f"{self.url}/sandbox/inbox/{segment(self.plan_id)}"

    def inbox(
        self, batch_id: str | None = None, at_least: int = 0, timeout: float = 10.0
    ) -> pd.DataFrame:
        """The callbacks that reached this plan's inbox (only ``batch_id``'s when given), newest
        first: when each arrived, and the JSON the API posted (``type``, ``batch_id``,
        ``recipient``, ``status``, ``code``). Callbacks follow the messages by a moment:
        ``at_least`` waits, up to ``timeout`` seconds, until that many are there."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self._request("GET", f"/inbox/{segment(self.plan_id)}")
            rows = [{"received_at": e["received_at"], **e["body"]} for e in entries]
            rows = [r for r in rows if batch_id is None or r.get("batch_id") == batch_id]
            if len(rows) >= at_least or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return frame(rows, ["received_at", "type", "batch_id", "recipient", "status", "code"])

    def outcomes(self) -> pd.DataFrame:
        """How the sandbox ends messages to each range of fictional numbers."""
        return frame(self._request("GET", "/outcomes"))

    def fault(self, kind: str, **options: Any) -> None:
        """Make the sandbox misbehave on purpose for the next request(s) of this plan:
        ``kind`` is ``status`` (with ``status=503``), ``latency``, ``timeout`` or ``drop``
        (see ``xms_sandbox.faults``); ``method``, ``path``, ``count`` and ``after`` aim it."""
        self._request("POST", "/faults", json={"kind": kind, "plan_id": self.plan_id, **options})

    def clear_faults(self) -> None:
        """Forget every fault still waiting to happen for this plan (other plans keep theirs)."""
        self._request("DELETE", "/faults", params={"plan_id": self.plan_id})

    def reply_from(self, number: str, body: str) -> ApiObject:
        """Make a phone answer the last message it got: the answer becomes an inbound."""
        return wrap(
            self._request(
                "POST",
                f"/handsets/{segment(number)}/reply",
                json={"body": body, "service_plan_id": self.plan_id},
            )
        )
