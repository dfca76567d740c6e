"""pyproject.toml, requirements.txt and environment.yml must name the same packages and ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def normalise(requirement: str) -> str:
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + spec.replace(" ", "")


def from_pyproject() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return {normalise(r) for r in project["dependencies"] + extras["lab"] + extras["test"]}


def from_requirements() -> set[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {normalise(line) for line in lines if line.strip() and not line.startswith("#")}


def from_environment() -> set[str]:
    found = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        item = re.match(r"\s*-\s+(?!-)(\S.*)$", line)
        if not item or item.group(1).startswith(("pip:", "#")):
            continue
        requirement = normalise(item.group(1).split("#")[0])
        if requirement == "pip" or re.fullmatch(r"python[<>=!~].*", requirement):
            continue
        found.add(requirement)
    return found


def test_requirements_match_pyproject():
    assert from_requirements() == from_pyproject()


def test_environment_matches_pyproject():
    assert from_environment() == from_pyproject()


def test_environment_installs_the_repository():
    assert "- -e ." in (ROOT / "environment.yml").read_text()
