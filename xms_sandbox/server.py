"""Running the sandbox: embedded in a thread (notebooks, tests) or standalone (a terminal)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from . import responses
from .app import create_app
from .callbacks import CallbackWorker, callback_policy
from .http_server import HttpServer, ServerLimits
from .lifecycle import Timing
from .models import SandboxConfig, XmsBackend
from .storage import Storage


class Sandbox:
    """A running sandbox: ``.url`` to talk to, ``.stop()`` (or ``with``) to end it."""

    def __init__(
        self, server: HttpServer, backend: XmsBackend, worker: CallbackWorker | None
    ) -> None:
        self._server = server
        self.backend = backend
        self._worker = worker
        self._thread: threading.Thread | None = None
        self.host, self.port = server.server_address
        self.url = f"http://{self.host}:{self.port}"

    @property
    def xms_url(self) -> str:
        """The endpoint as clients write it, ``<url>/xms``."""
        return f"{self.url}/xms"

    def serve_in_thread(self) -> Sandbox:
        if self._worker is not None:
            self._worker.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="xms-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        if self._worker is not None:
            self._worker.start()
        try:
            self._server.serve_forever()
        finally:
            self._shutdown_worker()

    def stop(self) -> None:
        """Stop serving and close the database; safe to call twice."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        self._shutdown_worker()

    def _shutdown_worker(self) -> None:
        if self._worker is not None:
            self._worker.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Sandbox {self.url} db={self.backend.storage.path!r}>"


def build(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    db: str | os.PathLike[str] = ":memory:",
    plans: dict[str, str] | None = None,
    timing: Timing | None = None,
    open_plans: bool = False,
    callback_retry_base: float | None = None,
    callback_max_attempts: int = SandboxConfig.callback_max_attempts,
    plan_defaults: dict[str, Any] | None = None,
    log_requests: bool = False,
    controls: bool = True,
    instructor_token: str | None = None,
    max_request_bytes: int = 1024 * 1024,
    server_limits: ServerLimits | None = None,
    callback_allow: list[str] | None = None,
    listener: socket.socket | None = None,
    post_callbacks: bool = True,
) -> Sandbox:
    """Create (but do not start) a sandbox server bound to ``host:port`` (0 = a free port).

    ``controls=False`` serves only the API (``/xms/...``): no ``/sandbox/`` routes (plans,
    faults, phones), so nothing tells a client that this is not the real Sinch API.
    ``instructor_token`` opens every plan's controls (see :mod:`~xms_sandbox.access`); without
    one, each plan's controls open only with that plan's own token.
    ``max_request_bytes`` is the largest request body (a larger one is a 413, never read);
    ``server_limits`` sets threads, connections and timeouts (:class:`ServerLimits`).
    ``callback_allow`` lists the non-public ranges (CIDRs) callbacks may still reach when the
    sandbox is shared (``open_plans``, or a ``host`` beyond loopback; giving it makes any sandbox
    shared); see :mod:`~xms_sandbox.callbacks`. A sandbox for one learner posts anywhere.
    Callbacks are retried as the API retries them (the first retry 5 s after a failure, then
    doubling, 15 retries), at the pace of ``timing`` unless ``callback_retry_base`` (seconds
    before the first retry) says otherwise; see :class:`SandboxConfig`.
    ``listener`` (a bound, listening socket) and ``post_callbacks=False`` are for worker
    processes that share one socket and one database: only one of them posts callbacks.
    """
    config = SandboxConfig(
        timing=timing or Timing(),
        open_plans=open_plans,
        callback_retry_base=callback_retry_base,
        callback_max_attempts=callback_max_attempts,
        plan_defaults=dict(plan_defaults or {}),
        max_request_bytes=max_request_bytes,
        callback_allow=callback_policy(callback_allow, open_plans, host),
    )
    # The outbox stores callback payloads as posted; rendering them is responses' job.
    backend = XmsBackend(Storage(db), config, render_callback=responses.callback_body)
    for plan_id, token in (plans or {}).items():
        backend.plans.add(plan_id, token)
    # Our own one-line request log says what waitress would say at INFO (a dropped client).
    logging.getLogger("waitress").setLevel(logging.WARNING)
    app = create_app(backend, log_requests, controls)
    app.config["XMS_INSTRUCTOR_TOKEN"] = instructor_token
    limits = server_limits or ServerLimits()
    server = HttpServer(host, port, app, limits, config.max_request_bytes, listener)
    return Sandbox(server, backend, CallbackWorker(backend) if post_callbacks else None)


def start(**options: Any) -> Sandbox:
    """Start a sandbox in a daemon thread; see :func:`build` for the options.

    >>> with start(plans={"my-plan": "my-token"}) as sandbox:
    ...     print(sandbox.url)        # doctest: +SKIP
    """
    return build(**options).serve_in_thread()
