"""One list of dependencies: pyproject.toml. requirements.txt and environment.yml are written from
it by tools/sync_dependencies.py (``make deps``) and must be exactly what that script writes."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def sync_tool():
    spec = importlib.util.spec_from_file_location("sync", ROOT / "tools" / "sync_dependencies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["requirements.txt", "environment.yml", "binder/requirements.txt"])
def test_generated_dependency_files_are_up_to_date(name):
    wanted = sync_tool().OUTPUTS[name]()
    assert (ROOT / name).read_text(encoding="utf-8") == wanted, "run `make deps` and commit"


def test_every_dependency_of_pyproject_is_in_both_files():
    groups = sync_tool().requirements()
    names = {re.match(r"[A-Za-z0-9_.\-]+", r).group(0) for items in groups.values() for r in items}
    requirements = (ROOT / "requirements.txt").read_text()
    environment = (ROOT / "environment.yml").read_text()
    for name in names:
        assert name in requirements, name
        assert name in environment, name


def test_environment_installs_the_repository():
    assert "- -e ." in (ROOT / "environment.yml").read_text()


def test_the_makefile_installs_from_pyproject():
    makefile = (ROOT / "Makefile").read_text()
    assert '-e ".[lab,test]"' in makefile
    assert "-r requirements.txt" not in makefile


def test_every_package_of_ours_is_packaged():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packaged = set(setuptools["packages"])
    ours = {
        str(p.parent.relative_to(ROOT)).replace("/", ".")
        for p in ROOT.glob("*/**/__init__.py")
        if not any(part.startswith(".") or part in ("tests", "build") for part in p.parts)
    }
    assert ours <= packaged, ours - packaged


def test_pre_commit_runs_the_ruff_that_make_test_runs():
    from importlib.metadata import version

    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    ruff = next(r for r in config["repos"] if r["repo"].endswith("/ruff-pre-commit"))
    assert ruff["rev"] == f"v{version('ruff')}", "bump .pre-commit-config.yaml with ruff"
    hooks = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "check-json", "check-yaml"} <= hooks


def test_binder_installs_the_notebooks_needs_from_pyproject_and_nothing_more():
    """binder/requirements.txt holds pyproject.toml's [project] dependencies and `lab` extra,
    written as there, and nothing else (no test tools): a lean Binder image that cannot drift."""
    groups = sync_tool().requirements()
    lab = {item.replace(" ", "") for item in groups["run"] + groups["lab"]}
    text = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8")
    listed = {line.split("#")[0].strip() for line in text.splitlines()} - {""}
    assert listed <= lab, f"not in pyproject.toml's dependencies or `lab` extra: {listed - lab}"
    assert lab <= listed, f"add to binder/requirements.txt as pyproject.toml has it: {lab - listed}"
