"""What happens to each recipient after a batch is accepted, as a pure function of time.

Every recipient goes Queued (400) → Dispatched (401) → a final status. The sandbox does not move
messages with a background job: it stores when each one leaves the queue and works out its status
at any moment from that, so every process sharing the database sees the same story, and a restart
loses nothing. The final status comes from the recipient's number (``OUTCOMES``).

Every (status, code) pair is one that Sinch documents with that meaning. Codes from 400 up are
the REST API's own, and its code table gives each one's status. Codes below 400 are the SMPP
error codes of Sinch's status reports (``sinch/docs``, ``sms-smpp-error-specification.md``), each
given the status whose definition fits it. Which number ends which way is the sandbox's
invention. README.md ("The sandbox", Lifecycle) lists every pair with its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

# Status names and codes as the API reports them (the REST API's 4xx code table).
QUEUED = (400, "Queued")
DISPATCHED = (401, "Dispatched")
DELIVERED = (0, "Delivered")
CANCELLED = (407, "Cancelled")
UNMATCHED_PARAMETER = 405
EXCEEDED_PARTS = 411
#: Expired while still in the API's queue, before the SMSC ("internal expiry": Aborted).
INTERNAL_EXPIRY = 406
#: Expired after dispatch: the SMSC stopped trying before the phone took the message. SMPP 201
#: ("absent subscriber, IMSI detached": absent for a while) says why; it is temporary, which is
#: how a message comes to expire rather than fail.
EXPIRED = (201, "Expired")
FINAL_STATUSES = frozenset(
    {"Delivered", "Failed", "Expired", "Rejected", "Aborted", "Cancelled", "Deleted", "Unknown"}
)


@dataclass(frozen=True, eq=False)
class Outcome:
    """How a number's message ends: final status and code, or no receipt at all. Compared (and
    hashed) by identity: the few there are are the constants below, and reports hash one per
    recipient."""

    status: str
    code: int
    description: str
    receipt: bool = True


DELIVERED_OUTCOME = Outcome("Delivered", 0, "Delivered to the handset")

# Fictional UK numbers reserved for drama (Ofcom): +44 7700 900000 to 900999. The last three
# digits choose the ending, so notebooks and tests can show every outcome on purpose. Every other
# valid number is delivered. The ranges are the sandbox's own; the (status, code) pairs are
# Sinch's, each with the meaning its source gives (module docstring).
DRAMA_PREFIX = "447700900"
OUTCOMES: list[tuple[int, int, Outcome]] = [
    (0, 499, DELIVERED_OUTCOME),
    (500, 599, Outcome("Failed", 11, "Not delivered (SMPP 11: message not delivered)")),
    (600, 699, Outcome("Expired", 201, "Phone off until it expired (SMPP 201: absent subscriber)")),
    (700, 799, Outcome("Rejected", 61, "Refused by the SMSC (SMPP 61: destination blocked)")),
    (800, 899, Outcome("Aborted", 402, "No route to this number (402: message unroutable)")),
    (900, 949, Outcome("Unknown", 114, "A receipt nobody can read (SMPP 114: unknown error)")),
    # No receipt ever comes, so no error code either: SMPP 0 is "no error / unknown error".
    (
        950,
        999,
        Outcome("Unknown", 0, "No receipt: Dispatched until expire_at, then Unknown", False),
    ),
]


def outcome_for(msisdn: str) -> Outcome:
    """The ending the sandbox gives a number (bare digits)."""
    if msisdn.startswith(DRAMA_PREFIX) and len(msisdn) == len(DRAMA_PREFIX) + 3:
        last = int(msisdn[-3:])
        for low, high, outcome in OUTCOMES:
            if low <= last <= high:
                return outcome
    return DELIVERED_OUTCOME


@dataclass(frozen=True)
class Timing:
    """Seconds from acceptance (or ``send_at``) to dispatch, and from dispatch to receipt."""

    dispatch_after: float = 0.5
    deliver_after: float = 1.0

    def scaled(self, seconds: float, floor: float = 0.05) -> float:
        """A duration of the real API at this sandbox's pace.

        The default timing counts as real time; a faster sandbox shortens the duration in
        proportion, a slower one stretches it, and it never drops below ``floor`` (a sandbox
        with no delays at all must still not retry in a tight loop). The notebooks' sandbox
        delivers in 25 ms, so the API's 5 s before a callback's first retry become 0.08 s.

        >>> [round(Timing(*t).scaled(5.0), 3) for t in [(0.5, 1.0), (0.005, 0.02), (0, 0)]]
        [5.0, 0.083, 0.05]
        """
        standard = Timing()
        pace = (self.dispatch_after + self.deliver_after) / (
            standard.dispatch_after + standard.deliver_after
        )
        return max(seconds * pace, floor)


@dataclass(frozen=True)
class Event:
    code: int
    status: str
    at: float

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


class Recipient(NamedTuple):
    """What the timeline needs to know about one recipient of one batch.

    A named tuple rather than a dataclass: a report builds one per recipient every time it is
    asked for, and a room asks often (bench/room.py).
    """

    msisdn: str
    queued_at: float
    dispatch_at: float
    expire_at: float
    deliver_after: float
    abort_code: int | None = None
    canceled_at: float | None = None


def timeline(recipient: Recipient) -> list[Event]:
    """Every status the recipient goes through, in order, with the time of each."""
    return list(_story(outcome_for(recipient.msisdn), *_times(recipient)))


def state_at(recipient: Recipient, moment: float) -> Event:
    """The recipient's latest status at ``moment``."""
    events = _story(outcome_for(recipient.msisdn), *_times(recipient))
    latest = events[0]
    for event in events[1:]:
        if event.at <= moment:
            latest = event
    return latest


def _times(recipient: Recipient) -> tuple[float, float, float, float, int | None, float | None]:
    return (
        recipient.queued_at,
        recipient.dispatch_at,
        recipient.expire_at,
        recipient.deliver_after,
        recipient.abort_code,
        recipient.canceled_at,
    )


# The recipients of one batch mostly share a story (the same times, one of a few outcomes), and
# a room polls the same batches again and again: working each story out once made delivery
# reports of 100 recipients about twice as cheap (bench/room.py).
@lru_cache(maxsize=4096)
def _story(
    outcome: Outcome,
    queued_at: float,
    dispatch_at: float,
    expire_at: float,
    deliver_after: float,
    abort_code: int | None,
    canceled_at: float | None,
) -> tuple[Event, ...]:
    queued = Event(*QUEUED, queued_at)
    if canceled_at is not None and canceled_at < dispatch_at:
        return (queued, Event(*CANCELLED, max(canceled_at, queued_at)))
    if expire_at <= dispatch_at:
        return (queued, Event(INTERNAL_EXPIRY, "Aborted", expire_at))
    if abort_code is not None:
        return (queued, Event(abort_code, "Aborted", dispatch_at))
    if outcome.status == "Aborted":
        return (queued, Event(outcome.code, outcome.status, dispatch_at))
    dispatched = Event(*DISPATCHED, dispatch_at)
    if not outcome.receipt:  # delivered to the SMSC, never a receipt: Unknown once it expires
        return (queued, dispatched, Event(outcome.code, outcome.status, expire_at))
    final_at = dispatch_at + deliver_after
    if final_at > expire_at:  # the receipt would come after the SMSC stopped trying
        return (queued, dispatched, Event(*EXPIRED, expire_at))
    return (queued, dispatched, Event(outcome.code, outcome.status, final_at))
