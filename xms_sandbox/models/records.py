"""The plain records the stores return, with times as epoch seconds (floats).

The stores know SQL and the API's rules; :mod:`xms_sandbox.responses` knows the JSON. These
dataclasses are the contract between the two, so that neither has to know the other: a store
never builds a response dictionary, and ``responses`` never reads a database row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from ..lifecycle import Event, Recipient

T = TypeVar("T")


@dataclass(frozen=True)
class Plan:
    """A service plan: its API token and settings (callback URLs, throughput, originator)."""

    id: str
    token: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """A batch as stored: ``spec`` is the validated request, completed with the plan's defaults."""

    id: str
    plan_id: str
    spec: dict[str, Any]
    created_at: float
    modified_at: float
    expire_at: float
    canceled_at: float | None

    @property
    def canceled(self) -> bool:
        return self.canceled_at is not None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing, and how many items the whole listing has."""

    items: list[T]
    page: int
    count: int


class RecipientRow(NamedTuple):
    """One recipient of one batch as scheduled: what the timeline needs, plus how many of its
    status changes have already been sent as callbacks (``reported``). A named tuple, as
    :class:`~xms_sandbox.lifecycle.Recipient` is, because reports build one per recipient."""

    position: int  # in the batch's expanded recipient list (``idx`` in the table)
    msisdn: str
    recipient: Recipient
    reported: int


@dataclass(frozen=True)
class RecipientReport:
    """Where one recipient of a batch stands: its latest status event, and the parts its text
    needs when the batch limits them (``number_of_message_parts``; None otherwise)."""

    batch: Batch
    msisdn: str
    event: Event
    parts: int | None = None


@dataclass(frozen=True)
class StatusBucket:
    """The recipients of a batch that share a (code, status), in recipient order."""

    code: int
    status: str
    recipients: list[str]


@dataclass(frozen=True)
class BatchReport:
    """A batch's recipients counted by status. ``total`` counts every recipient, even those the
    status or code filters left out of ``buckets``; ``full`` lists each bucket's numbers."""

    batch: Batch
    total: int
    buckets: list[StatusBucket]
    full: bool


@dataclass(frozen=True)
class DryRunRecipient:
    """What one recipient would get: the final text, its parts (0 = not sent) and encoding."""

    recipient: str
    body: str
    parts: int
    encoding: str


@dataclass(frozen=True)
class DryRun:
    """What sending would do; ``per_recipient`` is None unless the caller asked for it."""

    recipients: int
    messages: int
    per_recipient: list[DryRunRecipient] | None


@dataclass(frozen=True)
class Group:
    """A group with its size (its members and its child groups' members, each counted once)."""

    id: str
    name: str | None
    size: int
    created_at: float
    modified_at: float
    child_groups: list[str]
    auto_update: dict[str, Any] | None
    tags: list[str]


@dataclass(frozen=True)
class Inbound:
    """A message a handset sent to one of the plan's numbers (an MO text)."""

    id: str
    plan_id: str
    sender: str
    to: str
    body: str
    received_at: float
    sent_at: float
    client_reference: str | None


@dataclass(frozen=True)
class HandsetMessage:
    """One bubble on a virtual phone's screen.

    ``direction`` is ``received`` (a batch reached the phone: ``counterpart`` is the batch's
    sender, ``source_id`` the batch ID) or ``sent`` (the phone replied: ``counterpart`` is the
    number it wrote to, ``source_id`` the inbound's ID).
    """

    direction: str
    counterpart: str | None
    body: str
    at: float
    source_id: str
    plan_id: str


@dataclass(frozen=True)
class Callback:
    """A callback in the outbox; ``payload`` is the JSON text exactly as it is (or was) posted."""

    id: int
    plan_id: str
    kind: str
    url: str
    payload: str
    state: str
    attempts: int
    last_error: str | None
    next_at: float


#: What the outbox posts: a recipient's or a batch's delivery report, or an inbound message.
CallbackBody = RecipientReport | BatchReport | Inbound
