"""The sandbox's own routes under ``/sandbox/`` (never under ``/xms/``).

Plans and their settings, fault injection, virtual handsets (read what a phone received, make it
reply) and an HTML page that draws each phone's screen.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from . import parsing, validation
from .errors import ApiError, constraint
from .faults import KINDS, Fault, FaultBox
from .lifecycle import DRAMA_PREFIX, OUTCOMES
from .models import XmsBackend
from .timeutil import render_time

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
    return current_app.extensions["xms_backend"]


def faults() -> FaultBox:
    return current_app.extensions["xms_faults"]


def body_object() -> dict:
    return validation.require_object(request.get_json(silent=True, force=True))


def _plan_json(plan) -> dict:
    masked = "…" + plan.token[-4:] if len(plan.token) > 4 else "…"
    return {
        "id": plan.id,
        "token": masked,
        "settings": plan.settings,
        "batches": backend().count_batches(plan.id),
    }


@sandbox.get("/")
def index():
    return jsonify(
        {
            "about": "Offline stand-in for the Sinch SMS (XMS) REST API.",
            "api": "/xms/v1/<service_plan_id>/...",
            "plans": [_plan_json(p) for p in backend().plans()],
            "outcomes": outcomes().get_json(),
            "see": [
                "/sandbox/plans",
                "/sandbox/faults",
                "/sandbox/handsets",
                "/sandbox/phones",
                "/sandbox/callbacks",
            ],
        }
    )


@sandbox.get("/outcomes")
def outcomes():
    rows = [
        {
            "numbers": f"+{DRAMA_PREFIX}{low:03d} to +{DRAMA_PREFIX}{high:03d}",
            "status": o.status,
            "code": o.code,
            "description": o.description,
        }
        for low, high, o in OUTCOMES
    ]
    rows.append(
        {
            "numbers": "any other valid number",
            "status": "Delivered",
            "code": 0,
            "description": "Delivered to the handset",
        }
    )
    return jsonify(rows)


@sandbox.get("/plans")
def list_plans():
    return jsonify([_plan_json(p) for p in backend().plans()])


def _settings(body: dict) -> dict:
    unknown = set(body) - set(PLAN_SETTINGS) - {"id", "token"}
    if unknown:
        raise constraint(sorted(unknown)[0], f"is not a plan setting ({', '.join(PLAN_SETTINGS)})")
    return {key: body[key] for key in PLAN_SETTINGS if key in body}


@sandbox.post("/plans")
def create_plan():
    body = body_object()
    plan_id, token = body.get("id"), body.get("token")
    if not isinstance(plan_id, str) or not plan_id or not isinstance(token, str) or not token:
        raise constraint("id", "and 'token' are required strings")
    return jsonify(_plan_json(backend().add_plan(plan_id, token, **_settings(body)))), 201


@sandbox.post("/plans/<plan_id>")
def configure_plan(plan_id: str):
    return jsonify(_plan_json(backend().configure_plan(plan_id, **_settings(body_object()))))


@sandbox.get("/faults")
def list_faults():
    return jsonify([f.as_dict() for f in faults().pending()])


@sandbox.post("/faults")
def add_fault():
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
    return jsonify(faults().add(fault).as_dict()), 201


@sandbox.delete("/faults")
def clear_faults():
    faults().clear()
    return jsonify([])


@sandbox.get("/callbacks")
def list_callbacks():
    return jsonify(backend().callbacks(request.args.get("plan_id")))


def _messages(number: str) -> list[dict]:
    plan_id = request.args.get("plan_id")
    return [
        {**m, "at": render_time(m["at"])}
        for m in backend().handset_messages(number)
        if plan_id is None or m["plan_id"] == plan_id
    ]


@sandbox.get("/handsets")
def list_handsets():
    return jsonify(backend().handsets())


@sandbox.get("/handsets/<number>")
def handset(number: str):
    return jsonify(_messages(validation.msisdn(number, "number")))


@sandbox.post("/handsets/<number>/reply")
def reply(number: str):
    number = validation.msisdn(number, "number")
    body = body_object()
    text = body.get("body")
    if not isinstance(text, str) or not text:
        raise constraint("body", "is required: the text the phone sends")
    to = body.get("to")
    inbound = backend().reply_from_handset(
        number,
        text,
        to=validation.normalize_sender(to) if isinstance(to, str) else None,
        plan_id=body.get("service_plan_id"),
    )
    return jsonify({k: v for k, v in inbound.items() if not k.startswith("_")}), 201


@sandbox.get("/phones")
@sandbox.get("/phones/<number>")
def phones(number: str | None = None):
    """Every handset's messages drawn as phone screens (HTML)."""
    wanted = [number] if number else parsing.values(request.args, "numbers")
    numbers = [validation.msisdn(n, "numbers") for n in wanted] or backend().handsets()
    screens = [{"number": n, "messages": _messages(n)} for n in numbers]
    embed = parsing.boolean(request.args, "embed")
    return render_template("phones.html", screens=screens, embed=embed)
