"""pytest settings shared by the test suite and the notebook checks (nbval)."""

# The browser tests need Playwright and Chromium: `make test-browser` runs them on their own
# (`pytest tests/browser`), `make test` and a bare `pytest` leave them out.
collect_ignore = ["tests/browser"]


def pytest_collectstart(collector):
    """Compare notebooks' plain-text outputs but not their HTML: pandas renders tables as HTML
    differently from one version to the next, while ``text/plain`` carries the same data."""
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare = (*collector.skip_compare, "text/html")
