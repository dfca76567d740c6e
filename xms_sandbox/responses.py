"""The model's records rendered as JSON: UTC millisecond times, unset fields left out.

The only place that knows what the API's (and the sandbox's own) answers look like, including
their field order, which clients and stored notebook outputs see: Flask keeps it as built here.
Callback payloads are rendered here too (:func:`callback_body`), handed to the model at startup
so that it can store them without importing this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from .faults import Fault
from .lifecycle import DRAMA_PREFIX, FINAL_STATUSES, OUTCOMES, outcome_for
from .models.records import (
    Batch,
    BatchReport,
    Callback,
    CallbackBody,
    DryRun,
    Group,
    HandsetMessage,
    Inbound,
    Page,
    Plan,
    RecipientReport,
)
from .timeutil import render_time

T = TypeVar("T")
Json = dict[str, Any]

# Optional batch fields echoed back only when they were set.
_ECHOED = (
    "callback_url",
    "client_reference",
    "feedback_enabled",
    "parameters",
    "udh",
    "max_number_of_message_parts",
    "truncate_concat",
    "from_ton",
    "from_npi",
    "strict_validation",
)


# ---------------------------------------------------------------------- the XMS API
def batch(item: Batch) -> Json:
    spec = item.spec
    out: Json = {
        "id": item.id,
        "to": spec["to"],
        "from": spec.get("from"),
        "canceled": item.canceled,
        "body": spec["body"],
        "type": spec["type"],
        "created_at": render_time(item.created_at),
        "modified_at": render_time(item.modified_at),
        "delivery_report": spec.get("delivery_report", "none"),
        "expire_at": render_time(item.expire_at),
    }
    if spec.get("send_at") is not None:
        out["send_at"] = render_time(spec["send_at"])
    if spec["type"] == "mt_text":
        out["flash_message"] = spec.get("flash_message", False)
    out.update({key: spec[key] for key in _ECHOED if spec.get(key) is not None})
    return out


def page(result: Page[T], key: str, render: Callable[[T], Any]) -> Json:
    """A page as the API shapes it: ``page_size`` is the number of items on this page."""
    return {
        "page": result.page,
        "page_size": len(result.items),
        "count": result.count,
        key: [render(item) for item in result.items],
    }


def dry_run(result: DryRun) -> Json:
    out: Json = {
        "number_of_recipients": result.recipients,
        "number_of_messages": result.messages,
    }
    if result.per_recipient is not None:
        out["per_recipient"] = [
            {
                "recipient": item.recipient,
                "body": item.body,
                "number_of_parts": item.parts,
                "encoding": item.encoding,
            }
            for item in result.per_recipient
        ]
    return out


def batch_report(report: BatchReport) -> Json:
    """``delivery_report_sms``: for ``GET .../delivery_report`` and summary/full callbacks."""
    statuses = []
    for bucket in report.buckets:
        entry: Json = {
            "code": bucket.code,
            "status": bucket.status,
            "count": len(bucket.recipients),
        }
        if report.full:
            entry["recipients"] = bucket.recipients
        statuses.append(entry)
    out: Json = {
        "type": "delivery_report_sms",
        "batch_id": report.batch.id,
        "total_message_count": report.total,
        "statuses": statuses,
    }
    if report.batch.spec.get("client_reference") is not None:
        out["client_reference"] = report.batch.spec["client_reference"]
    return out


def recipient_report(report: RecipientReport) -> Json:
    """``recipient_delivery_report_sms``: the fields the API's schema has, and no others."""
    event = report.event
    out: Json = {
        "type": "recipient_delivery_report_sms",
        "batch_id": report.batch.id,
        "recipient": report.msisdn,
        "code": event.code,
        "status": event.status,
        "at": render_time(event.at),
    }
    # A final status from an SMSC's receipt (a code below 400) carries the receipt's time; the
    # API's own codes (400 and up: queued, dispatched, aborted, cancelled) do not, and neither
    # does an Unknown that no receipt ever came for.
    receipt = event.status in FINAL_STATUSES and event.code < 400
    if receipt and outcome_for(report.msisdn).receipt:
        out["operator_status_at"] = render_time(event.at)
    if report.batch.spec.get("client_reference") is not None:
        out["client_reference"] = report.batch.spec["client_reference"]
    if report.parts is not None:  # only when the batch sets max_number_of_message_parts
        out["number_of_message_parts"] = report.parts
    return out


def tags(values: list[str]) -> Json:
    return {"tags": values}


def group(item: Group) -> Json:
    out: Json = {
        "id": item.id,
        "size": item.size,
        "created_at": render_time(item.created_at),
        "modified_at": render_time(item.modified_at),
        "child_groups": item.child_groups,
    }
    if item.name is not None:
        out["name"] = item.name
    if item.auto_update:
        out["auto_update"] = item.auto_update
    return out


def inbound(item: Inbound) -> Json:
    out: Json = {
        "type": "mo_text",
        "id": item.id,
        "from": item.sender,
        "to": item.to,
        "body": item.body,
        "received_at": render_time(item.received_at),
        "sent_at": render_time(item.sent_at),
    }
    if item.client_reference is not None:
        out["client_reference"] = item.client_reference
    return out


def callback_body(record: CallbackBody) -> Json:
    """What the outbox posts for a record: the same JSON the API answers for it."""
    if isinstance(record, RecipientReport):
        return recipient_report(record)
    if isinstance(record, BatchReport):
        return batch_report(record)
    return inbound(record)


# ---------------------------------------------------------------------- the sandbox's own
def plan(item: Plan, batches: int) -> Json:
    """A plan for ``/sandbox/plans``: no token, since the sandbox keeps only its hash."""
    return {"id": item.id, "settings": item.settings, "batches": batches}


def outcomes() -> list[Json]:
    """How each test number's message ends (``lifecycle.OUTCOMES``), as a table."""
    rows: list[Json] = [
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
    return rows


def index(plans: list[Json]) -> Json:
    """``/sandbox/``: what this server is and where to look next."""
    return {
        "about": "Offline stand-in for the Sinch SMS (XMS) REST API.",
        "api": "/xms/v1/<service_plan_id>/...",
        "plans": plans,
        "outcomes": outcomes(),
        "see": [
            "/sandbox/plans",
            "/sandbox/faults",
            "/sandbox/handsets",
            "/sandbox/phones",
            "/sandbox/callbacks",
        ],
    }


def callback(item: Callback) -> Json:
    """An outbox entry for ``/sandbox/callbacks``, its payload as the JSON it is."""
    return {
        "id": item.id,
        "plan_id": item.plan_id,
        "kind": item.kind,
        "url": item.url,
        "state": item.state,
        "attempts": item.attempts,
        "last_error": item.last_error,
        "payload": json.loads(item.payload),
    }


def handset_message(item: HandsetMessage) -> Json:
    """One bubble of a phone's screen; ``from`` or ``to`` names the other end."""
    if item.direction == "received":
        return {
            "direction": "received",
            "from": item.counterpart,
            "body": item.body,
            "at": render_time(item.at),
            "batch_id": item.source_id,
            "plan_id": item.plan_id,
        }
    return {
        "direction": "sent",
        "to": item.counterpart,
        "body": item.body,
        "at": render_time(item.at),
        "inbound_id": item.source_id,
        "plan_id": item.plan_id,
    }


def fault(item: Fault) -> Json:
    return asdict(item)
