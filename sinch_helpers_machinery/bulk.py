"""A bulk send: its batches, and the journal that lets a rerun send only what was not accepted.

A bulk send is cut into batches. The journal is a JSON-lines file: a first line that names the
job (a random ID, a fingerprint of the message and recipients, the service plan, when it
started), then, for each batch, a line just before it is sent (``attempt``, with the time) and
a line once the API accepted it; each line is on disk before anything else happens. Each
batch's ``client_reference`` is made from the job ID and its number, so a rerun looks up every
batch the journal does not list as accepted before sending it: a batch accepted just before a
crash, with no line yet, is found instead of sent again. A batch whose attempt is recent may
still be on its way, so it is looked for until it has had time to arrive
(:func:`~.exactly_once.settle_seconds`). A new journal is a new job with new references, so
sending the same message again on purpose is never mistaken for a resume. While a send runs,
its journal is locked: a second process gets a clear error.

A journal can still be lost in the middle of a send (deleted, a temporary folder emptied). So
every job is also listed, until it finishes, in the user's state folder
(:class:`UnfinishedSends`): the same call with the same journal path then resumes that job,
looking up each batch before sending it, instead of starting a new one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .api_objects import frame
from .errors import (
    BulkSendInterrupted,
    JournalError,
    NotFoundError,
    SendOutcomeUnknown,
    SmsApiError,
)
from .exactly_once import look_until, settle_seconds
from .parameters import ParameterIndex, chunks
from .progress import Progress
from .settings import state_dir

#: The columns of send_bulk's result, one row per batch.
BULK_COLUMNS = ["batch", "recipients", "batch_id", "client_reference", "state"]
#: The ``kind`` of a journal's first line, which starts every journal.
JOURNAL_KIND = "send_bulk journal"
HEADER_START = json.dumps({"kind": JOURNAL_KIND})[:-1]
#: Lookups start this long before the job started, in case the clocks disagree.
CLOCK_MARGIN = 300.0


def fingerprint(*parts: Any) -> str:
    """A SHA-256 of the parts as canonical JSON.

    >>> fingerprint("Hi", ["+447700900001"])[:12]
    '5727258140f1'
    """
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class PlannedBatch:
    """One batch of a bulk send: its place, recipients, slice of parameters and reference."""

    index: int
    numbers: list[str]
    parameters: dict[str, dict[str, str]] | None
    reference: str


class BulkPlan:
    """How a bulk send is cut into batches; the same call always gives the same batches.

    >>> plan = BulkPlan(["+1", "+2", "+3"], "Hi", None, None, 2, {})
    >>> [b.reference for b in plan.batches("job1")]
    ['bulk-job1-1', 'bulk-job1-2']
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
        self.body, self.sender, self.fields = body, sender, dict(fields)
        #: What makes two calls the same send (a journal belongs to exactly one).
        self.content = fingerprint(body, sender, self.numbers, self.fields, parameters, batch_size)
        self._chunks = chunks(self.numbers, batch_size)
        self._parameters = ParameterIndex(parameters)

    @property
    def total(self) -> int:
        """How many batches there are."""
        return len(self._chunks)

    def batches(self, job: str) -> Iterator[PlannedBatch]:
        for index, chunk in enumerate(self._chunks, start=1):
            yield PlannedBatch(index, chunk, self._parameters.slice(chunk), f"bulk-{job}-{index}")


class Journal:
    """One job's accepted batches, by batch number, in a locked JSON-lines file (or in memory
    only when ``path`` is None).

    >>> Journal(None).resuming
    False
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self.header: dict[str, Any] = {}
        self.done: dict[int, dict[str, Any]] = {}
        #: When each batch was last about to be sent (a Unix time), by batch number.
        self.attempts: dict[int, float] = {}
        #: True when an earlier run of this job left the journal: then every batch it does not
        #: list may still have been accepted (just before a crash) and is looked up first.
        self.resuming = False
        self._handle: IO[str] | None = None
        self._unfinished: tuple[UnfinishedSends, str] | None = None

    @property
    def job(self) -> str:
        return str(self.header["job"])

    @property
    def since(self) -> float:
        """When lookups by reference start: the job's start, less a margin."""
        return float(self.header["started"]) - CLOCK_MARGIN

    def open(self, plan: BulkPlan, plan_id: str, endpoint: str) -> None:
        """Lock the file and read it, or start a new job in it; JournalError says what is wrong."""
        if self.path is None:
            self.header = new_header(plan, plan_id, endpoint)
            return
        self._handle = lock(self.path)
        header, self.done, self.attempts = read_journal(self._handle, self.path)
        unfinished = UnfinishedSends(state_dir() / UNFINISHED_FILE)
        key = f"{plan_id} {plan.content} {self.path.resolve()}"
        self._unfinished = (unfinished, key)
        if header is None:
            earlier = unfinished.find(key)
            if earlier is not None:  # the journal of a send that never finished was lost
                print(
                    f"The journal {str(self.path)!r} of a send that never finished (started "
                    f"{when(earlier.get('started'))}) is gone: resuming that send. Every batch "
                    "is looked up by its reference before it is sent."
                )
                self.header, self.resuming = earlier, True
                self._write(self.header)
                return
            self.header = new_header(plan, plan_id, endpoint)
            self._write(self.header)
            unfinished.add(key, self.header)
            return
        check_same_job(header, plan, plan_id, self.path)
        self.header, self.resuming = header, True

    def finish(self) -> None:
        """Every batch was accepted: the job no longer needs resuming, even without its file."""
        if self._unfinished is not None:
            unfinished, key = self._unfinished
            unfinished.remove(key)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the lock
            self._handle = None

    def record_attempt(self, batch: PlannedBatch) -> None:
        """Write down that the batch is about to be sent, on disk before it is."""
        self.attempts[batch.index] = time.time()
        self._write({"attempt": batch.index, "at": self.attempts[batch.index]})

    def record_refusal(self, batch: PlannedBatch) -> None:
        """Write down that the API answered the attempt without accepting it: nothing of it
        can still arrive, so a rerun need not wait for it."""
        self.attempts.pop(batch.index, None)
        self._write({"attempt": batch.index, "over": True})

    def record(self, batch: PlannedBatch, batch_id: str) -> dict[str, Any]:
        """Write the accepted batch down, on disk before anything else happens."""
        entry = {
            "batch": batch.index,
            "batch_id": batch_id,
            "recipients": len(batch.numbers),
            "client_reference": batch.reference,
        }
        self.done[batch.index] = entry
        self._write(entry)
        return entry

    def _write(self, line: Mapping[str, Any]) -> None:
        if self._handle is not None:
            self._handle.write(json.dumps(line) + "\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())


#: The file, in the user's state folder, that lists the sends not finished yet.
UNFINISHED_FILE = "unfinished-bulk-sends.json"


class UnfinishedSends:
    """Bulk sends started and not finished, by plan, content and journal path: each one's
    journal header. A small JSON file, rewritten whole (atomically, under a lock) at each
    change; finished sends leave it, so it only ever holds the few in progress."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def find(self, key: str) -> dict[str, Any] | None:
        header = self._read().get(key)
        return header if isinstance(header, dict) and header.get("kind") == JOURNAL_KIND else None

    def add(self, key: str, header: Mapping[str, Any]) -> None:
        self._change(lambda sends: sends.__setitem__(key, dict(header)))

    def remove(self, key: str) -> None:
        self._change(lambda sends: sends.pop(key, None))

    def _read(self) -> dict[str, Any]:
        try:
            sends = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or unreadable: nothing to resume from it
            return {}
        return sends if isinstance(sends, dict) else {}

    def _change(self, edit: Any) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with lock(self.path.with_suffix(".lock"), wait=True):
                sends = self._read()
                edit(sends)
                fresh = self.path.with_suffix(".tmp")
                # Readable by this user only, like the tokens beside it: it names their plans.
                handle = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    file.write(json.dumps(sends))
                os.replace(fresh, self.path)
        except OSError:
            pass  # a read-only home: the journal alone still protects the send


def new_header(plan: BulkPlan, plan_id: str, endpoint: str) -> dict[str, Any]:
    """The first line of a new journal: a new job."""
    return {
        "kind": JOURNAL_KIND,
        "job": secrets.token_hex(6),
        "content": plan.content,
        "plan": plan_id,
        "endpoint": endpoint,
        "started": time.time(),
    }


def lock(path: Path, wait: bool = False) -> IO[str]:
    """The file opened for reading and appending, locked against other processes (waiting
    for the lock when ``wait``, else a JournalError at once)."""
    handle = path.open("a+", encoding="utf-8")
    try:
        if sys.platform == "win32":  # pragma: no cover - no Windows runner here
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        handle.close()
        if wait:
            raise  # not a busy journal: the caller decides what an unlockable file means
        raise JournalError(
            f"Another send_bulk is using the journal {str(path)!r} right now (in another kernel "
            "or process). Wait for it to finish and run this call again to check, or give this "
            "send a journal file of its own."
        ) from None
    return handle


def read_journal(
    handle: IO[str], path: Path
) -> tuple[dict[str, Any] | None, dict[int, dict[str, Any]], dict[int, float]]:
    """The header (None for a new, empty journal), the accepted batches by number and when each
    batch was last about to be sent.

    A last line without its newline was torn by a crash while it was written: it is cut off
    (a batch it was recording is looked up by its reference instead; a torn header means nothing
    was sent yet). A file that is not a journal is never changed. Any other line that is not what
    send_bulk writes stops the send, naming the line.
    """
    handle.seek(0)
    try:
        text = handle.read()
    except UnicodeDecodeError:
        raise JournalError(damaged(path, 0, "the file is not text")) from None
    lines = text.split("\n")
    torn = lines.pop()  # "" when the file ends with a newline, as send_bulk leaves it
    entries = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not entries and torn.startswith(HEADER_START):
        cut(handle, text, torn)  # the header was being written when the process died
        return None, {}, {}
    if not entries and not torn.strip():
        return None, {}, {}
    header = parse_line(entries[0][1]) if entries else None
    if header is None or header.get("kind") != JOURNAL_KIND:
        raise JournalError(
            f"{str(path)!r} does not start like a send_bulk journal, so it is another file or a "
            "journal from an older version. Nothing was sent and the file was not changed. Pass "
            "another path, or delete the file if no unfinished send depends on it."
        )
    done: dict[int, dict[str, Any]] = {}
    attempts: dict[int, float] = {}
    for number, line in entries[1:]:
        entry = parse_line(line) or {}
        if isinstance(entry.get("attempt"), int) and entry.get("over") is True:
            attempts.pop(entry["attempt"], None)
        elif isinstance(entry.get("attempt"), int) and isinstance(entry.get("at"), int | float):
            attempts[entry["attempt"]] = float(entry["at"])
        elif isinstance(entry.get("batch"), int) and "batch_id" in entry:
            done[entry["batch"]] = entry
        else:
            raise JournalError(damaged(path, number, "it is not a line that send_bulk writes"))
    if torn:
        cut(handle, text, torn)
    return header, done, attempts


def cut(handle: IO[str], text: str, torn: str) -> None:
    """Remove the torn last line, so that the next line appended starts on a line of its own."""
    handle.seek(0)
    handle.truncate(len(text.encode("utf-8")) - len(torn.encode("utf-8")))


def parse_line(line: str) -> dict[str, Any] | None:
    with contextlib.suppress(ValueError):
        value = json.loads(line)
        return value if isinstance(value, dict) else None
    return None


def damaged(path: Path, line: int, problem: str) -> str:
    where = f"line {line} of {str(path)!r}" if line else repr(str(path))
    return (
        f"The journal is damaged: {where} cannot be read ({problem}). Nothing was sent. Remove "
        "that line and run again: a batch it recorded is looked up by its reference instead, so "
        "nobody gets a message twice. If the file is not a journal at all, pass another path."
    )


def check_same_job(header: Mapping[str, Any], plan: BulkPlan, plan_id: str, path: Path) -> None:
    """A JournalError when the journal records another send, or another plan's."""
    started = when(header.get("started"))
    if header.get("plan") != plan_id:
        raise JournalError(
            f"The journal {str(path)!r} belongs to service plan {header.get('plan')!r} (started "
            f"{started}), not {plan_id!r}. Nothing was sent. Use a journal file per plan."
        )
    if header.get("content") != plan.content:
        raise JournalError(
            f"The journal {str(path)!r} records another send (started {started}): its message, "
            "sender, recipients, parameters or batch size differ from this call. Nothing was "
            "sent. To finish that send, repeat its call exactly; to start a new send, use a new "
            "journal file (or delete this one once that send no longer matters)."
        )


def when(timestamp: Any) -> str:
    """A Unix time as ``2026-11-27 19:25 UTC``."""
    try:
        moment = dt.datetime.fromtimestamp(float(timestamp), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return "at an unknown time"
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def check_server_has(client: Any, journal: Journal) -> None:
    """A JournalError when the server no longer knows the journal's batches (a sandbox that was
    reset, or an in-memory one whose kernel stopped): nothing of that job can be resumed."""
    if not journal.done:
        return
    first = journal.done[min(journal.done)]
    try:
        client.get_batch(first["batch_id"])
    except NotFoundError:
        raise JournalError(
            f"The batches recorded in {str(journal.path)!r} (the first is {first['batch_id']}, "
            f"job started {when(journal.header.get('started'))}) are not on "
            f"{client.credentials.endpoint}: the server it was written against was reset, or is "
            "another one (an in-memory sandbox forgets everything when its kernel stops). "
            f"Nothing was sent. That send cannot be resumed here: delete {str(journal.path)!r} "
            "to send it again from the start."
        ) from None


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


def find_or_send(client: Any, batch: PlannedBatch, plan: BulkPlan, journal: Journal) -> Any:
    """The accepted batch and ``"sent"``, or, when resuming and the API already has it (the
    last run crashed after the send but before the journal line), that batch and
    ``"already sent"``."""
    earlier = find_earlier(client, batch, journal) if journal.resuming else None
    if earlier is not None:
        return earlier, "already sent"
    journal.record_attempt(batch)
    try:
        sent = client.send_batch(
            batch.numbers,
            plan.body,
            plan.sender,
            parameters=batch.parameters,
            client_reference=batch.reference,
            **plan.fields,
        )
    except SendOutcomeUnknown:
        # The attempt may still arrive. Written again, it makes a rerun started soon look for
        # it for a whole while more before sending it again.
        journal.record_attempt(batch)
        raise
    except SmsApiError:
        journal.record_refusal(batch)
        raise
    return sent, "sent"


def find_earlier(client: Any, batch: PlannedBatch, journal: Journal) -> Any:
    """The batch as an earlier run of this job sent it, or None when the API does not have it.

    A batch that run was about to send only moments ago may still be on its way (the run was
    killed while its request travelled), so it is looked for until it has had time to arrive.
    """
    attempted = journal.attempts.get(batch.index, 0.0)
    deadline = attempted + settle_seconds(client.transport.timeout) if attempted else 0.0
    if deadline > time.time():
        print(
            f"Batch {batch.index} was on its way {time.time() - attempted:.0f} s ago (the last "
            f"run stopped then): looking for it for up to {deadline - time.time():.0f} s before "
            "sending it again."
        )
    found, failure = look_until(client.transport, batch.reference, journal.since, deadline)
    if failure is not None:
        raise failure
    return found


def send_all(
    client: Any, plan: BulkPlan, path: str | os.PathLike[str] | None, progress: bool
) -> list[dict[str, Any]]:
    """Send every batch of the plan that the journal does not list; one result row per batch."""
    journal = Journal(path)
    journal.open(plan, client.credentials.service_plan_id, client.credentials.endpoint)
    try:
        if journal.resuming:
            check_server_has(client, journal)
            left = plan.total - len(journal.done)
            print(
                f"Resuming the send recorded in {str(journal.path)!r} (started "
                f"{when(journal.header['started'])}): {len(journal.done)} of {plan.total} "
                "batch(es) were accepted before. "
                + (
                    f"The other {left} are looked up by reference, and sent if they are not found."
                    if left
                    else "Nothing is left to send."
                )
            )
        rows = send_batches(client, plan, journal, progress)
        journal.finish()
        return rows
    finally:
        journal.close()


def send_batches(
    client: Any, plan: BulkPlan, journal: Journal, progress: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with Progress(len(plan.numbers), "Sending", progress) as bar:
        for batch in plan.batches(journal.job):
            entry = journal.done.get(batch.index)
            state = "already sent"
            if entry is None:
                try:
                    sent, state = find_or_send(client, batch, plan, journal)
                except SmsApiError as error:
                    raise interrupted(error, rows, batch.index, plan.total, journal.path) from error
                entry = journal.record(batch, sent["id"])
            rows.append(result_row(entry, state))
            bar.update(len(batch.numbers))
    return rows


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
