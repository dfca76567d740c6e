"""The API token never leaks through an error: not in its message, not in its chain, not in the
variables of any frame of its traceback (which ``%xmode Verbose`` prints, and a notebook saves).
Bad tokens (a line break from a mis-quoted ``.env``, invisible characters from a web page, a
pasted ``Bearer``) get a clear CredentialsError instead of a library's traceback.

Every failure is made for real: a closed port, the sandbox's timeout and latency faults, a 401.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

import pytest
from IPython.core.ultratb import AutoFormattedTB

import sinch_helpers as sh
from sinch_helpers_machinery.settings import Secret, read_settings

from conftest import free_port

# ------------------------------------------------------------------ looking for the token


def needles(token: str) -> list[str]:
    """The token as it is and as a repr writes it, and every piece of it longer than the four
    characters that mask() shows (a token with a line break splits in two)."""
    pieces = [p for p in re.split(r"[^0-9A-Za-z]", token) if len(p) > 4]
    return [token, repr(token)[1:-1], *pieces]


def chain(error: BaseException) -> Iterator[BaseException]:
    """The error and every exception chained to it (``__cause__`` and ``__context__``)."""
    waiting, seen = [error], set()
    while waiting:
        exc = waiting.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        waiting += [e for e in (exc.__cause__, exc.__context__) if e is not None]


def frames(exc: BaseException) -> Iterator[FrameType]:
    """The frames of the exception's traceback, but this file's (the test holds the token)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != __file__:
            yield tb.tb_frame
        tb = tb.tb_next


def shown(value: Any) -> Iterator[str]:
    """What a traceback printer or a debugger shows of a variable: its repr, and one level
    down the reprs of a container's items or an object's attributes."""
    yield safe_repr(value)
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        try:
            items = list(vars(value).values())
        except TypeError:
            items = []
    yield from (safe_repr(item) for item in items)


def safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a half-built object, say: its repr is not where a token hides
        return f"<repr failed: {type(exc).__name__}>"


def leaks(error: BaseException, token: str) -> list[str]:
    """Where the token shows: each exception's text and attributes, and every frame's variables."""
    found = []
    for exc in chain(error):
        name = type(exc).__name__
        texts = [(f"{name} str", str(exc)), (f"{name} repr", repr(exc))]
        texts += [(f"{name}.{k}", safe_repr(v)) for k, v in vars(exc).items()]
        for frame in frames(exc):
            where = f"{name} frame {frame.f_code.co_qualname}"
            for variable, value in frame.f_locals.items():
                texts += [(f"{where} variable {variable}", text) for text in shown(value)]
        found += [where for where, text in texts if any(n in text for n in needles(token))]
    return found


def verbose_traceback(error: BaseException) -> str:
    """The error as ``%xmode Verbose`` prints it (every frame's variables), this file's frames
    left out."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    printer = AutoFormattedTB(mode="Verbose", theme_name="nocolor")
    return printer.text(type(error), error, tb)


def failure(call: Callable[[], Any]) -> BaseException:
    """The exception ``call`` raises (it must raise one)."""
    try:
        call()
    except Exception as error:  # any kind: the caller checks which
        return error
    raise AssertionError("no exception was raised")


def assert_never_shown(error: BaseException, token: str) -> None:
    assert leaks(error, token) == []
    text = verbose_traceback(error)
    assert type(error).__name__ in text
    assert not [n for n in needles(token) if n in text], text


def assert_chain_is_ours(error: BaseException) -> None:
    """Only the helpers' own exceptions: those of requests and urllib3 hold the headers."""
    modules = {type(exc).__module__.split(".")[0] for exc in chain(error)}
    assert modules <= {"sinch_helpers_machinery"}, modules


# ------------------------------------------------------------------ failures, for real


def test_connection_refused(plan):
    token = secrets.token_hex(16)
    dead = sh.SmsClient(
        sh.Credentials(plan.plan_id, token, base_url=f"http://127.0.0.1:{free_port()}"),
        retries=1,
        backoff=0.01,
    )
    for call in (lambda: dead.get_batch("x"), lambda: dead.send_batch(["+46701234567"], "x")):
        error = failure(call)
        assert isinstance(error, sh.ConnectionFailed)
        assert "ConnectionError: [Errno 111] Connection refused" in error.args[0]
        assert error.never_left  # so the send was not looked up, nor sent again
        assert_chain_is_ours(error)
        assert_never_shown(error, token)


@pytest.mark.parametrize("kind", ["timeout", "latency"])
def test_timeout(client, plan, kind):
    plan.fault(kind=kind, seconds=1.5, method="GET")
    impatient = client.with_options(timeout=0.3, retries=0)
    error = failure(lambda: impatient.get_batch("01AAAAAAAAAAAAAAAAAAAAAAAA"))
    assert isinstance(error, sh.RequestTimeout)
    assert "No answer within 0.3 s (ReadTimeout: " in error.args[0]
    assert_chain_is_ours(error)
    assert_never_shown(error, plan.token)


def test_a_send_whose_outcome_stays_unknown(client, plan):
    """Chains our own errors (the send's timeout, the lookups'), and nothing else."""
    plan.fault(kind="latency", seconds=4.5, method="POST", path="/batches")
    impatient = client.with_options(timeout=0.3, retries=0)
    error = failure(lambda: impatient.send_batch(["+447700900001"], "x", "Co"))
    assert isinstance(error, sh.SendOutcomeUnknown)
    assert isinstance(error.__cause__, sh.RequestTimeout)
    assert_chain_is_ours(error)
    assert_never_shown(error, plan.token)


def test_unauthorized(plan):
    token = secrets.token_hex(16)
    credentials = sh.Credentials(plan.plan_id, token, base_url=plan.sandbox.url)
    wrong = sh.SmsClient(credentials, retries=0, sandbox=True)
    for call in (lambda: wrong.get_batch("x"), lambda: wrong.send_batch(["+447700900001"], "x")):
        error = failure(call)
        assert isinstance(error, sh.AuthenticationError)
        assert_never_shown(error, token)


def test_a_token_broken_after_the_checks_never_reaches_the_wire(client, plan):
    """Put into the session by hand: requests refuses the header (a line break) or http.client
    cannot encode it (a zero-width space); either way a CredentialsError, the token unseen."""
    for odd, words in [("\n", "a line break"), ("\u200b", "an invisible character (U+200B")]:
        token = plan.token[:16] + odd + plan.token[16:]
        client.transport.session.headers["Authorization"] = f"Bearer {token}"
        error = failure(lambda: client.get_batch("x"))
        assert isinstance(error, sh.CredentialsError)
        assert f"The API token contains {words}" in error.args[0]
        assert "at character 17 of 33" in error.args[0]
        assert_chain_is_ours(error)
        assert_never_shown(error, token)
    assert plan.batch_count() == 0


def test_transport_refuses_a_bad_token_from_credentials_made_by_hand():
    """Not a ``Credentials``, so never checked: the transport checks it before any request."""

    class HandMade:
        service_plan_id, region, base_url = "p", "us", None
        origin, endpoint = "https://us.sms.api.sinch.com", "https://us.sms.api.sinch.com/xms"
        api_token = "0123456789abcdef\r\n"

    from sinch_helpers_machinery.transport import XmsTransport

    with pytest.raises(sh.CredentialsError, match="line break at character 17"):
        XmsTransport(HandMade())


# ------------------------------------------------------------------ bad tokens: a clear error

BROKEN = "0123456789abcdef\nfedcba9876543210"  # a line break at character 17


def test_a_token_with_a_line_break_is_refused_by_name():
    error = failure(lambda: sh.Credentials("plan", BROKEN))
    assert isinstance(error, sh.CredentialsError)
    assert error.args[0] == (
        "The API token contains a line break at character 17 of 33 — a mis-quoted .env line?"
    )
    assert "SINCH_API_TOKEN=" in error.hint
    assert_never_shown(error, BROKEN)


def test_a_mis_quoted_env_file(clean_env, capsys):
    (clean_env / ".env").write_text(
        'SINCH_SERVICE_PLAN_ID=plan-file\nSINCH_API_TOKEN="0123456789abcdef\nfedcba9876543210"\n'
    )
    for call in (sh.load_credentials, sh.connect):
        error = failure(call)
        assert isinstance(error, sh.CredentialsError)
        assert "line break at character 17" in error.args[0]
        assert_never_shown(error, BROKEN)
    assert "fedcba98" not in capsys.readouterr().out


def test_settings_hand_out_tokens_masked(clean_env):
    (clean_env / ".env").write_text("SINCH_API_TOKEN=0123456789abcdef\n")
    settings = read_settings()
    assert isinstance(settings["SINCH_API_TOKEN"], Secret)
    assert "0123456789abcdef" not in repr(settings)
    assert settings["SINCH_API_TOKEN"] == "0123456789abcdef"


@pytest.mark.parametrize(
    ("odd", "words"),
    [
        ("\r", "a line break"),
        ("\u2028", "a line break"),
        (" ", "a space"),
        ("\t", "a tab"),
        ("\u00a0", "a special space (U+00A0 NO-BREAK SPACE)"),
        ("\u200b", "an invisible character (U+200B ZERO WIDTH SPACE)"),
        ("\u200c", "an invisible character (U+200C ZERO WIDTH NON-JOINER)"),
        ("\u200d", "an invisible character (U+200D ZERO WIDTH JOINER)"),
        ("\u2060", "an invisible character (U+2060 WORD JOINER)"),
        ("\u00ad", "an invisible character (U+00AD SOFT HYPHEN)"),
        ("\ufeff", "an invisible byte-order mark (U+FEFF)"),
        ("\x07", "a control character (U+0007)"),
        ("\u0430", "a character that is not plain ASCII (U+0430 CYRILLIC SMALL LETTER A)"),
        ("\u2019", "a character that is not plain ASCII (U+2019 RIGHT SINGLE QUOTATION MARK)"),
        ("é", "a character that is not plain ASCII (U+00E9 LATIN SMALL LETTER E WITH ACUTE)"),
    ],
)
def test_stray_characters_in_a_token_are_named_with_their_place(odd, words):
    token = "0123456789abcdef" + odd + "fedcba9876543210"
    error = failure(lambda: sh.Credentials("plan", token))
    assert isinstance(error, sh.CredentialsError)
    assert error.args[0].startswith(f"The API token contains {words} at character 17 of 33")
    assert "Sinch dashboard" in error.hint
    assert_never_shown(error, token)


def test_the_first_stray_character_is_named_and_the_rest_counted():
    token = "\ufeff0123456789abcdef\u200bfedcba\u200b9876543210"
    with pytest.raises(sh.CredentialsError) as error:
        sh.Credentials("plan", token)
    assert "byte-order mark (U+FEFF) at character 1 of 35 (and 2 more)" in error.value.args[0]


def test_stray_characters_in_a_plan_id_too():
    with pytest.raises(sh.CredentialsError) as error:
        sh.Credentials("my\u200bplan", "0123456789abcdef")
    assert error.value.args[0].startswith(
        "The service plan ID contains an invisible character (U+200B ZERO WIDTH SPACE) at "
        "character 3 of 7"
    )
    assert "Copy the service plan ID again" in error.value.hint


def test_a_plan_id_may_be_any_letters_and_spaces():
    """In a room's sandbox the plan is SINCH_SANDBOX_PLAN or the JupyterHub user name, which
    may be Zoë, Дмитрий or Ada L."""
    for name in ("Zoë", "Дмитрий", "Ada L"):
        assert sh.Credentials(name, "0123456789abcdef").service_plan_id == name


def test_outer_blanks_are_still_just_stripped():
    assert sh.Credentials(" plan\n", " 0123456789abcdef\n").api_token == "0123456789abcdef"


@pytest.mark.parametrize(
    "pasted", ["Bearer {}", "bearer   {}", "BEARER\t{}", "Authorization: Bearer {}"]
)
def test_a_pasted_bearer_prefix_is_left_out_and_said_once(plan, capsys, pasted):
    token = plan.token
    credentials = sh.Credentials(plan.plan_id, pasted.format(token), base_url=plan.sandbox.url)
    assert credentials.api_token == token
    out = capsys.readouterr().out
    assert "was pasted in front of the API token" in out
    assert token not in out
    sh.Credentials(plan.plan_id, pasted.format(token), base_url=plan.sandbox.url)
    assert capsys.readouterr().out == ""  # once per token
    client = sh.SmsClient(credentials, sandbox=True)
    assert client.transport.session.headers["Authorization"] == f"Bearer {token}"
    assert list(client.list_batches()) == []  # the sandbox takes it


def test_a_bearer_prefix_counts_in_the_position_of_a_stray_character():
    with pytest.raises(sh.CredentialsError, match="line break at character 24 of 40"):
        sh.Credentials("plan", "Bearer " + BROKEN)


def test_the_token_is_masked_wherever_a_repr_shows_it():
    credentials = sh.Credentials("plan", "0123456789abcdef")
    assert "0123456789abcdef" not in repr(vars(credentials))
    assert repr(credentials.api_token) == "'…cdef'"
    assert f"{credentials.api_token}" == "0123456789abcdef"  # while requests gets it whole


# ------------------------------------------------------------------ the credentials form


def test_the_form_names_a_stray_character_and_never_shows_the_token(plan):
    form = sh.credentials_form(base_url=plan.sandbox.url)
    token = plan.token[:10] + "\u200b" + plan.token[10:]
    form.plan.value, form.token.value = plan.plan_id, token
    assert form.submit() is None
    assert form.token.value == ""
    assert "invisible character (U+200B ZERO WIDTH SPACE) at character 11" in form.status.value
    assert not [n for n in needles(token) if n in form.status.value]


class ScriptServer(BaseHTTPRequestHandler):
    """An API that answers every request with a 401 whose text is a script tag."""

    def do_GET(self) -> None:
        body = json.dumps({"code": "unauthorized", "text": "<script>alert(1)</script>"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet in the test output
        pass


@pytest.fixture
def script_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_form_shows_the_servers_text_escaped(script_server):
    form = sh.credentials_form(base_url=script_server)
    form.plan.value, form.token.value = "plan", "0123456789abcdef"
    assert form.submit() is None
    assert "<script>" not in form.status.value
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in form.status.value
