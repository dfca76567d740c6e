"""Recipient files as spreadsheets and people really make them, written to disk and loaded.

Each test writes a real file (or the bytes a spreadsheet would save) and loads it the way a
learner does, with ``sh.load_recipients``: encodings other than UTF-8, Excel workbooks, Excel's
artefacts in CSV, quotes that join rows, and files that cannot be used at all. Every data row
must come back as a row of its own (the index is the data row number), or the load must stop
with a RecipientsError that names the file and says what to do.
"""

from __future__ import annotations

import datetime
import io
import warnings
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import sinch_helpers as sh
from sinch_helpers_machinery.recipients import RecipientsWarning

PEOPLE = "phone,name,city\n+447700900001,Amélie,Lyon\n+447700900002,Jürgen £5,Köln\n"


def load_quietly(path, **options) -> pd.DataFrame:
    """load_recipients, failing the test on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return sh.load_recipients(path, **options)


def assert_people(table: pd.DataFrame) -> None:
    """PEOPLE as written: accents and the pound sign intact, both numbers valid."""
    assert table["name"].tolist() == ["Amélie", "Jürgen £5"]
    assert table["city"].tolist() == ["Lyon", "Köln"]
    assert table["e164"].tolist() == ["+447700900001", "+447700900002"]
    assert table["valid"].all()
    assert list(table.index) == [1, 2]


# --- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "bom"),
    [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-16-le", b"")],
    ids=["UTF-16 LE with BOM", "UTF-16 BE with BOM", "UTF-16 LE without BOM"],
)
def test_utf16_as_excel_saves_unicode_text(tmp_path, codec, bom):
    path = tmp_path / "people.csv"
    path.write_bytes(bom + PEOPLE.encode(codec))
    assert_people(load_quietly(path))


def test_utf16_tab_separated_as_excel_unicode_text(tmp_path):
    path = tmp_path / "people.txt"
    path.write_bytes(PEOPLE.replace(",", "\t").encode("utf-16"))
    assert_people(load_quietly(path))


def test_windows_1252_is_read_with_a_warning_that_says_so(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(PEOPLE.encode("cp1252"))
    with pytest.warns(RecipientsWarning, match="Windows-1252"):
        table = sh.load_recipients(path)
    assert_people(table)


def test_windows_1252_late_in_a_file_that_starts_as_plain_ascii(tmp_path):
    """The first 64 KiB are plain ASCII: the fast UTF-8 pass fails further on."""
    filler = "".join(f"+4477009{i % 1000:05d},Person {i},Town\n" for i in range(3000))
    path = tmp_path / "people.csv"
    path.write_bytes(
        ("phone,name,city\n" + filler).encode() + "+447700900999,Zoé,Nîmes\n".encode("cp1252")
    )
    with pytest.warns(RecipientsWarning, match="Windows-1252"):
        table = sh.load_recipients(path)
    assert table.loc[3001, "name"] == "Zoé"
    assert len(table) == 3001


def test_an_explicit_encoding_is_used_as_given(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(PEOPLE.encode("cp1252"))
    assert_people(load_quietly(path, encoding="cp1252"))
    with pytest.raises(
        sh.RecipientsError, match=r"people.csv cannot be read with encoding='utf-8' \(line 2:"
    ):
        sh.load_recipients(path, encoding="utf-8")


def test_bytes_no_encoding_can_read_name_the_file_line_and_what_to_pass(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(PEOPLE.encode("utf-8") + b"+447700900003,Zo\x81,Oslo\n")
    with pytest.raises(sh.RecipientsError) as raised:
        sh.load_recipients(path)
    message = str(raised.value)
    assert str(path) in message
    assert "(line 4: " in message
    assert "encoding=" in message
    assert "CSV UTF-8" in message


# --- Excel workbooks ---------------------------------------------------------------------------


def workbook(*rows) -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "People"
    for row in rows:
        sheet.append(list(row))
    return book


def test_xlsx_numbers_stored_as_numbers_come_back_as_their_digits(tmp_path):
    book = workbook(
        ["phone", "name", "score", "joined"],
        [447700900001, "Amélie", 3.5, datetime.datetime(2024, 5, 1)],
        [447700900002.0, "Ben", 2, datetime.datetime(2024, 5, 1, 12, 30)],
        ["+447700900003", "Chloé", None, None],
        [None, None, None, None],  # an empty row, skipped as a blank line is
        [7700900004, "Dan", True, None],  # 07700 900004 with its 0 lost
        ["07700 900005", None, None, None],
    )
    path = tmp_path / "people.xlsx"
    book.save(path)
    table = load_quietly(path, default_region="GB")
    assert table["phone"].tolist() == [
        *("447700900001", "447700900002", "+447700900003", "7700900004", "07700 900005"),
    ]
    assert table["e164"].tolist() == [f"+44770090000{i}" for i in range(1, 6)]
    assert table["score"].tolist()[:2] == ["3.5", "2"]
    assert table["score"].tolist()[3] == "TRUE"
    assert table["joined"].tolist()[:2] == ["2024-05-01", "2024-05-01T12:30:00"]
    assert pd.isna(table.loc[5, "name"])
    assert list(table.index) == [1, 2, 3, 4, 5]


def test_xlsx_from_a_buffer_and_under_another_name(tmp_path):
    book = workbook(["phone", "name"], [447700900001, "Ann"])
    buffer = io.BytesIO()
    book.save(buffer)
    from_buffer = load_quietly(io.BytesIO(buffer.getvalue()), default_region="GB")
    assert from_buffer["e164"].tolist() == ["+447700900001"]
    renamed = tmp_path / "export.dat"  # a zip file is a workbook whatever its name
    renamed.write_bytes(buffer.getvalue())
    assert load_quietly(renamed, default_region="GB").equals(from_buffer)


def test_xlsx_without_the_phone_column_names_the_sheet_and_columns(tmp_path):
    path = tmp_path / "people.xlsx"
    workbook(["Mobile", "name"], [447700900001, "Ann"]).save(path)
    with pytest.raises(sh.RecipientsError, match=r"people.xlsx \(sheet 'People'\).*'Mobile'"):
        sh.load_recipients(path)
    table = load_quietly(path, phone_column="Mobile", default_region="GB")
    assert table["e164"].tolist() == ["+447700900001"]


def test_an_empty_workbook_and_an_old_xls_are_refused(tmp_path):
    empty = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(empty)
    with pytest.raises(sh.RecipientsError, match=r"empty.xlsx .*is empty"):
        sh.load_recipients(empty)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    with pytest.raises(sh.RecipientsError, match=r"old.xls is an Excel 97-2003.*\.xlsx"):
        sh.load_recipients(old)


# --- Excel's artefacts in CSV ------------------------------------------------------------------


def test_scientific_notation_says_the_digits_are_lost_and_how_to_fix_it(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("phone,name\n4.477009E+11,Ann\n+447700900002,Bob\n4,47701E+11,Cy\n")
    table = sh.load_recipients(path, sep=",")
    problem = table.loc[1, "problem"]
    assert problem.startswith("'4.477009E+11' is a number Excel wrote in scientific notation")
    assert "digits are lost" in problem
    assert "format the column as Text" in problem
    assert "CSV UTF-8" in problem
    assert table["valid"].tolist() == [False, True, False]


def test_scientific_notation_with_a_decimal_comma(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("phone;name\n4,477009E+11;Ann\n")
    assert "scientific notation" in sh.load_recipients(path).loc[1, "problem"]


def test_international_digits_without_plus_are_read_as_international(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("phone,name\n447700900002,Ann\n46701234567,Bob\n07700 900003,Cy\n")
    with pytest.warns(RecipientsWarning, match=r"rows 1 and 2 have no '\+'"):
        table = sh.load_recipients(path)
    assert table["e164"].tolist()[:2] == ["+447700900002", "+46701234567"]
    assert "has no country code" in table.loc[3, "problem"]


def test_without_plus_and_a_default_region_where_only_the_international_reading_is_valid(
    tmp_path,
):
    """In the UK, 46701234567 is too long; as +46 70 123 45 67 it is a Swedish mobile. Before,
    this gave '+4446701234567 is not a valid phone number'."""
    path = tmp_path / "people.csv"
    path.write_text("phone,name\n46701234567,Bob\n07700 900003,Cy\n")
    with pytest.warns(RecipientsWarning, match="row 1 has no"):
        table = sh.load_recipients(path, default_region="GB")
    assert table["e164"].tolist() == ["+46701234567", "+447700900003"]


def test_a_number_valid_both_ways_is_read_as_national_and_never_silently(tmp_path):
    """4582345678 is a US number (458 is Oregon's) and, with a lost '+', a Danish one."""
    path = tmp_path / "people.csv"
    path.write_text("phone,name\n4582345678,Ann\n2025550143,Bob\n")
    with pytest.warns(RecipientsWarning, match=r"row 1 is valid both as US.*\+4582345678"):
        table = sh.load_recipients(path, default_region="US")
    assert table["e164"].tolist() == ["+14582345678", "+12025550143"]


# --- quotes that join rows, line breaks, too many fields ------------------------------------


def test_an_unbalanced_quote_joins_no_rows(tmp_path):
    """Five rows, two stray quotes: pandas read three rows, all valid, the middle one carrying
    two other people's numbers and names in its name. Now all five come back, the three that
    the quotes joined marked, and check_message no longer meets a joined name."""
    path = tmp_path / "people.csv"
    path.write_text(
        "phone,name,city\n"
        "+447700900001,Ann,Leeds\n"
        '+447700900002,"Bob,York\n'
        "+447700900003,Cy,Hull\n"
        '+447700900004,"Di,Bath\n'
        "+447700900005,Ed,Ely\n"
    )
    table = sh.load_recipients(path)
    assert list(table.index) == [1, 2, 3, 4, 5]
    assert table["phone"].tolist() == [f"+44770090000{i}" for i in range(1, 6)]
    assert table["valid"].tolist() == [True, False, False, False, True]
    for row in (2, 3, 4):
        assert "unbalanced quote" in table.loc[row, "problem"]
        assert "lines 3-5" in table.loc[row, "problem"]
    parameters = sh.parameters_from_frame(table, ["name"])
    assert parameters == {"name": {"+447700900001": "Ann", "+447700900005": "Ed"}}
    to = sh.recipient_numbers(table)
    assert repr(sh.check_message("Hi ${name}", to, parameters)) == "No problems found."


def test_a_quote_never_closed_still_accounts_for_every_row(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        'phone,name\n+447700900001,Ann\n+447700900002,"Bob\n+447700900003,Cy\n+447700900004,Di\n'
    )
    table = sh.load_recipients(path)
    assert table["phone"].tolist() == [f"+44770090000{i}" for i in range(1, 5)]
    assert table["valid"].tolist() == [True, False, False, False]


def test_an_embedded_line_break_is_flagged_not_merged(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        'phone,name,address\n+447700900001,Ann,"1 High St\nLeeds"\n+447700900002,Bob,York\n'
    )
    table = sh.load_recipients(path)
    assert list(table.index) == [1, 2]
    assert table.loc[1, "address"] == "1 High St\nLeeds"
    assert "line break (lines 2-3 of the file)" in table.loc[1, "problem"]
    assert table["valid"].tolist() == [False, True]


def test_a_phone_number_inside_another_field_is_flagged(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text('phone,name\n+447700900001,"Ann,+447700900009"\n+447700900002,"Smith, Bob"\n')
    table = sh.load_recipients(path)
    assert "the 'name' field holds a phone number" in table.loc[1, "problem"]
    assert table["valid"].tolist() == [False, True]  # a comma alone is fine


def test_a_row_with_too_many_fields_is_flagged_and_short_rows_are_fine(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("phone,name\n+447700900001,Ann,Smith\n+447700900002,Bob\n+447700900003\n")
    table = sh.load_recipients(path)
    assert table.loc[1, "problem"].startswith("3 fields where the header has 2 (extra: 'Smith')")
    assert table["valid"].tolist() == [False, True, True]
    assert pd.isna(table.loc[3, "name"])


def test_the_damaged_row_does_not_count_as_the_first_of_a_duplicate(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("phone,name\n+447700900001,Ann,extra\n+447700900001,Ann\n")
    table = sh.load_recipients(path)
    assert table["valid"].tolist() == [False, True]


# --- files that cannot be used -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"], ids=["no bytes", "blank lines", "only a BOM"]
)
def test_an_empty_file_is_refused_by_name(tmp_path, content):
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    with pytest.raises(sh.RecipientsError, match=r"people.csv is empty.*header row"):
        sh.load_recipients(path)


def test_a_header_only_file_gives_an_empty_table_and_a_warning(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("phone,name\n")
    with pytest.warns(RecipientsWarning, match="people.csv has a header row but no recipients"):
        table = sh.load_recipients(path)
    assert table.empty
    assert list(table.columns) == ["phone", "name", "e164", "valid", "problem"]
    assert sh.recipient_numbers(table) == []


def test_a_second_phone_column_is_refused(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("phone,name, phone \n+447700900001,Ann,+447700900002\n")
    with pytest.raises(sh.RecipientsError) as raised:
        sh.load_recipients(path)
    message = str(raised.value)
    assert "people.csv has 2 columns named 'phone' (columns 1, 3)" in message
    assert "Rename or delete" in message


def test_a_missing_phone_column_lists_the_columns_found(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("Phone,name\n+447700900001,Ann\n")
    with pytest.raises(sh.RecipientsError) as raised:
        sh.load_recipients(path)
    message = str(raised.value)
    assert "people.csv has no column named 'phone'" in message
    assert "['Phone', 'name']" in message
    assert "phone_column='Phone'?" in message


def test_a_file_without_a_header_row_is_told_so(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("+447700900001,Ann\n+447700900002,Bob\n")
    with pytest.raises(sh.RecipientsError, match="seems to have no header row"):
        sh.load_recipients(path)


def test_other_repeated_columns_are_kept_apart():
    table = sh.load_recipients(io.StringIO("phone,name,name,\n+447700900001,Ann,A,x\n"))
    assert list(table.columns[:4]) == ["phone", "name", "name.1", "Unnamed: 3"]
    assert table.loc[1, "name.1"] == "A"


# --- the fast and the careful readings agree -----------------------------------------------


def test_every_reading_gives_the_same_table(tmp_path):
    """The same file through pyarrow (UTF-8), pandas (UTF-16) and the line-by-line reader (a
    line break elsewhere in the file) gives the same cells, missing cells and spaces alike."""
    rows = "+447700900001, Ann ,\n07700 900002,,Leeds\n\n+447700900003,  ,York\n"
    header = "phone,name,city\n"
    fast, tolerant, careful = (tmp_path / f"{n}.csv" for n in ("fast", "tolerant", "careful"))
    fast.write_text(header + rows)
    tolerant.write_bytes((header + rows).encode("utf-16"))
    careful.write_text(header + rows + '+447700900004,"Di\nDo",Ely\n')
    tables = [sh.load_recipients(p, default_region="GB") for p in (fast, tolerant, careful)]
    assert tables[0].equals(tables[1])
    assert tables[0].equals(tables[2].head(3))
    assert tables[0]["name"].tolist()[0] == "Ann "
    assert pd.isna(tables[0].loc[3, "name"])


# --- the sample files in data/ ---------------------------------------------------------------

DATA = Path(__file__).resolve().parent.parent / "data"


def test_the_sample_workbook_loads_like_the_sample_csv():
    with pytest.warns(RecipientsWarning, match="6 rows .* no '\\+'"):
        workbook_table = sh.load_recipients(DATA / "recipients.xlsx")
    csv_table = load_quietly(DATA / "recipients.csv")
    columns = ["name", "city", "e164", "valid", "problem"]
    assert workbook_table[columns].equals(csv_table[columns])


def test_the_sample_spreadsheet_artefacts_are_all_kept_and_marked():
    with pytest.warns(RecipientsWarning, match="row 3 has no"):
        table = sh.load_recipients(DATA / "spreadsheet_artefacts.csv")
    assert list(table.index) == list(range(1, 9))
    assert table["valid"].tolist() == [True, False, True, False, False, False, False, True]
    assert "scientific notation" in table.loc[2, "problem"]
    assert all("lines 5-7" in table.loc[row, "problem"] for row in (4, 5, 6))
    assert table.loc[7, "problem"].startswith("4 fields where the header has 3")
