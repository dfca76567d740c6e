"""``python -m xms_sandbox``: run the sandbox in a terminal until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable

from . import hub
from .callbacks import network_range
from .http_server import ServerLimits
from .lifecycle import Timing
from .server import Sandbox, build
from .storage import Storage

PLANS_ENV = "XMS_SANDBOX_PLANS"
INSTRUCTOR_ENV = "XMS_SANDBOX_INSTRUCTOR_TOKEN"


def positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a number above zero (no threads, or no connections, serves nobody)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
        return value

    return parse


def parse_plan(text: str) -> tuple[str, str]:
    plan_id, sep, token = text.partition(":")
    if not sep or not plan_id or not token:
        raise argparse.ArgumentTypeError(f"expected ID:TOKEN, got {text!r}")
    return plan_id, token


def plans_from_env(value: str | None) -> list[tuple[str, str]]:
    """``XMS_SANDBOX_PLANS="plan1:token1,plan2:token2"``."""
    return [parse_plan(item.strip()) for item in (value or "").split(",") if item.strip()]


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m xms_sandbox",
        description="Offline stand-in for the Sinch SMS REST API. Clients use "
        "http://HOST:PORT/xms as their endpoint.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any)")
    parser.add_argument(
        "--db",
        default="xms-sandbox.sqlite3",
        help="SQLite file that keeps the state across restarts (':memory:' for none)",
    )
    parser.add_argument(
        "--plan",
        action="append",
        type=parse_plan,
        default=[],
        metavar="ID:TOKEN",
        help=f"a service plan and its API token; repeatable (also ${PLANS_ENV}=ID:TOKEN,...)",
    )
    parser.add_argument(
        "--open",
        action="store_true",
        help="accept any unknown plan on first use, remembering the token it came with",
    )
    parser.add_argument(
        "--instructor-token",
        metavar="TOKEN",
        help="the instructor's token, which opens every plan's phones, faults and settings and "
        f"the reset (also ${INSTRUCTOR_ENV}; default: a new random one, printed at start)",
    )
    parser.add_argument(
        "--no-controls",
        dest="controls",
        action="store_false",
        help="serve only the API: no /sandbox/ routes (plans, faults, phones), so the server "
        "looks like the real Sinch API (for testing live mode against it)",
    )
    parser.add_argument(
        "--dispatch-after",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="time from acceptance (or send_at) to dispatch (default 0.5)",
    )
    parser.add_argument(
        "--deliver-after",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="time from dispatch to the final status (default 1.0)",
    )
    parser.add_argument(
        "--messages-per-second",
        type=float,
        metavar="N",
        help="each plan's sending rate: batches queue first in, first out",
    )
    parser.add_argument(
        "--requests-per-second",
        type=float,
        metavar="N",
        help="each plan's request rate: above it the API answers 429",
    )
    parser.add_argument(
        "--allow-callbacks-to",
        action="append",
        type=network_range,
        metavar="CIDR",
        help="a private range callbacks may still reach (e.g. 10.0.0.0/8); repeatable. A shared "
        "sandbox (--open, --jupyterhub-service, or --host beyond loopback) refuses loopback, "
        "private and link-local callback URLs; giving this option turns that check on always",
    )
    _server_arguments(parser.add_argument_group("server (a whole room on one sandbox)"))
    _hub_arguments(parser.add_argument_group("JupyterHub (see docs/jupyterhub.md)"))
    return parser.parse_args(argv)


def _hub_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--jupyterhub-service",
        action="store_true",
        help="run as a JupyterHub-managed service: listen where the Hub says, under "
        "/services/<name>/, and take Hub users' API tokens (their plan is their user name; Hub "
        "admins are instructors)",
    )
    group.add_argument(
        "--hub-instructor-group",
        metavar="GROUP",
        help="with --jupyterhub-service: members of this Hub group are instructors too",
    )


def _server_arguments(group: argparse._ArgumentGroup) -> None:
    """Limits that keep one sandbox answering a room of learners (see ServerLimits)."""
    limits = ServerLimits()
    group.add_argument(
        "--threads",
        type=positive(int),
        default=limits.threads,
        metavar="N",
        help=f"requests handled at once (default {limits.threads}; latency and timeout faults "
        "hold one while they wait)",
    )
    group.add_argument(
        "--workers",
        type=positive(int),
        default=None,
        metavar="N",
        help="processes sharing the port and the database file, for a room on several cores "
        f"(default on Linux with a database file: one per core, at most {MOST_WORKERS}; "
        "elsewhere 1; macOS takes 2 or more when asked)",
    )
    group.add_argument(
        "--connection-limit",
        type=positive(int),
        default=limits.connection_limit,
        metavar="N",
        help=f"open connections, idle ones included (default {limits.connection_limit})",
    )
    group.add_argument(
        "--channel-timeout",
        type=positive(float),
        default=limits.channel_timeout,
        metavar="SECONDS",
        help="close a connection idle (or stuck halfway through a request) this long "
        f"(default {limits.channel_timeout:g})",
    )
    group.add_argument(
        "--max-request-bytes",
        type=positive(int),
        default=1024 * 1024,
        metavar="N",
        help="the largest request body; a larger one is refused (413) unread (default 1 MiB)",
    )


def _build(
    args: argparse.Namespace,
    plans: dict[str, str],
    listener: socket.socket | None = None,
    post_callbacks: bool = True,
) -> Sandbox:
    return build(
        host=args.host,
        port=args.port,
        db=args.db,
        plans=plans,
        timing=Timing(args.dispatch_after, args.deliver_after),
        open_plans=args.open,
        plan_defaults={
            key: value
            for key, value in (
                ("messages_per_second", args.messages_per_second),
                ("requests_per_second", args.requests_per_second),
            )
            if value
        },
        log_requests=True,
        controls=args.controls,
        instructor_token=args.instructor_token,
        max_request_bytes=args.max_request_bytes,
        callback_allow=args.allow_callbacks_to or ([] if args.jupyterhub_service else None),
        server_limits=ServerLimits(
            threads=args.threads,
            connection_limit=args.connection_limit,
            channel_timeout=args.channel_timeout,
        ),
        listener=listener,
        post_callbacks=post_callbacks,
    )


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    plans = dict(plans_from_env(os.environ.get(PLANS_ENV)) + args.plan)
    args.instructor_token = (
        args.instructor_token or os.environ.get(INSTRUCTOR_ENV) or secrets.token_urlsafe(18)
    )
    try:
        service = hub.service_settings(os.environ) if args.jupyterhub_service else None
    except hub.HubSetupError as error:
        print(error, file=sys.stderr)
        return 2
    if service is not None:  # the proxy sends /services/<name>/... to the service's url
        args.host, args.port = service.host, service.port
    args.workers = args.workers or default_workers(args.db)
    if args.workers > 1:
        return serve_with_workers(args, plans, service)
    try:
        sandbox = _build(args, plans)
    except OSError as error:
        print(cannot_listen(args, error), file=sys.stderr)
        return 2
    if service is not None:
        install_hub(sandbox, args, service)
    known = {p.id for p in sandbox.backend.plans.all()}
    print_banner(
        args, sandbox.url + (service.prefix.rstrip("/") if service else ""), known, service
    )
    try:
        sandbox.serve_forever()  # Ctrl-C raises KeyboardInterrupt out of the server's loop
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping.", flush=True)
        sandbox.stop()
    return 0


def cannot_listen(args: argparse.Namespace, error: OSError) -> str:
    return (
        f"Cannot listen on {args.host}:{args.port} ({error.strerror}). Another sandbox "
        "may be running: stop it, or choose a different port with --port."
    )


def install_hub(sandbox: Sandbox, args: argparse.Namespace, service: hub.ServiceSettings) -> None:
    tokens = hub.HubTokens(
        service.api_url, service.name, instructor_group=args.hub_instructor_group
    )
    hub.install(sandbox, tokens, service.prefix)


def print_banner(
    args: argparse.Namespace, url: str, known: set[str], service: hub.ServiceSettings | None
) -> None:
    if service is not None:
        print(f"JupyterHub service {service.name!r}: Hub tokens checked at {service.api_url}")
    plans = ", ".join(sorted(known)) or "none"
    print(f"XMS sandbox on {url}/xms  (plans: {plans}; database: {args.db})")
    if args.controls:
        print(
            f"Instructor token: {args.instructor_token}  (the wall of every phone: "
            f"{url}/sandbox/phones?key=<token> in a browser; the reset: POST "
            f"{url}/sandbox/reset with 'Authorization: Bearer <token>').  Stop: Ctrl-C."
        )
    else:
        print("No sandbox controls (--no-controls): only the API is served.  Stop with Ctrl-C.")


def serve_with_workers(
    args: argparse.Namespace, plans: dict[str, str], service: hub.ServiceSettings | None
) -> int:
    """Several processes, one listening socket and one database file: a room uses as many
    cores as it is given, where one process is held to one core by Python's interpreter lock.
    Only the first worker posts callbacks; faults and rate limits live in the database, so all
    workers count them together. Ends when any worker ends, or at Ctrl-C."""
    if not hasattr(os, "fork"):
        print(
            "--workers needs fork() (Linux or macOS); on Windows run one process.", file=sys.stderr
        )
        return 2
    if args.db == ":memory:":
        print("--workers needs a database file (--db): workers share it.", file=sys.stderr)
        return 2
    try:
        listener = listening_socket(args.host, args.port, listen=not BALANCED)
    except OSError as error:
        print(cannot_listen(args, error), file=sys.stderr)
        return 2
    storage = Storage(args.db)  # the schema, made once before any worker opens the file
    known = {row["id"] for row in storage.query("SELECT id FROM plans")} | set(plans)
    storage.close()
    children = [fork_worker(args, plans, service, listener, index) for index in range(args.workers)]
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}" + (service.prefix.rstrip("/") if service else "")
    print_banner(args, url, known, service)
    print(f"{args.workers} worker processes share the port and the database.", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    try:
        pid, status = os.wait()
        print(f"Worker process {pid} ended (status {status}): stopping the others.", flush=True)
        code = 1
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping.", flush=True)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        for child in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)
    return code


def fork_worker(
    args: argparse.Namespace,
    plans: dict[str, str],
    service: hub.ServiceSettings | None,
    listener: socket.socket,
    index: int,
) -> int:
    """A child process serving on ``listener`` (or, where the system balances connections
    itself, on a socket of its own on the same port); its process ID (in the parent)."""
    pid = os.fork()
    if pid:
        return pid
    # The parent stops the workers (with SIGTERM) at Ctrl-C; a worker stops at once: SQLite
    # keeps the database whole whenever a process ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = 1
    try:
        if BALANCED:
            listener = listening_socket(*listener.getsockname()[:2])
        sandbox = _build(args, plans, listener, post_callbacks=index == 0)
        if service is not None:
            install_hub(sandbox, args, service)
        sandbox.serve_forever()
        code = 0
    finally:
        os._exit(code)


#: Linux shares new connections out evenly among sockets on one port (SO_REUSEPORT). One
#: socket that all workers accept on is not even: a burst of learners connecting at once went
#: mostly to one worker, whose sends then waited three times as long (bench/room.py).
BALANCED = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


#: The most worker processes a sandbox starts by itself: SQLite writes one at a time, so more
#: cores than this add little to a room.
MOST_WORKERS = 4


def default_workers(db: str) -> int:
    """Worker processes when ``--workers`` is not given: one per core this process may use (at
    most MOST_WORKERS) on Linux with a database file, since one process is held to one core by
    Python's interpreter lock (bench/room.py; the figures are in docs/workshop.md). Elsewhere
    one: Windows cannot fork, and macOS does not share one port's connections out evenly among
    processes.

    >>> default_workers(":memory:")
    1
    """
    if not BALANCED or db == ":memory:":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, MOST_WORKERS))


def listening_socket(host: str, port: int, listen: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port), listening unless told not to: the
    parent only holds the port while each worker listens on a socket of its own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if BALANCED:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(1024)
    return sock


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
