"""The credentials form of 01-credentials.ipynb, filled in by hand in a real browser.

JupyterLab runs with ``SINCH_BASE_URL`` pointing at a sandbox in this process, so **Connect**
checks the typed credentials there; without a plan ID and a token in the environment the
notebooks stay in sandbox mode.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

import xms_sandbox

from lab_server import LabServer, running_lab
from notebook_page import NotebookPage, OpenNotebook

NOTEBOOK = "01-credentials.ipynb"
PLAN_ID = "form-plan"
SECRET = f"form-secret-{secrets.token_hex(12)}"


@pytest.fixture(scope="module")
def form_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab whose kernels send the form's check to a sandbox that knows ``SECRET``."""
    with xms_sandbox.start(plans={PLAN_ID: SECRET}) as sandbox:
        extra_env = {"SINCH_BASE_URL": f"{sandbox.url}/xms"}
        with running_lab(tmp_path_factory.mktemp("form-lab"), extra_env) as server:
            yield server


@pytest.fixture
def notebook(form_lab: LabServer, open_notebook: OpenNotebook) -> NotebookPage:
    """01-credentials after Run All, so the form is on the page."""
    opened = open_notebook(form_lab, NOTEBOOK)
    opened.run_all()
    return opened


class Form:
    """The form's boxes, button and status line, found by their labels as a learner sees them."""

    def __init__(self, notebook: NotebookPage) -> None:
        widget = notebook.outputs.filter(has=notebook.page.get_by_role("button", name="Connect"))
        self.plan = widget.get_by_label("Service plan ID")
        self.token = widget.get_by_label("API token")
        self.connect = widget.get_by_role("button", name="Connect")
        self.status = widget.locator(".widget-html")

    def submit(self, plan_id: str, token: str) -> None:
        self.plan.fill(plan_id)
        self.token.fill(token)
        self.connect.click()


def saved_text(notebook: NotebookPage) -> str:
    """Save the notebook from the browser and read the file JupyterLab wrote (widget state
    included: see ``LAB_SETTINGS``, so a value left in a box would be in it)."""
    path = notebook.lab.notebook_file(notebook.name)
    before = path.stat().st_mtime_ns
    notebook.save()
    assert path.stat().st_mtime_ns != before, "the notebook was not written"
    return path.read_text(encoding="utf-8")


def test_the_right_token_connects_and_is_never_saved(notebook: NotebookPage) -> None:
    form = Form(notebook)
    form.submit(PLAN_ID, SECRET)

    expect(form.status).to_contain_text(f"Connected to service plan {PLAN_ID}")
    expect(form.token).to_have_value("")
    # Credentials that lead to a sandbox give a client in sandbox mode, and it says so.
    banner = notebook.run_cell_containing("sh.connect(form.credentials")
    assert "Sandbox mode: the sandbox at http://127.0.0.1:" in banner, banner
    assert f"answers for plan {PLAN_ID}" in banner, banner
    assert "Live mode" not in banner
    saved = saved_text(notebook)
    assert f"Connected to service plan {PLAN_ID}" in saved, "the form's state was not saved"
    assert SECRET not in saved


def test_a_wrong_token_is_refused_and_emptied(notebook: NotebookPage) -> None:
    wrong_token = f"wrong-token-{secrets.token_hex(8)}"
    form = Form(notebook)
    form.submit(PLAN_ID, wrong_token)

    expect(form.status).to_contain_text("401")
    expect(form.status).not_to_contain_text("Connected")
    expect(form.token).to_have_value("")
    assert wrong_token not in saved_text(notebook)
