"""The HTTP server under the sandbox: waitress, set up for a room of learners sharing one sandbox.

Waitress reads requests in one event loop and runs the app in a fixed pool of threads, so
connections that sit idle or send half a request (a laptop going to sleep, a slow network, a
script that forgets to close) cost a file descriptor each and never a thread; other learners'
requests are served meanwhile. It also refuses a body larger than the limit from its
``Content-Length`` (or as soon as a chunked one grows past it) before reading it.

The embedded sandbox (notebooks, tests) runs the same server in a thread, so what the tests see
is what a classroom gets. Two small subclasses fit waitress to the sandbox: errors waitress
answers itself (413, 431, a malformed request) are JSON like every other error, and the app finds
the client's socket in the environ (:data:`~xms_sandbox.app.SOCKET_KEYS`), which the ``drop``
fault closes without an answer.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask, WSGITask

from . import app as sandbox_app

try:
    import resource
except ImportError:  # Windows: no soft limit on open files to raise
    resource = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ServerLimits:
    """How much the server takes on at once; the defaults suit ~100 learners on 2 cores."""

    #: Requests run at once. Requests take milliseconds, but ``latency`` and ``timeout``
    #: faults hold a thread while they wait, so there are more threads than cores.
    threads: int = 32
    #: Requests worked on at once (the others wait their turn, first come first served; a
    #: fault's wait does not count). A thread that writes to the database gives up Python's
    #: interpreter lock at each SQL statement and must win it back from every other busy
    #: thread: with 32 at work, sends in a room took over 2 s (bench/room.py, p99); with 2,
    #: about 0.3 s. More would not run faster: one interpreter lock runs one at a time.
    working: int = 2
    #: Open connections (idle ones included) before new ones wait to be accepted.
    connection_limit: int = 1000
    #: Seconds a connection may sit idle, or halfway through a request, before it is closed.
    channel_timeout: float = 60.0
    #: How often (seconds) idle connections are looked for.
    cleanup_interval: float = 10.0


class _TakingTurns:
    """The WSGI app, run by at most ``slots`` threads at once (see ServerLimits.working).

    A fault that waits calls ``environ["xms.pause"]`` instead of sleeping, which gives its turn
    to another request meanwhile.
    """

    def __init__(self, app: Any, slots: int) -> None:
        self.app = app
        self._free = slots
        self._lock = threading.Lock()
        self._waiting: collections.deque[threading.Event] = collections.deque()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self._take_turn()
        try:
            environ["xms.pause"] = self.pause
            return self.app(environ, start_response)
        finally:
            self._give_turn()

    def pause(self, seconds: float) -> None:
        self._give_turn()
        try:
            time.sleep(seconds)
        finally:
            self._take_turn()

    def _take_turn(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()

    def _give_turn(self) -> None:
        # Handed straight to the longest waiting request: first come, first served, so that
        # no request is overtaken again and again (a semaphore lets the releasing thread
        # take its turn back at once).
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._free += 1


class _SandboxTask(WSGITask):
    """Runs the app with the client's socket in the environ, for the ``drop`` fault."""

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        environ[sandbox_app.SOCKET_KEYS[0]] = self.channel.socket
        return environ


class _JsonErrorTask(ErrorTask):
    """Errors waitress finds before the app runs, as ``{"code", "text"}`` like the app's own."""

    def execute(self) -> None:
        # The stubs call ``request`` the error; it is the parser that found one.
        error = cast(HTTPRequestParser, self.request).error
        assert error is not None  # waitress makes an error task only for a request with one
        if error.code == 413:
            text = sandbox_app.too_large_text(self.channel.server.adj.max_request_body_size - 1)
        else:
            text = f"{error.reason}: {error.body}"
        body = json.dumps({"code": sandbox_app.error_code(error.code), "text": text}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers = [*self.response_headers, ("Content-Type", "application/json")]
        self.set_close_on_finish()  # the rest of what the client sends is not read
        self.content_length = len(body)
        self.write(body)


class _SandboxChannel(HTTPChannel):
    task_class = _SandboxTask
    error_task_class = _JsonErrorTask

    def writable(self) -> bool:
        # The loop asks every connection this on every pass, so the usual answer (nothing to
        # send) comes first, without touching a lock.
        if not super().writable():
            return False
        # While a task thread is writing a response it holds the output lock and sends what it
        # writes itself, then wakes the loop. Watching the socket for writing meanwhile only
        # makes the loop spin on a lock it cannot take: with a room's keep-alive connections
        # that spinning cost most of the sandbox's CPU (measured with bench/room.py).
        if self.requests and not self.outbuf_lock.acquire(blocking=False):
            return False
        if self.requests:
            self.outbuf_lock.release()
        return True


class HttpServer:
    """A waitress server that serves until :meth:`shutdown` (from another thread) or Ctrl-C."""

    def __init__(
        self,
        host: str,
        port: int,
        app: Any,
        limits: ServerLimits,
        max_request_bytes: int,
        listener: socket.socket | None = None,
    ) -> None:
        """Listen on ``host:port``, or accept on ``listener``: a socket already bound and
        listening, which several worker processes share (``python -m xms_sandbox --workers``)."""
        _allow_open_files(limits.connection_limit + 100)  # the database and logs need some too
        self._sockets: dict[int, Any] = {}  # waitress's map of the sockets its loop watches
        where: dict[str, Any] = (
            {"sockets": [listener]} if listener else {"host": _one_address(host), "port": port}
        )
        # Kept here: waitress wraps what it is given in middleware of its own (proxy headers).
        self._turns = _TakingTurns(app, limits.working)
        server = create_server(
            self._turns,
            map=self._sockets,
            **where,
            threads=limits.threads,
            connection_limit=limits.connection_limit,
            channel_timeout=limits.channel_timeout,
            cleanup_interval=limits.cleanup_interval,
            # waitress refuses a body of exactly this size; the app accepts up to its limit.
            max_request_body_size=max_request_bytes + 1,
            asyncore_use_poll=True,  # select() cannot watch more than 1024 sockets
            clear_untrusted_proxy_headers=True,
            ident=None,  # no Server header: with --no-controls nothing may tell it is a sandbox
        )
        assert isinstance(server, BaseWSGIServer)  # one address, so one listening socket
        server.channel_class = _SandboxChannel
        self._server = server
        self._stopping = threading.Event()
        self._serving = threading.Event()
        self._stopped = threading.Event()
        host, port_text = server.getsockname()  # numeric, as text
        self.server_address: tuple[str, int] = (host, int(port_text))

    @property
    def app(self) -> Any:
        """The WSGI app being served (replaceable, e.g. by a wrapper that logs requests)."""
        return self._turns.app

    @app.setter
    def app(self, value: Any) -> None:
        self._turns.app = value

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown`; Ctrl-C (in the main thread) raises out of here."""
        self._serving.set()
        try:
            while not self._stopping.is_set():
                # One pass at a time, so that a shutdown from another thread is seen within
                # one timeout (pull_trigger wakes the pass at once).
                wasyncore.loop(timeout=1.0, map=self._sockets, use_poll=True, count=1)
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` running in another thread, and wait for it."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._server.pull_trigger()
        if self._serving.is_set():
            self._stopped.wait(timeout=5)

    def server_close(self) -> None:
        """Close every connection and the listening socket, and end the worker threads."""
        self._server.task_dispatcher.shutdown(timeout=2)
        with contextlib.suppress(OSError):
            wasyncore.close_all(self._sockets)


def _one_address(host: str) -> str:
    """The first address ``host`` names: waitress would listen on each of several (``localhost``
    may be both ``127.0.0.1`` and ``::1``), and a sandbox has one URL."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return host  # waitress reports the name it cannot resolve
    address = found[0][4][0]
    return address if isinstance(address, str) else host


def _allow_open_files(wanted: int) -> None:
    """Raise this process's soft limit on open files to ``wanted`` when the hard limit allows,
    so that the connection limit, not the system's default of often 1024, decides."""
    if resource is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
