"""Each plan's callback inbox, and the check of callback URLs when they are given.

**The inbox** is invented by the sandbox (Sinch posts only to your own server). On a shared
sandbox a learner's notebook cannot receive callbacks: the sandbox cannot reach their kernel. So
a plan may set its ``callback_url`` (or a batch's, or ``mo_callback_url``) to
``<sandbox>/sandbox/inbox/<plan_id>`` and read what arrived:

* ``POST /sandbox/inbox/<plan_id>`` takes a callback's JSON object, with the plan's token or the
  instructor's: the plan's owner may post to test a receiver, and nobody else may write into
  another learner's inbox. (The worker stores a plan's callbacks to its own inbox directly,
  without HTTP; one aimed at another plan's inbox is posted, and refused.) The plan must exist;
  the last 500 entries are kept.
* ``GET /sandbox/inbox/<plan_id>`` lists them, newest first (``?limit=``, default 100), for the
  plan's owner or the instructor.
* ``DELETE /sandbox/inbox/<plan_id>`` empties it; the instructor's reset (``Storage.reset``)
  empties every one.

**The check at send time.** A shared sandbox refuses callback URLs it would not post to (see
:mod:`~xms_sandbox.callbacks`): a batch's ``callback_url`` (send, replace, update) and a plan's
``callback_url`` and ``mo_callback_url`` are refused with a 400 that names the field and the
setting that would allow it. That is where a learner sees it; the worker checks again when it
posts, since DNS may change. The check runs before the route (an app-wide hook registered with
the sandbox's blueprint), so a sandbox without its ``/sandbox/`` routes (``controls=False``)
checks only when posting.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request

from . import parsing
from .access import caller, require_plan
from .callbacks import ALLOW_OPTION, CallbackGuard, inbox_url_of
from .errors import ApiError, constraint, not_found
from .models import XmsBackend
from .models.outbox import INBOX_SIZE, CallbackInbox, InboxEntry
from .sandbox_routes import sandbox
from .timeutil import render_time

#: The routes whose JSON body may carry callback URLs, and those fields.
URL_FIELDS = {
    "xms.send_batch": ("callback_url",),
    "xms.replace_batch": ("callback_url",),
    "xms.update_batch": ("callback_url",),
    "sandbox.create_plan": ("callback_url", "mo_callback_url"),
    "sandbox.configure_plan": ("callback_url", "mo_callback_url"),
}


def _backend() -> XmsBackend:
    found: XmsBackend = current_app.extensions["xms_backend"]
    return found


def inbox() -> CallbackInbox:
    """This app's inbox store (made once: making it creates its table)."""
    extensions = current_app.extensions
    if "xms_callback_inbox" not in extensions:
        backend = _backend()
        extensions["xms_callback_inbox"] = CallbackInbox(backend.storage, backend.clock)
    found: CallbackInbox = extensions["xms_callback_inbox"]
    return found


def guard() -> CallbackGuard:
    extensions = current_app.extensions
    if "xms_callback_guard" not in extensions:
        extensions["xms_callback_guard"] = CallbackGuard(_backend().config.callback_allow)
    found: CallbackGuard = extensions["xms_callback_guard"]
    return found


# ---------------------------------------------------------------------- the check at send time
@sandbox.before_app_request
def refuse_unsafe_callback_urls() -> None:
    """400 for a callback URL this shared sandbox would not post to (see the module)."""
    fields = URL_FIELDS.get(request.endpoint or "")
    if fields is None or not guard().active:
        return
    body = request.get_json(silent=True, cache=True)
    if not isinstance(body, dict):
        return  # the route itself says what is wrong with the body
    plan_id = _plan_of_request(body)
    if request.endpoint == "sandbox.configure_plan" and not caller().may_use(plan_id):
        return  # the route answers 401 or 403; a stranger's URL is not even looked up
    for field in fields:
        url = body.get(field)
        if isinstance(url, str) and not (plan_id and inbox_url_of(url, plan_id)):
            reason = guard().url_refusal(url)
            if reason is not None:
                raise constraint(field, _refusal_rule(reason, plan_id))


def _plan_of_request(body: dict[str, Any]) -> str | None:
    """The plan whose callback URL this is: the API's authenticated plan, or the plan the
    ``/sandbox/plans`` route names."""
    plan = getattr(g, "plan", None)
    if plan is not None:
        return str(plan.id)
    named = (request.view_args or {}).get("plan_id", body.get("id"))
    return named if isinstance(named, str) else None


def _refusal_rule(reason: str, plan_id: str | None) -> str:
    inbox_url = f"{request.host_url}sandbox/inbox/{plan_id or '<plan_id>'}"
    return (
        f"is refused: {reason}. This shared sandbox does not post callbacks to loopback, "
        "private, link-local or multicast addresses. Use a public URL, or your plan's inbox on "
        f"the sandbox ({inbox_url}, read with GET), or ask the instructor to allow the range "
        f"(python -m xms_sandbox {ALLOW_OPTION} CIDR)"
    )


# ---------------------------------------------------------------------- the inbox
def inbox_entry(entry: InboxEntry) -> dict[str, Any]:
    """An inbox entry as JSON: when it came, its ``type`` (when it has one) and its body."""
    return {
        "id": entry.id,
        "received_at": render_time(entry.received_at),
        "type": entry.body.get("type"),
        "body": dict(entry.body),
    }


@sandbox.post("/inbox/<plan_id>")
def receive(plan_id: str) -> Response:
    require_plan(plan_id)
    if _backend().plans.find(plan_id) is None:
        raise not_found(f"Plan {plan_id!r}")
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ApiError(400, "syntax_invalid_json", "A callback must be a JSON object.")
    inbox().keep(plan_id, body)
    return jsonify({"received": True})  # every answer but the phones page is JSON


@sandbox.get("/inbox/<plan_id>")
def list_inbox(plan_id: str) -> Response:
    require_plan(plan_id)
    limit = parsing.integer(request.args, "limit", 100, 1, INBOX_SIZE)
    return jsonify([inbox_entry(e) for e in inbox().newest(plan_id, limit)])


@sandbox.delete("/inbox/<plan_id>")
def clear_inbox(plan_id: str) -> Response:
    require_plan(plan_id)
    inbox().clear(plan_id)
    return jsonify([])
