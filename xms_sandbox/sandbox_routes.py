"""The sandbox's own routes under ``/sandbox/`` (never under ``/xms/``).

Plans and their settings, fault injection, virtual handsets (read what a phone received, make it
reply) and an HTML page that draws each phone's screen.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from . import parsing, responses, validation
from .errors import ApiError, constraint
from .faults import KINDS, Fault, FaultBox
from .models import XmsBackend
from .models.records import Plan
from .msisdn import normalize_sender

sandbox = Blueprint("sandbox", __name__, url_prefix="/sandbox")


@sandbox.app_template_filter("number")
def display_number(value: str | None) -> str:
    """Bare international digits shown with their ``+``; names and short codes as they are."""
    value = value or ""
    return f"+{value}" if value.isdigit() and len(value) > 6 else value


PLAN_SETTINGS = (
    "callback_url",
    "mo_callback_url",
    "default_originator",
    "messages_per_second",
    "requests_per_second",
)


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


@sandbox.get("/")
def index() -> Response:
    return jsonify(responses.index([_plan_json(p) for p in backend().plans.all()]))


@sandbox.get("/outcomes")
def outcomes() -> Response:
    return jsonify(responses.outcomes())


@sandbox.get("/plans")
def list_plans() -> Response:
    return jsonify([_plan_json(p) for p in backend().plans.all()])


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - set(PLAN_SETTINGS) - {"id", "token"}
    if unknown:
        raise constraint(sorted(unknown)[0], f"is not a plan setting ({', '.join(PLAN_SETTINGS)})")
    return {key: body[key] for key in PLAN_SETTINGS if key in body}


@sandbox.post("/plans")
def create_plan() -> tuple[Response, int]:
    body = body_object()
    plan_id, token = body.get("id"), body.get("token")
    if not isinstance(plan_id, str) or not plan_id or not isinstance(token, str) or not token:
        raise constraint("id", "and 'token' are required strings")
    return jsonify(_plan_json(backend().plans.add(plan_id, token, **_settings(body)))), 201


@sandbox.post("/plans/<plan_id>")
def configure_plan(plan_id: str) -> Response:
    return jsonify(_plan_json(backend().plans.configure(plan_id, **_settings(body_object()))))


@sandbox.get("/faults")
def list_faults() -> Response:
    return jsonify([responses.fault(f) for f in faults().pending()])


@sandbox.post("/faults")
def add_fault() -> tuple[Response, int]:
    body = body_object()
    kind = body.get("kind")
    if kind not in KINDS:
        raise constraint("kind", f"must be one of {', '.join(KINDS)}")
    try:
        fault = Fault(
            kind=kind,
            count=int(body.get("count", 1)),
            status=int(body.get("status", 503)),
            seconds=float(body.get("seconds", 0)),
            method=body.get("method"),
            path=body.get("path"),
            plan_id=body.get("plan_id"),
            after=int(body.get("after", 0)),
        )
    except (TypeError, ValueError):
        raise ApiError(
            400,
            "syntax_invalid_parameter_format",
            "'count', 'status', 'seconds' and 'after' must be numbers.",
        ) from None
    if fault.count < 1 or fault.after < 0 or fault.seconds < 0:
        raise constraint("count", "must be at least 1 (and 'after', 'seconds' not negative)")
    return jsonify(responses.fault(faults().add(fault))), 201


@sandbox.delete("/faults")
def clear_faults() -> Response:
    """Every fault, or with ``?plan_id=`` only those aimed at that plan."""
    faults().clear(request.args.get("plan_id"))
    return jsonify([])


@sandbox.get("/callbacks")
def list_callbacks() -> Response:
    found = backend().outbox.listing(request.args.get("plan_id"))
    return jsonify([responses.callback(c) for c in found])


def _messages(number: str) -> list[dict[str, Any]]:
    """A phone's messages, only those of ``?plan_id=`` when given (a shared sandbox's phones
    show every plan's messages)."""
    plan_id = request.args.get("plan_id")
    return [
        responses.handset_message(m)
        for m in backend().inbounds.handset_messages(number)
        if plan_id is None or m.plan_id == plan_id
    ]


@sandbox.get("/handsets")
def list_handsets() -> Response:
    return jsonify(backend().inbounds.handsets())


@sandbox.get("/handsets/<number>")
def handset(number: str) -> Response:
    return jsonify(_messages(validation.msisdn(number, "number")))


@sandbox.post("/handsets/<number>/reply")
def reply(number: str) -> tuple[Response, int]:
    number = validation.msisdn(number, "number")
    body = body_object()
    text = body.get("body")
    if not isinstance(text, str) or not text:
        raise constraint("body", "is required: the text the phone sends")
    to = body.get("to")
    inbound = backend().inbounds.reply_from_handset(
        number,
        text,
        to=normalize_sender(to) if isinstance(to, str) else None,
        plan_id=body.get("service_plan_id"),
    )
    return jsonify(responses.inbound(inbound)), 201


@sandbox.get("/phones")
@sandbox.get("/phones/<number>")
def phones(number: str | None = None) -> str:
    """Every handset's messages drawn as phone screens (HTML)."""
    wanted = [number] if number else parsing.values(request.args, "numbers")
    numbers = [validation.msisdn(n, "numbers") for n in wanted] or backend().inbounds.handsets()
    screens = [{"number": n, "messages": _messages(n)} for n in numbers]
    embed = parsing.boolean(request.args, "embed")
    return render_template("phones.html", screens=screens, embed=embed)
