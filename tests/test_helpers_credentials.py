"""Credentials from the environment, .env and the form; connect() and its modes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

import sinch_helpers as sh
import xms_sandbox
from sinch_helpers_machinery.live_safety import SendingRules

DATA = Path(__file__).resolve().parent.parent / "data"

TOKEN = "0123456789abcdef0123456789abcdef"


def test_repr_and_messages_mask_the_token():
    credentials = sh.Credentials("plan-1", TOKEN, region="EU")
    assert credentials.region == "eu"
    assert TOKEN not in repr(credentials)
    assert TOKEN not in str(credentials)
    assert "…cdef" in repr(credentials)
    assert credentials.endpoint == "https://eu.sms.api.sinch.com/xms"


@pytest.mark.parametrize(
    "url", ["https://example.test/xms", "https://example.test/xms/", "https://example.test"]
)
def test_base_url_with_or_without_xms(url):
    assert sh.Credentials("p", TOKEN, base_url=url).endpoint == "https://example.test/xms"


def test_unknown_region_lists_the_valid_ones():
    with pytest.raises(sh.CredentialsError) as error:
        sh.Credentials("p", TOKEN, region="gb")
    assert "us, eu, au, br, ca" in str(error.value)


@pytest.mark.usefixtures("clean_env")
def test_load_from_environment_with_sdk_spellings(monkeypatch):
    assert sh.load_credentials() is None
    monkeypatch.setenv("SINCH_SERVICE_PLAN_ID", "plan-env")
    monkeypatch.setenv("SINCH_SMS_API_TOKEN", TOKEN)
    monkeypatch.setenv("SINCH_SMS_REGION", "au")
    loaded = sh.load_credentials()
    assert (loaded.service_plan_id, loaded.api_token, loaded.region) == ("plan-env", TOKEN, "au")


def test_load_from_dotenv_found_in_a_parent_folder(clean_env, monkeypatch):
    (clean_env / ".env").write_text(
        f"SINCH_SERVICE_PLAN_ID=plan-file\nSINCH_API_TOKEN={TOKEN}\n"
        "SINCH_BASE_URL=http://127.0.0.1:9/xms\n"
    )
    (clean_env / "notebooks").mkdir()
    monkeypatch.chdir(clean_env / "notebooks")
    loaded = sh.load_credentials()
    assert loaded.service_plan_id == "plan-file"
    assert loaded.origin == "http://127.0.0.1:9"
    monkeypatch.setenv("SINCH_SERVICE_PLAN_ID", "plan-env-wins")
    assert sh.load_credentials().service_plan_id == "plan-env-wins"


@pytest.mark.usefixtures("clean_env")
def test_half_a_configuration_is_an_error(monkeypatch):
    monkeypatch.setenv("SINCH_SERVICE_PLAN_ID", "plan")
    with pytest.raises(sh.CredentialsError) as error:
        sh.load_credentials()
    assert "SINCH_API_TOKEN is not set" in str(error.value)
    monkeypatch.setenv("SINCH_API_TOKEN", TOKEN)
    monkeypatch.setenv("SINCH_REGION", "mars")
    with pytest.raises(sh.CredentialsError, match="Unknown region 'mars'"):
        sh.load_credentials()


@pytest.mark.usefixtures("clean_env")
def test_connect_without_credentials_uses_the_embedded_sandbox(capsys):
    client = sh.connect()
    assert client.mode == "sandbox"
    assert "No message leaves this machine" in capsys.readouterr().out
    again = sh.connect()
    assert again.credentials.origin == client.credentials.origin  # one sandbox per process
    batch = client.send_batch(["+447700900001"], "hello", "SandboxCo")
    assert client.get_batch(batch.id)["id"] == batch.id


@pytest.mark.usefixtures("clean_env")
def test_connect_to_a_shared_sandbox(monkeypatch, capsys):
    with xms_sandbox.start(open_plans=True) as shared:
        monkeypatch.setenv("SINCH_SANDBOX_URL", shared.xms_url)
        monkeypatch.setenv("SINCH_SANDBOX_PLAN", "learner-7")
        client = sh.connect()
        assert "shared sandbox" in capsys.readouterr().out
        assert client.credentials.service_plan_id == "learner-7"
        client.send_batch(["+447700900001"], "hi", "Co")
        assert shared.backend.batches.count("learner-7") == 1
        assert sh.connect().send_batch(["+447700900002"], "again", "Co")  # same token again


def test_a_plan_name_a_shared_sandbox_cannot_make_is_explained(monkeypatch, capsys):
    with xms_sandbox.start(open_plans=True) as shared:
        monkeypatch.setenv("SINCH_SANDBOX_URL", shared.xms_url)
        monkeypatch.setenv("SINCH_SANDBOX_PLAN", "Ada Lovelace")
        with pytest.raises(sh.CredentialsError, match="SINCH_SANDBOX_PLAN is 'Ada Lovelace'") as e:
            sh.connect()
        assert "SINCH_SANDBOX_PLAN=Ada-Lovelace" in e.value.hint
        monkeypatch.setenv("SINCH_SANDBOX_PLAN", "zoë")
        client = sh.connect()
        assert "?plan_id=zo%C3%AB&key=" in capsys.readouterr().out  # one link, every character
        client.send_batch(["+447700900001"], "hi", "Co")
        assert shared.backend.batches.count("zoë") == 1
        # The sandbox says the same to a client that asks it directly.
        refused = requests.post(
            f"{shared.xms_url}/v1/a%20b/batches",
            json={"from": "Co", "to": ["447700900001"], "body": "hi"},
            headers={"Authorization": "Bearer t"},
            timeout=5,
        )
        assert refused.status_code == 401
        assert "A new plan needs a name of 1 to 64 letters" in refused.json()["text"]
        assert shared.backend.plans.find("a b") is None


@pytest.fixture
def live_server():
    """A server that holds a plan's token and, like Sinch, has no /sandbox/ routes."""
    with xms_sandbox.start(plans={"live-plan": TOKEN}, controls=False) as server:
        yield server


def live_settings(monkeypatch, server, **extra):
    monkeypatch.setenv("SINCH_SERVICE_PLAN_ID", "live-plan")
    monkeypatch.setenv("SINCH_API_TOKEN", TOKEN)
    monkeypatch.setenv("SINCH_BASE_URL", server.xms_url)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("clean_env")
def test_connect_with_credentials_numbers_and_sender_is_live_mode(monkeypatch, live_server, capsys):
    live_settings(
        monkeypatch,
        live_server,
        SINCH_TEST_NUMBERS="+46701234567, +46701234568",
        SINCH_FROM="+46700000000",
    )
    client = sh.connect()
    out = capsys.readouterr().out
    assert client.mode == "live"
    assert "Live mode" in out
    assert TOKEN not in out
    with pytest.raises(sh.ValidationError, match="fictional"):
        client.send_batch(["+44 7700 900123"], "hi", "Co")
    assert live_server.backend.batches.count("live-plan") == 0
    assert "+46701234567, +46701234568, from +46700000000" in out
    assert sh.my_numbers(client, ["+447700900001"]) == ["+46701234567"]  # one stands in for one
    samples = ["+447700900001", "+447700900002", "+447700900003"]
    assert sh.my_numbers(client, samples) == ["+46701234567", "+46701234568"]
    assert sh.my_sender(client) == "+46700000000"
    monkeypatch.setenv("SINCH_TEST_NUMBERS", "+46709999999")  # decided at connect(), not later
    assert sh.my_numbers(client, samples) == ["+46701234567", "+46701234568"]


@pytest.mark.usefixtures("clean_env")
def test_my_people_puts_your_numbers_in_the_sample_rows(monkeypatch, live_server):
    live_settings(
        monkeypatch, live_server, SINCH_TEST_NUMBERS="+46701234567", SINCH_FROM="+46700000000"
    )
    client = sh.connect()
    people = sh.my_people(client, sh.load_recipients(DATA / "recipients.csv"))
    assert people[["name", "e164"]].to_dict("records") == [
        {"name": "Amélie", "e164": "+46701234567"}
    ]
    parameters = sh.parameters_from_frame(people, ["name"])
    assert parameters == {"name": {"+46701234567": "Amélie"}}


@pytest.mark.parametrize(
    ("extra", "missing"),
    [
        ({}, "set SINCH_TEST_NUMBERS (your own phone numbers"),
        ({"SINCH_TEST_NUMBERS": "+46701234567"}, "set SINCH_FROM (a number of your service plan"),
        ({"SINCH_FROM": "+46700000000"}, "set SINCH_TEST_NUMBERS (your own phone numbers"),
    ],
)
@pytest.mark.usefixtures("clean_env")
def test_live_mode_with_nobody_to_text_says_so_and_uses_the_sandbox(
    monkeypatch, live_server, capsys, extra, missing
):
    live_settings(monkeypatch, live_server, **extra)
    client = sh.connect()
    out = capsys.readouterr().out
    assert missing in out
    assert "Sandbox mode: the built-in offline sandbox" in out
    assert "no Sinch credentials found" not in out  # they were found, and are not used
    assert client.sandbox is not None
    client.send_batch(sh.my_numbers(client, ["+447700900001"]), "hi", sh.my_sender(client))
    assert live_server.backend.batches.count("live-plan") == 0


@pytest.mark.usefixtures("clean_env")
def test_credentials_that_lead_to_a_sandbox_mean_sandbox_mode(plan, capsys):
    credentials = sh.Credentials(plan.plan_id, plan.token, base_url=plan.endpoint)
    client = sh.connect(credentials)
    out = capsys.readouterr().out
    assert "Sandbox mode: the sandbox at" in out
    assert "Live mode" not in out
    assert client.sandbox is not None
    assert client.credentials.service_plan_id == plan.plan_id


def test_a_client_made_by_hand_in_live_mode_refuses_to_guess_who_to_text(live_server):
    client = sh.SmsClient(
        sh.Credentials("live-plan", TOKEN, base_url=live_server.url),
        rules=SendingRules(live=True),
    )
    with pytest.raises(sh.ValidationError, match="SINCH_TEST_NUMBERS"):
        sh.my_numbers(client, ["+447700900001"])


def test_with_options_keeps_the_plan_and_mode(client):
    impatient = client.with_options(timeout=0.2, retries=0)
    assert impatient.transport.timeout == 0.2
    assert impatient.transport.retries == 0
    assert impatient.credentials == client.credentials
    assert impatient.rules == client.rules
    assert (impatient.sandbox is None) == (client.sandbox is None)


def test_form_checks_credentials_and_forgets_the_token(plan):
    form = sh.credentials_form(base_url=plan.sandbox.url)
    form.plan.value, form.token.value = plan.plan_id, plan.token
    assert form.submit() is not None
    assert form.token.value == ""
    assert form.credentials.service_plan_id == plan.plan_id
    assert "Connected" in form.status.value
    assert plan.token not in form.status.value


def test_form_shows_a_specific_hint_on_failure(plan):
    form = sh.credentials_form(base_url=plan.sandbox.url)
    form.plan.value, form.token.value = plan.plan_id, "not-the-right-token-at-all"
    assert form.submit() is None
    assert form.credentials is None
    assert form.token.value == ""
    assert "region" in form.status.value
    assert "not-the-right-token" not in form.status.value
    form.plan.value = ""
    assert form.submit() is None
    assert "service plan ID is empty" in form.status.value


def test_form_without_a_widget_frontend_explains_environment_variables():
    bundle = sh.credentials_form()._repr_mimebundle_()
    assert "SINCH_SERVICE_PLAN_ID" in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_token_never_appears_in_errors_or_logs(plan, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "s3cret-token-that-must-not-leak"
    client = sh.SmsClient(
        sh.Credentials(plan.plan_id, secret, base_url=plan.sandbox.url), retries=0
    )
    texts = [repr(client), repr(client.credentials)]
    for call in (lambda: client.get_batch("x"), lambda: client.send_batch(["+1"], "x", "y")):
        with pytest.raises(sh.SmsApiError) as error:
            call()
        texts += [str(error.value), repr(error.value), error.value.hint or ""]
    texts += [record.getMessage() for record in caplog.records]
    assert all(secret not in text for text in texts)
    # The one place that holds it: the Authorization header of the client's own session.
    assert client.transport.session.headers["Authorization"] == f"Bearer {secret}"
