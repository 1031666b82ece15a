"""The photo's writers: the regulator's workbook, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from typing import Any

import openpyxl
import pytest

from service.reports import (
    canonical_json,
    layout,
    photo_csv,
    photo_csv_bytes,
    photo_json,
    photo_workbook,
)

COUNT_KEYS = ["requests", "unanswered", "no_proposal", "not_accepted", "deviating"]
CATEGORY_LABELS_2025 = [
    "Alle opvangvragen",
    "Dringende opvang",
    "Ruimere openingsmomenten",
    "Kwetsbare gezinnen",
    "Specifieke zorgbehoefte",
]
COLUMN_LABELS = [
    "Unieke opvangvragen",
    "Niet beantwoord",
    "waarvan geen opvangvoorstel",
    "waarvan voorstel niet aanvaard",
    "waarvan afwijkend van de vraag",
]
HEADER_ROW = 10  # title, blank, six lines about the photo, blank, then the table


# --- builders ---------------------------------------------------------------------------------


def counts(
    requests: int = 0,
    unanswered: int = 0,
    no_proposal: int = 0,
    not_accepted: int = 0,
    deviating: int = 0,
) -> dict[str, int]:
    values = [requests, unanswered, no_proposal, not_accepted, deviating]
    return dict(zip(COUNT_KEYS, values, strict=True))


def figures(year: int, **by_category: dict[str, int]) -> dict[str, dict[str, int]]:
    """Zeros for every category the year reports, with the given categories filled in."""
    keys = ["all", "urgent", "extended_hours"]
    keys += ["priority_group"] if year < 2024 else []
    keys += ["vulnerable_family", "special_care"]
    return {key: by_category.get(key, counts()) for key in keys}


def a_photo(
    year: int = 2025, codes: tuple[str, ...] = ("24062",), **changes: Any
) -> dict[str, Any]:
    """A photo of `year` with zero figures for `codes`, the default moment and the given changes."""
    photo = {
        "year": year,
        "as_of": f"{year + 1}-03-01T00:00:00+01:00",
        "position": 1234,
        "rules": f"regels-{year}",
        "total": figures(year),
        "municipalities": {nis: figures(year) for nis in codes},
    }
    photo.update(changes)
    return photo


def read_workbook(photo: dict[str, Any]) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(photo_workbook(photo)))


def table(ws: Any) -> list[tuple[Any, ...]]:
    return list(ws.iter_rows(min_row=HEADER_ROW, values_only=True))


def csv_rows(photo: dict[str, Any]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(photo_csv(photo), newline=""), delimiter=";"))


# --- the workbook -----------------------------------------------------------------------------


def test_the_workbook_has_a_total_sheet_and_one_sheet_per_municipality() -> None:
    wb = read_workbook(a_photo(codes=("24062", "11002", "34022")))

    assert wb.sheetnames == ["Totaal", "11002 Antwerpen", "24062 Leuven", "34022 Kortrijk"]


def test_a_sheet_tells_what_the_figures_are_about() -> None:
    ws = read_workbook(a_photo(2025, ("24062",)))["24062 Leuven"]

    assert ws["A1"].value == "Lokaal Loket Kinderopvang — foto van de opvangvragen 2025"
    about = {row[0]: row[1] for row in ws.iter_rows(min_row=3, max_row=8, values_only=True)}
    assert about == {
        "Gemeente": "Leuven",
        "NIS-code": "24062",
        "Jaar": 2025,
        "Toestand op (Brusselse tijd)": "01/03/2026 00:00",
        "Telregels": "regels-2025",
        "Laatst meegetelde registratie (volgnummer)": 1234,
    }


def test_the_total_sheet_covers_all_municipalities_of_the_service_area() -> None:
    ws = read_workbook(a_photo())["Totaal"]

    assert ws["B3"].value == "Alle gemeenten van het werkingsgebied"
    assert ws["B4"].value is None


def test_a_sheet_has_the_counts_per_category_under_the_dutch_column_labels() -> None:
    leuven = figures(
        2025,
        all=counts(10, 6, 3, 2, 1),
        urgent=counts(4, 3, 2, 1, 0),
        special_care=counts(1, 1, 0, 0, 1),
    )
    photo = a_photo(2025, ("24062",), municipalities={"24062": leuven}, total=leuven)

    for ws in read_workbook(photo).worksheets:
        assert table(ws) == [
            ("Categorie", *COLUMN_LABELS),
            ("Alle opvangvragen", 10, 6, 3, 2, 1),
            ("Dringende opvang", 4, 3, 2, 1, 0),
            ("Ruimere openingsmomenten", 0, 0, 0, 0, 0),
            ("Kwetsbare gezinnen", 0, 0, 0, 0, 0),
            ("Specifieke zorgbehoefte", 1, 1, 0, 0, 1),
        ]
        assert all(cell.data_type == "n" for row in ws["B11:F15"] for cell in row)


def test_a_2024_photo_has_no_priority_group_row() -> None:
    ws = read_workbook(a_photo(2024))["Totaal"]

    assert [row[0] for row in table(ws)[1:]] == CATEGORY_LABELS_2025


def test_a_2023_photo_has_a_priority_group_row() -> None:
    total = figures(2023, priority_group=counts(3, 2, 2, 0, 0))
    ws = read_workbook(a_photo(2023, total=total))["Totaal"]

    assert table(ws)[4] == ("Voorrangsgroep", 3, 2, 2, 0, 0)
    assert len(table(ws)) == 1 + 6


def test_the_header_is_bold_fits_its_columns_and_the_panes_are_frozen_below_it() -> None:
    for ws in read_workbook(a_photo()).worksheets:
        assert all(cell.font.b for cell in ws[HEADER_ROW])
        assert ws.freeze_panes == f"A{HEADER_ROW + 1}"
        for cell in ws[HEADER_ROW]:  # every label fits its column
            assert ws.column_dimensions[cell.column_letter].width >= len(cell.value)


def test_the_workbook_is_byte_identical_when_built_again_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo = a_photo(codes=("24062", "46030"))
    first = photo_workbook(photo)
    later = time.time() + 400 * 24 * 3600  # zip entries would otherwise carry the clock time
    monkeypatch.setattr(time, "time", lambda: later)

    assert photo_workbook(photo) == first


def test_the_workbook_is_dated_at_the_photo_moment_by_a_fixed_creator() -> None:
    data = photo_workbook(a_photo(2025))  # as of 2026-03-01 00:00 Brussels = 23:00 UTC before
    props = openpyxl.load_workbook(io.BytesIO(data)).properties

    assert str(props.created) == str(props.modified) == "2026-02-28 23:00:00"
    assert props.creator == "Lokaal Loket Kinderopvang"
    entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert {entry.date_time for entry in entries} == {(2026, 3, 1, 0, 0, 0)}
    assert [e.filename for e in entries] == sorted(e.filename for e in entries)


def test_sheet_names_stay_within_excel_limits_and_unique_for_long_names() -> None:
    wb = read_workbook(a_photo(2025, ("46030", "24062")))

    assert wb.sheetnames[2] == "46030 Beveren-Kruibeke-Zwijndre"
    assert all(len(name) <= 31 for name in wb.sheetnames)


def test_sheet_names_lose_forbidden_characters_and_never_repeat() -> None:
    long = "12345 " + "Lange-Gemeentenaam-Met-Veel-Delen"
    names = layout.sheet_names(["Totaal", "totaal", "1 A/B:C*D?[E]\\F", long, long + "-Bis"])

    assert names == [
        "Totaal",
        "totaal (2)",
        "1 ABCDEF",
        "12345 Lange-Gemeentenaam-Met-Ve",
        "12345 Lange-Gemeentenaam-Me (2)",
    ]
    assert all(len(n) <= 31 for n in names)


def test_formula_like_text_is_neutralized_in_the_workbook_and_the_csv() -> None:
    photo = a_photo(rules='=HYPERLINK("http://x")')

    cell = read_workbook(photo)["Totaal"]["B7"]
    assert (cell.value, cell.data_type) == ('\'=HYPERLINK("http://x")', "s")
    assert {row[2] for row in csv_rows(photo)[1:]} == {'\'=HYPERLINK("http://x")'}


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_a_spreadsheet_could_run_gets_a_leading_quote(text: str) -> None:
    assert layout.neutralized(text) == "'" + text


def test_ordinary_text_is_left_alone() -> None:
    assert layout.neutralized("Sint-Pieters-Leeuw") == "Sint-Pieters-Leeuw"


def test_the_photo_moment_is_shown_in_brussels_time() -> None:
    winter = layout.photo_moment({"as_of": "2025-02-27T14:30:00Z"})
    summer = layout.photo_moment({"as_of": "2025-07-01T10:00:00+00:00"})

    assert layout.moment_text(winter) == "27/02/2025 15:30"
    assert layout.moment_text(summer) == "01/07/2025 12:00"


def test_a_moment_without_its_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        photo_workbook(a_photo(as_of="2026-03-01T00:00:00"))


def test_a_count_that_is_not_a_whole_number_is_refused() -> None:
    total: dict[str, Any] = figures(2025)
    total["urgent"] = {**counts(), "requests": "3"}

    with pytest.raises(TypeError, match="urgent.requests"):
        photo_workbook(a_photo(total=total))


# --- the CSV ----------------------------------------------------------------------------------


def test_the_csv_has_a_dutch_header_and_a_row_per_place_and_category() -> None:
    total = figures(2025, all=counts(7, 3, 1, 1, 1))
    rows = csv_rows(a_photo(2025, ("24062", "11002"), total=total))

    assert rows[0] == ["Jaar", "Toestand op (Brusselse tijd)", "Telregels", "NIS-code", "Gemeente", "Categorie", *COLUMN_LABELS]
    assert rows[1] == [
        "2025", "01/03/2026 00:00", "regels-2025", "totaal",
        "Alle gemeenten van het werkingsgebied", "Alle opvangvragen", "7", "3", "1", "1", "1",
    ]  # fmt: skip
    assert [(r[3], r[5]) for r in rows[1:]] == [
        (nis, label) for nis in ("totaal", "11002", "24062") for label in CATEGORY_LABELS_2025
    ]


def test_the_csv_keeps_accented_names_and_has_belgian_excel_settings() -> None:
    photo = a_photo(2023, ("25031", "25118"))
    data = photo_csv_bytes(photo)

    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    names = {row[4] for row in csv.reader(io.StringIO(text, newline=""), delimiter=";")}
    assert {"Genepiën", "Hélécine"} <= names
    assert "Voorrangsgroep" in {row[5] for row in csv_rows(photo)}


# --- the JSON ---------------------------------------------------------------------------------


def test_the_json_keeps_the_photo_shape_key_order() -> None:
    shuffled = {
        "municipalities": {"24062": figures(2023), "11002": figures(2023)},
        "total": {k: dict(reversed(v.items())) for k, v in reversed(figures(2023).items())},
        "digest": "abc",
        "rules": "regels-2022",
        "position": 12,
        "as_of": "2024-03-01T00:00:00+01:00",
        "year": 2023,
    }

    photo = json.loads(photo_json(shuffled))

    assert list(photo) == [
        "year", "as_of", "position", "rules", "digest", "total", "municipalities",
    ]  # fmt: skip
    assert list(photo["total"]) == [
        "all", "urgent", "extended_hours", "priority_group", "vulnerable_family", "special_care",
    ]  # fmt: skip
    assert list(photo["total"]["all"]) == COUNT_KEYS
    assert list(photo["municipalities"]) == ["11002", "24062"]
    assert photo == shuffled


def test_the_json_is_indented_keeps_accents_and_ends_with_a_newline() -> None:
    text = photo_json(a_photo(rules="regels-één"))

    assert text.endswith("}\n")
    assert '\n  "rules": "regels-één",\n' in text


def test_canonical_json_sorts_keys_without_blanks_in_utf8() -> None:
    assert canonical_json({"b": 1, "a": {"é": [1, 2]}}) == '{"a":{"é":[1,2]},"b":1}'.encode()
