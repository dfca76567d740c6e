"""04-send.ipynb in the browser: the delivery chart is drawn from SVG and the sandbox's phones
are rendered."""

from __future__ import annotations

from playwright.sync_api import Locator, expect

from lab_server import LabServer
from notebook_page import OpenNotebook

# JupyterLab renders an image/svg+xml output as an <img> whose source is the SVG itself.
SVG_IMAGE = ".jp-RenderedSVG img[src^='data:image/svg+xml']"


def drawn_width(image: Locator) -> int:
    """The width the browser decoded the image to: 0 when it could not read the SVG."""
    return int(image.evaluate("image => image.complete ? image.naturalWidth : 0"))


def test_the_chart_and_the_phones_render(lab: LabServer, open_notebook: OpenNotebook) -> None:
    notebook = open_notebook(lab, "04-send.ipynb")
    notebook.run_all()

    chart = notebook.panel.locator(SVG_IMAGE).first
    expect(chart).to_be_visible()
    assert drawn_width(chart) > 0, "the browser could not draw the chart's SVG"

    phones = notebook.outputs.locator(".xms-phones .xms-phone")
    expect(phones.first).to_be_visible()
    expect(phones.first.locator(".xms-bubble").first).to_be_visible()
