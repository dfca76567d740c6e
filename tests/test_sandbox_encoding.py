"""GSM-7 / UCS-2 detection and part counting, directly and through dry run."""

from __future__ import annotations

import pytest

from xms_sandbox.encoding import analyse, truncate_to_one_part
from xms_sandbox.substitution import render


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("", "text", 0, 1),
        ("a" * 160, "text", 160, 1),
        ("a" * 161, "text", 161, 2),
        ("a" * 306, "text", 306, 2),
        ("a" * 307, "text", 307, 3),
        ("a" * 459, "text", 459, 3),
        ("€" * 80, "text", 160, 1),  # extension characters count twice
        ("€" * 81, "text", 162, 2),
        ("a" * 158 + "{", "text", 160, 1),
        ("a" * 159 + "{", "text", 161, 2),
        ("a" * 152 + "^" + "a" * 10, "text", 164, 2),  # the escape pair is not split
        ("a" * 152 + "^" + "a" * 152, "text", 306, 3),  # ... even when that costs a part
        ("Hello, wörld! àèéìòù ÄÖÑÜ §¿¡", "text", 29, 1),
        ("ç", "unicode", 1, 1),
        ("a" * 69 + "’", "unicode", 70, 1),  # one curly quote switches the whole message
        ("a" * 70 + "’", "unicode", 71, 2),
        ("😀" * 35, "unicode", 70, 1),  # an emoji is two UTF-16 code units
        ("😀" * 36, "unicode", 72, 2),
        ("a" * 66 + "😀" + "a" * 5, "unicode", 73, 2),
        ("a" * 66 + "😀" + "a" * 66, "unicode", 134, 3),  # surrogate pair kept whole
        ("Ω" * 160, "text", 160, 1),  # Greek capitals are in the GSM alphabet
    ],
)
def test_encoding_units_and_parts(text, encoding, units, parts):
    info = analyse(text)
    assert (info.encoding, info.units, info.parts) == (encoding, units, parts)


def test_truncate_keeps_one_part():
    assert truncate_to_one_part("a" * 200) == "a" * 160
    assert truncate_to_one_part("😀" * 40) == "😀" * 35
    assert truncate_to_one_part("short") == "short"


@pytest.mark.parametrize(
    ("body", "parameters", "number", "expected"),
    [
        ("Hi ${name}", {"name": {"1": "Ann", "default": "you"}}, "1", "Hi Ann"),
        ("Hi ${name}", {"name": {"1": "Ann", "default": "you"}}, "2", "Hi you"),
        ("Hi ${name}", {"name": {"1": "Ann"}}, "2", None),
        ("Hi ${Name}", {"name": {"default": "x"}}, "1", None),  # keys are case-sensitive
        ("Hi ${name} ${name}", {"name": {"default": "x"}}, "1", "Hi x x"),
        ("Cost: ${ 5 }", None, "1", "Cost: ${ 5 }"),  # not a placeholder: literal text
        ("${abcdefghijklmnopq}", None, "1", "${abcdefghijklmnopq}"),  # 17 chars: literal
        ("$name and {name}", None, "1", "$name and {name}"),
        ("${a.b-c_d}", {"a.b-c_d": {"default": "ok"}}, "1", "ok"),
        ("${a}", {"a": {"default": "${b}"}, "b": {"default": "no"}}, "1", "${b}"),
    ],
)
def test_parameter_substitution(body, parameters, number, expected):
    assert render(body, parameters, number) == expected


def test_dry_run_reports_encoding_after_substitution(plan):
    answer = plan.post(
        "/batches/dry_run?per_recipient=true",
        json={
            "to": ["447700900001", "447700900002"],
            "from": "1",
            "body": "${greeting} " + "a" * 150,
            "parameters": {"greeting": {"447700900001": "Hi", "default": "Hi 😀"}},
        },
    ).json()
    parts = {r["recipient"]: (r["encoding"], r["number_of_parts"]) for r in answer["per_recipient"]}
    assert parts == {"447700900001": ("text", 1), "447700900002": ("unicode", 3)}
    assert answer["number_of_messages"] == 4
