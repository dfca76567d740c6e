"""The layout a newcomer can read: a small helper module, small classes and functions, imports
that run one way only (notebooks → sinch_helpers → its machinery → HTTP → sandbox or Sinch)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import sinch_helpers

ROOT = Path(__file__).resolve().parent.parent
MACHINERY = ROOT / "sinch_helpers_machinery"
SANDBOX = ROOT / "xms_sandbox"
# The project's own code, tests aside.
OWN_CODE = sorted(
    [
        ROOT / "sinch_helpers.py",
        *MACHINERY.rglob("*.py"),
        *SANDBOX.rglob("*.py"),
        *(ROOT / "bench").glob("*.py"),
        *(ROOT / "tools").glob("*.py"),
    ]
)
MAX_HELPER_LINES = 600
MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 80


def definitions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield node, node.end_lineno - node.lineno + 1


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return {module.split(".")[0] for module in modules}


def test_the_helper_module_stays_small():
    lines = len((ROOT / "sinch_helpers.py").read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_HELPER_LINES, f"sinch_helpers.py has {lines} lines"


@pytest.mark.parametrize("path", OWN_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_class_or_function_is_too_long(path):
    for node, length in definitions(path):
        limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
        assert length <= limit, f"{node.name} is {length} lines (at most {limit})"


@pytest.mark.parametrize("name", sinch_helpers.__all__)
def test_every_public_name_is_documented_with_an_example(name):
    value = getattr(sinch_helpers, name)
    if not (inspect.isclass(value) or inspect.isfunction(value)):
        return  # a constant such as REGIONS
    doc = inspect.getdoc(value) or ""
    assert doc, f"{name} has no docstring"
    assert ">>>" in doc or "Example" in doc, f"{name}'s docstring has no example"


def test_every_public_name_exists_and_nothing_private_is_exported():
    for name in sinch_helpers.__all__:
        assert hasattr(sinch_helpers, name), name
        assert not name.startswith("_"), name


def test_the_sandbox_never_imports_the_helpers():
    for path in SANDBOX.rglob("*.py"):
        found = imported_modules(path) & {"sinch_helpers", "sinch_helpers_machinery"}
        assert not found, f"{path.relative_to(ROOT)} imports {found}"


def test_the_machinery_never_imports_the_module_above_it():
    for path in MACHINERY.rglob("*.py"):
        modules = imported_modules(path)
        assert "sinch_helpers" not in modules, path.name
        if path.name != "sandbox_controls.py":  # starting the embedded sandbox is its one job
            assert "xms_sandbox" not in modules, f"{path.name} imports the sandbox"


def test_the_helper_module_reaches_the_sandbox_only_through_the_machinery():
    assert "xms_sandbox" not in imported_modules(ROOT / "sinch_helpers.py")
