"""The XMS API's routes under ``/xms/v1/<service_plan_id>/``: parse, call the model, render.

Each view is a few lines: read the path, query and body, ask the store that holds the resource,
render with ``responses``. Rules live in ``models``; limits and field checks in ``validation``
and ``parsing``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from . import parsing, responses, validation
from .errors import INVENTED_CODES, ApiError, invalid_format
from .faults import enforce_request_rate
from .hub import hub_plan
from .models import XmsBackend
from .models.batches import BatchStore
from .models.groups import GroupStore
from .msisdn import normalize_sender

xms = Blueprint("xms", __name__, url_prefix="/xms/v1/<plan_id>")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def backend() -> XmsBackend:
    found: XmsBackend = current_app.extensions["xms_backend"]
    return found


def json_body() -> Any:
    """The request's JSON; 415 without a JSON content type, 400 when it does not parse."""
    content_type = request.mimetype or ""
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(
            415,
            INVENTED_CODES[415],
            "Send the request body as JSON with 'Content-Type: application/json'.",
        )
    body = request.get_json(silent=True, cache=True)
    if body is None and request.get_data(cache=True).strip() != b"null":
        raise ApiError(400, "syntax_invalid_json", "The request body is not valid JSON.")
    if _SURROGATE_ESCAPE.search(request.get_data(cache=True)):
        try:  # JSON may carry lone UTF-16 surrogates ("\ud800"), which are not text
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(
                400,
                "syntax_invalid_json",
                "The request body contains an unpaired surrogate escape.",
            ) from None
    return body


def msisdn_from_path(raw: str) -> str:
    return validation.msisdn(raw, "recipient_msisdn")


@xms.url_value_preprocessor
def authenticate(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    assert values is not None  # every route of this blueprint has <plan_id> in its prefix
    plan_id = values.pop("plan_id")
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None
    # A JupyterHub API token opens its user's plan when the sandbox is a Hub service (.hub).
    g.plan = hub_plan(plan_id, token) or backend().plans.authenticate(plan_id, token)
    faults = current_app.extensions["xms_faults"]
    enforce_request_rate(faults, g.plan.id, g.plan.settings.get("requests_per_second"))


# ---------------------------------------------------------------- batches
@xms.post("/batches")
def send_batch() -> tuple[Response, int]:
    spec = validation.send_request(json_body())
    return jsonify(responses.batch(backend().batches.send(g.plan, spec))), 201


@xms.get("/batches")
def list_batches() -> Response:
    page, size = parsing.paging(request.args)
    senders = [normalize_sender(s) for s in parsing.values(request.args, "from")]
    result = backend().batches.listing(
        g.plan,
        page,
        size,
        senders=senders,
        start=parsing.moment(request.args, "start_date"),
        end=parsing.moment(request.args, "end_date"),
        client_reference=request.args.get("client_reference"),
        tags=parsing.values(request.args, "tags"),
    )
    return jsonify(responses.page(result, "batches", responses.batch))


@xms.post("/batches/dry_run")
def dry_run() -> Response:
    per_recipient = parsing.boolean(request.args, "per_recipient")
    limit = parsing.integer(request.args, "number_of_recipients", 100, 0, 1000)
    spec = validation.send_request(json_body())
    return jsonify(responses.dry_run(backend().batches.dry_run(g.plan, spec, per_recipient, limit)))


@xms.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> Response:
    return jsonify(responses.batch(backend().batches.get(g.plan, batch_id)))


@xms.post("/batches/<batch_id>")
def update_batch(batch_id: str) -> Response:
    batches = backend().batches
    current = batches.get(g.plan, batch_id)
    changes, added, removed, reset = validation.update_request(json_body(), current.spec["type"])
    updated = batches.update(g.plan, batch_id, changes, added, removed, reset)
    return jsonify(responses.batch(updated))


@xms.put("/batches/<batch_id>")
def replace_batch(batch_id: str) -> Response:
    spec = validation.send_request(json_body())
    return jsonify(responses.batch(backend().batches.replace(g.plan, batch_id, spec)))


@xms.delete("/batches/<batch_id>")
def cancel_batch(batch_id: str) -> Response:
    return jsonify(responses.batch(backend().batches.cancel(g.plan, batch_id)))


@xms.post("/batches/<batch_id>/delivery_feedback")
def delivery_feedback(batch_id: str) -> tuple[str, int]:
    numbers = validation.feedback_request(json_body())
    backend().batches.record_feedback(g.plan, batch_id, numbers)
    return "", 202


@xms.get("/batches/<batch_id>/delivery_report")
def batch_delivery_report(batch_id: str) -> Response:
    kind = (request.args.get("type") or "summary").strip().lower()
    if kind not in ("summary", "full"):
        raise invalid_format("type", request.args.get("type"), "a valid report type")
    report = backend().reports.batch_report(
        g.plan,
        batch_id,
        full=kind == "full",
        statuses=set(parsing.values(request.args, "status")),
        codes=parsing.codes(request.args),
    )
    return jsonify(responses.batch_report(report))


@xms.get("/batches/<batch_id>/delivery_report/<recipient>")
def recipient_delivery_report(batch_id: str, recipient: str) -> Response:
    report = backend().reports.recipient_report(g.plan, batch_id, msisdn_from_path(recipient))
    return jsonify(responses.recipient_report(report))


@xms.get("/delivery_reports")
def list_delivery_reports() -> Response:
    page, size = parsing.paging(request.args)
    result = backend().reports.listing(
        g.plan,
        page,
        size,
        start=parsing.moment(request.args, "start_date"),
        end=parsing.moment(request.args, "end_date"),
        statuses=set(parsing.values(request.args, "status")),
        codes=parsing.codes(request.args),
        client_reference=request.args.get("client_reference"),
    )
    return jsonify(responses.page(result, "delivery_reports", responses.recipient_report))


# ---------------------------------------------------------------- tags (legacy client only)
def tagged(kind: str) -> BatchStore | GroupStore:
    """The store whose items the path names: ``batches`` or ``groups``."""
    return backend().batches if kind == "batches" else backend().groups


@xms.get("/<any(batches, groups):kind>/<item_id>/tags")
def get_tags(kind: str, item_id: str) -> Response:
    return jsonify(responses.tags(tagged(kind).tags(g.plan, item_id)))


@xms.put("/<any(batches, groups):kind>/<item_id>/tags")
def replace_tags(kind: str, item_id: str) -> Response:
    tags = validation.tags_replace(json_body())
    return jsonify(responses.tags(tagged(kind).set_tags(g.plan, item_id, tags)))


@xms.post("/<any(batches, groups):kind>/<item_id>/tags")
def update_tags(kind: str, item_id: str) -> Response:
    add, remove = validation.tags_update(json_body())
    return jsonify(responses.tags(tagged(kind).change_tags(g.plan, item_id, add, remove)))


# ---------------------------------------------------------------- inbounds
@xms.get("/inbounds")
def list_inbounds() -> Response:
    page, size = parsing.paging(request.args)
    to = [normalize_sender(n) for n in parsing.values(request.args, "to")]
    result = backend().inbounds.listing(
        g.plan,
        page,
        size,
        to=to,
        start=parsing.moment(request.args, "start_date"),
        end=parsing.moment(request.args, "end_date"),
        client_reference=request.args.get("client_reference"),
    )
    return jsonify(responses.page(result, "inbounds", responses.inbound))


@xms.get("/inbounds/<inbound_id>")
def get_inbound(inbound_id: str) -> Response:
    return jsonify(responses.inbound(backend().inbounds.get(g.plan, inbound_id)))


# ---------------------------------------------------------------- groups
@xms.post("/groups")
def create_group() -> tuple[Response, int]:
    created = backend().groups.create(g.plan, validation.group_request(json_body()))
    return jsonify(responses.group(created)), 201


@xms.get("/groups")
def list_groups() -> Response:
    page, size = parsing.paging(request.args)
    result = backend().groups.listing(g.plan, page, size, parsing.values(request.args, "tags"))
    return jsonify(responses.page(result, "groups", responses.group))


@xms.get("/groups/<group_id>")
def get_group(group_id: str) -> Response:
    return jsonify(responses.group(backend().groups.get(g.plan, group_id)))


@xms.post("/groups/<group_id>")
def update_group(group_id: str) -> Response:
    spec = validation.group_update(json_body())
    return jsonify(responses.group(backend().groups.update(g.plan, group_id, spec)))


@xms.put("/groups/<group_id>")
def replace_group(group_id: str) -> Response:
    spec = validation.group_request(json_body(), replace=True)
    return jsonify(responses.group(backend().groups.replace(g.plan, group_id, spec)))


@xms.delete("/groups/<group_id>")
def delete_group(group_id: str) -> tuple[str, int]:
    backend().groups.delete(g.plan, group_id)
    return "", 200


@xms.get("/groups/<group_id>/members")
def group_members(group_id: str) -> Response:
    return jsonify(backend().groups.members(g.plan, group_id))
