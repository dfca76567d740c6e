"""The sandbox's model: the API's rules and state, one store per resource.

Each store takes validated Python values from the routes, keeps its state in
:class:`~xms_sandbox.storage.Storage` (its own SQL in its own module) and returns the plain
records of :mod:`.records`, which :mod:`xms_sandbox.responses` renders as JSON. None of it
knows about HTTP.

:class:`XmsBackend` builds the stores and wires them together. Stores that need another take it
in their constructor; the one need that would run in a circle (changing a group reschedules the
batches that target it, and scheduling expands groups) is wired with a callback.
"""

from __future__ import annotations

from ..storage import Storage
from ..timeutil import now as wall_clock
from .batches import BatchStore
from .config import Clock, SandboxConfig
from .groups import GroupStore
from .inbounds import InboundStore
from .outbox import CallbackRenderer, Outbox
from .plans import PlanStore
from .reports import ReportStore
from .scheduling import Scheduler

__all__ = ["SandboxConfig", "XmsBackend"]


class XmsBackend:
    """Every store of one sandbox, over one storage, configuration and clock.

    ``render_callback`` turns a callback's record into the JSON object that is posted (the
    server passes ``responses.callback_body``); the outbox stores what it returns.
    """

    def __init__(
        self,
        storage: Storage,
        config: SandboxConfig | None = None,
        clock: Clock = wall_clock,
        *,
        render_callback: CallbackRenderer,
    ) -> None:
        self.storage = storage
        self.config = config or SandboxConfig()
        self.clock = clock
        self.plans = PlanStore(storage, self.config)
        self.scheduler = Scheduler(self.config, clock, self.plans)
        self.groups = GroupStore(
            storage, clock, on_members_changed=self.scheduler.refresh_for_group
        )
        self.batches = BatchStore(storage, self.config, clock, self.scheduler)
        self.reports = ReportStore(storage, clock, self.batches, self.scheduler)
        self.outbox = Outbox(
            storage, self.config, clock, self.plans, self.scheduler, render=render_callback
        )
        self.inbounds = InboundStore(storage, clock, self.plans, self.groups, self.outbox)
