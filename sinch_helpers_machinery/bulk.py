"""The plan and the journal of a bulk send, so that a rerun sends only what was not accepted.

A bulk send is cut into batches. Each batch has a fingerprint (the job's message, sender,
fields and this batch's recipients and parameters) and a ``client_reference`` made from it. The
journal is a JSON-lines file with one line per accepted batch, written and flushed to disk as
soon as the API accepts it; a rerun of the same call skips every batch in the journal.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api_objects import frame
from .errors import BulkSendInterrupted, SmsApiError
from .parameters import ParameterIndex, chunks

#: The columns of send_bulk's result, one row per batch.
BULK_COLUMNS = ["batch", "recipients", "batch_id", "client_reference", "state"]


def fingerprint(*parts: Any) -> str:
    """A SHA-256 of the parts as canonical JSON.

    >>> fingerprint("Hi", ["+447700900001"])[:12]
    '5727258140f1'
    """
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class PlannedBatch:
    """One batch of a bulk send: its place, recipients, slice of parameters and identity."""

    index: int
    numbers: list[str]
    parameters: dict[str, dict[str, str]] | None
    fingerprint: str
    reference: str


class BulkPlan:
    """How a bulk send is cut into batches; the same call always gives the same batches.

    >>> [b.reference[-2:] for b in BulkPlan(["+1", "+2", "+3"], "Hi", None, None, 2, {}).batches()]
    ['-1', '-2']
    """

    def __init__(
        self,
        numbers: Sequence[str],
        body: str,
        sender: str | None,
        parameters: Mapping[str, Mapping[str, str]] | None,
        batch_size: int,
        fields: Mapping[str, Any],
    ) -> None:
        self.numbers = list(numbers)
        self.job = fingerprint(body, sender, self.numbers, dict(fields))[:12]
        self._chunks = chunks(self.numbers, batch_size)
        self._parameters = ParameterIndex(parameters)

    @property
    def total(self) -> int:
        """How many batches there are."""
        return len(self._chunks)

    def batches(self) -> Iterator[PlannedBatch]:
        for index, chunk in enumerate(self._chunks, start=1):
            sliced = self._parameters.slice(chunk)
            yield PlannedBatch(
                index=index,
                numbers=chunk,
                parameters=sliced,
                fingerprint=fingerprint(self.job, index, chunk, sliced),
                reference=f"bulk-{self.job}-{index}",
            )


class Journal:
    """Accepted batches, by fingerprint, in a JSON-lines file (or nowhere when ``path`` is None).

    >>> Journal(None).resuming
    False
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self._done = self._read(self.path) if self.path is not None else {}
        #: True when an earlier run left entries: then a batch missing from the journal may
        #: still have been accepted just before a crash, and must be looked up first.
        self.resuming = bool(self._done)

    @staticmethod
    def _read(path: Path) -> dict[str, dict[str, Any]]:
        """Accepted batches by fingerprint; a torn last line (a crash mid-write) is ignored."""
        done: dict[str, dict[str, Any]] = {}
        if not path.exists():
            return done
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[entry["fingerprint"]] = entry
        return done

    def get(self, batch: PlannedBatch) -> dict[str, Any] | None:
        """The journal's entry for this batch, if it was accepted in an earlier run."""
        return self._done.get(batch.fingerprint)

    def record(self, batch: PlannedBatch, batch_id: str) -> dict[str, Any]:
        """Write the accepted batch down, on disk before anything else happens."""
        entry = {
            "fingerprint": batch.fingerprint,
            "batch": batch.index,
            "batch_id": batch_id,
            "recipients": len(batch.numbers),
            "client_reference": batch.reference,
        }
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return entry


def result_row(entry: Mapping[str, Any], state: str) -> dict[str, Any]:
    """One row of send_bulk's result: a journal entry and what happened to it this time.

    >>> entry = {"batch": 1, "recipients": 2, "batch_id": "01H", "client_reference": "r"}
    >>> result_row(entry, "sent")
    {'batch': 1, 'recipients': 2, 'batch_id': '01H', 'client_reference': 'r', 'state': 'sent'}
    """
    return {
        **{column: entry[column] for column in BULK_COLUMNS if column != "state"},
        "state": state,
    }


def find_or_send(
    client: Any,
    batch: PlannedBatch,
    body: str,
    sender: str | None,
    fields: Mapping[str, Any],
    resuming: bool,
) -> tuple[Any, str]:
    """The accepted batch and ``"sent"``, or, when resuming and the API already has it (the
    last run crashed after the send but before the journal line), that batch and
    ``"already sent"``."""
    found = client.find_sent(batch.reference) if resuming else None
    if found is not None:
        return found, "already sent"
    sent = client.send_batch(
        batch.numbers,
        body,
        sender,
        parameters=batch.parameters,
        client_reference=batch.reference,
        **fields,
    )
    return sent, "sent"


def interrupted(
    error: SmsApiError, rows: list[dict[str, Any]], index: int, total: int, path: Path | None
) -> BulkSendInterrupted:
    """The error that says how far a bulk send got and how to finish it."""
    if path:
        again = (
            f"Run the same send_bulk call again with journal={str(path)!r}: batches already "
            "accepted are skipped."
        )
    else:
        again = "Pass journal='bulk.jsonl' so that a rerun skips the batches already accepted."
    stopped = BulkSendInterrupted(
        f"Batch {index} of {total} failed: {error.args[0]}",
        status=error.status,
        code=error.code,
        text=error.text,
        method=error.method,
        url=error.url,
        hint=f"{error.hint or ''} {again}".strip(),
    )
    stopped.sent = frame(rows, BULK_COLUMNS)
    return stopped
