"""The sandbox's own routes under ``/sandbox/`` (never under ``/xms/``).

Plans and their settings, fault injection, virtual handsets (read what a phone received, make it
reply) and an HTML page that draws each phone's screen. Every route but ``/outcomes`` is scoped
by :mod:`~xms_sandbox.access`: a learner's token opens their own plan, the instructor's opens all.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from . import parsing, responses, validation
from .access import Caller, caller, require_instructor, require_plan, require_someone, unauthorized
from .errors import ApiError, constraint
from .faults import FaultBox
from .models import XmsBackend
from .models.plans import new_plan_name_problem
from .models.records import Plan
from .msisdn import normalize_sender

sandbox = Blueprint("sandbox", __name__, url_prefix="/sandbox")

#: The phones page draws the phones used last, this many at most, unless asked for some by
#: number; and the last messages of each. It reloads every 5 seconds in every learner's tab.
PHONES_SHOWN = 48
MESSAGES_SHOWN = 20


@sandbox.app_template_filter("number")
def display_number(value: str | None) -> str:
    """Bare international digits shown with their ``+``; names and short codes as they are."""
    value = value or ""
    return f"+{value}" if value.isdigit() and len(value) > 6 else value


def backend() -> XmsBackend:
    found: XmsBackend = current_app.extensions["xms_backend"]
    return found


def faults() -> FaultBox:
    found: FaultBox = current_app.extensions["xms_faults"]
    return found


def body_object() -> dict[str, Any]:
    return validation.require_object(request.get_json(silent=True, force=True))


def _plan_json(plan: Plan) -> dict[str, Any]:
    return responses.plan(plan, backend().batches.count(plan.id))


def visible_plans() -> list[Plan]:
    """Every plan for the instructor; the caller's own for a learner; none for anyone else."""
    who = caller()
    if who.instructor:
        return backend().plans.all()
    return [who.plan] if who.plan is not None else []


@sandbox.get("/")
def index() -> Response:
    return jsonify(responses.index([_plan_json(p) for p in visible_plans()]))


@sandbox.get("/outcomes")
def outcomes() -> Response:
    return jsonify(responses.outcomes())


@sandbox.get("/plans")
def list_plans() -> Response:
    require_someone("The list of plans")
    return jsonify([_plan_json(p) for p in visible_plans()])


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    return validation.plan_settings(body)


@sandbox.post("/plans")
def create_plan() -> tuple[Response, int]:
    body = body_object()
    plan_id, token = body.get("id"), body.get("token")
    if not isinstance(plan_id, str) or not plan_id or not isinstance(token, str) or not token:
        raise constraint("id", "and 'token' are required strings")
    # A new plan is what --open does on first use anyway; taking over an existing one is not.
    exists = backend().plans.find(plan_id) is not None
    if exists or not backend().config.open_plans:
        require_instructor(f"Setting the token of plan {plan_id!r}")
    if not exists and (problem := new_plan_name_problem(plan_id)) is not None:
        raise ApiError(400, "syntax_constraint_violation", f"Parameter 'id': {problem}")
    return jsonify(_plan_json(backend().plans.add(plan_id, token, **_settings(body)))), 201


@sandbox.post("/plans/<plan_id>")
def configure_plan(plan_id: str) -> Response:
    require_plan(plan_id)
    return jsonify(_plan_json(backend().plans.configure(plan_id, **_settings(body_object()))))


@sandbox.post("/reset")
def reset() -> Response:
    """Forget every batch, group, inbound, callback and fault; plans and tokens stay."""
    require_instructor("The reset")
    backend().storage.reset()
    faults().clear()
    return jsonify({"reset": True})


@sandbox.get("/faults")
def list_faults() -> Response:
    who = require_someone("The list of faults")
    return jsonify([responses.fault(f) for f in faults().pending() if who.may_use(f.plan_id)])


@sandbox.post("/faults")
def add_fault() -> tuple[Response, int]:
    body = body_object()
    aimed_at = body.get("plan_id")
    if aimed_at is None:
        require_instructor("A fault for every plan")
    else:
        require_plan(aimed_at if isinstance(aimed_at, str) else repr(aimed_at))
    fault = validation.fault(body)
    return jsonify(responses.fault(faults().add(fault))), 201


@sandbox.delete("/faults")
def clear_faults() -> Response:
    """Every fault (the instructor), or with ``?plan_id=`` only those aimed at that plan."""
    plan_id = request.args.get("plan_id")
    if plan_id is None:
        require_instructor("Clearing every plan's faults")
    else:
        require_plan(plan_id)
    faults().clear(plan_id)
    return jsonify([])


@sandbox.get("/callbacks")
def list_callbacks() -> Response:
    who = require_someone("The list of callbacks")
    plan_id = request.args.get("plan_id")
    if plan_id is None and not who.instructor:
        plan_id = who.plan.id if who.plan else None
    if plan_id is not None:
        require_plan(plan_id)
    found = backend().outbox.listing(plan_id)
    return jsonify([responses.callback(c) for c in found])


def _scope(who: Caller) -> str | None:
    """Whose phones the caller may see: a learner's own plan's; the instructor's every plan's
    (None), or only ``?plan_id=``'s when given."""
    if who.instructor:
        return request.args.get("plan_id")
    return who.plan.id if who.plan else ""  # "": no plan's, never every plan's


def _screens(numbers: list[str], who: Caller) -> dict[str, list[dict[str, Any]]]:
    """These phones' messages, as far as the caller may see them."""
    found = backend().inbounds.phone_screens(_scope(who), numbers)
    return {n: [responses.handset_message(m) for m in found[n]] for n in found}


def _handsets(who: Caller) -> list[str]:
    """The phones the caller may see."""
    return backend().inbounds.handsets(_scope(who))


@sandbox.get("/handsets")
def list_handsets() -> Response:
    return jsonify(_handsets(require_someone("The list of phones")))


@sandbox.get("/handsets/<number>")
def handset(number: str) -> Response:
    who = require_someone("Reading a phone's messages")
    number = validation.msisdn(number, "number")
    return jsonify(_screens([number], who).get(number, []))


@sandbox.post("/handsets/<number>/reply")
def reply(number: str) -> tuple[Response, int]:
    number = validation.msisdn(number, "number")
    body = body_object()
    text = body.get("body")
    if not isinstance(text, str) or not text:
        raise constraint("body", "is required: the text the phone sends")
    plan_id = body.get("service_plan_id")
    who = require_someone("Replying from a phone")
    if not who.instructor:  # a learner's phones answer the learner's plan, and no other
        plan_id = plan_id or (who.plan.id if who.plan else None)
        require_plan(plan_id if isinstance(plan_id, str) else None)
    to = body.get("to")
    inbound = backend().inbounds.reply_from_handset(
        number,
        text,
        to=normalize_sender(to) if isinstance(to, str) else None,
        plan_id=plan_id,
    )
    return jsonify(responses.inbound(inbound)), 201


@sandbox.get("/phones")
@sandbox.get("/phones/<number>")
def phones(number: str | None = None) -> str:
    """Phone screens (HTML): a learner's own phones, or for the instructor the wall of every
    learner's, each labelled with the plans that wrote to it."""
    who = caller(phones_page=True)
    if not who.instructor and who.plan is None:
        raise unauthorized("The phones page")
    wanted = [number] if number else parsing.values(request.args, "numbers")
    numbers = [validation.msisdn(n, "numbers") for n in wanted]
    total = len(numbers)
    if not numbers:  # the phones used last: a room's wall has tens of thousands
        numbers, total = backend().inbounds.latest_phones(_scope(who), PHONES_SHOWN)
    found = _screens(numbers, who)
    screens = []
    for n in sorted(numbers):  # in order of number, so that a refresh moves few of them
        messages = found.get(n, [])
        labels = sorted({m["plan_id"] for m in messages if m.get("plan_id")})
        earlier = max(0, len(messages) - MESSAGES_SHOWN)
        screens.append(
            {"number": n, "messages": messages[earlier:], "earlier": earlier, "plans": labels}
        )
    embed = parsing.boolean(request.args, "embed")
    return render_template(
        "phones.html", screens=screens, total=total, embed=embed, wall=who.instructor
    )


# Last: these modules add their routes to the blueprint above.
from . import callback_inbox  # noqa: E402, F401
