"""Who a notebook may send to, and from which number: decided once, when it connects.

In the sandbox a notebook sends to the fictional sample numbers, from a fictional sender. In live
mode it sends only to the numbers you list as your own in ``SINCH_TEST_NUMBERS``, from your
plan's number in ``SINCH_FROM``. With either missing, live mode has nobody it may text, so
``connect()`` says so and falls back to the sandbox: every cell still runs, and none of them
needs its own check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .api_facts import FICTIONAL
from .errors import ValidationError
from .settings import first_setting

if TYPE_CHECKING:
    import pandas as pd

#: The fictional sender the sandbox's messages come from.
SANDBOX_SENDER = "+447700900100"


def refuse_fictional(recipients: Sequence[str]) -> None:
    """A ValidationError when any recipient is a number reserved for fiction: no phone can
    receive it, so in live mode it can only be a sample number sent by mistake.

    >>> refuse_fictional(["+46701234567"])  # a real-looking number passes
    """
    fictional = [r for r in recipients if FICTIONAL.fullmatch(re.sub(r"[\s\-()]", "", r))]
    if fictional:
        raise ValidationError(
            f"{len(fictional)} recipient(s) are fictional numbers ({fictional[0]}, ...) that no "
            "phone can receive.",
            hint="In live mode, send to your own numbers: set SINCH_TEST_NUMBERS (comma-separated)"
            " and use my_numbers() or my_people(). The sample files only work in the sandbox.",
        )


@dataclass(frozen=True)
class SendingRules:
    """Where this client may send: ``live`` with your own numbers and sender, or the sandbox.

    >>> SendingRules.sandbox().numbers(["+447700900001"])
    ['+447700900001']
    >>> SendingRules(live=True, own_numbers=("+46701234567",), own_sender="+46700000000").sender()
    '+46700000000'
    """

    live: bool
    own_numbers: tuple[str, ...] = ()
    own_sender: str | None = None

    @classmethod
    def sandbox(cls) -> SendingRules:
        return cls(live=False)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> SendingRules:
        """Live rules from ``SINCH_TEST_NUMBERS`` and ``SINCH_FROM`` (possibly incomplete)."""
        listed = first_setting(settings, "SINCH_TEST_NUMBERS") or ""
        numbers = tuple(n.strip() for n in listed.split(",") if n.strip())
        return cls(live=True, own_numbers=numbers, own_sender=first_setting(settings, "SINCH_FROM"))

    def missing(self) -> list[str]:
        """The settings live mode still needs before it may send (none in the sandbox)."""
        if not self.live:
            return []
        wanted = {"SINCH_TEST_NUMBERS": self.own_numbers, "SINCH_FROM": self.own_sender}
        return [name for name, value in wanted.items() if not value]

    def numbers(self, sample_numbers: Sequence[str]) -> list[str]:
        """The sample numbers in the sandbox. In live mode as many of your own numbers as there
        are samples (each stands in for one), at most all of them."""
        if not self.live:
            return list(sample_numbers)
        self._require()
        return list(self.own_numbers[: len(sample_numbers)])

    def people(self, sample: pd.DataFrame) -> pd.DataFrame:
        """The sample table in the sandbox. In live mode its first rows, one per number of
        yours, with that number in place of the sample one: each of your phones gets the
        personal text of the person it stands in for."""
        if not self.live:
            return sample
        self._require()
        rows = sample.loc[sample["valid"]] if "valid" in sample else sample
        rows = rows.head(len(self.own_numbers)).copy()
        mine = list(self.own_numbers[: len(rows)])
        for column in ("phone", "e164"):
            if column in rows:
                rows[column] = mine
        return rows

    def sender(self, sandbox_sender: str = SANDBOX_SENDER) -> str:
        """The fictional sender in the sandbox; ``SINCH_FROM`` in live mode."""
        if not self.live:
            return sandbox_sender
        self._require()
        assert self.own_sender is not None  # _require() says so
        return self.own_sender

    def check(self, recipients: Sequence[str]) -> None:
        """In live mode, refuse fictional numbers before they reach the API."""
        if self.live:
            refuse_fictional(recipients)

    def _require(self) -> None:
        missing = self.missing()
        if missing:
            raise ValidationError(
                f"Live mode cannot send yet: set {' and '.join(missing)}.",
                hint=LIVE_SETUP_HINT,
            )


#: What each live-mode setting gives the notebooks, for the messages that ask for it.
LIVE_SETTINGS = {
    "SINCH_TEST_NUMBERS": "your own phone numbers, comma-separated, e.g. +46701234567: the only "
    "numbers live notebooks text",
    "SINCH_FROM": "a number of your service plan: the sender of every live message",
}

LIVE_SETUP_HINT = (
    "Set SINCH_TEST_NUMBERS (your own phone numbers, comma-separated, e.g. +46701234567) and "
    "SINCH_FROM (a number of your service plan) in .env or the environment, then restart the "
    "kernel. connect() does the rest."
)


def live_fallback_note(rules: SendingRules) -> str:
    """What connect() says when credentials are set but live mode may not send yet.

    >>> live_fallback_note(SendingRules(live=True, own_numbers=("+46701234567",)))[:40]
    'Live mode is not ready: set SINCH_FROM ('
    """
    wanted = "; ".join(f"{name} ({LIVE_SETTINGS[name]})" for name in rules.missing())
    return (
        f"Live mode is not ready: set {wanted} in .env or the environment, then restart the "
        "kernel. Until then your credentials stay unused and the notebooks run in the sandbox."
    )


class HasRules(Protocol):
    """A client: its ``rules`` say where it may send."""

    @property
    def rules(self) -> SendingRules: ...


def my_numbers(client: HasRules, sample_numbers: Sequence[str]) -> list[str]:
    """Who a notebook sends to: the sample numbers in the sandbox, your ``SINCH_TEST_NUMBERS``
    in live mode.

    >>> to = my_numbers(client, ["+447700900001", "+447700900002"])  # doctest: +SKIP
    """
    return client.rules.numbers(sample_numbers)


def my_people(client: HasRules, sample: pd.DataFrame) -> pd.DataFrame:
    """A recipients table to send to: the sample table in the sandbox; in live mode one row
    per number of yours, standing in for the sample person in that row (name and all).

    >>> people = my_people(client, load_recipients("../data/recipients.csv"))  # doctest: +SKIP
    """
    return client.rules.people(sample)


def my_sender(client: HasRules) -> str:
    """The sender: a fictional number in the sandbox, your ``SINCH_FROM`` in live mode.

    >>> sender = my_sender(client)  # doctest: +SKIP
    """
    return client.rules.sender()
