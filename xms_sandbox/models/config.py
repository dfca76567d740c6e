"""How a sandbox behaves, and the clock its stores read: both shared by every store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..lifecycle import Timing

#: Seconds since the epoch. Injected so that tests can drive time by hand.
Clock = Callable[[], float]


@dataclass
class SandboxConfig:
    """How the sandbox behaves; every field has a sensible default."""

    timing: Timing = field(default_factory=Timing)
    #: Accept any plan ID on first use and remember the token it came with.
    open_plans: bool = False
    #: First callback retry after this many seconds, then doubling.
    callback_retry_base: float = 1.0
    callback_max_attempts: int = 8
    callback_timeout: float = 5.0
    #: Settings every new plan starts with (``messages_per_second``, ...).
    plan_defaults: dict[str, Any] = field(default_factory=dict)
    #: The largest request body accepted (bytes); a larger one is a 413, never read.
    max_request_bytes: int = 1024 * 1024
    #: Where callbacks may go. None: anywhere (a sandbox for one learner, on their machine).
    #: A tuple of CIDRs: a shared sandbox, which refuses loopback, private, link-local,
    #: unspecified and multicast addresses outside these ranges (see ``callbacks.CallbackGuard``).
    callback_allow: tuple[str, ...] | None = None
    #: The longest wait between two tries of one callback (seconds): doubling stops there.
    callback_max_delay: float = 300.0
    #: Plans whose callbacks are posted at once (one thread each), and how many of one plan's
    #: callbacks one thread posts in a row, in order, before the plans take turns again.
    callback_threads: int = 8
    callback_run_per_plan: int = 20
