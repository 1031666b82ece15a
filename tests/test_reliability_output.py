"""Exports never hand a spreadsheet a formula, whatever a user typed (names, phone numbers, reasons)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from service import access_log
from service.crisis import crisis_csv, crisis_xlsx

HOSTILE = ["=HYPERLINK(\"http://x\",\"klik\")", "+32 470 00 00 00", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
           "\x01=cmd|' /C calc'!A0", "\x1f+1", "Ågnès Ünal-Dupont"]


def _crisis(name: str) -> dict:
    return {
        "location": "L1", "name": name, "closed_on": dt.date(2025, 3, 1),
        "progress": {"affected": 1, "placed_again": 0, "waiting": 1, "closed_otherwise": 0},
        "affected": [{
            "request": name, "municipality": "24062", "had": {"start": dt.date(2025, 3, 1), "days_per_week": 4.5},
            "hours": ["early"], "needed_from": dt.date(2025, 3, 2), "status": "wacht", "suggested": [name],
            "placed_again_on": None, "contact": {"name": name, "phone": name, "email": name},
        }],
    }


def _formula_like(text: str) -> bool:
    return text.lstrip("\x00\x01\x1f")[:1] in ("=", "+", "-", "@") or text[:1] in ("\t", "\r")


@pytest.mark.parametrize("text", HOSTILE)
def test_the_crisis_workbook_holds_no_formula_and_keeps_the_text(text: str) -> None:
    sheet = load_workbook(io.BytesIO(crisis_xlsx(_crisis(text)))).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    shown = {str(c.value) for c in cells}
    if _formula_like(text):
        assert not any(_formula_like(v) for v in shown), shown
    else:
        assert text in shown  # accents intact


@pytest.mark.parametrize("text", HOSTILE)
def test_the_crisis_csv_opens_in_belgian_excel_without_formulas(text: str) -> None:
    data = crisis_csv(_crisis(text))
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads the accents right
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    for value in rows[1]:
        assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), value
    if not _formula_like(text):
        assert text in rows[1]


@pytest.mark.parametrize("text", HOSTILE)
def test_the_access_log_csv_neutralizes_what_a_user_name_or_purpose_holds(text: str) -> None:
    entry = access_log.Entry(position=1, at="2025-03-01T10:00:00+01:00", user=text, role="worker", action="lezen",
                             request=text, purpose=text, channel="api")
    rows = list(csv.reader(io.StringIO(access_log.as_csv([entry]).decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][0] == "positie"
    for value in rows[1]:
        assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), value
