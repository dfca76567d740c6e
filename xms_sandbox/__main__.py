"""``python -m xms_sandbox``: run the sandbox in a terminal until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys

from .lifecycle import Timing
from .server import Sandbox, build

PLANS_ENV = "XMS_SANDBOX_PLANS"
INSTRUCTOR_ENV = "XMS_SANDBOX_INSTRUCTOR_TOKEN"


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
    return parser.parse_args(argv)


def _build(args: argparse.Namespace, plans: dict[str, str]) -> Sandbox:
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
    )


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    plans = dict(plans_from_env(os.environ.get(PLANS_ENV)) + args.plan)
    args.instructor_token = (
        args.instructor_token or os.environ.get(INSTRUCTOR_ENV) or secrets.token_urlsafe(18)
    )
    try:
        sandbox = _build(args, plans)
    except OSError as error:
        print(
            f"Cannot listen on {args.host}:{args.port} ({error.strerror}). Another sandbox "
            "may be running: stop it, or choose another port with --port.",
            file=sys.stderr,
        )
        return 2
    known = ", ".join(sorted({p.id for p in sandbox.backend.plans.all()})) or "none"
    print(f"XMS sandbox on {sandbox.url}/xms  (plans: {known}; database: {args.db})")
    if args.controls:
        print(
            f"Instructor token: {args.instructor_token}  (the wall of every phone: "
            f"{sandbox.url}/sandbox/phones?key=<token> in a browser; the reset: POST "
            f"{sandbox.url}/sandbox/reset with 'Authorization: Bearer <token>').  Stop: Ctrl-C."
        )
    else:
        print("No sandbox controls (--no-controls): only the API is served.  Stop with Ctrl-C.")
    try:
        sandbox.serve_forever()  # werkzeug returns from here on Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping.", flush=True)
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
