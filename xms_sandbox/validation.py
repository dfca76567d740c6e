"""Request bodies checked and normalised: the API's limits, each error naming its field.

Every function here takes the decoded JSON of a request and returns plain Python values ready for
the model, or raises :class:`ApiError` with the status and code the real API uses.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError, constraint, invalid_format
from .faults import KINDS, Fault
from .msisdn import normalize_msisdn, normalize_sender
from .substitution import DEFAULT, VALID_KEY
from .timeutil import parse_time

MAX_RECIPIENTS = 1000
MAX_BODY = 2000
MAX_URL = 2048
MAX_CLIENT_REFERENCE = 2048
MAX_PARAMETER_VALUE = 1600
MAX_BINARY_BYTES = 140
MAX_UPDATE_RECIPIENTS = 100
MAX_GROUP_NAME = 20
MAX_GROUP_MEMBERS = 10_000
MAX_CHILD_GROUPS = 10
MAX_VALIDITY = 3 * 24 * 3600
BATCH_TYPES = ("mt_text", "mt_binary", "mt_media")
REPORT_TYPES = ("none", "summary", "full", "per_recipient", "per_recipient_final")
GROUP_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")

# Fields a batch may carry besides to/from/body/type; the model stores them as given.
OPTIONAL_FLAGS = ("feedback_enabled", "flash_message", "truncate_concat")


def require_object(body: Any, what: str = "request body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "syntax_invalid_json", f"The {what} must be a JSON object.")
    return body


def _string(value: Any, field: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise invalid_format(field, value, "a string")
    if max_length is not None and len(value) > max_length:
        raise constraint(field, f"is {len(value)} characters long; the maximum is {max_length}")
    return value


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_format(field, value, "a boolean (true or false)")
    return value


def _integer(value: Any, field: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_format(field, value, "an integer")
    if value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise constraint(field, f"must be at least {low}{upper}; it is {value}")
    return value


def _time(value: Any, field: str) -> float:
    moment = parse_time(value)
    if moment is None:
        raise invalid_format(field, value, "an ISO-8601 date and time")
    return moment


def _url(value: Any, field: str) -> str:
    url = _string(value, field, MAX_URL)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid_format(field, value, "an http or https URL")
    return url


def _list(value: Any, field: str, low: int, high: int) -> list[Any]:
    if not isinstance(value, list):
        raise invalid_format(field, value, "a JSON array")
    if not low <= len(value) <= high:
        raise constraint(field, f"must have {low} to {high} elements; it has {len(value)}")
    return value


def msisdn(value: Any, field: str) -> str:
    number = normalize_msisdn(value)
    if number is None:
        raise invalid_format(field, value, "a valid MSISDN")
    return number


def msisdns(value: Any, field: str, low: int, high: int) -> list[str]:
    return [msisdn(item, f"{field}[{i}]") for i, item in enumerate(_list(value, field, low, high))]


def recipient_or_group(value: Any, field: str) -> str:
    """A number (normalised) or a group ID (kept as is). Digits alone are never a group ID."""
    number = normalize_msisdn(value)
    if number is not None:
        return number
    if isinstance(value, str) and GROUP_ID.fullmatch(value) and not value.isdigit():
        return value
    raise invalid_format(field, value, "a valid MSISDN or group ID")


def _recipients(value: Any, field: str, low: int, high: int) -> list[str]:
    items = _list(value, field, low, high)
    return [recipient_or_group(item, f"{field}[{i}]") for i, item in enumerate(items)]


def parameters(value: Any) -> dict[str, dict[str, str]]:
    """``{key: {msisdn | "default": value}}``, checked and kept as sent.

    Each recipient key must be a number, but it stays as written (``"+447700900001"``): the API
    echoes parameters that way (Sinch's own SDK test fixtures). Lookups compare numbers as bare
    digits (:func:`~xms_sandbox.substitution.by_number`).
    """
    if not isinstance(value, dict):
        raise invalid_format("parameters", value, "a JSON object")
    result: dict[str, dict[str, str]] = {}
    for key, values in value.items():
        if not VALID_KEY.fullmatch(key):
            raise invalid_format(
                f"parameters.{key}", key, "a valid key (1-16 of A-Z a-z 0-9 _ . -)"
            )
        if not isinstance(values, dict):
            raise invalid_format(f"parameters.{key}", values, "an object of recipient: value")
        entry: dict[str, str] = {}
        for recipient, text in values.items():
            field = f"parameters.{key}.{recipient}"
            text = _string(text, field, MAX_PARAMETER_VALUE)
            if recipient != DEFAULT:
                msisdn(recipient, field)  # a 400 naming the field unless it is a number
            entry[recipient] = text
        result[key] = entry
    return result


def _binary(body: dict[str, Any]) -> tuple[str, str]:
    """Base64 body (a trailing newline is fine) and hex UDH, together at most 140 bytes."""
    if "udh" not in body or body["udh"] is None:
        raise constraint("udh", "is required for mt_binary batches")
    udh_text = _string(body["udh"], "udh")
    try:
        udh = bytes.fromhex(udh_text)
    except ValueError:
        raise invalid_format("udh", udh_text, "a hexadecimal string") from None
    raw = _string(body.get("body"), "body")
    try:
        payload = base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_format("body", raw, "Base64") from None
    if len(payload) + len(udh) > MAX_BINARY_BYTES:
        raise constraint("body", f"and udh together must be at most {MAX_BINARY_BYTES} bytes")
    return base64.b64encode(payload).decode("ascii"), udh.hex()


def _sender(value: Any, field: str) -> str:
    return normalize_sender(_string(value, field, 128))


def _report_type(value: Any, field: str) -> str:
    if value not in REPORT_TYPES:
        raise invalid_format(field, value, f"one of {', '.join(REPORT_TYPES)}")
    return str(value)


def _client_reference(value: Any, field: str) -> str:
    return _string(value, field, MAX_CLIENT_REFERENCE)


def _parts(value: Any, field: str) -> int:
    return _integer(value, field, 1)


def _ton(value: Any, field: str) -> int:
    return _integer(value, field, 0, 6)


def _npi(value: Any, field: str) -> int:
    return _integer(value, field, 0, 18)


def _tags(value: Any, field: str) -> list[str]:
    tags = _list(value, field, 0, 1000)
    return [_string(tag, f"{field}[{i}]", 128) for i, tag in enumerate(tags)]


# Fields every batch type shares and how each is read, checked in this order (so that a body
# with several bad fields is always refused for the same one) and stored in this order.
_COMMON_FIELDS: tuple[tuple[str, Callable[[Any, str], Any]], ...] = (
    ("from", _sender),
    ("delivery_report", _report_type),
    ("send_at", _time),
    ("expire_at", _time),
    ("callback_url", _url),
    ("client_reference", _client_reference),
    *((flag, _boolean) for flag in (*OPTIONAL_FLAGS, "strict_validation")),
    ("max_number_of_message_parts", _parts),
    ("from_ton", _ton),
    ("from_npi", _npi),
    ("tags", _tags),
)


def _common_fields(body: dict[str, Any], spec: dict[str, Any]) -> None:
    """Fields every batch type shares, when present and not null."""
    present = {key: value for key, value in body.items() if value is not None}
    for field, read in _COMMON_FIELDS:
        if field in present:
            spec[field] = read(present[field], field)


def batch_type(body: dict[str, Any], default: str = "mt_text") -> str:
    kind = body.get("type") or default
    if kind not in BATCH_TYPES:
        raise invalid_format("type", kind, "one of mt_text, mt_binary, mt_media")
    if kind == "mt_media":
        raise ApiError(
            400,
            "syntax_constraint_violation",
            "The sandbox does not deliver MMS (type 'mt_media'); send 'mt_text' or 'mt_binary'.",
        )
    return kind


def _body_fields(body: dict[str, Any], kind: str, spec: dict[str, Any]) -> None:
    if kind == "mt_binary":
        spec["body"], spec["udh"] = _binary(body)
        if body.get("parameters") is not None:
            raise constraint("parameters", "cannot be used with mt_binary batches")
        return
    if body.get("body") is None:
        raise constraint("body", "is required")
    spec["body"] = _string(body["body"], "body", MAX_BODY)
    if body.get("parameters") is not None:
        spec["parameters"] = parameters(body["parameters"])


def check_validity(spec: dict[str, Any], now: float) -> None:
    """``expire_at`` must come after ``send_at`` and at most three days later."""
    start = max(spec.get("send_at") or now, now)
    expire = spec.get("expire_at")
    if expire is None:
        return
    if expire <= start:
        raise constraint("expire_at", "must be after send_at (and in the future)")
    if expire > start + MAX_VALIDITY:
        raise constraint("expire_at", "must be at most 3 days after send_at")


def send_request(body: Any) -> dict[str, Any]:
    """A send (or replace, or dry-run) body as a normalised batch specification."""
    body = require_object(body)
    kind = batch_type(body)
    if body.get("to") is None:
        raise constraint("to", "is required")
    spec: dict[str, Any] = {
        "type": kind,
        "to": _recipients(body["to"], "to", 1, MAX_RECIPIENTS),
    }
    _body_fields(body, kind, spec)
    _common_fields(body, spec)
    return spec


def update_request(body: Any, kind: str) -> tuple[dict[str, Any], list[str], list[str], set[str]]:
    """A partial update: (changed fields, numbers to add, numbers to remove, fields reset)."""
    body = require_object(body)
    if body.get("type") is not None and batch_type(body) != kind:
        raise constraint("type", f"must match the batch's type '{kind}'")
    changes: dict[str, Any] = {}
    to_add = body.get("to_add", body.get("toAdd"))
    to_remove = body.get("to_remove", body.get("toRemove"))
    added = _recipients(to_add, "to_add", 1, MAX_UPDATE_RECIPIENTS) if to_add is not None else []
    removed = (
        _recipients(to_remove, "to_remove", 1, MAX_UPDATE_RECIPIENTS)
        if to_remove is not None
        else []
    )
    if body.get("body") is not None:
        if kind == "mt_binary":
            merged = {"body": body["body"], "udh": body.get("udh", "00")}
            changes["body"], udh = _binary(merged)
            if body.get("udh") is not None:
                changes["udh"] = udh
        else:
            changes["body"] = _string(body["body"], "body", MAX_BODY)
    elif kind == "mt_binary" and body.get("udh") is not None:
        changes["udh"] = _string(body["udh"], "udh")
    if body.get("parameters") is not None:
        changes["parameters"] = parameters(body["parameters"])
    _common_fields(body, changes)
    resettable = {
        "send_at",
        "expire_at",
        "callback_url",
        "client_reference",
        "parameters",
        "delivery_report",
        "max_number_of_message_parts",
        "from_ton",
        "from_npi",
    }
    reset = {key for key, value in body.items() if value is None and key in resettable}
    return changes, added, removed, reset


def feedback_request(body: Any) -> list[str]:
    body = require_object(body)
    if "recipients" not in body or body["recipients"] is None:
        raise constraint("recipients", "is required (use [] for every recipient)")
    return msisdns(body["recipients"], "recipients", 0, MAX_RECIPIENTS * 10)


def _auto_update(value: Any) -> dict[str, Any]:
    value = require_object(value, "auto_update")
    result: dict[str, Any] = {"to": _string(value.get("to"), "auto_update.to", 64)}
    for action in ("add", "remove"):
        words = value.get(action)
        if words is None:
            continue
        words = require_object(words, f"auto_update.{action}")
        entry = {}
        for part in ("first_word", "second_word"):
            if words.get(part) is not None:
                entry[part] = _string(words[part], f"auto_update.{action}.{part}", 15)
        result[action] = entry
    return result


def group_request(body: Any, *, replace: bool = False) -> dict[str, Any]:
    """A group create or replace body."""
    body = require_object(body)
    spec: dict[str, Any] = {}
    if body.get("name") is not None:
        spec["name"] = _string(body["name"], "name", MAX_GROUP_NAME)
    members = body.get("members")
    if replace and members is None:
        raise constraint("members", "is required when replacing a group")
    spec["members"] = msisdns(members, "members", 0, MAX_GROUP_MEMBERS) if members else []
    children = body.get("child_groups")
    spec["child_groups"] = (
        [_string(c, f"child_groups[{i}]", 64) for i, c in enumerate(children)]
        if _list(children or [], "child_groups", 0, MAX_CHILD_GROUPS)
        else []
    )
    if body.get("auto_update") is not None:
        spec["auto_update"] = _auto_update(body["auto_update"])
    if body.get("tags") is not None:
        tags = _list(body["tags"], "tags", 0, 1000)
        spec["tags"] = [_string(t, f"tags[{i}]", 128) for i, t in enumerate(tags)]
    return spec


def group_update(body: Any) -> dict[str, Any]:
    """A partial group update; ``name: null`` removes the name."""
    body = require_object(body)
    spec: dict[str, Any] = {}
    if "name" in body:
        spec["name"] = None if body["name"] is None else _string(body["name"], "name", 20)
    for field in ("add", "remove"):
        if body.get(field) is not None:
            spec[field] = msisdns(body[field], field, 0, MAX_GROUP_MEMBERS)
    for field in ("add_from_group", "remove_from_group"):
        if body.get(field) is not None:
            spec[field] = _string(body[field], field, 64)
    for field in ("child_groups_add", "child_groups_remove"):
        if body.get(field) is not None:
            items = _list(body[field], field, 0, MAX_CHILD_GROUPS)
            spec[field] = [_string(c, f"{field}[{i}]", 64) for i, c in enumerate(items)]
    if "auto_update" in body:
        spec["auto_update"] = (
            None if body["auto_update"] is None else _auto_update(body["auto_update"])
        )
    return spec


def tags_update(body: Any) -> tuple[list[str], list[str]]:
    body = require_object(body)
    lists = []
    for field in ("add", "remove"):
        items = _list(body.get(field) or [], field, 0, 1000)
        lists.append([_string(t, f"{field}[{i}]", 128) for i, t in enumerate(items)])
    return lists[0], lists[1]


def tags_replace(body: Any) -> list[str]:
    body = require_object(body)
    items = _list(body.get("tags") or [], "tags", 0, 1000)
    return [_string(t, f"tags[{i}]", 128) for i, t in enumerate(items)]


# The sandbox's own controls: faults and plan settings. A shared sandbox serves a whole room, so
# a setting or fault that could not work (a rate of 1e308, a 99 status, a method that is not
# text) is refused here with a 400 naming it, rather than breaking requests later.

MAX_FAULT_SECONDS = 30.0  # a worker thread waits this long: keep it short for the others
MAX_FAULT_COUNT = 1000
MAX_RATE = 10_000.0
MAX_PLAN_ID = 256
MAX_ORIGINATOR = 128
HTTP_METHOD = re.compile(r"[A-Za-z]{1,16}")
FAULT_FIELDS = ("kind", "status", "seconds", "count", "after", "method", "path", "plan_id")
PLAN_SETTINGS = (
    "callback_url",
    "mo_callback_url",
    "default_originator",
    "messages_per_second",
    "requests_per_second",
)


def _number(value: Any, field: str, low: float, high: float) -> int | float:
    """A finite JSON number from ``low`` to ``high``, as given (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_format(field, value, "a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise constraint(field, f"must be from {low:g} to {high:g}; it is {value}")
    return value


def _optional_text(value: Any, field: str, max_length: int) -> str | None:
    """A non-empty string, or None (null or absent) for "any"."""
    if value is None:
        return None
    text = _string(value, field, max_length)
    if not text:
        raise constraint(field, "must not be empty (leave it out, or null, for any)")
    return text


def _fault_method(value: Any) -> str | None:
    method = _optional_text(value, "method", 16)
    if method is not None and not HTTP_METHOD.fullmatch(method):
        raise invalid_format("method", method, "an HTTP method such as GET or POST")
    return method.upper() if method is not None else None


def _reject_unknown(
    body: dict[str, Any], known: tuple[str, ...], what: str, also: tuple[str, ...] = ()
) -> None:
    """400 for the first field that is neither ``known`` (listed in the error) nor ``also``."""
    unknown = sorted(set(body) - set(known) - set(also))
    if unknown:
        raise constraint(unknown[0], f"is not {what} ({', '.join(known)})")


def fault(body: Any) -> Fault:
    """A ``POST /sandbox/faults`` body as a :class:`~xms_sandbox.faults.Fault`.

    ``status`` must be an error (400 to 599): a fault answers without doing the work, so a
    success or redirect would tell the client something false, and 1xx is not an answer at all.
    """
    body = require_object(body)
    _reject_unknown(body, FAULT_FIELDS, "a fault field")
    kind = body.get("kind")
    if kind not in KINDS:
        raise constraint("kind", f"must be one of {', '.join(KINDS)}")
    return Fault(
        kind=kind,
        count=_integer(body.get("count", 1), "count", 1, MAX_FAULT_COUNT),
        status=_integer(body.get("status", 503), "status", 400, 599),
        seconds=float(_number(body.get("seconds", 0), "seconds", 0, MAX_FAULT_SECONDS)),
        method=_fault_method(body.get("method")),
        path=_optional_text(body.get("path"), "path", MAX_URL),
        plan_id=_optional_text(body.get("plan_id"), "plan_id", MAX_PLAN_ID),
        after=_integer(body.get("after", 0), "after", 0, MAX_FAULT_COUNT),
    )


def _rate(value: Any, field: str) -> int | float:
    rate = _number(value, field, 0, MAX_RATE)
    if rate <= 0:
        raise constraint(field, "must be more than 0 (or null for no limit)")
    return rate


def _originator(value: Any, field: str) -> str:
    text = _string(value, field, MAX_ORIGINATOR)
    if not text.strip():
        raise constraint(field, "must not be empty (null removes it)")
    return text


_PLAN_SETTING_READERS: dict[str, Callable[[Any, str], Any]] = {
    "callback_url": _url,
    "mo_callback_url": _url,
    "default_originator": _originator,
    "messages_per_second": _rate,
    "requests_per_second": _rate,
}


def plan_settings(body: Any) -> dict[str, Any]:
    """The plan settings a plan body carries, checked; ``null`` stays None (it removes one).

    ``id`` and ``token`` may come along (creating a plan); anything else is refused by name.
    """
    body = require_object(body)
    _reject_unknown(body, PLAN_SETTINGS, "a plan setting", also=("id", "token"))
    return {
        key: None if body[key] is None else _PLAN_SETTING_READERS[key](body[key], key)
        for key in PLAN_SETTINGS
        if key in body
    }
