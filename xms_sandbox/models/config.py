"""How a sandbox behaves, and the clock its stores read: both shared by every store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..lifecycle import Timing

#: Seconds since the epoch. Injected so that tests can drive time by hand.
Clock = Callable[[], float]

#: The API retries a callback first 5 s after it failed, then after 10, 20, 40 s..., doubling up
#: to 81 920 s: 15 retries (xms-api.md §5.3, from the 2021 SMS guide).
API_CALLBACK_RETRY_BASE = 5.0
API_CALLBACK_RETRIES = 15


@dataclass
class SandboxConfig:
    """How the sandbox behaves; every field has a sensible default."""

    timing: Timing = field(default_factory=Timing)
    #: Accept any plan ID on first use and remember the token it came with.
    open_plans: bool = False
    #: First callback retry this many seconds after a failure, then doubling. None: the API's
    #: 5 s at the pace of ``timing`` (:meth:`Timing.scaled`), so a fast sandbox retries fast.
    callback_retry_base: float | None = None
    #: Tries of one callback: by default the API's first try and its 15 retries.
    callback_max_attempts: int = 1 + API_CALLBACK_RETRIES
    callback_timeout: float = 5.0
    #: Settings every new plan starts with (``messages_per_second``, ...).
    plan_defaults: dict[str, Any] = field(default_factory=dict)
    #: The largest request body accepted (bytes); a larger one is a 413, never read.
    max_request_bytes: int = 1024 * 1024
    #: Where callbacks may go. None: anywhere (a sandbox for one learner, on their machine).
    #: A tuple of CIDRs: a shared sandbox, which refuses loopback, private, link-local,
    #: unspecified and multicast addresses outside these ranges (see ``callbacks.CallbackGuard``).
    callback_allow: tuple[str, ...] | None = None
    #: The longest wait between two tries of one callback (seconds): doubling stops there. The
    #: sandbox's own cap (the API doubles on to 81 920 s): a room's sandbox runs for hours.
    callback_max_delay: float = 300.0
    #: Plans whose callbacks are posted at once (one thread each), and how many of one plan's
    #: callbacks one thread posts in a row, in order, before the plans take turns again.
    callback_threads: int = 8
    callback_run_per_plan: int = 20

    @property
    def retry_base(self) -> float:
        """Seconds before a failed callback's first retry."""
        if self.callback_retry_base is not None:
            return self.callback_retry_base
        return self.timing.scaled(API_CALLBACK_RETRY_BASE)
