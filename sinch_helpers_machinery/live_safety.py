"""Rules that keep live mode from sending where it should not."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from .api_facts import FICTIONAL
from .errors import ValidationError
from .settings import first_setting, read_settings


class HasSandbox(Protocol):
    """A client: its ``sandbox`` is None in live mode."""

    @property
    def sandbox(self) -> Any: ...


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
            " and use my_numbers(). The sample files only work in the sandbox.",
        )


def my_numbers(client: HasSandbox, sandbox_numbers: Sequence[str]) -> list[str]:
    """Who a notebook may send to: the sample numbers in the sandbox; in live mode only the
    numbers you configured as your own in ``SINCH_TEST_NUMBERS`` (empty if none).

    >>> to = my_numbers(client, ["+447700900001", "+447700900002"])  # doctest: +SKIP
    """
    if client.sandbox:
        return list(sandbox_numbers)
    configured = first_setting(read_settings(), "SINCH_TEST_NUMBERS") or ""
    return [n.strip() for n in configured.split(",") if n.strip()]


def my_sender(client: HasSandbox, sandbox_sender: str = "+447700900100") -> str:
    """The sender to use: ``SINCH_FROM`` in live mode, a fictional number in the sandbox.

    >>> sender = my_sender(client)  # doctest: +SKIP
    """
    if client.sandbox:
        return sandbox_sender
    return first_setting(read_settings(), "SINCH_FROM") or sandbox_sender


def ready_to_send(client: HasSandbox | None, numbers: Sequence[str]) -> bool:  # noqa: ARG001
    """False (with an explanation) when a live notebook has nobody it may send to.

    ``client`` is not consulted yet: every notebook passes it so that the rule can come to
    depend on the mode without changing a single cell.

    >>> ready_to_send(None, ["+46701234567"])
    True
    """
    if numbers:
        return True
    print(
        "Skipping this send: in live mode the notebooks only send to numbers you list as your "
        "own in SINCH_TEST_NUMBERS (and from SINCH_FROM). Set them and run the cell again."
    )
    return False
