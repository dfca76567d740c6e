"""Write requirements.txt, environment.yml and binder/requirements.txt from pyproject.toml, the
one list of dependencies.

``make deps`` runs it after a change to pyproject.toml; ``tests/test_packaging.py`` fails when
either file differs from what this script would write, so neither can drift by hand.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("lab", "test")
# On PyPI but not on conda-forge: environment.yml installs these with pip.
PIP_ONLY = {"gsm0338", "clx-sdk-xms", "sinch"}


def requirements() -> dict[str, list[str]]:
    """The dependencies by group: ``run`` (the package itself), then each extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"run": list(project["dependencies"])}
    groups.update({extra: list(project["optional-dependencies"][extra]) for extra in EXTRAS})
    return groups


def name_of(requirement: str) -> str:
    """The distribution name, normalised (``clx_sdk.xms`` → ``clx-sdk-xms``)."""
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)", requirement)
    if match is None:
        raise ValueError(f"Not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def requirements_txt() -> str:
    lines = [
        "# Generated from pyproject.toml by tools/sync_dependencies.py (make deps): do not edit.",
        "# Everything `make lab` and `make test` install, for pip users and Binder.",
    ]
    for group, items in requirements().items():
        if group != "run":
            lines.append(f"# {group}")
        lines += [item.replace(" ", "") for item in items]
    return "\n".join(lines) + "\n"


def environment_yml() -> str:
    conda, pip = [], []
    for items in requirements().values():
        for item in items:
            (pip if name_of(item) in PIP_ONLY else conda).append(item.replace(" ", ""))
    lines = [
        "# Generated from pyproject.toml by tools/sync_dependencies.py (make deps): do not edit.",
        "# conda / mamba / Binder environment; the repository itself is installed with pip so",
        "# that `import sinch_helpers` and `python -m xms_sandbox` work from any folder.",
        "name: sinch-sms-notebooks",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python>=3.11",
        "  - pip",
        *(f"  - {item}" for item in conda),
        "  - pip:",
        "      # not packaged on conda-forge",
        *(f"      - {item}" for item in pip),
        "      - -e .",
    ]
    return "\n".join(lines) + "\n"


def binder_requirements_txt() -> str:
    groups = requirements()
    lines = [
        "# Generated from pyproject.toml by tools/sync_dependencies.py (make deps): do not edit.",
        "# Binder (mybinder.org): only what the notebooks need in JupyterLab, without the test",
        "# tools; binder/postBuild then installs the repository itself.",
    ]
    lines += [item.replace(" ", "") for item in groups["run"] + groups["lab"]]
    return "\n".join(lines) + "\n"


OUTPUTS = {
    "requirements.txt": requirements_txt,
    "environment.yml": environment_yml,
    "binder/requirements.txt": binder_requirements_txt,
}


def main(check: bool) -> int:
    stale = []
    for name, render in OUTPUTS.items():
        path, wanted = ROOT / name, render()
        if path.exists() and path.read_text(encoding="utf-8") == wanted:
            continue
        if check:
            stale.append(name)
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote {name}")
    for name in stale:
        print(f"{name} is out of date: run `make deps`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv))
