"""The regulator's workbook (.xlsx): a total sheet, then one sheet per municipality.

The bytes depend only on the photo: the workbook's created and modified times are the photo
moment, and the zip is rewritten with that moment as every entry's date, in name order.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Mapping
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.functions import tostring

from service import municipalities
from service.reports import layout

_CORE_PROPERTIES = "docProps/core.xml"
_TITLE_FONT = Font(name="Calibri", bold=True, size=14)
_BOLD = Font(name="Calibri", bold=True)
_LEFT = Alignment(horizontal="left")
_RIGHT_WRAPPED = Alignment(horizontal="right", vertical="bottom", wrap_text=True)


def photo_workbook(photo: Mapping[str, Any], proof: Mapping[str, Any] | None = None) -> bytes:
    """The photo as an .xlsx workbook, byte-for-byte the same for the same photo.

    `proof` (photo_id, chain_position, chain_head) marks the workbook of a stored photo, so the
    file the regulator keeps anchors the loket's event log.
    """
    moment = layout.photo_moment(photo)
    year = photo["year"]
    rows = layout.categories(photo["total"])
    codes = sorted(photo["municipalities"])
    names = {nis: municipalities.name(nis, year) for nis in codes}
    sheets = [(layout.ALL_MUNICIPALITIES, "", photo["total"])] + [
        (names[nis], nis, photo["municipalities"][nis]) for nis in codes
    ]
    titles = list(layout.photo_sheet_titles(photo).values())

    wb = Workbook()
    wb.remove(wb.active)
    for title, (place, nis, figures) in zip(titles, sheets, strict=True):
        _fill(wb.create_sheet(title), photo, moment, place, nis, figures, rows, proof)

    utc = moment.astimezone(dt.UTC).replace(tzinfo=None)  # openpyxl wants naive UTC
    wb.properties.creator = layout.CREATOR
    wb.properties.lastModifiedBy = layout.CREATOR
    wb.properties.title = layout.title(year)
    wb.properties.language = "nl-BE"
    wb.properties.created = utc
    buffer = io.BytesIO()
    wb.save(buffer)  # sets properties.modified to now: _fixed puts the photo moment back
    wb.properties.modified = utc
    core = tostring(wb.properties.to_tree())
    return _fixed(buffer.getvalue(), core, moment.astimezone(layout.BRUSSELS))


def _fill(
    ws: Worksheet,
    photo: Mapping[str, Any],
    moment: dt.datetime,
    place: str,
    nis: str,
    figures: Mapping[str, Any],
    rows: list[tuple[str, str]],
    proof: Mapping[str, Any] | None = None,
) -> None:
    """One sheet: title, what the figures are about, then the table."""
    _put(ws, 1, 1, layout.title(photo["year"])).font = _TITLE_FONT
    about: list[tuple[str, str | int]] = [
        (layout.MUNICIPALITY_LABEL, place),
        (layout.NIS_LABEL, nis),
        (layout.YEAR_LABEL, photo["year"]),
        (layout.MOMENT_LABEL, layout.moment_text(moment)),
        (layout.RULES_LABEL, layout.rules_text(photo)),
        (layout.POSITION_LABEL, photo["position"]),
    ]
    if proof is not None:
        about.append((layout.PHOTO_ID_LABEL, str(proof["photo_id"])))
        if proof.get("chain_position") is not None:
            about.append((layout.CHAIN_LABEL, f"{proof['chain_position']}: {proof['chain_head']}"))
    for row, (label, value) in enumerate(about, start=3):
        _put(ws, row, 1, label).font = _BOLD
        if value != "":
            _put(ws, row, 2, value).alignment = _LEFT

    header = len(about) + 4
    for col, text in enumerate([layout.CATEGORY_HEADER] + [lbl for _, lbl in layout.COLUMNS], 1):
        cell = _put(ws, header, col, text)
        cell.font = _BOLD
        if col > 1:
            cell.alignment = _RIGHT_WRAPPED
    for row, (key, label) in enumerate(rows, start=header + 1):
        _put(ws, row, 1, label)
        for col, count in enumerate(layout.counts(figures, key), start=2):
            _put(ws, row, col, count)

    ws.freeze_panes = ws.cell(header + 1, 1).coordinate
    first = max(len(text) for text in [label for label, _ in about] + [lbl for _, lbl in rows])
    ws.column_dimensions["A"].width = first + 2
    for col, (_, text) in enumerate(layout.COLUMNS, start=2):
        ws.column_dimensions[get_column_letter(col)].width = max(len(text), 10) + 2
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.oddFooter.center.text = layout.FOOTER
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _put(ws: Worksheet, row: int, col: int, value: str | int) -> Any:
    """Write one cell; text is neutralized so it can never become a formula."""
    cell = ws.cell(row, col)
    if isinstance(value, str):
        cell.value = layout.neutralized(value)
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


def _fixed(data: bytes, core: bytes, local: dt.datetime) -> bytes:
    """The zip again, with fixed core properties, entry dates and attributes, in name order."""
    when = (local.year, local.month, local.day, local.hour, local.minute, local.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in sorted(src.namelist()):  # "[Content_Types].xml" sorts first
            entry = zipfile.ZipInfo(name, date_time=when)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 0  # otherwise it depends on the platform writing it
            entry.external_attr = 0
            dst.writestr(entry, core if name == _CORE_PROPERTIES else src.read(name))
    return out.getvalue()
