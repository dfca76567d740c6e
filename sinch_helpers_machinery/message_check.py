"""The problems ``check_message`` looks for before a batch is sent.

This module imports pandas itself (it subclasses ``DataFrame``), so ``sinch_helpers`` imports it
only when ``check_message`` is first called.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import pandas as pd

from .api_facts import (
    MAX_BODY_LENGTH,
    MAX_PARAMETER_VALUE,
    NEAR_PLACEHOLDER,
    PARAMETER_KEY,
    PLACEHOLDER,
)
from .parameters import Parameters
from .phone_numbers import digits_only

Problem = tuple[str, str, str]  # severity, problem, fix


class MessageCheck(pd.DataFrame):
    """The problems found: a table with ``severity``, ``problem`` and ``fix`` that says
    "No problems found." when it is empty.

    >>> MessageCheck([], columns=["severity", "problem", "fix"])
    No problems found.
    """

    _ALL_CLEAR = "No problems found."

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame  # slices and copies are plain frames

    # Advice is only useful whole: shown without the notebook's column width limit.
    def __repr__(self) -> str:
        if self.empty:
            return self._ALL_CLEAR
        return self.to_string(max_colwidth=None)

    def _repr_html_(self) -> str | None:
        if self.empty:
            return f"<p>{self._ALL_CLEAR}</p>"
        with pd.option_context("display.max_colwidth", None):
            return super()._repr_html_()  # type: ignore[misc]  # pandas-stubs leave it out


def check(body: str, to: Sequence[str], parameters: Parameters | None) -> MessageCheck:
    """Every problem with this body, these recipients and these parameters."""
    parameters = parameters or {}
    used = set(PLACEHOLDER.findall(body))
    recipients = {digits_only(n): n for n in to}
    problems = [*_body_problems(body), *_near_placeholders(body)]
    problems += [
        (
            "error",
            f"${{{key}}} has no entry in parameters: every recipient would be aborted (code 405).",
            f"Add parameters[{key!r}] with values or a 'default'.",
        )
        for key in sorted(used - set(parameters))
    ]
    for key, values in parameters.items():
        problems += _parameter_problems(key, values, used, recipients)
    return MessageCheck(problems, columns=["severity", "problem", "fix"])


def _body_problems(body: str) -> Iterator[Problem]:
    if len(body) > MAX_BODY_LENGTH:
        yield (
            "error",
            f"The body is {len(body)} characters; the API allows {MAX_BODY_LENGTH}.",
            "Shorten the message.",
        )


def _near_placeholders(body: str) -> Iterator[Problem]:
    """``{name}``, ``$name`` and ``${bad key}``: sent as written, which is rarely meant."""
    for match in NEAR_PLACEHOLDER.finditer(body):
        inner = next(g for g in match.groups() if g is not None)
        if match.group(0).startswith("${") and PARAMETER_KEY.fullmatch(inner):
            continue
        yield (
            "warning",
            f"{match.group(0)!r} looks like a placeholder but is not one, so it is sent as "
            "written.",
            "Placeholders are written ${key}, with a key of 1-16 letters, digits, '_', '.' or '-'.",
        )


def _parameter_problems(
    key: str, values: Mapping[str, str], used: set[str], recipients: dict[str, str]
) -> Iterator[Problem]:
    """Bad keys, unused keys, values for strangers, long values and recipients left without."""
    if not PARAMETER_KEY.fullmatch(str(key)):
        yield ("error", f"{key!r} is not a valid parameter key.", "Use 1-16 of A-Z a-z 0-9 _ . -")
    if key not in used:
        yield (
            "warning",
            f"parameters[{key!r}] is never used in the body.",
            f"Add ${{{key}}} to the body, or drop the parameter.",
        )
    strangers = [k for k in values if k != "default" and digits_only(k) not in recipients]
    if strangers:
        yield (
            "warning",
            f"parameters[{key!r}] has values for {len(strangers)} number(s) not in 'to', "
            f"e.g. {strangers[0]}.",
            "Use the same numbers as keys as in 'to' (a typo or an old list?).",
        )
    if any(len(str(v)) > MAX_PARAMETER_VALUE for v in values.values()):
        yield (
            "error",
            f"parameters[{key!r}] has values over {MAX_PARAMETER_VALUE} characters.",
            "Shorten them.",
        )
    if key in used and "default" not in values:
        given = {digits_only(k) for k in values}
        uncovered = [n for d, n in recipients.items() if d not in given]
        if uncovered:
            yield (
                "error",
                f"{len(uncovered)} recipient(s) have no value for ${{{key}}} and there is no "
                f"default, e.g. {uncovered[0]}: they would be aborted (code 405).",
                f"Add parameters[{key!r}]['default'], or values for them.",
            )
