"""CSV recipients, parameters, message checks and dry-run previews."""

from __future__ import annotations

import io

import pandas as pd
import pytest

import sinch_helpers as sh
from sinch_helpers_machinery.recipients import RecipientsWarning


def load(text: str | bytes, **options) -> pd.DataFrame:
    buffer = io.BytesIO(text) if isinstance(text, bytes) else io.StringIO(text)
    return sh.load_recipients(buffer, **options)


def test_numbers_stay_strings_and_every_row_is_accounted_for():
    text = "phone,name\n+447700900001,Ann\n00447700900002,Bob\n07700 900003,Cy\n"
    table = load(text)
    assert table["phone"].tolist() == ["+447700900001", "00447700900002", "07700 900003"]
    assert table["e164"].tolist() == ["+447700900001", "+447700900002", pd.NA]
    assert table.loc[3, "problem"].startswith("'07700 900003' has no country code")
    assert list(table.index) == [1, 2, 3]
    assert table.index.name == "row"


def test_digits_without_plus_are_read_as_international_with_a_warning():
    """Excel drops the "+" of +447700900003; the API reads 447700900003 the same way."""
    with pytest.warns(RecipientsWarning, match=r"row 2 has no '\+'"):
        table = load("phone,name\n+447700900001,Ann\n447700900003,Cy\n")
    assert table["e164"].tolist() == ["+447700900001", "+447700900003"]
    assert table["valid"].all()


def test_bom_semicolons_blank_lines_and_missing_cells():
    text = (
        "\ufeffphone ; name;city\n\n+44 7700 900001;Zoë;\n\n;Nobody;Leeds\n(0044) 7700-900002;;\n"
    )
    table = load(text.encode("utf-8"))
    assert list(table.columns[:3]) == ["phone", "name", "city"]
    assert len(table) == 3
    assert table["valid"].tolist() == [True, False, True]
    assert table.loc[2, "problem"] == "no phone number"
    assert pd.isna(table.loc[1, "city"])
    assert pd.isna(table.loc[3, "name"])


def test_tab_separated_files_are_sniffed(tmp_path):
    path = tmp_path / "people.tsv"
    path.write_text("name\tmobile\nAnn\t+447700900001\n", encoding="utf-8")
    table = sh.load_recipients(path, phone_column="mobile")
    assert table["e164"].tolist() == ["+447700900001"]


def test_national_numbers_need_a_default_region():
    table = load("phone\n07700 900123\n020 7946 0000\n", default_region="gb")
    assert table["e164"].tolist() == ["+447700900123", pd.NA]
    assert "landline" in table.loc[2, "problem"]
    with pytest.raises(sh.RecipientsError, match="two-letter ISO"):
        load("phone\n07700 900123\n", default_region="UK")


def test_problems_in_words():
    table = load(
        "phone\n+447700900001\nnot a number\n+99912345678\n+4412\n+447700900001\n+15555550123\n"
        "+447400123456\n+448001234567\n"
    )
    problems = table["problem"].tolist()
    assert problems[0] is pd.NA
    assert problems[1] == "'not a number' is not a phone number"
    assert "no known country code" in problems[2]
    assert problems[3] == "+4412 is not a valid phone number"
    assert problems[4] == "duplicate of row 1 (+447700900001)"
    assert problems[5] is pd.NA  # 555-01xx is fictional: fine in the sandbox
    assert problems[6] is pd.NA  # a real UK mobile range
    assert "toll-free" in problems[7]
    assert sh.recipients_report(table).index.tolist() == [2, 3, 4, 5, 8]


def test_a_missing_phone_column_names_the_columns():
    with pytest.raises(sh.RecipientsError, match=r"\['mobile', 'name'\]"):
        load("mobile,name\n+447700900001,Ann\n")


def test_parameters_from_frame_leaves_missing_cells_to_the_default():
    table = load("phone,name,first name\n+447700900001,Ann,A\n+447700900002,,B\nbad,Cy,C\n")
    parameters = sh.parameters_from_frame(table, ["name"], defaults={"name": "friend"})
    assert parameters == {"name": {"+447700900001": "Ann", "default": "friend"}}
    renamed = sh.parameters_from_frame(table, {"first name": "first"})
    assert renamed == {"first": {"+447700900001": "A", "+447700900002": "B"}}
    with pytest.raises(sh.RecipientsError, match="first_name"):
        sh.parameters_from_frame(table, ["first name"])
    everything = sh.parameters_from_frame(table.drop(columns=["first name"]))
    assert set(everything) == {"name"}


def test_check_message_finds_the_tutorials_mismatched_key():
    to = ["213353455", "+4623454645"]
    parameters = {"name": {"+46722324894": "John", "default": "valued customer"}}
    problems = sh.check_message("Hello, ${name}!", to, parameters)
    assert problems["severity"].tolist() == ["warning"]
    assert "+46722324894" in problems.loc[0, "problem"]


def test_check_message_finds_every_kind_of_problem():
    problems = sh.check_message(
        "Hi ${name}, ${missing} and {name} and $name " + "x" * 2000,
        ["+447700900001", "+447700900002"],
        {"name": {"+447700900001": "Ann"}, "unused": {"default": "x"}, "bad key": {}},
    )
    text = " | ".join(problems["problem"])
    for expected in (
        "The body is",
        "${missing} has no entry",
        "'{name}' looks like a placeholder",
        "'$name' looks like",
        "parameters['unused'] is never used",
        "'bad key' is not a valid",
        "1 recipient(s) have no value for ${name}",
    ):
        assert expected in text, expected
    assert set(problems.columns) == {"severity", "problem", "fix"}
    assert sh.check_message("Hi ${a}", ["+447700900001"], {"a": {"default": "x"}}).empty


def test_preview_matches_the_api_in_chunks_of_1000(client):
    numbers = [f"+4477009{i:05d}" for i in range(1500)]
    parameters = {"n": {numbers[0]: "Zoë 😀", "default": "you"}}
    table = sh.preview(client, "Hi ${n}", numbers, parameters, "Co")
    assert len(table) == 1500
    assert list(table.columns) == ["recipient", "text", "encoding", "parts"]
    assert table.loc[0].tolist() == ["447700900000", "Hi Zoë 😀", "unicode", 1]
    assert table.loc[1499, "text"] == "Hi you"


def test_an_empty_check_says_so():
    clear = sh.check_message("Hi ${a}", ["+447700900001"], {"a": {"default": "x"}})
    assert repr(clear) == "No problems found."
    assert "No problems found" in clear._repr_html_()
    found = sh.check_message("Hi ${b}", ["+447700900001"])
    assert "severity" in repr(found)
    assert type(found[["problem"]]) is pd.DataFrame
