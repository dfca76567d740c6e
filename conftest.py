"""pytest settings shared by the test suite and the notebook checks (nbval)."""


def pytest_collectstart(collector):
    """Compare notebooks' plain-text outputs but not their HTML: pandas renders tables as HTML
    differently from one version to the next, while ``text/plain`` carries the same data."""
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare = (*collector.skip_compare, "text/html")
