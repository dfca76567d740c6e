"""What the kill harness (tests/test_kill_harness.py) runs in a child process: one send_bulk.

It lives in a module of its own so that a fork server can import it (with sinch_helpers) once,
and then start each child in milliseconds.
"""

from __future__ import annotations

import sinch_helpers as sh


def numbers(count: int) -> list[str]:
    """``count`` different UK mobile numbers, the same every time."""
    return [f"+447700{n:06d}" for n in range(count)]


def send_bulk(
    base_url: str, plan_id: str, token: str, journal: str, count: int, batch_size: int
) -> None:
    """Send one message to ``count`` recipients, journaled, as a learner's notebook would."""
    credentials = sh.Credentials(plan_id, token, base_url=base_url)
    client = sh.SmsClient(credentials, timeout=1.0, retries=3, backoff=0.01, sandbox=True)
    people = numbers(count)
    parameters = {"name": {people[0]: "Ada", "default": "there"}}
    sh.send_bulk(
        client,
        people,
        "Hi ${name}, the workshop moves to room 4.",
        "Workshop",
        parameters,
        batch_size=batch_size,
        journal=journal,
        progress=False,
    )
