"""Who may use the sandbox's own routes (``/sandbox/...``): a learner or the instructor.

A shared sandbox is a multi-user server, so every control route is scoped. A **learner** shows
their plan's API token (``Authorization: Bearer <token>``, the same header the API itself takes)
and sees and changes only that plan: its phones, replies, callbacks, faults and settings. The
**instructor** shows the instructor token (printed when a standalone sandbox starts, or given
with ``--instructor-token``) and may do anything: the wall of every phone, every plan, resets,
faults aimed at the whole room, replacing a plan's token. A browser tab cannot send a header, so
a plan's phones page also takes ``?plan_id=...&key=...``, a key that opens that page and nothing
else (:func:`phones_key`). Tokens are compared in constant time, and the database keeps only
their hashes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import current_app, request

from .errors import ApiError
from .hub import hub_caller, serving_a_hub
from .models import XmsBackend
from .models.records import Plan
from .tokens import phones_key, token_matches


@dataclass(frozen=True)
class Caller:
    """Who is asking: the instructor, a learner with one plan, or nobody known."""

    instructor: bool = False
    plan: Plan | None = None

    def may_use(self, plan_id: str | None) -> bool:
        return self.instructor or (self.plan is not None and self.plan.id == plan_id)


def _same(presented: str, expected: str) -> bool:
    """Constant-time equality that also takes text with any characters (as bytes)."""
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def _backend() -> XmsBackend:
    found: XmsBackend = current_app.extensions["xms_backend"]
    return found


def _bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _named_plan() -> str | None:
    """The plan a request names: ``?plan_id=``, or ``plan_id``/``service_plan_id`` in its body."""
    named = request.args.get("plan_id")
    if named is None and request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            named = body.get("plan_id") or body.get("service_plan_id")
    return named if isinstance(named, str) else None


def caller(*, phones_page: bool = False) -> Caller:
    """Who sent this request. A learner's token must belong to the plan the request names (or,
    when it names none, to exactly one plan)."""
    who = _sandbox_caller(phones_page)
    if who.instructor:
        return who
    by_hub = _hub_caller(phones_page)  # a Hub admin's token may also be their own plan's
    return by_hub if by_hub and (by_hub.instructor or who.plan is None) else who


def _sandbox_caller(phones_page: bool) -> Caller:
    """Who sent this request, by the sandbox's own tokens (the instructor's, the plans')."""
    token = _bearer()
    instructor_token = current_app.config.get("XMS_INSTRUCTOR_TOKEN")
    if phones_page and token is None:
        key = request.args.get("key")  # the wall, opened in the instructor's browser?
        if key and instructor_token and _same(key, instructor_token):
            return Caller(instructor=True)
    if token and instructor_token and _same(token, instructor_token):
        return Caller(instructor=True)
    plans = _backend().plans
    named = _named_plan()
    if phones_page and token is None and named and request.args.get("key"):
        plan = plans.find(named)
        key = request.args.get("key", "")
        if plan is not None and _same(key, phones_key(plan.token)):
            return Caller(plan=plan)
        return Caller()
    if token is None:
        return Caller()
    if named is not None:
        plan = plans.find(named) or _made_on_first_use(named, token)
        return Caller(plan=plan) if plan and token_matches(token, plan.token) else Caller()
    return Caller(plan=plans.find_by_token(token))


def _made_on_first_use(plan_id: str, token: str) -> Plan | None:
    """With ``--open`` a plan is made by its first use, and that may be a control: a notebook
    that clears its plan's faults before it sends anything (07) must not be refused. Made as
    the API makes it (a name it cannot have is a 401 that says why); a Hub service makes its
    users' plans from their Hub tokens instead."""
    plans = _backend().plans
    if not plans.config.open_plans or serving_a_hub():
        return None
    return plans.authenticate(plan_id, token)


# ---------------------------------------------------------------- JupyterHub tokens
def _hub_caller(phones_page: bool) -> Caller | None:
    """A JupyterHub API token, when the sandbox runs as a Hub service (:mod:`.hub`): a Hub admin
    is the instructor, any other user the learner whose plan is their user name."""
    token = _bearer()
    if phones_page and token is None and request.args.get("plan_id") is None:
        token = request.args.get("key")
    found = hub_caller(token, _named_plan())
    return Caller(instructor=found[0], plan=found[1]) if found else None


def unauthorized(what: str) -> ApiError:
    """401 for ``what`` (e.g. "Reading a phone's messages"), saying whether a token came."""
    if _bearer() is None and request.args.get("key") is None:
        needed = (
            "send your plan's API token (Authorization: Bearer <token>, and plan_id=<your "
            "plan>) or the instructor's. The notebooks' helpers send it for you."
        )
    else:
        needed = (
            "the token (or key) sent opens neither this plan nor the whole room. Send your own "
            "plan's token, as the notebooks' helpers do, or the instructor's."
        )
    return ApiError(401, "unauthorized", f"{what}: {needed}")


def require_plan(plan_id: str | None) -> Caller:
    """The caller, when they may use ``plan_id``'s controls; 401 or 403 otherwise."""
    who = caller()
    if who.may_use(plan_id):
        return who
    if not who.instructor and who.plan is None:
        raise unauthorized(f"Using plan {plan_id!r}")
    raise ApiError(
        403, "forbidden", f"Only the owner of plan {plan_id!r} or the instructor may do this."
    )


def require_instructor(what: str) -> Caller:
    """The caller, when it is the instructor; 401 or 403 otherwise."""
    who = caller()
    if who.instructor:
        return who
    if who.plan is None:
        raise unauthorized(what)
    raise ApiError(403, "forbidden", f"{what} is for the instructor only.")


def require_someone(what: str) -> Caller:
    """The caller, when they showed a plan's token or the instructor's; 401 otherwise."""
    who = caller()
    if who.instructor or who.plan is not None:
        return who
    raise unauthorized(what)
