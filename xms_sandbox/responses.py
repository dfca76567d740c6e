"""Model objects rendered as the API's JSON: UTC millisecond times, unset fields left out."""

from __future__ import annotations

from typing import Any

from .lifecycle import FINAL_STATUSES
from .models import Batch, Page, RecipientReport
from .timeutil import render_time

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


def batch(item: Batch) -> dict[str, Any]:
    spec = item.spec
    out: dict[str, Any] = {
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


def page(result: Page, key: str, render=lambda item: item) -> dict[str, Any]:
    """A page as the API shapes it: ``page_size`` is the number of items on this page."""
    return {
        "page": result.page,
        "page_size": len(result.items),
        "count": result.count,
        key: [render(item) for item in result.items],
    }


def recipient_report(report: RecipientReport) -> dict[str, Any]:
    event = report.event
    out: dict[str, Any] = {
        "type": "recipient_delivery_report_sms",
        "batch_id": report.batch.id,
        "recipient": report.msisdn,
        "code": event.code,
        "status": event.status,
        "at": render_time(event.at),
        "created_at": render_time(report.batch.created_at),
    }
    if event.status in FINAL_STATUSES and event.code < 400:
        out["operator_status_at"] = render_time(event.at)
    if report.batch.spec.get("client_reference") is not None:
        out["client_reference"] = report.batch.spec["client_reference"]
    return out


def group(item: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": item["id"],
        "size": item["size"],
        "created_at": render_time(item["created_at"]),
        "modified_at": render_time(item["modified_at"]),
        "child_groups": item["child_groups"],
    }
    if item.get("name") is not None:
        out["name"] = item["name"]
    if item.get("auto_update"):
        out["auto_update"] = item["auto_update"]
    return out


def inbound(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if not key.startswith("_")}
