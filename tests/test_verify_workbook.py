"""A workbook the product wrote reads back to its photo, also after a spreadsheet re-saved it;
anything that is not such a workbook is refused with a Dutch message. No store needed."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from service.reports import layout, photo_workbook, read_xlsx
from service.reports.read_xlsx import Difference, WorkbookRefused, compare, read_workbook

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
PHOTO_FILES = ["photo-2024.json", "photo-2025.json", "photo-2025-as-of-2026-02-25.json"]
LEUVEN = "24062 Leuven"


def snapshot(name: str = "photo-2025-as-of-2026-02-25.json") -> dict[str, Any]:
    return json.loads((SNAPSHOTS / name).read_text(encoding="utf-8"))


def edited(data: bytes, edit: Callable[[Workbook], None]) -> bytes:
    """The workbook loaded by openpyxl, edited, and saved again."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    edit(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def cell_of(ws: Worksheet, row_label: str, column_label: str | None = None) -> Any:
    """The cell of a category and count (by their labels), or the value next to a label."""
    row = next(r for r in ws.iter_rows() if r[0].value == row_label)
    if column_label is None:
        return row[1]
    header = next(r for r in ws.iter_rows() if r[0].value == layout.CATEGORY_HEADER)
    column = next(c.column for c in header if c.value == column_label)
    return ws.cell(row[0].row, column)


def urgent_unanswered(wb: Workbook) -> Any:
    return cell_of(wb[LEUVEN], "Dringende opvang", "Niet beantwoord")


def refusal(data: bytes) -> str:
    with pytest.raises(WorkbookRefused) as caught:
        read_workbook(data)
    assert caught.value.message == str(caught.value)
    return caught.value.message


def with_parts(data: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    """The workbook with each zip part replaced by change(name, content)."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        return a_zip({name: change(name, source.read(name)) for name in source.namelist()})


def a_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


# --- reading back -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", PHOTO_FILES)
def test_a_workbook_of_a_reference_photo_reads_back_to_exactly_that_photo(name: str) -> None:
    photo = snapshot(name)

    submitted = read_workbook(photo_workbook(photo))

    assert submitted.year == photo["year"]
    assert submitted.as_of == dt.datetime.fromisoformat(photo["as_of"])
    assert submitted.as_of.utcoffset() == dt.datetime.fromisoformat(photo["as_of"]).utcoffset()
    assert submitted.position == photo["position"]
    assert submitted.rules == photo["rules"]
    assert submitted.figures == {"totaal": photo["total"], **photo["municipalities"]}
    assert compare(photo, submitted) == []


def test_the_moment_of_the_february_photo_reads_back_in_brussels_time() -> None:
    submitted = read_workbook(photo_workbook(snapshot("photo-2025-as-of-2026-02-25.json")))

    assert submitted.as_of == dt.datetime(
        2026, 2, 25, 12, tzinfo=dt.timezone(dt.timedelta(hours=1))
    )
    assert submitted.as_of.isoformat() == "2026-02-25T12:00:00+01:00"
    assert submitted.moment_text == "25/02/2026 12:00"
    assert not submitted.as_of_ambiguous
    assert submitted.shows_moment(dt.datetime(2026, 2, 25, 11, tzinfo=dt.UTC))
    assert not submitted.shows_moment(dt.datetime(2026, 3, 1, tzinfo=layout.BRUSSELS))


def test_the_sheets_and_cells_of_what_was_read_are_named() -> None:
    submitted = read_workbook(photo_workbook(snapshot()))

    assert submitted.sheets["totaal"] == "Totaal"
    assert submitted.sheets["24062"] == LEUVEN
    assert submitted.cells[("24062", "urgent", "unanswered")] == "C12"
    assert submitted.cells[("totaal", None, "position")] == "B8"


def test_a_photo_of_a_year_with_the_priority_group_reads_back_with_it() -> None:
    photo = snapshot("photo-2024.json")
    photo["year"], photo["rules"] = 2023, "regels-2019"
    photo.pop("rules_description")
    for figures in [photo["total"], *photo["municipalities"].values()]:
        figures["priority_group"] = {key: 1 for key, _ in layout.COLUMNS}

    submitted = read_workbook(photo_workbook(photo))

    assert submitted.figures["totaal"]["priority_group"]["requests"] == 1
    assert submitted.rules == "regels-2019"
    assert compare(photo, submitted) == []


def test_a_moment_in_the_hour_that_happens_twice_in_october_still_matches_its_photo() -> None:
    photo = snapshot()
    photo["as_of"] = "2025-10-26T02:30:00+01:00"  # the second 02:30 that night

    submitted = read_workbook(photo_workbook(photo))

    assert submitted.moment_text == "26/10/2025 02:30"
    assert submitted.as_of_ambiguous
    assert submitted.as_of.isoformat() == "2025-10-26T02:30:00+02:00"  # the earlier reading
    assert submitted.shows_moment(dt.datetime.fromisoformat(photo["as_of"]))
    assert submitted.shows_moment(dt.datetime.fromisoformat("2025-10-26T02:30:00+02:00"))
    assert compare(photo, submitted) == []


# --- re-saved by a spreadsheet ------------------------------------------------------------------


def test_a_workbook_re_saved_through_openpyxl_still_compares_equal() -> None:
    photo = snapshot()

    data = edited(photo_workbook(photo), lambda wb: None)

    assert data != photo_workbook(photo)
    assert compare(photo, read_workbook(data)) == []


def test_changed_styles_inserted_empty_rows_and_columns_and_blank_rows_at_the_end_are_tolerated() -> (
    None
):
    photo = snapshot()

    def restyle(wb: Workbook) -> None:
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    cell.font = Font(name="Arial", italic=True, size=9)
                    cell.fill = PatternFill("solid", fgColor="FFFF00")
            ws.insert_rows(1, 2)
            ws.insert_cols(1)
            ws.cell(500, 1).font = Font(bold=True)  # a styled, empty cell far below
            ws.cell(30, 2).value = None

    data = edited(photo_workbook(photo), restyle)

    assert compare(photo, read_workbook(data)) == []


def test_counts_stored_as_text_still_read() -> None:
    photo = snapshot()

    def as_text(wb: Workbook) -> None:
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, int):
                        cell.value = str(cell.value)  # also the year and the position
        urgent_unanswered(wb).value = " 12 "

    data = edited(photo_workbook(photo), as_text)
    stored = openpyxl.load_workbook(io.BytesIO(data))[LEUVEN]
    submitted = read_workbook(data)

    assert cell_of(stored, "Alle opvangvragen", "Unieke opvangvragen").value == "138"
    assert cell_of(stored, layout.YEAR_LABEL).value == "2025"
    assert submitted.figures["24062"]["all"]["requests"] == 138
    assert (submitted.year, submitted.position) == (2025, 3129)
    assert [(d.place, d.category, d.count, d.found) for d in compare(photo, submitted)] == [
        ("24062", "urgent", "unanswered", 12)
    ]


def test_counts_stored_as_decimal_numbers_still_read() -> None:
    photo = snapshot()

    def scientific(match: re.Match[bytes]) -> bytes:  # 138 as 1.380E2
        first, rest = match.group(1), match.group(2)
        return b"<v>%s.%s0E%d</v>" % (first, rest, len(rest))

    def as_decimals(name: str, xml: bytes) -> bytes:  # 138 as 138.0, in Leuven's sheet as 1.380E2
        if not name.startswith("xl/worksheets/"):
            return xml
        if name.endswith("sheet7.xml"):
            return re.sub(rb"<v>(\d)(\d*)</v>", scientific, xml)
        return re.sub(rb"<v>(\d+)</v>", rb"<v>\1.0</v>", xml)

    data = with_parts(photo_workbook(photo), as_decimals)
    stored = openpyxl.load_workbook(io.BytesIO(data))

    assert cell_of(stored["Totaal"], layout.YEAR_LABEL).value == 2025.0
    assert isinstance(cell_of(stored["Totaal"], layout.YEAR_LABEL).value, float)
    assert isinstance(
        cell_of(stored[LEUVEN], "Alle opvangvragen", "Unieke opvangvragen").value, float
    )
    assert compare(photo, read_workbook(data)) == []


def test_a_nis_code_stored_as_a_number_still_reads() -> None:
    photo = snapshot()

    data = edited(
        photo_workbook(photo), lambda wb: setattr(cell_of(wb[LEUVEN], "NIS-code"), "value", 24062)
    )

    assert compare(photo, read_workbook(data)) == []


# --- what compare reports -------------------------------------------------------------------


def test_one_changed_count_is_listed_as_exactly_that_cell() -> None:
    photo = snapshot()
    expected = photo["municipalities"]["24062"]["urgent"]["unanswered"]

    def change(wb: Workbook) -> None:
        urgent_unanswered(wb).value = expected + 1

    differences = compare(photo, read_workbook(edited(photo_workbook(photo), change)))

    assert differences == [
        Difference(
            sheet=LEUVEN,
            place="24062",
            category="urgent",
            category_label="Dringende opvang",
            count="unanswered",
            count_label="Niet beantwoord",
            expected=expected,
            found=expected + 1,
            cell="C12",
        )
    ]
    assert differences[0].describe() == (
        f"Blad '{LEUVEN}', cel C12, Dringende opvang, Niet beantwoord: "
        f"verwacht {expected}, gevonden {expected + 1}"
    )


def test_an_emptied_count_cell_is_listed_as_not_found() -> None:
    photo = snapshot()

    def empty(wb: Workbook) -> None:
        cell_of(wb["Totaal"], "Kwetsbare gezinnen", "Unieke opvangvragen").value = None

    differences = compare(photo, read_workbook(edited(photo_workbook(photo), empty)))

    assert [(d.sheet, d.category, d.count, d.expected, d.found) for d in differences] == [
        ("Totaal", "vulnerable_family", "requests", 80, None)
    ]


def test_a_missing_municipality_sheet_is_listed_cell_by_cell() -> None:
    photo = snapshot()

    data = edited(photo_workbook(photo), lambda wb: wb.remove(wb[LEUVEN]))
    differences = compare(photo, read_workbook(data))

    assert {(d.sheet, d.place, d.found) for d in differences} == {(LEUVEN, "24062", None)}
    assert len(differences) == len(photo["municipalities"]["24062"]) * len(layout.COLUMNS)


def test_a_municipality_or_a_category_that_the_photo_lacks_is_listed() -> None:
    photo = snapshot()
    submitted = read_workbook(photo_workbook(photo))
    smaller = copy.deepcopy(photo)
    del smaller["municipalities"]["24062"]
    del smaller["total"]["special_care"]

    differences = compare(smaller, submitted)

    assert {(d.place, d.expected is None) for d in differences} == {
        ("24062", True),
        ("totaal", True),
    }
    assert {d.category for d in differences if d.place == "totaal"} == {"special_care"}


def test_a_missing_category_row_is_listed_cell_by_cell() -> None:
    photo = snapshot()

    def drop_row(wb: Workbook) -> None:
        ws = wb["Totaal"]
        ws.delete_rows(cell_of(ws, "Specifieke zorgbehoefte", "Niet beantwoord").row)

    differences = compare(photo, read_workbook(edited(photo_workbook(photo), drop_row)))

    assert [(d.sheet, d.category, d.count, d.found) for d in differences] == [
        ("Totaal", "special_care", key, None) for key, _ in layout.COLUMNS
    ]


def test_another_year_moment_rule_set_or_position_is_listed_above_the_counts() -> None:
    photo = snapshot()
    submitted = read_workbook(photo_workbook(photo))
    other = {
        **photo,
        "year": 2024,
        "as_of": "2026-03-01T00:00:00+01:00",
        "rules": "regels-2019",
        "position": 3130,
    }

    differences = compare(other, submitted)

    assert [(d.category, d.count, d.count_label, d.expected, d.found) for d in differences] == [
        (None, "year", layout.YEAR_LABEL, 2024, 2025),
        (None, "as_of", layout.MOMENT_LABEL, "01/03/2026 00:00", "25/02/2026 12:00"),
        (None, "rules", layout.RULES_LABEL, "regels-2019", "regels-2024"),
        (None, "position", layout.POSITION_LABEL, 3130, 3129),
    ]
    assert differences[3].describe() == (
        f"Blad 'Totaal', cel B8, {layout.POSITION_LABEL}: verwacht 3130, gevonden 3129"
    )


def test_a_moment_in_the_same_minute_is_the_same_moment_shown() -> None:
    photo = snapshot()
    submitted = read_workbook(photo_workbook(photo))

    assert compare({**photo, "as_of": "2026-02-25T11:00:30+00:00"}, submitted) == []


# --- refused ---------------------------------------------------------------------------------


def test_a_count_turned_into_a_formula_is_refused_and_never_evaluated() -> None:
    data = edited(
        photo_workbook(snapshot()), lambda wb: setattr(urgent_unanswered(wb), "value", "=1+1")
    )

    message = refusal(data)

    assert f"Blad '{LEUVEN}', cel C12" in message
    assert "formule" in message and "=1+1" in message


def test_a_formula_in_the_lines_above_the_table_is_refused() -> None:
    data = edited(
        photo_workbook(snapshot()),
        lambda wb: setattr(cell_of(wb["Totaal"], layout.YEAR_LABEL), "value", "=2020+5"),
    )

    assert "formule" in refusal(data)


@pytest.mark.parametrize("value", [1.5, -3, "12,5", "twaalf", True])
def test_a_count_that_is_not_a_whole_number_is_refused(value: Any) -> None:
    data = edited(
        photo_workbook(snapshot()), lambda wb: setattr(urgent_unanswered(wb), "value", value)
    )

    message = refusal(data)

    assert "cel C12 (Dringende opvang, Niet beantwoord)" in message
    assert "geen geheel getal" in message


def test_garbage_bytes_are_refused_in_dutch() -> None:
    assert "geen Excel-werkmap" in refusal(b"dit is geen werkmap" * 10)


def test_an_empty_file_is_refused_in_dutch() -> None:
    assert "leeg" in refusal(b"")


def test_an_empty_zip_is_refused_in_dutch() -> None:
    assert "geen werkmap" in refusal(a_zip({}))


def test_a_damaged_workbook_is_refused_in_dutch() -> None:
    data = photo_workbook(snapshot())
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/workbook.xml"] = b"<niet-af"

    assert "beschadigd" in refusal(a_zip(parts))


def test_an_old_xls_or_password_protected_file_is_refused_in_dutch() -> None:
    assert ".xls" in refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))


def test_an_opendocument_spreadsheet_is_refused_with_what_to_do() -> None:
    data = a_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})

    assert "(.ods)" in refusal(data)


def test_a_workbook_without_the_labels_is_refused_in_dutch() -> None:
    wb = Workbook()
    wb.active["A1"] = "Iets anders"
    wb.active["B2"] = 12
    out = io.BytesIO()
    wb.save(out)

    message = refusal(out.getvalue())

    assert f"'{layout.CATEGORY_HEADER}' ontbreekt" in message


def test_a_sheet_without_one_of_the_labels_above_the_table_is_refused() -> None:
    def relabel(wb: Workbook) -> None:
        next(r for r in wb[LEUVEN].iter_rows() if r[0].value == layout.POSITION_LABEL)[
            0
        ].value = "Volgnummer"

    message = refusal(edited(photo_workbook(snapshot()), relabel))

    assert f"Blad '{LEUVEN}'" in message and f"'{layout.POSITION_LABEL}' ontbreekt" in message


def test_an_unknown_row_in_the_table_is_refused() -> None:
    data = edited(
        photo_workbook(snapshot()),
        lambda wb: setattr(wb["Totaal"]["A12"], "value", "Andere opvang"),
    )

    assert "'Andere opvang' is geen categorie" in refusal(data)


def test_sheets_that_show_another_year_than_the_total_sheet_are_refused() -> None:
    data = edited(
        photo_workbook(snapshot()),
        lambda wb: setattr(cell_of(wb[LEUVEN], layout.YEAR_LABEL), "value", 2024),
    )

    message = refusal(data)

    assert f"Blad '{LEUVEN}' toont bij '{layout.YEAR_LABEL}' 2024" in message


def test_a_moment_that_never_happened_in_brussels_is_refused() -> None:
    def skipped_hour(wb: Workbook) -> None:
        for ws in wb.worksheets:
            cell_of(ws, layout.MOMENT_LABEL).value = "29/03/2026 02:30"

    assert "bestaand moment" in refusal(edited(photo_workbook(snapshot()), skipped_hour))


def test_two_sheets_of_the_same_municipality_are_refused() -> None:
    def copy_leuven(wb: Workbook) -> None:
        wb.copy_worksheet(wb[LEUVEN])

    assert "NIS-code 24062" in refusal(edited(photo_workbook(snapshot()), copy_leuven))


def test_a_file_over_the_size_limit_is_refused_unread() -> None:
    message = refusal(b"PK" + bytes(read_xlsx.MAX_FILE_BYTES))

    assert "MB" in message


def test_a_workbook_with_too_many_sheets_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read_xlsx, "MAX_SHEETS", 3)

    assert "werkbladen" in refusal(photo_workbook(snapshot()))


def test_xml_with_a_dtd_is_refused_unparsed() -> None:
    data = photo_workbook(snapshot())
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/sharedStrings.xml"] = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]><x/>'

    assert "DTD" in refusal(a_zip(parts))


def test_a_refusal_is_a_value_error_with_its_message() -> None:
    with pytest.raises(ValueError, match="geen Excel-werkmap"):
        read_workbook(b"garbage")


def test_a_sheet_renamed_to_another_municipality_is_a_difference() -> None:
    import io as _io

    import openpyxl

    photo = json.loads((SNAPSHOTS / "photo-2025.json").read_text(encoding="utf-8"))
    wb = openpyxl.load_workbook(_io.BytesIO(photo_workbook(photo)))
    first, second = wb.worksheets[1], wb.worksheets[2]
    names = first.title, second.title
    first.title = "tijdelijk"
    second.title, first.title = names  # the two municipalities' tabs swapped, figures untouched
    out = _io.BytesIO()
    wb.save(out)
    differences = compare(photo, read_workbook(out.getvalue()))
    assert any(d.count == "sheet" for d in differences)
