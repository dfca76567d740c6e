"""pandas and numpy, imported the first time one of their names is used.

Importing pandas takes about half a second, which every notebook would pay before its first cell
finished, even the notebooks that never draw a table. ``from .lazy import pd`` gives a stand-in
that imports the real module on first attribute lookup and keeps it.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class ImportedOnFirstUse:
    """A module that is imported the first time one of its names is looked up.

    >>> json = ImportedOnFirstUse("json")
    >>> json.dumps([1])
    '[1]'
    """

    def __init__(self, name: str) -> None:
        self._name = name

    @functools.cached_property
    def _module(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._module, attribute)


if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = ImportedOnFirstUse("numpy")
    pd = ImportedOnFirstUse("pandas")

__all__ = ["ImportedOnFirstUse", "np", "pd"]
