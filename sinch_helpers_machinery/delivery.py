"""Delivery reports turned into tables and sentences."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .api_facts import FINAL_STATUSES
from .api_objects import frame
from .lazy import pd
from .progress import Progress


def delivery_frame(report: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Delivery reports as a table.

    A ``full`` batch report gives one row per recipient; a summary gives one row per status; a
    list of recipient reports (``list_delivery_reports``) gives one row per report.

    >>> delivery_frame(client.delivery_report(batch.id, "full"))  # doctest: +SKIP
    """
    if not isinstance(report, Mapping):
        return frame(report, ["batch_id", "recipient", "status", "code", "at"])
    if report.get("type") == "recipient_delivery_report_sms":
        return delivery_frame([report])
    statuses = report.get("statuses", [])
    if not statuses or any("recipients" in status for status in statuses):
        rows = [
            {"batch_id": report["batch_id"], "recipient": number, **_status(status)}
            for status in statuses
            for number in status.get("recipients", [])
        ]
        return frame(rows, ["batch_id", "recipient", "status", "code"])
    rows = [
        {"batch_id": report["batch_id"], **_status(status), "count": status["count"]}
        for status in statuses
    ]
    return frame(rows, ["batch_id", "status", "code", "count"])


def _status(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": entry["status"], "code": entry["code"]}


def final_count(report: Mapping[str, Any]) -> int:
    """How many recipients of a summary report have a final status."""
    return sum(s["count"] for s in report.get("statuses", []) if s["status"] in FINAL_STATUSES)


def wait_outcome(report: Mapping[str, Any], batch_id: str, timeout: float) -> str:
    """One sentence on how a wait for delivery ended: all final, or what is still moving."""
    total, final = report["total_message_count"], final_count(report)
    if total == 0:  # the API's report of a batch cancelled before it went out
        return f"Batch {batch_id} has nobody in its delivery report: nothing was sent."
    if final >= total:
        return f"All {total} recipient(s) of batch {batch_id} reached a final status."
    waiting = ", ".join(
        f"{s['count']} {s['status']}"
        for s in report["statuses"]
        if s["status"] not in FINAL_STATUSES
    )
    return (
        f"Stopped waiting after {timeout:g} s: {total - final} of {total} recipient(s) "
        f"still in progress ({waiting}). Call wait_for_delivery again to keep waiting."
    )


def poll_until_final(
    fetch: Callable[[str], Any], batch_id: str, timeout: float, poll_interval: float, progress: bool
) -> Any:
    """Fetch the batch's summary report until every recipient is final or ``timeout`` passes.

    The first polls come quickly (a local sandbox finishes in a fraction of a second) and the
    pause doubles up to ``poll_interval``, so a long wait on the live API stays polite. The
    report returned has ``finished`` set to True when every recipient reached a final status.
    """
    deadline = time.monotonic() + timeout
    pause = min(0.025, poll_interval)
    report = fetch(batch_id)
    total = report["total_message_count"]
    with Progress(total, "Final", progress) as bar:
        while True:
            final = final_count(report)
            bar.update(final - bar.n)
            if final >= total or time.monotonic() >= deadline:
                break
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, poll_interval)
            report = fetch(batch_id)
    report.finished = final >= total
    return report
