"""The Flask application: the XMS routes, the sandbox's own routes, faults and JSON errors."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import time
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from . import parsing
from .errors import INVENTED_CODES, ApiError
from .faults import FaultBox
from .models import XmsBackend
from .routes import xms
from .sandbox_routes import sandbox

log = logging.getLogger("xms_sandbox")

#: Where the server puts the client's socket in the WSGI environ (for the ``drop`` fault):
#: ours (:mod:`~xms_sandbox.http_server`), or werkzeug's for its development server.
SOCKET_KEYS = ("xms.socket", "werkzeug.socket")
# C0 and C1 control characters and DEL: a decoded path may hold them (``%0A``).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def error_code(status: int) -> str:
    """The ``code`` of a JSON error body for an HTTP status the sandbox itself gives: its own
    invention (:mod:`~xms_sandbox.errors`), as Sinch documents none for these answers."""
    return INVENTED_CODES.get(status, "bad_request" if status < 500 else "internal_error")


def too_large_text(max_bytes: int) -> str:
    return f"The request body is larger than the sandbox accepts ({max_bytes} bytes)."


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``), so that what a client
    sends cannot start a line of its own in the log or colour a terminal."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


class _RequestJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with request bodies read by :func:`parsing.json_document` (a 400, never a
    crash, for JSON nested too deeply)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parsing.json_document(s, **kwargs)


def create_app(backend: XmsBackend, log_requests: bool = False, controls: bool = True) -> Flask:
    """The WSGI app; ``log_requests`` writes one line per request to the ``xms_sandbox`` log.

    ``controls=False`` leaves out the sandbox's own routes (every ``/sandbox/`` path is a 404),
    so that the server looks like the real API to a client that must not tell the difference.
    """
    app = Flask(__name__, static_folder=None)  # no static files: one route fewer to build
    app.json = _RequestJSONProvider(app)
    # A larger body is refused from its Content-Length (or as soon as a chunked one grows past
    # it), before it is read: one learner's upload cannot fill the server's memory.
    app.config["MAX_CONTENT_LENGTH"] = backend.config.max_request_bytes
    # Keep fields in the order responses builds them (as the API does) and text unescaped.
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["xms_backend"] = backend
    app.extensions["xms_faults"] = FaultBox(backend.storage)
    app.register_blueprint(xms)
    if controls:
        app.register_blueprint(sandbox)
    app.before_request(_before_xms_request)
    app.after_request(_after_xms_request)
    if log_requests:
        # Before anything else, the plan's authentication included (a blueprint's URL-value
        # preprocessor, which runs before any before_request): a 401 is timed too.
        app.url_value_preprocessor(_start_clock)
        app.after_request(_log_request)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _start_clock(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    request.environ["xms.started"] = time.perf_counter()


def _log_request(response: Response) -> Response:
    elapsed = (time.perf_counter() - request.environ.get("xms.started", time.perf_counter())) * 1e3
    log.info(
        "%s %s %s %.1fms",
        printable(request.method),
        printable(request.full_path.rstrip("?")),
        response.status_code,
        elapsed,
    )
    return response


def _plan_in_path() -> str | None:
    parts = request.path.split("/")
    return parts[3] if len(parts) > 3 and parts[1] == "xms" else None


def _before_xms_request() -> Response | None:
    if not request.path.startswith("/xms/"):
        return None
    plan_id = _plan_in_path()
    box: FaultBox = current_app.extensions["xms_faults"]
    fault = box.take(request.method, request.path, plan_id)
    request.environ["xms.fault"] = fault
    if fault is not None and fault.kind == "status":
        headers = {"Retry-After": "1"} if fault.status in (429, 503) else {}
        raise ApiError(
            fault.status, "sandbox_fault", f"Injected fault: HTTP {fault.status}.", headers
        )
    if fault is not None and fault.kind == "latency":
        request.environ.get("xms.pause", time.sleep)(fault.seconds)
    return None


def _after_xms_request(response: Response) -> Response:
    fault = request.environ.get("xms.fault")
    if fault is None or fault.kind not in ("timeout", "drop"):
        return response
    if fault.kind == "timeout":
        request.environ.get("xms.pause", time.sleep)(fault.seconds)
        return response
    connection = next((request.environ[k] for k in SOCKET_KEYS if k in request.environ), None)
    if connection is not None:
        # The work is done; the client never hears about it.
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    return response


def _api_error(error: ApiError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def _http_error(error: HTTPException) -> Response:
    code = error_code(error.code or 500)
    text = error.description or error.name
    if error.code == 404:
        text = f"No such resource: {request.method} {request.path}"
    elif error.code == 405:
        text = f"{request.method} is not allowed on {request.path}."
    elif error.code == 413:
        text = too_large_text(current_app.config["MAX_CONTENT_LENGTH"])
    response = jsonify({"code": code, "text": text})
    response.status_code = error.code or 500
    return response


def _unexpected_error(error: Exception) -> Response:
    log.exception("Unexpected error on %s %s", printable(request.method), printable(request.path))
    response = jsonify({"code": INVENTED_CODES[500], "text": f"Sandbox error: {error!r}"})
    response.status_code = 500
    return response
