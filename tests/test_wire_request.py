"""See the wire: ``client.last_request`` records the last request to the API as it was sent (the
token masked) and renders it as an HTTP message or as a ``curl`` command that a shell runs as it
is. Every request here goes to the session's real sandbox."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess

import pytest

import sinch_helpers as sh
from sinch_helpers_machinery.transport import WireRequest

from conftest import free_port

NAMES = {"+447700900001": "Siobhán O'Neill", "+447700900002": 'Zoë 🌻 "Z" $HOME `id`'}
BODY = "Hi ${name}! It's 50% off; \\o/ & that's 'final'"


def send(client: sh.SmsClient) -> dict:
    return client.send_batch(
        list(NAMES), BODY, "+447700900100", parameters={"name": NAMES}, client_reference="ref-1"
    )


def argv(curl: str) -> list[str]:
    """The arguments a POSIX shell passes to curl (line continuations joined first)."""
    return shlex.split(curl.replace("\\\n", " "))


def test_nothing_is_recorded_before_the_first_call(client):
    assert client.last_request is None


def test_a_send_is_recorded_as_it_went_out(client, plan):
    send(client)
    wire = client.last_request
    assert isinstance(wire, WireRequest)
    assert wire.method == "POST"
    assert wire.url == f"{plan.base}/batches"
    assert wire.headers == {
        "Accept": "application/json",
        "Authorization": f"Bearer …{plan.token[-4:]}",
        "Content-Type": "application/json",
    }
    assert wire.body == {
        "to": list(NAMES),
        "body": BODY,
        "from": "+447700900100",
        "parameters": {"name": NAMES},
        "client_reference": "ref-1",
    }
    assert json.loads(wire.content) == wire.body  # the very bytes that were sent


def test_the_token_is_never_shown(client, plan):
    send(client)
    wire = client.last_request
    for text in (str(wire), repr(wire), wire.as_curl(), wire.as_curl(None), repr(vars(client))):
        assert plan.token not in text
        assert plan.token[:-4] not in text
    assert f"Authorization: Bearer …{plan.token[-4:]}" in str(wire)
    assert f"'Authorization: Bearer …{plan.token[-4:]}'" in wire.as_curl(None)
    assert '-H "Authorization: Bearer $SINCH_API_TOKEN"' in wire.as_curl()


def test_the_message_form_shows_the_json_body_readably(client, plan):
    send(client)
    text = str(client.last_request)
    head, _, body = text.partition("\n\n")
    assert head.splitlines() == [
        f"POST {plan.base}/batches",
        "Accept: application/json",
        f"Authorization: Bearer …{plan.token[-4:]}",
        "Content-Type: application/json",
    ]
    assert json.loads(body)["parameters"] == {"name": NAMES}
    assert "Siobhán O'Neill" in body  # as written, not as \u escapes
    assert body.startswith('{\n  "to": [')


def test_the_curl_command_quotes_every_awkward_character(client, plan):
    send(client)
    args = argv(client.last_request.as_curl())
    assert args[:4] == ["curl", "-X", "POST", f"{plan.base}/batches"]
    assert args[args.index("--data-raw") + 1] == json.dumps(
        client.last_request.body, ensure_ascii=False
    )
    assert json.loads(args[-1])["body"] == BODY
    assert json.loads(args[-1])["parameters"]["name"] == NAMES
    headers = [args[i + 1] for i, arg in enumerate(args) if arg == "-H"]
    assert headers == [
        "Accept: application/json",
        "Authorization: Bearer $SINCH_API_TOKEN",
        "Content-Type: application/json",
    ]


def test_a_query_string_is_part_of_the_url_and_quoted(client, plan):
    batch = send(client)
    client.delivery_report(batch.id, "full", status=["Delivered", "Failed"])
    wire = client.last_request
    expected = f"{plan.base}/batches/{batch.id}/delivery_report?type=full&status=Delivered%2CFailed"
    assert (wire.method, wire.url, wire.body, wire.content) == ("GET", expected, None, None)
    assert "Content-Type" not in wire.headers
    curl = wire.as_curl()
    assert f"'{expected}'" in curl  # the & would end the command unquoted
    assert "--data-raw" not in curl
    assert str(wire).splitlines()[0] == f"GET {expected}"


def test_the_curl_command_runs_in_a_shell_against_the_api(client, plan):
    if shutil.which("curl") is None or shutil.which("sh") is None:
        pytest.skip("needs curl and a POSIX shell")
    send(client)
    env = {**os.environ, "SINCH_API_TOKEN": plan.token, "HOME": "/nonexistent"}
    done = subprocess.run(
        ["sh", "-c", client.last_request.as_curl() + " --silent"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    again = json.loads(done.stdout)
    assert again["body"] == BODY
    echoed = {key.lstrip("+"): value for key, value in again["parameters"]["name"].items()}
    assert echoed == {key.lstrip("+"): value for key, value in NAMES.items()}
    assert plan.batch_count() == 2  # the helper's send, then curl's


def test_the_sandbox_controls_are_not_recorded(client):
    batch = send(client)
    client.get_batch(batch.id)
    client.sandbox.phone("+447700900001")
    assert client.last_request.url.endswith(f"/batches/{batch.id}")


def test_a_request_that_got_no_answer_is_recorded_too(plan):
    token = "0123456789abcdef0123"
    dead = sh.SmsClient(
        sh.Credentials(plan.plan_id, token, base_url=f"http://127.0.0.1:{free_port()}"),
        retries=0,
    )
    with pytest.raises(sh.ConnectionFailed):
        dead.get_batch("01AAAAAAAAAAAAAAAAAAAAAAAA")
    wire = dead.last_request
    assert wire.url.endswith("/batches/01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert wire.headers["Authorization"] == "Bearer …0123"
    assert token not in repr(wire)


def test_a_request_that_could_not_be_built_leaves_no_record(client, plan):
    send(client)
    client.transport.session.headers["Authorization"] = f"Bearer {plan.token}\nX: y"
    with pytest.raises(sh.CredentialsError):
        client.get_batch("x")
    assert client.last_request is None


def test_a_body_that_is_not_json_is_shown_as_text():
    wire = WireRequest("POST", "https://h/x", {"Content-Type": "text/plain"}, b"it's plain")
    assert wire.body == "it's plain"
    assert str(wire).endswith("\n\nit's plain")
    assert argv(wire.as_curl())[-2:] == ["--data-raw", "it's plain"]


def test_the_token_variable_must_be_a_shell_name():
    wire = WireRequest("GET", "https://h/x", {"Authorization": "Bearer …cdef"})
    assert '"Authorization: Bearer $MY_TOKEN"' in wire.as_curl("MY_TOKEN")
    with pytest.raises(ValueError, match="Not a shell variable name"):
        wire.as_curl("$(rm -rf ~)")
