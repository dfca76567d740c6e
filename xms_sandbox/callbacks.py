"""The callback worker: posts delivery reports and inbound messages to their callback URLs.

It runs beside the HTTP server: a daemon thread that, each round, asks the outbox to collect the
delivery callbacks whose moment has come, then claims what is due and hands it to a small pool of
posting threads. A receiver that fails with 5xx, 429 or a connection error is tried again later
with doubling waits (capped); other 4xx answers are final. The payloads are already rendered: the
worker only moves bytes.

**Fairness** (a shared sandbox posts for a whole room). Each posting thread takes one plan's
*run*: up to ``callback_run_per_plan`` of its due callbacks, posted one after the other in the
order they were queued (so one recipient's Queued, Dispatched, Delivered arrive in that order).
A plan has at most one run at a time, and the outbox hands out runs plan by plan, so a plan whose
receiver never answers, or that queued a thousand callbacks, ties up one thread and the other
plans' callbacks go out on the others. A callback that cannot be posted at all (a URL that does
not parse, a refused destination, any exception) is recorded on its row (``last_error``, state
``failed``) and the worker goes on.

**Refused destinations** (the sandbox's own rule; Sinch posts wherever you say). A shared sandbox
posts on the learners' behalf from inside the room's network, so a callback URL could aim it at
the sandbox's own machine, the local network or a cloud metadata service (169.254.169.254).
:class:`CallbackGuard` refuses loopback, private (RFC 1918, fc00::/7), link-local (169.254/16,
fe80::/10), unspecified, multicast and other non-public addresses, unless the instructor allowed
the range (``build(callback_allow=[...])``, ``--allow-callbacks-to CIDR``). It is refused twice:

* when the URL is given (a batch's ``callback_url``, a plan's ``callback_url`` or
  ``mo_callback_url``): a 400 that names the field and the setting, where a learner sees it (see
  :mod:`~xms_sandbox.callback_inbox`; only when the sandbox serves its ``/sandbox/`` routes);
* when the callback is posted, because DNS can change in between: the host is resolved and
  checked again, and the connection's actual peer address is checked before anything is sent.
  A refusal there is final: it becomes the callback's ``last_error``.

Which sandbox refuses: :func:`~xms_sandbox.server.build` turns the guard on when the sandbox is
shared: ``callback_allow`` given (even empty), ``open_plans=True``, or bound to an address other
than loopback. A sandbox embedded in a notebook kernel or a test (loopback, no ``--open``) posts
anywhere, so it can reach a receiver on ``127.0.0.1``. On a guarded sandbox callbacks do not go
through ``HTTP(S)_PROXY``: the guard must see the address it connects to.

**The inbox** (also invented by the sandbox). A callback whose URL is its own plan's inbox
(``<sandbox>/sandbox/inbox/<plan_id>``, whatever the host) is stored there directly, without
HTTP: the sandbox need not reach itself, and the guard has nothing to check.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import queue
import socket
import threading
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .models import XmsBackend
from .models.outbox import CallbackInbox, by_plan
from .models.records import Callback

log = logging.getLogger("xms_sandbox.callbacks")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: The command-line option that allows a range, named in every refusal.
ALLOW_OPTION = "--allow-callbacks-to"
#: Where a plan's inbox lives on the sandbox: ``/sandbox/inbox/<plan_id>``.
INBOX_PATH = "/sandbox/inbox/"
#: Errors about the URL itself: trying again cannot help.
_URL_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.URLRequired,
)


class CallbackRefused(Exception):
    """A destination this sandbox does not post to (raised by a guarded connection)."""


def network_range(text: str) -> str:
    """An ``--allow-callbacks-to`` value: a CIDR (a bare address is one host), normalised.

    >>> network_range("10.1.2.3/8"), network_range("::1")
    ('10.0.0.0/8', '::1/128')
    """
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an address range such as 127.0.0.0/8, got {text!r}"
        ) from None


def callback_policy(
    allow: Iterable[str] | None, open_plans: bool, host: str
) -> tuple[str, ...] | None:
    """``SandboxConfig.callback_allow`` for a sandbox built with these options: the ranges
    given; else none (the guard on, no exceptions) for a shared sandbox, one that takes any
    plan (``open_plans``) or listens beyond loopback; else None (no guard) for one learner's.

    >>> callback_policy(None, False, "127.0.0.1"), callback_policy(None, True, "127.0.0.1")
    (None, ())
    >>> callback_policy(["10.1.0.0/16"], False, "127.0.0.1"), callback_policy(None, False, "")
    (('10.1.0.0/16',), ())
    """
    if allow is not None:
        return tuple(str(ipaddress.ip_network(r, strict=False)) for r in allow)
    return () if open_plans or not _loopback_host(host) else None


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, or "" (every address)


def inbox_url_of(url: str, plan_id: str) -> bool:
    """Whether ``url`` is ``plan_id``'s own inbox at the sandbox: any host, and any prefix a
    proxy puts before ``/sandbox/`` (a JupyterHub service's ``/services/<name>``). The worker
    stores such callbacks directly, so that host is never contacted.

    >>> inbox_url_of("http://room:8765/sandbox/inbox/p1", "p1"), inbox_url_of("http://[x", "p1")
    (True, False)
    >>> inbox_url_of("https://hub/services/sms/sandbox/inbox/p1/", "p1")
    True
    """
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return unquote(path).rstrip("/").endswith(INBOX_PATH + plan_id)


def _unmapped(address: IPAddress) -> IPAddress:
    """``::ffff:127.0.0.1`` is 127.0.0.1: judge (and allow) IPv4 addresses as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_kind(address: IPAddress) -> str | None:
    """What makes ``address`` one a shared sandbox does not post to, or None for a public one.

    >>> address_kind(ipaddress.ip_address("169.254.169.254"))
    'a link-local address (where cloud metadata services answer)'
    >>> address_kind(ipaddress.ip_address("93.184.216.34")) is None
    True
    """
    address = _unmapped(address)
    kinds = (
        (address.is_loopback, "a loopback address (the sandbox's own machine)"),
        (address.is_link_local, "a link-local address (where cloud metadata services answer)"),
        (address.is_unspecified, "the unspecified address (the sandbox's own machine)"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address (a local network)"),
        (not address.is_global, "not a public address"),
    )
    return next((kind for matches, kind in kinds if matches), None)


def _addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` stands for: itself when it is one, else what DNS says now (none
    when the name does not resolve)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


class CallbackGuard:
    """Which destinations the sandbox posts callbacks to (see the module's docstring).

    ``allow`` None: everywhere. Otherwise public addresses, and the non-public ones inside the
    ranges listed (CIDRs; a ``ValueError`` for one that is not).
    """

    def __init__(self, allow: Iterable[str] | None) -> None:
        self.active = allow is not None
        self.allowed = tuple(ipaddress.ip_network(r, strict=False) for r in allow or ())

    def address_refusal(self, address: IPAddress) -> str | None:
        """What kind of address ``address`` is when the sandbox may not post to it, else None."""
        plain = _unmapped(address)
        if not self.active or any(plain in network for network in self.allowed):
            return None
        return address_kind(plain)

    def url_refusal(self, url: str) -> str | None:
        """Why the sandbox may not post to ``url`` now, or None.

        Every address the host resolves to must be allowed (the connection may use any). A name
        that does not resolve is not refused: posting to it fails, and is retried, like any
        receiver that cannot be reached.
        """
        if not self.active:
            return None
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "it is not a valid URL"
        if not host:
            return "it has no host"
        for address in _addresses(host, port):
            kind = self.address_refusal(address)
            if kind is not None:
                named = host if host == str(address) else f"{host} ({address})"
                return f"{named} is {kind}"
        return None

    def checked(self, sock: socket.socket) -> socket.socket:
        """``sock`` when the address it connected to is allowed; otherwise it is closed and
        :class:`CallbackRefused` raised, before a byte is sent (DNS may have changed since
        :meth:`url_refusal` looked)."""
        peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%")[0])
        kind = self.address_refusal(peer)
        if kind is not None:
            sock.close()
            raise CallbackRefused(f"the connection went to {peer}, {kind}")
        return sock

    def adapter(self) -> HTTPAdapter:
        """A ``requests`` adapter whose connections pass :meth:`checked`."""
        return _GuardedAdapter(self)


class _GuardedAdapter(HTTPAdapter):
    """Connection pools whose new connections are checked by a :class:`CallbackGuard`."""

    def __init__(self, guard: CallbackGuard) -> None:
        super().__init__()
        self.poolmanager.pool_classes_by_scheme = _guarded_pools(guard)


def _guarded_pools(guard: CallbackGuard) -> dict[str, type[HTTPConnectionPool]]:
    class Http(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return guard.checked(super()._new_conn())

    class Https(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return guard.checked(super()._new_conn())

    class HttpPool(HTTPConnectionPool):
        ConnectionCls = Http

    class HttpsPool(HTTPSConnectionPool):
        ConnectionCls = Https

    return {"http": HttpPool, "https": HttpsPool}


def refusal_text(reason: str) -> str:
    """What a refused callback's ``last_error`` says."""
    return (
        f"Refused: {reason}. A shared sandbox does not post callbacks to loopback, private, "
        f"link-local or multicast addresses unless the instructor allows the range "
        f"({ALLOW_OPTION} CIDR)."
    )


def _should_retry(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


class CallbackWorker:
    """Collects and claims due callbacks every ``interval`` seconds (sooner when a posting
    thread comes free) and posts them from ``config.callback_threads`` threads."""

    def __init__(self, backend: XmsBackend, interval: float = 0.05) -> None:
        self.backend = backend
        self.interval = interval
        config = backend.config
        self.guard = CallbackGuard(config.callback_allow)
        self.inbox = CallbackInbox(backend.storage, backend.clock)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._busy: set[str] = set()  # plans with a run queued or being posted
        self._runs: queue.SimpleQueue[list[Callback] | None] = queue.SimpleQueue()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._thread = threading.Thread(target=self._run, name="xms-callbacks", daemon=True)
        # Daemon threads: a post waiting on a silent receiver never holds up the interpreter's
        # exit (a ThreadPoolExecutor's threads are joined at exit).
        self._posters = [
            threading.Thread(target=self._post_runs, name=f"xms-callbacks-{n}", daemon=True)
            for n in range(max(1, config.callback_threads))
        ]

    def start(self) -> None:
        for poster in self._posters:
            poster.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for _ in self._posters:
            self._runs.put(None)
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    # ------------------------------------------------------------------ handing out runs
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep the worker alive; the next round tries again
                log.exception("Callback round failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def run_once(self) -> int:
        """One round: collect due delivery reports, then give each free posting thread one
        plan's run. Returns how many callbacks were handed out (posted in the background)."""
        outbox = self.backend.outbox
        outbox.collect_due()
        config = self.backend.config
        with self._lock:
            busy = frozenset(self._busy)
        free = len(self._posters) - len(busy)
        if free <= 0:
            return 0
        run_length = max(1, config.callback_run_per_plan)
        claimed = outbox.claim(
            limit=free * run_length,
            # Long enough for a whole run against a receiver that times out on every post.
            lease=60.0 + run_length * config.callback_timeout,
            per_plan=run_length,
            busy=busy,
            plans=free,
        )
        for plan_id, run in by_plan(claimed).items():
            with self._lock:
                self._busy.add(plan_id)
            self._runs.put(run)
        return len(claimed)

    # ------------------------------------------------------------------ posting
    def _post_runs(self) -> None:
        """A posting thread: take one plan's run at a time until stopped."""
        while (run := self._runs.get()) is not None:
            try:
                self._post_run(run)
            except Exception:  # recorded per callback already; never lose the thread
                log.exception("Callback run failed")
            finally:
                with self._lock:
                    self._busy.discard(run[0].plan_id)
                self._wake.set()  # the plan may have more waiting, and a thread is free

    def _post_run(self, run: list[Callback]) -> None:
        for callback in run:
            if self._stop.is_set():
                return  # unfinished claims come due again when their lease runs out
            self._deliver_safely(callback)

    def _deliver_safely(self, callback: Callback) -> None:
        """Deliver one callback; whatever goes wrong is recorded on its row, and final."""
        try:
            self._deliver(callback)
        except Exception as exc:
            log.exception("Callback %s could not be delivered", callback.id)
            self._finish(callback, f"Sandbox error: {type(exc).__name__}: {exc}", retry=False)

    def _deliver(self, callback: Callback) -> None:
        if inbox_url_of(callback.url, callback.plan_id):
            self.inbox.keep_text(callback.plan_id, callback.payload)
            self._finish(callback, None, retry=False)
            return
        reason = self.guard.url_refusal(callback.url)
        if reason is not None:
            self._finish(callback, refusal_text(reason), retry=False)
            return
        status, error = self._post(callback)
        self._finish(callback, error, _should_retry(status) and not _final(error))

    def _post(self, callback: Callback) -> tuple[int | None, str | None]:
        """POST the payload: the answer's status (None without one) and an error, if any."""
        timeout = self.backend.config.callback_timeout
        try:
            answer = self._session().post(
                callback.url,
                data=callback.payload.encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=(min(timeout, 3.0), timeout),
                allow_redirects=False,  # a redirect could lead past the guard's first look
            )
        except CallbackRefused as exc:
            return None, refusal_text(str(exc))
        except _URL_ERRORS as exc:
            return None, f"Bad URL: {type(exc).__name__}: {exc}"
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"
        answer.close()
        status = answer.status_code
        return status, None if 200 <= status < 300 else f"HTTP {status}"

    def _session(self) -> requests.Session:
        """This thread's session (``requests`` sessions are not meant to be shared)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "xms-sandbox-callbacks"
            if self.guard.active:
                session.trust_env = False  # no proxy: the guard must see the real peer
                session.mount("http://", self.guard.adapter())
                session.mount("https://", self.guard.adapter())
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _finish(self, callback: Callback, error: str | None, retry: bool) -> None:
        if error:
            log.info(
                "Callback %s (%s) to %s failed: %s", callback.id, callback.kind, callback.url, error
            )
        self.backend.outbox.finish(callback.id, error, retry)


def _final(error: str | None) -> bool:
    """Errors that trying again cannot mend: a refused destination, a URL that does not parse."""
    return error is not None and error.startswith(("Refused:", "Bad URL:"))
