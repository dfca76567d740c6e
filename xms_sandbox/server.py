"""Running the sandbox: embedded in a thread (notebooks, tests) or standalone (a terminal)."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from . import responses
from .app import create_app
from .callbacks import CallbackWorker
from .lifecycle import Timing
from .models import SandboxConfig, XmsBackend
from .storage import Storage


class Sandbox:
    """A running sandbox: ``.url`` to talk to, ``.stop()`` (or ``with``) to end it."""

    def __init__(self, server: BaseWSGIServer, backend: XmsBackend, worker: CallbackWorker) -> None:
        self._server = server
        self.backend = backend
        self._worker = worker
        self._thread: threading.Thread | None = None
        host, port = server.server_address[:2]
        # An internet address, so the host is text (bytes belong to AF_UNIX sockets).
        self.host: str = host if isinstance(host, str) else host.decode()
        self.port: int = port
        self.url = f"http://{self.host}:{self.port}"

    @property
    def xms_url(self) -> str:
        """The endpoint as clients write it, ``<url>/xms``."""
        return f"{self.url}/xms"

    def serve_in_thread(self) -> Sandbox:
        self._worker.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="xms-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
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
    callback_retry_base: float = 1.0,
    callback_max_attempts: int = 8,
    plan_defaults: dict[str, Any] | None = None,
    log_requests: bool = False,
    controls: bool = True,
    instructor_token: str | None = None,
) -> Sandbox:
    """Create (but do not start) a sandbox server bound to ``host:port`` (0 = a free port).

    ``controls=False`` serves only the API (``/xms/...``): no ``/sandbox/`` routes (plans,
    faults, phones), so nothing tells a client that this is not the real Sinch API.
    ``instructor_token`` opens every plan's controls (see :mod:`~xms_sandbox.access`); without
    one, each plan's controls open only with that plan's own token.
    """
    config = SandboxConfig(
        timing=timing or Timing(),
        open_plans=open_plans,
        callback_retry_base=callback_retry_base,
        callback_max_attempts=callback_max_attempts,
        plan_defaults=dict(plan_defaults or {}),
    )
    # The outbox stores callback payloads as posted; rendering them is responses' job.
    backend = XmsBackend(Storage(db), config, render_callback=responses.callback_body)
    for plan_id, token in (plans or {}).items():
        backend.plans.add(plan_id, token)
    # Our own one-line request log replaces werkzeug's (which colours its lines).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(backend, log_requests, controls)
    app.config["XMS_INSTRUCTOR_TOKEN"] = instructor_token
    server = make_server(host, port, app, threaded=True)
    return Sandbox(server, backend, CallbackWorker(backend))


def start(**options: Any) -> Sandbox:
    """Start a sandbox in a daemon thread; see :func:`build` for the options.

    >>> with start(plans={"my-plan": "my-token"}) as sandbox:
    ...     print(sandbox.url)        # doctest: +SKIP
    """
    return build(**options).serve_in_thread()
