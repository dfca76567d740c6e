"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, JupyterLab on a
throw-away copy of the course, and a screenshot of the page whenever a test fails.

Run them with ``make test-browser``; ``make test`` does not collect this folder (see the
``collect_ignore`` in the repository's top-level conftest.py).
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from lab_server import LabServer, running_lab
from notebook_page import NotebookPage, OpenNotebook

# Playwright never downloads a browser here: it drives Debian's Chromium.
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}
TIMEOUT_MS = 30_000  # for any one page action or expectation: generous, for slow CI machines

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium, shared by every test (each gets its own context and tab)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab as a learner gets it: no credentials anywhere, so the built-in sandbox."""
    with running_lab(tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser tab with its own cookies and storage."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def open_notebook(page: Page) -> Iterator[OpenNotebook]:
    """Opens notebooks in ``page``; afterwards closes the tab without saving and shuts the
    kernels down, so that they do not pile up from one test to the next."""
    used: list[LabServer] = []

    def open_(lab: LabServer, name: str) -> NotebookPage:
        used.append(lab)
        return NotebookPage.open(page, lab, name)

    yield open_
    page.close()
    for server in used:
        server.shut_down_kernels()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """When a test fails, photograph its browser tab and name the file in the report."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.failed and call.when in ("setup", "call") and page is not None:
        path = screenshot(page, item.nodeid)
        if path is not None:
            report.sections.append(("browser screenshot", str(path)))
    return report


def screenshot(page: Page, nodeid: str) -> Path | None:
    """Save a screenshot of ``page`` in the session's screenshot folder; None if the tab is
    already gone."""
    if page.is_closed():
        return None
    path = screenshot_folder() / (re.sub(r"[^\w.-]+", "_", nodeid) + ".png")
    try:
        page.screenshot(path=path)
    except Exception as error:  # a crashed page must not hide the test's own failure
        print(f"no screenshot for {nodeid}: {error}")
        return None
    return path


@functools.cache
def screenshot_folder() -> Path:
    """A temporary folder, made on the first failure, that outlives the test run."""
    return Path(tempfile.mkdtemp(prefix="browser-screenshots-"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if screenshot_folder.cache_info().currsize:
        terminalreporter.write_line(f"Screenshots of failed browser tests: {screenshot_folder()}")
