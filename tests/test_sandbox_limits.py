"""A shared sandbox is a multi-user server: no request, however large, deep, slow or odd, gets a
5xx or slows down another learner. Raw sockets where a polite client could not misbehave."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import flask
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xms_sandbox
from xms_sandbox import sandbox_routes, validation
from xms_sandbox.__main__ import arguments
from xms_sandbox.parsing import MAX_JSON_DEPTH

from conftest import free_port
from sandbox_process import SandboxProcess

PLAN, TOKEN = "limits", "limits-token"
INSTRUCTOR = "limits-instructor"
SMALL_LIMIT = 16 * 1024
BATCH = {"to": ["447700900001"], "from": "1", "body": "hi"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def small() -> Iterator[xms_sandbox.Sandbox]:
    """A sandbox that takes bodies of at most 16 KiB."""
    with xms_sandbox.start(
        plans={PLAN: TOKEN}, instructor_token=INSTRUCTOR, max_request_bytes=SMALL_LIMIT
    ) as running:
        yield running


def learner() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def instructor() -> dict[str, str]:
    return {"Authorization": f"Bearer {INSTRUCTOR}"}


def open_socket(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_answer(sock: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the one answer on ``sock`` (read until the server closes)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def send_until_refused(sock: socket.socket, piece: bytes, times: int) -> int:
    """How many of ``times`` pieces went out before the server closed the connection."""
    for sent in range(times):
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return sent
    return times


def head_of(path: str, url: str, *lines: str) -> bytes:
    host = url.removeprefix("http://")
    text = "\r\n".join((f"POST {path} HTTP/1.1", f"Host: {host}", *lines, "", ""))
    return text.encode()


# Bodies too large


def test_a_body_larger_than_the_limit_is_413_json_before_it_is_read(small):
    path = f"/xms/v1/{PLAN}/batches"
    with open_socket(small.url) as sock:
        sock.sendall(
            head_of(
                path,
                small.url,
                f"Authorization: Bearer {TOKEN}",
                "Content-Type: application/json",
                f"Content-Length: {100 * MIB}",
            )
        )
        # Not a byte of the promised 100 MiB: the answer comes from the headers alone. (A client
        # that sends on meets a closed connection, and may lose the answer to its reset.)
        status, body = read_answer(sock)
    assert status == 413
    assert body["code"] == "request_entity_too_large"
    assert str(SMALL_LIMIT) in body["text"]
    assert requests.get(small.url + path, headers=learner(), timeout=5).status_code == 200


def test_a_chunked_body_is_refused_once_it_grows_past_the_limit(small):
    with open_socket(small.url) as sock:
        sock.sendall(
            head_of(
                f"/xms/v1/{PLAN}/batches",
                small.url,
                f"Authorization: Bearer {TOKEN}",
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            )
        )
        # One byte more than the limit and no more: the server reads all of it before it
        # answers, so that it closes cleanly (unread bytes would make it reset the connection).
        sock.sendall(b"%x\r\n" % (SMALL_LIMIT + 100) + b" " * (SMALL_LIMIT + 1))
        status, body = read_answer(sock)
    assert status == 413
    assert body["code"] == "request_entity_too_large"


def test_a_body_of_exactly_the_limit_is_read(small):
    payload = json.dumps(BATCH).encode()
    padded = payload + b" " * (SMALL_LIMIT - len(payload))
    answer = requests.post(
        f"{small.url}/xms/v1/{PLAN}/batches",
        data=padded,
        headers={**learner(), "Content-Type": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text
    too_big = requests.post(
        f"{small.url}/xms/v1/{PLAN}/batches",
        data=padded + b" ",
        headers={**learner(), "Content-Type": "application/json"},
        timeout=5,
    )
    assert too_big.status_code == 413


def test_headers_too_large_are_a_json_error(small):
    answer = requests.get(
        f"{small.url}/xms/v1/{PLAN}/batches",
        headers={**learner(), "X-Padding": "x" * 300_000},
        timeout=5,
    )
    assert answer.status_code == 431
    assert answer.json()["code"] == "request_header_fields_too_large"


# JSON nested too deeply


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 8000])
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (f"/xms/v1/{PLAN}/batches", learner()),
        ("/sandbox/faults", instructor()),
        (f"/sandbox/plans/{PLAN}", instructor()),
        ("/sandbox/handsets/447700900001/reply", learner()),
    ],
)
def test_json_nested_too_deeply_is_a_400(small, path, headers, depth):
    body = b'{"to": ' + nested(depth) + b"}"
    answer = requests.post(
        small.url + path,
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "syntax_invalid_json"


def test_an_unclosed_deep_document_is_a_400_too(small):
    answer = requests.post(
        f"{small.url}/xms/v1/{PLAN}/batches",
        data=b"[" * (SMALL_LIMIT - 1),
        headers={**learner(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "syntax_invalid_json"


def test_json_as_deep_as_allowed_is_parsed(small):
    body = {"to": json.loads(nested(MAX_JSON_DEPTH - 1))}
    answer = requests.post(
        f"{small.url}/xms/v1/{PLAN}/batches", json=body, headers=learner(), timeout=5
    )
    assert answer.status_code == 400
    assert answer.json()["code"] != "syntax_invalid_json"  # read, then refused for what it says


# Faults and plan settings


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kind": "status", "method": 123}, "method"),
        ({"kind": "status", "method": "GET /"}, "method"),
        ({"kind": "status", "status": 99}, "status"),
        ({"kind": "status", "status": 200}, "status"),
        ({"kind": "status", "status": 600}, "status"),
        ({"kind": "status", "status": "503"}, "status"),
        ({"kind": "status", "status": 503.5}, "status"),
        ({"kind": "latency", "seconds": 1e308}, "seconds"),
        ({"kind": "latency", "seconds": 31}, "seconds"),
        ({"kind": "latency", "seconds": -1}, "seconds"),
        ({"kind": "latency", "seconds": True}, "seconds"),
        ({"kind": "status", "count": 0}, "count"),
        ({"kind": "status", "count": 10**6}, "count"),
        ({"kind": "status", "count": 2**70}, "count"),
        ({"kind": "status", "after": -1}, "after"),
        ({"kind": "status", "path": 5}, "path"),
        ({"kind": "status", "path": ""}, "path"),
        ({"kind": "status", "plan_id": ["x"]}, "plan_id"),
        ({"kind": "explode"}, "kind"),
        ({"status": 500}, "kind"),
        ({"kind": "status", "second": 3}, "second"),
    ],
)
def test_bad_faults_are_400_naming_the_field_and_break_nothing(small, fields, named):
    answer = requests.post(
        f"{small.url}/sandbox/faults", json=fields, headers=instructor(), timeout=5
    )
    assert answer.status_code == 400, answer.text
    assert f"'{named}'" in answer.json()["text"], answer.text
    listed = requests.get(f"{small.url}/sandbox/faults", headers=instructor(), timeout=5)
    assert listed.json() == []
    batches = requests.get(f"{small.url}/xms/v1/{PLAN}/batches", headers=learner(), timeout=5)
    assert batches.status_code == 200


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_fault_seconds_must_be_finite(small, number):
    answer = requests.post(
        f"{small.url}/sandbox/faults",
        data=f'{{"kind": "latency", "seconds": {number}, "plan_id": "{PLAN}"}}',
        headers={**instructor(), "Content-Type": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert "'seconds'" in answer.json()["text"]


def test_good_faults_at_their_bounds_are_accepted(small):
    url = f"{small.url}/sandbox/faults"
    for fields in (
        {"kind": "status", "status": 400, "count": 1000, "method": "post"},
        {"kind": "status", "status": 599, "after": 1000, "path": "/batches"},
        {"kind": "timeout", "seconds": 30, "plan_id": PLAN},
        {"kind": "drop", "method": None, "path": None},
    ):
        answer = requests.post(url, json=fields, headers=instructor(), timeout=5)
        assert answer.status_code == 201, (fields, answer.text)
    assert requests.get(url, headers=instructor(), timeout=5).json()[0]["method"] == "POST"
    requests.delete(url, headers=instructor(), timeout=5)


def test_a_plan_cannot_pile_up_faults(small):
    url = f"{small.url}/sandbox/faults"
    fault = {"kind": "status", "status": 503, "plan_id": PLAN, "method": "PATCH"}
    for _ in range(100):
        assert requests.post(url, json=fault, headers=learner(), timeout=5).status_code == 201
    refused = requests.post(url, json=fault, headers=learner(), timeout=5)
    assert refused.status_code == 400
    assert "already waiting" in refused.json()["text"]
    requests.delete(url, params={"plan_id": PLAN}, headers=learner(), timeout=5)
    assert requests.post(url, json=fault, headers=learner(), timeout=5).status_code == 201
    requests.delete(url, params={"plan_id": PLAN}, headers=learner(), timeout=5)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"messages_per_second": 0}, "messages_per_second"),
        ({"messages_per_second": -5}, "messages_per_second"),
        ({"messages_per_second": 1e308}, "messages_per_second"),
        ({"messages_per_second": "fast"}, "messages_per_second"),
        ({"requests_per_second": True}, "requests_per_second"),
        ({"requests_per_second": 10_001}, "requests_per_second"),
        ({"callback_url": "ftp://example.com/hook"}, "callback_url"),
        ({"callback_url": "http://example.com/" + "x" * 2048}, "callback_url"),
        ({"mo_callback_url": 5}, "mo_callback_url"),
        ({"mo_callback_url": ["http://example.com"]}, "mo_callback_url"),
        ({"default_originator": 447700900100}, "default_originator"),
        ({"default_originator": ""}, "default_originator"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_plan_settings_are_400_naming_the_setting(small, settings, named):
    answer = requests.post(
        f"{small.url}/sandbox/plans/{PLAN}", json=settings, headers=learner(), timeout=5
    )
    assert answer.status_code == 400, answer.text
    assert f"'{named}'" in answer.json()["text"]
    assert requests.get(f"{small.url}/xms/v1/{PLAN}/batches", headers=learner(), timeout=5).ok


def test_plan_settings_are_set_and_removed(small):
    url = f"{small.url}/sandbox/plans/{PLAN}"
    settings = {
        "messages_per_second": 10_000,
        "requests_per_second": 0.5,
        "callback_url": "https://example.com/hook",
        "default_originator": "Sandbox",
    }
    assert requests.post(url, json=settings, headers=learner(), timeout=5).status_code == 200
    assert small.backend.plans.find(PLAN).settings == settings
    removed = dict.fromkeys(settings)
    assert requests.post(url, json=removed, headers=learner(), timeout=5).status_code == 200
    assert small.backend.plans.find(PLAN).settings == {}


# The request log


def test_control_characters_cannot_forge_log_lines(caplog):
    with (
        xms_sandbox.start(plans={PLAN: TOKEN}, log_requests=True) as logged,
        caplog.at_level(logging.INFO, logger="xms_sandbox"),
    ):
        forged = "/xms/v1/x%0A2030-01-01%20GET%20/xms/v1/admin%20200%0D%1B[31m%C2%85"
        requests.get(logged.url + forged, params={"q": "a\nb"}, timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "xms_sandbox"]
    assert len(lines) == 1, lines
    line = lines[0]
    assert not any(ch in line for ch in "\n\r\x1b\x85"), repr(line)
    assert "x\\n2030-01-01 GET /xms/v1/admin 200\\r\\x1b[31m\\x85" in line


def test_a_refused_request_is_timed_too(caplog):
    """The clock starts before the plan's authentication, so a 401 shows how long it took."""
    with (
        xms_sandbox.start(plans={PLAN: TOKEN}, log_requests=True) as logged,
        caplog.at_level(logging.INFO, logger="xms_sandbox"),
    ):
        requests.get(f"{logged.url}/xms/v1/{PLAN}/batches", timeout=5)
    line = next(r.getMessage() for r in caplog.records if r.name == "xms_sandbox")
    assert re.search(r" 401 \d+\.\dms$", line), line


# The standalone server: idle connections, huge bodies, Ctrl-C


def peak_memory_kib(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def standalone(tmp_path_factory) -> Iterator[SandboxProcess]:
    log = tmp_path_factory.mktemp("standalone") / "server.log"
    with SandboxProcess(
        free_port(),
        "--db",
        ":memory:",
        "--plan",
        f"{PLAN}:{TOKEN}",
        "--instructor-token",
        INSTRUCTOR,
        log=log,
    ) as server:
        yield server


def half_open(url: str, count: int) -> list[socket.socket]:
    """``count`` connections that each send half a request and then say nothing."""
    sockets = []
    for _ in range(count):
        sock = open_socket(url)
        sock.sendall(b"POST /xms/v1/limits/batches HTTP/1.1\r\nHost: x\r\nContent-Le")
        sockets.append(sock)
    return sockets


def test_400_idle_connections_do_not_stop_anyone_else(standalone):
    idle = half_open(standalone.url, 400)
    try:
        time.sleep(0.5)  # let the server accept them all
        started = time.monotonic()
        answer = requests.post(
            f"{standalone.url}/xms/v1/{PLAN}/batches", json=BATCH, headers=learner(), timeout=5
        )
        elapsed = time.monotonic() - started
        assert answer.status_code == 201
        assert elapsed < 1.5, f"{elapsed:.2f} s with 400 idle connections open"
    finally:
        for sock in idle:
            sock.close()


def test_a_100_mib_body_is_refused_without_the_server_holding_it(standalone):
    pid = standalone.process.pid
    before = peak_memory_kib(pid)
    for framing in (f"Content-Length: {100 * MIB}", "Transfer-Encoding: chunked"):
        with open_socket(standalone.url) as sock:
            sock.sendall(
                head_of(
                    f"/xms/v1/{PLAN}/batches",
                    standalone.url,
                    f"Authorization: Bearer {TOKEN}",
                    "Content-Type: application/json",
                    framing,
                )
            )
            piece = b" " * MIB
            if "chunked" in framing:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            assert send_until_refused(sock, piece, 100) < 10  # refused, closed, long before
            # The 413 went out first, but the reset for what we sent on may overtake it.
            with contextlib.suppress(ConnectionResetError):
                status, body = read_answer(sock)
                assert (status, body["code"]) == (413, "request_entity_too_large")
    grown = peak_memory_kib(pid) - before
    assert grown < 16 * 1024, f"peak memory grew by {grown} KiB"


def test_the_drop_fault_closes_the_connection_without_an_answer(standalone):
    faults = f"{standalone.url}/sandbox/faults"
    fault = {"kind": "drop", "plan_id": PLAN, "method": "POST"}
    assert requests.post(faults, json=fault, headers=learner(), timeout=5).status_code == 201
    url = f"{standalone.url}/xms/v1/{PLAN}/batches"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(url, json=BATCH, headers=learner(), timeout=5)
    listed = requests.get(url, headers=learner(), timeout=5)
    assert listed.status_code == 200
    assert listed.json()["count"] >= 1  # processed, although the client never heard


def test_ctrl_c_stops_the_server_with_idle_connections_open(tmp_path):
    with SandboxProcess(free_port(), "--db", ":memory:", log=tmp_path / "log") as server:
        idle = half_open(server.url, 50)
        started = time.monotonic()
        code, output = server.stop()
        for sock in idle:
            sock.close()
    assert code == 0, output
    assert "Stopping." in output
    assert "Traceback" not in output
    assert time.monotonic() - started < 10


# Every control route, any input


def control_routes() -> list[tuple[str, str]]:
    """(method, rule) of every ``/sandbox/`` route, read from the blueprint so none is missed."""
    app = flask.Flask("routes")
    app.register_blueprint(sandbox_routes.sandbox)
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/sandbox")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


CONTROL_FIELDS = [
    "id",
    "token",
    "plan_id",
    "service_plan_id",
    "kind",
    "status",
    "seconds",
    "count",
    "after",
    "method",
    "path",
    "body",
    "to",
    *validation.PLAN_SETTINGS,
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from([PLAN, "447700900001", "GET", "status", "drop", "http://127.0.0.1:9/"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
control_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional=dict.fromkeys(CONTROL_FIELDS, json_values)),
)
raw_bodies = st.one_of(
    control_bodies.map(lambda body: json.dumps(body, allow_nan=True).encode()),
    st.binary(max_size=40),
    st.integers(30, 3000).map(nested),
)
control_queries = st.dictionaries(
    st.sampled_from(["plan_id", "key", "numbers", "embed", "page"]) | st.text(max_size=5),
    st.text(max_size=20) | st.just(PLAN),
    max_size=3,
)
segments = st.text(min_size=1, max_size=20) | st.sampled_from([PLAN, "447700900001", "%0A"])


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[xms_sandbox.Sandbox]:
    """A sandbox of its own: the fuzzer may reset it, change its tokens or add faults."""
    with xms_sandbox.start(plans={PLAN: TOKEN}, instructor_token=INSTRUCTOR) as running:
        yield running


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    route=st.sampled_from(control_routes()),
    segment=segments,
    body=raw_bodies,
    query=control_queries,
    who=st.sampled_from([INSTRUCTOR, TOKEN, "wrong", None]),
    content_type=st.sampled_from(["application/json", "text/plain", None]),
)
def test_no_control_request_gets_a_5xx(fuzzed, route, segment, body, query, who, content_type):
    method, rule = route
    path = re.sub(r"<[^>]+>", quote(segment, safe=""), rule)
    headers = {"Authorization": f"Bearer {who}"} if who else {}
    if content_type:
        headers["Content-Type"] = content_type
    answer = requests.request(
        method, fuzzed.url + path, params=query, data=body, headers=headers, timeout=10
    )
    assert answer.status_code < 500, (method, path, query, body[:200], answer.text)
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        answer.json()
    else:  # the phones page is HTML; anything else answers in JSON
        assert "/phones" in rule, (method, path, answer.text)


def test_the_server_options_are_described_and_checked():
    args = arguments(["--threads", "8", "--connection-limit", "500", "--channel-timeout", "5"])
    assert (args.threads, args.connection_limit, args.channel_timeout) == (8, 500, 5.0)
    assert args.max_request_bytes == MIB
    with pytest.raises(SystemExit):
        arguments(["--threads", "0"])


@pytest.mark.parametrize(
    ("path", "params", "token"),
    [
        ("/sandbox/phones", {"key": "\x80"}, None),
        ("/sandbox/phones", {"key": "clé"}, None),
        ("/sandbox/plans", {}, "clé"),
        ("/sandbox/faults", {"plan_id": PLAN}, "jeton-é"),
    ],
)
def test_a_token_or_key_that_is_not_ascii_is_refused_not_a_crash(small, path, params, token):
    """Found by the fuzzer above: comparing such text in constant time raised a TypeError."""
    headers = {"Authorization": f"Bearer {token}".encode()} if token else {}
    answer = requests.get(small.url + path, params=params, headers=headers, timeout=5)
    assert answer.status_code in (401, 403), answer.text
