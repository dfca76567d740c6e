"""The one error type the sandbox raises: an API answer with a status, a code and a text.

Sinch documents error bodies, ``{"code": ..., "text": ...}``, for 400 and 403 only, with the codes
in ``DOCUMENTED_CODES``. For every other status no source says what the body holds, so the codes
the sandbox puts there (``INVENTED_CODES``) are its own invention, named after the HTTP status:
a program written against the sandbox should go by the status, never by these codes. The
sandbox still answers with a JSON body, because the ``sinch`` SDK parses every non-empty one.
"""

from __future__ import annotations

#: The codes Sinch documents (xms-api.md §4.3), each for 400 or 403 as noted there.
DOCUMENTED_CODES = frozenset(
    {
        "syntax_invalid_json",
        "syntax_invalid_parameter_format",
        "syntax_constraint_violation",
        "unknown_group",
        "missing_callback_url",
        "illegal_number_type",
        "blocked_account",
        "batch_already_dispatched",
        "conflict_group_name",
        "unknown_campaign",
        "conflict_send_at",
    }
)
#: The sandbox's own codes for statuses whose body Sinch does not document. ``sandbox_fault``
#: (any status an injected fault asks for) and ``hub_unavailable`` (a JupyterHub service whose
#: Hub cannot be reached, 503) are its own too.
INVENTED_CODES: dict[int, str] = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_entity_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    431: "request_header_fields_too_large",
    500: "internal_error",
}


class ApiError(Exception):
    """An error the API reports to its caller as ``{"code": ..., "text": ...}``."""

    def __init__(
        self, status: int, code: str, text: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(text)
        self.status = status
        self.code = code
        self.text = text
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}


def invalid_format(field: str, value: object, what: str) -> ApiError:
    """400 ``syntax_invalid_parameter_format`` naming the field, as Sinch words it."""
    return ApiError(
        400,
        "syntax_invalid_parameter_format",
        f"The format of parameter '{field}' is invalid; value '{value}' is not {what}.",
    )


def constraint(field: str, rule: str) -> ApiError:
    """400 ``syntax_constraint_violation`` naming the field and the rule it breaks."""
    return ApiError(400, "syntax_constraint_violation", f"Parameter '{field}' {rule}.")


def not_found(what: str) -> ApiError:
    return ApiError(404, INVENTED_CODES[404], f"{what} was not found.")
