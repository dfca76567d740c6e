"""The one error type the sandbox raises: an API answer with a status, a code and a text."""

from __future__ import annotations


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
    return ApiError(404, "not_found", f"{what} was not found.")
