"""Property: whatever JSON, query string or path arrives, the answer is JSON and never a 5xx."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ENDPOINTS = [
    ("POST", "/batches"),
    ("GET", "/batches"),
    ("POST", "/batches/dry_run"),
    ("GET", "/batches/{id}"),
    ("POST", "/batches/{id}"),
    ("PUT", "/batches/{id}"),
    ("DELETE", "/batches/{id}"),
    ("POST", "/batches/{id}/delivery_feedback"),
    ("GET", "/batches/{id}/delivery_report"),
    ("GET", "/batches/{id}/delivery_report/{number}"),
    ("GET", "/delivery_reports"),
    ("GET", "/inbounds"),
    ("GET", "/inbounds/{id}"),
    ("POST", "/groups"),
    ("GET", "/groups"),
    ("GET", "/groups/{id}"),
    ("POST", "/groups/{id}"),
    ("PUT", "/groups/{id}"),
    ("DELETE", "/groups/{id}"),
    ("GET", "/groups/{id}/members"),
    ("GET", "/batches/{id}/tags"),
    ("PUT", "/batches/{id}/tags"),
    ("POST", "/groups/{id}/tags"),
]

FIELDS = [
    "to",
    "from",
    "body",
    "type",
    "parameters",
    "delivery_report",
    "send_at",
    "expire_at",
    "callback_url",
    "client_reference",
    "udh",
    "to_add",
    "to_remove",
    "toAdd",
    "members",
    "name",
    "child_groups",
    "add",
    "remove",
    "recipients",
    "auto_update",
    "max_number_of_message_parts",
    "feedback_enabled",
    "truncate_concat",
    "from_ton",
    "add_from_group",
    "tags",
]
QUERY_KEYS = [
    "page",
    "page_size",
    "from",
    "start_date",
    "end_date",
    "type",
    "status",
    "code",
    "per_recipient",
    "number_of_recipients",
    "to",
    "client_reference",
    "tags",
]

scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            field: json_values | st.lists(st.text(max_size=20), max_size=3) for field in FIELDS
        },
    ),
)
queries = st.dictionaries(
    st.sampled_from(QUERY_KEYS) | st.text(max_size=5), st.text(max_size=25), max_size=4
)
path_parts = st.text(min_size=1, max_size=30).filter(lambda s: "/" not in s and s not in ".")


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    body=bodies,
    query=queries,
    ident=path_parts,
    number=path_parts,
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "text/plain", None]
    ),
)
def test_any_request_gets_a_json_answer_and_never_5xx(
    plan, endpoint, body, query, ident, number, content_type
):
    method, template = endpoint
    path = template.replace("{id}", ident).replace("{number}", number)
    # NaN and Infinity included on purpose: Python's json writes them, strict parsers refuse.
    payload = json.dumps(body, allow_nan=True).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    answer = plan.request(method, path, params=query, data=payload, headers=headers)
    assert answer.status_code < 500, (method, path, query, body, answer.text)
    if answer.content:
        assert isinstance(answer.json(), dict | list)


numbers = st.one_of(
    st.from_regex(r"\+?(00)?[1-9][0-9 \-]{6,16}", fullmatch=True), st.text(max_size=20)
)
texts = st.text(max_size=200) | st.sampled_from(["\ud800", "a\udfffb", "${name}", "€" * 90])


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    to=st.lists(numbers, min_size=1, max_size=5),
    body=texts,
    keys=st.dictionaries(
        st.text(max_size=18),
        st.dictionaries(numbers | st.just("default"), texts, max_size=3),
        max_size=3,
    ),
    path=st.sampled_from(["/batches", "/batches/dry_run?per_recipient=true"]),
)
def test_plausible_batches_are_accepted_or_refused_cleanly(plan, to, body, keys, path):
    payload = {"to": to, "from": "12345", "body": body, "parameters": keys}
    answer = plan.post(path, data=json.dumps(payload), headers={"Content-Type": "application/json"})
    assert answer.status_code in (200, 201, 400, 403), answer.text
    assert isinstance(answer.json(), dict)
    if answer.status_code == 201:
        report = plan.get(f"/batches/{answer.json()['id']}/delivery_report?type=full")
        assert report.status_code == 200
