"""The callback worker: posts delivery reports and inbound messages to their callback URLs.

It runs beside the HTTP server in a daemon thread. Each round it asks the outbox to collect the
delivery callbacks whose moment has come, then claims what is due and posts it. A receiver that
fails with 5xx, 429 or a connection error is tried again later with doubling waits; other 4xx
answers are final. The payloads are already rendered: the worker only moves bytes.
"""

from __future__ import annotations

import json
import logging
import threading

import requests

from .models import XmsBackend
from .models.records import Callback

log = logging.getLogger("xms_sandbox.callbacks")


def _should_retry(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


class CallbackWorker:
    """Polls the outbox every ``interval`` seconds until stopped."""

    def __init__(self, backend: XmsBackend, interval: float = 0.05) -> None:
        self.backend = backend
        self.interval = interval
        self._stop = threading.Event()
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "xms-sandbox-callbacks"
        self._thread = threading.Thread(target=self._run, name="xms-callbacks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._session.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # keep the worker alive; the next round tries again
                log.exception("Callback round failed")

    def run_once(self) -> None:
        outbox = self.backend.outbox
        outbox.collect_due()
        for callback in outbox.claim():
            if self._stop.is_set():
                return  # unfinished claims come due again when their lease runs out
            self._deliver(callback)

    def _deliver(self, callback: Callback) -> None:
        status: int | None = None
        error: str | None
        try:
            answer = self._session.post(
                callback.url,
                data=callback.payload.encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=self.backend.config.callback_timeout,
            )
            status = answer.status_code
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        if error:
            kind = json.loads(callback.payload).get("type", callback.kind)
            log.info("Callback %s (%s) to %s failed: %s", callback.id, kind, callback.url, error)
        self.backend.outbox.finish(callback.id, error, _should_retry(status))
