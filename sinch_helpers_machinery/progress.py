"""A progress bar that appears only when the work turns out to be slow."""

from __future__ import annotations

import time
from typing import Any

PROGRESS_AFTER = 0.5  # seconds of work before a progress bar is worth drawing


class Progress:
    """A tqdm progress bar that appears only once the work has taken ``PROGRESS_AFTER`` seconds.

    Quick work (most of it, against the local sandbox) leaves no half-drawn bar behind and does
    not pay the ~0.15 s it takes to import tqdm's notebook widgets.

    >>> with Progress(total=3, description="Sending") as bar:
    ...     bar.update(3)
    """

    def __init__(self, total: int, description: str, enabled: bool = True) -> None:
        self.total, self.description, self.enabled = total, description, enabled
        self.n = 0
        self._started = time.monotonic()
        self._bar: Any = None

    def update(self, count: int) -> None:
        """``count`` more items are done."""
        self.n += count
        if self._bar is not None:
            self._bar.update(count)
        elif self.enabled and time.monotonic() - self._started >= PROGRESS_AFTER:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.total, initial=self.n, desc=self.description, unit="msg", leave=True
            )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
