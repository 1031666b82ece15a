"""Read back a workbook the product wrote (`xlsx.photo_workbook`) and compare it with a photo.

A workbook may come back opened and re-saved by Excel or LibreOffice, so it is read by its
labels (`layout`), never by cell addresses, and compared cell value by cell value, never by
bytes. On every sheet the label column is the column of the table's header cell
(`layout.CATEGORY_HEADER`); the lines above the table hold a label there and its value in the
next column; below the header each row holds a category label and, under the column labels of
the header row, its counts. Styles, column widths, empty rows or columns, numbers stored as
12, 12.0 or the text "12", and anything outside the table (other columns, a title) do not
matter.

What is refused, as `WorkbookRefused` with a Dutch message that names the sheet and cell:
a file that is not an .xlsx (or too big, or too many sheets), a sheet without one of the
labels, a value that is a formula (counts must be literal numbers: a formula is never
evaluated, external links are never followed), a count that is not a whole number, an
unknown or repeated category row, two sheets of the same municipality, or sheets that show
another year, moment, rule set or position than the others.

What is not refused but reported by `compare`: a category row or a whole municipality sheet
present in the workbook and not in the photo or the other way round, an empty count cell
(read as absent), and every count that differs.

Only the first MAX_ROWS rows and MAX_COLUMNS columns of a sheet are read (the product writes
about 16 by 6); whatever lies beyond is not looked at. Sheet names do not matter: a sheet's
place is its NIS-code cell (empty on the total sheet). Chart sheets are skipped.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from service.reports import layout

MAX_FILE_BYTES = 20 * 1024 * 1024  # a photo's workbook is some tens of kB
MAX_SHEETS = 1_000
MAX_ZIP_ENTRIES = 10_000
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024  # all parts of the zip together, unpacked
MAX_ROWS = 1_000  # rows read per sheet: the product writes about sixteen
MAX_COLUMNS = 50  # columns read per sheet: the product writes six

TOTAL = "totaal"  # the place of the total sheet in `SubmittedWorkbook.figures`

# What the lines above the table say, by key (the keys `Difference.count` uses for them).
ABOUT: tuple[tuple[str, str], ...] = (
    ("year", layout.YEAR_LABEL),
    ("as_of", layout.MOMENT_LABEL),
    ("rules", layout.RULES_LABEL),
    ("position", layout.POSITION_LABEL),
)

_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any password-protected .xlsx
_XML_DECLARATIONS = tuple(
    marker.encode(encoding)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for encoding in ("utf-8", "utf-16-le", "utf-16-be")
)
_WHOLE_TEXT = re.compile(r"\d+")
_NIS = re.compile(r"\d{5}")
_CATEGORY_BY_LABEL = {label: key for key, label in layout.CATEGORIES}
_COLUMN_BY_LABEL = {label: key for key, label in layout.COLUMNS}
_CATEGORY_LABEL = dict(layout.CATEGORIES)
_COLUMN_LABEL = dict(layout.COLUMNS)
_ABOUT_LABEL = dict(ABOUT)

Figures = dict[str, dict[str, dict[str, int]]]  # place -> category key -> count key -> n


class WorkbookRefused(ValueError):
    """The workbook cannot be read as a photo's workbook; `message` says why, in Dutch."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SubmittedWorkbook:
    """What a workbook shows.

    `as_of` is the moment shown, in Europe/Brussels; the sheet shows it to the minute, so when
    it falls in the hour that happens twice in October it is the earlier of the two
    (`as_of_ambiguous` is then true). To find the photo a workbook shows, match moments with
    `shows_moment`, which compares what the sheet would show, not the datetimes.
    `figures` holds the total under "totaal" and each municipality under its NIS code; an
    empty count cell is absent from its category. `sheets` names each place's sheet and
    `cells` the cell each value was read from, keyed (place, category key or None, count key
    or "nis"/"year"/"as_of"/"rules"/"position").
    """

    year: int
    as_of: dt.datetime
    position: int
    rules: str
    figures: Figures
    moment_text: str = ""
    as_of_ambiguous: bool = False
    sheets: dict[str, str] = field(default_factory=dict)
    cells: dict[tuple[str, str | None, str], str] = field(default_factory=dict)
    photo_id: str | None = None  # on the workbook of a stored photo
    chain: tuple[int, str] | None = None  # (position, link) of the log when that photo was taken

    def shows_moment(self, moment: dt.datetime) -> bool:
        """Whether this workbook shows `moment` (an aware datetime) as its photo moment."""
        return layout.moment_text(moment) == self.moment_text


@dataclass(frozen=True)
class Difference:
    """One value that differs between a photo and a workbook; None is "not there".

    A count: `category` and `count` are the photo keys, the labels their Dutch labels, and
    expected/found whole numbers or None (a category row, or a municipality sheet, present on
    one side only gives a Difference for each of its counts, with None on the other side).
    What the lines above the table say (year, moment, rules, position) is reported with
    `category` None, `count` "year", "as_of", "rules" or "position", the label of that line,
    and expected/found as shown: the year and position as int, the moment as its text
    ("25/02/2026 12:00") and the rule set as its name ("regels-2024").
    """

    sheet: str
    place: str
    category: str | None
    category_label: str | None
    count: str
    count_label: str
    expected: int | str | None
    found: int | str | None
    cell: str | None = None  # where the workbook shows it, when it does

    def describe(self) -> str:
        """One line in Dutch, e.g. "Blad '24062 Leuven', cel C12, Dringende opvang,
        Niet beantwoord: verwacht 9, gevonden 10"."""
        where = f"Blad '{self.sheet}'" + (f", cel {self.cell}" if self.cell else "")
        what = ", ".join(x for x in (self.category_label, self.count_label) if x)
        return f"{where}, {what}: verwacht {_shown(self.expected)}, gevonden {_shown(self.found)}"


# What reading a damaged or hostile file can raise (XML parse errors are SyntaxErrors); a
# refusal names the kind, and anything else is a fault of ours and is not hidden.
DAMAGED: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, InvalidFileException, OSError, EOFError,
    ValueError, KeyError, IndexError, TypeError, AttributeError, SyntaxError, UnicodeError,
)


def read_workbook(data: bytes) -> SubmittedWorkbook:
    """What a workbook of a photo shows; refuses (WorkbookRefused) what it cannot read safely."""
    _check_container(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except DAMAGED as exc:  # openpyxl raises many kinds on a damaged file
        raise WorkbookRefused(
            "Het bestand kon niet gelezen worden als Excel-werkmap (.xlsx); "
            f"is het beschadigd? ({type(exc).__name__})"
        ) from exc
    try:
        if len(wb.sheetnames) > MAX_SHEETS:
            raise WorkbookRefused(
                f"De werkmap heeft {len(wb.sheetnames)} werkbladen; meer dan {MAX_SHEETS} "
                "wordt niet gelezen."
            )
        sheets = [_read_sheet(ws) for ws in wb.worksheets if hasattr(ws, "iter_rows")]
    except WorkbookRefused:
        raise
    except DAMAGED as exc:
        raise WorkbookRefused(
            "Een werkblad van de werkmap kon niet gelezen worden; is het bestand beschadigd? "
            f"({type(exc).__name__})"
        ) from exc
    finally:
        wb.close()
    return _combined(sheets)


def compare(photo: Mapping[str, Any], submitted: SubmittedWorkbook) -> list[Difference]:
    """Every value that differs between the photo and the workbook; empty when they are equal.

    First what the lines above the table say (year, moment to the minute, rule set name,
    position), then the counts: the total, then the municipalities by NIS code, each in the
    layout's category and column order. Only the layout's categories and columns are compared
    (those are what the workbook shows).
    """
    total_sheet = submitted.sheets.get(TOTAL, layout.TOTAL_SHEET)
    shown = {
        "year": photo["year"],
        "as_of": layout.moment_text(layout.photo_moment(photo)),
        "rules": str(photo["rules"]),
        "position": photo["position"],
    }
    found_about = {
        "year": submitted.year,
        "as_of": submitted.moment_text,
        "rules": submitted.rules,
        "position": submitted.position,
    }
    differences = [
        Difference(
            sheet=total_sheet,
            place=TOTAL,
            category=None,
            category_label=None,
            count=key,
            count_label=label,
            expected=shown[key],
            found=found_about[key],
            cell=submitted.cells.get((TOTAL, None, key)),
        )
        for key, label in ABOUT
        if shown[key] != found_about[key]
    ]

    expected: Mapping[str, Mapping[str, Any]] = {TOTAL: photo["total"], **photo["municipalities"]}
    found = submitted.figures
    codes = sorted((set(expected) | set(found)) - {TOTAL})
    titles = _expected_titles(photo)
    for place in [TOTAL, *codes]:  # a sheet shows its municipality by its NIS code and its name
        if place in submitted.sheets and place in titles and submitted.sheets[place] != titles[place]:
            differences.append(Difference(
                sheet=submitted.sheets[place], place=place, category=None, category_label=None,
                count="sheet", count_label="naam van het blad", expected=titles[place],
                found=submitted.sheets[place], cell=None,
            ))
    for place in [TOTAL, *codes]:
        sheet = submitted.sheets.get(place) or titles.get(place) or place
        want, got = expected.get(place, {}), found.get(place, {})
        for category, category_label in layout.CATEGORIES:
            want_row, got_row = want.get(category), got.get(category)
            if want_row is None and got_row is None:
                continue
            for count, count_label in layout.COLUMNS:
                a = None if want_row is None else want_row.get(count)
                b = None if got_row is None else got_row.get(count)
                if a != b or type(a) is not type(b):  # True == 1, but a count is no bool
                    differences.append(
                        Difference(
                            sheet=sheet,
                            place=place,
                            category=category,
                            category_label=category_label,
                            count=count,
                            count_label=count_label,
                            expected=a,
                            found=b,
                            cell=submitted.cells.get((place, category, count)),
                        )
                    )
    return differences


# --- the container ----------------------------------------------------------------------------


def _check_container(data: bytes) -> None:
    """Refuse what is no .xlsx, or too big to open safely, before openpyxl sees it."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise WorkbookRefused("Geef de inhoud van het bestand (bytes) om te lezen.")
    if len(data) > MAX_FILE_BYTES:
        raise WorkbookRefused(
            f"Het bestand is {len(data) // (1024 * 1024)} MB groot; een werkmap van meer dan "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB wordt niet gelezen."
        )
    if len(data) == 0:
        raise WorkbookRefused("Het bestand is leeg; verwacht wordt een Excel-werkmap (.xlsx).")
    if bytes(data[:8]) == _OLE_SIGNATURE:
        raise WorkbookRefused(
            "Het bestand is een oud Excel-bestand (.xls) of een werkmap met wachtwoord; "
            "bewaar het als Excel-werkmap (.xlsx) zonder wachtwoord."
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_archive(archive)
    except WorkbookRefused:
        raise
    except DAMAGED as exc:  # BadZipFile, a damaged or encrypted entry, ...
        raise WorkbookRefused(
            "Het bestand is geen Excel-werkmap (.xlsx): het is geen leesbaar zip-bestand."
        ) from exc


def _check_archive(archive: zipfile.ZipFile) -> None:
    entries = archive.infolist()
    if len(entries) > MAX_ZIP_ENTRIES:
        raise WorkbookRefused(
            f"De werkmap bestaat uit {len(entries)} delen; meer dan {MAX_ZIP_ENTRIES} "
            "wordt niet gelezen."
        )
    if sum(entry.file_size for entry in entries) > MAX_UNCOMPRESSED_BYTES:
        raise WorkbookRefused(
            "De werkmap is uitgepakt groter dan "
            f"{MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB en wordt niet gelezen."
        )
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names:
        if "mimetype" in names and archive.read("mimetype").startswith(
            b"application/vnd.oasis.opendocument"
        ):
            raise WorkbookRefused(
                "Het bestand is een OpenDocument-bestand (.ods); bewaar het als "
                "Excel-werkmap (.xlsx) en probeer opnieuw."
            )
        raise WorkbookRefused(
            "Het bestand is geen Excel-werkmap (.xlsx): het zip-bestand bevat geen werkmap."
        )
    for entry in entries:  # a workbook's XML never declares a DTD or entities
        if entry.filename.endswith((".xml", ".rels", ".vml")) and _declares_dtd(archive, entry):
            raise WorkbookRefused(
                f"De werkmap bevat XML met een DTD of entiteiten ({entry.filename}); "
                "zo'n bestand wordt niet gelezen."
            )


def _declares_dtd(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bool:
    overlap = max(len(marker) for marker in _XML_DECLARATIONS) - 1
    tail = b""
    with archive.open(entry) as part:
        while chunk := part.read(1 << 16):
            window = tail + chunk
            if any(marker in window for marker in _XML_DECLARATIONS):
                return True
            tail = window[-overlap:]
    return False


# --- one sheet --------------------------------------------------------------------------------


@dataclass
class _Sheet:
    title: str
    place: str
    about: dict[str, Any]  # year, moment_text, moments, rules, position
    figures: dict[str, dict[str, int]]
    cells: dict[tuple[str | None, str], str]


def _read_sheet(ws: Any) -> _Sheet:
    title = str(ws.title)
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # the size a writer declares may be wrong: read what is there
    rows = [
        tuple(row)
        for row in ws.iter_rows(min_row=1, max_row=MAX_ROWS, min_col=1, max_col=MAX_COLUMNS)
    ]
    header_row, label_col = _find_header(title, rows)

    labels: dict[str, tuple[int, int]] = {}
    wanted = {layout.NIS_LABEL, layout.PHOTO_ID_LABEL, layout.CHAIN_LABEL, *(label for _, label in ABOUT)}
    for r in range(header_row):
        text = _text(_cell(rows, r, label_col))
        if text in wanted:
            if text in labels:
                raise WorkbookRefused(
                    f"Blad '{title}': het label '{text}' staat er twee keer "
                    f"({_where(*labels[text])} en {_where(r, label_col)})."
                )
            labels[text] = (r, label_col)
    for label in [layout.NIS_LABEL, *(label for _, label in ABOUT)]:
        if label not in labels:
            raise WorkbookRefused(
                f"Blad '{title}': het label '{label}' ontbreekt boven de tabel in kolom "
                f"{get_column_letter(label_col + 1)}; is dit een werkmap van een foto?"
            )

    cells: dict[tuple[str | None, str], str] = {}

    def value_of(label: str, key: str) -> tuple[Any, str]:
        r, c = labels[label]
        cell = _cell(rows, r, c + 1)
        where = _where(r, c + 1)
        _refuse_formula(title, where, label, cell)
        cells[(None, key)] = where
        return (None if cell is None else cell.value), where

    nis_value, nis_where = value_of(layout.NIS_LABEL, "nis")
    place = _place(title, nis_where, nis_value)
    about: dict[str, Any] = {}
    for key, label in ABOUT:
        value, where = value_of(label, key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise WorkbookRefused(f"Blad '{title}', cel {where}: '{label}' is leeg.")
        if key in ("year", "position"):
            number = _whole(value)
            if number is None:
                raise WorkbookRefused(
                    f"Blad '{title}', cel {where}: '{label}' is {_shown(value)}; "
                    "verwacht een geheel getal."
                )
            about[key] = number
        elif key == "as_of":
            about["moment_text"], about["moments"] = _moment(title, where, value)
        else:
            about[key] = layout.rules_name(layout.unneutralized(str(value).strip()))

    about["photo_id"], about["chain"] = None, None
    if layout.PHOTO_ID_LABEL in labels:  # the workbook of a stored photo
        value, _ = value_of(layout.PHOTO_ID_LABEL, "photo_id")
        about["photo_id"] = None if value is None else str(value).strip()
    if layout.CHAIN_LABEL in labels:
        value, where = value_of(layout.CHAIN_LABEL, "chain")
        position, _, link = str(value or "").partition(":")
        if not position.strip().isdigit() or len(link.strip()) != 64:
            raise WorkbookRefused(f"Blad '{title}', cel {where}: '{layout.CHAIN_LABEL}' is {_shown(value)}; "
                                  "verwacht 'positie: schakel'.")
        about["chain"] = (int(position), link.strip())

    figures, figure_cells = _read_table(title, rows, header_row, label_col)
    cells.update(figure_cells)
    return _Sheet(title, place, about, figures, cells)


def _find_header(title: str, rows: list[tuple[Any, ...]]) -> tuple[int, int]:
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if _text(cell) == layout.CATEGORY_HEADER:
                return r, c
    raise WorkbookRefused(
        f"Blad '{title}': de tabel met kop '{layout.CATEGORY_HEADER}' ontbreekt; "
        "is dit een werkmap van een foto?"
    )


def _read_table(
    title: str, rows: list[tuple[Any, ...]], header_row: int, label_col: int
) -> tuple[dict[str, dict[str, int]], dict[tuple[str | None, str], str]]:
    columns: dict[str, int] = {}
    header = rows[header_row]
    for c in range(label_col + 1, len(header)):
        key = _COLUMN_BY_LABEL.get(_text(header[c]) or "")
        if key is not None:
            if key in columns:
                raise WorkbookRefused(
                    f"Blad '{title}': de kolom '{_COLUMN_LABEL[key]}' staat er twee keer "
                    f"({_where(header_row, columns[key])} en {_where(header_row, c)})."
                )
            columns[key] = c
    for key, label in layout.COLUMNS:
        if key not in columns:
            raise WorkbookRefused(
                f"Blad '{title}': de kolom '{label}' ontbreekt in de kop van de tabel "
                f"(rij {header_row + 1})."
            )

    figures: dict[str, dict[str, int]] = {}
    cells: dict[tuple[str | None, str], str] = {}
    seen: dict[str, int] = {}
    for r in range(header_row + 1, len(rows)):
        label_cell = _cell(rows, r, label_col)
        _refuse_formula(title, _where(r, label_col), "categorie", label_cell)
        label = _text(label_cell)
        if not label:
            for key, c in columns.items():
                if _cell_value(rows, r, c) not in (None, ""):
                    raise WorkbookRefused(
                        f"Blad '{title}', cel {_where(r, c)}: een waarde zonder categorie "
                        f"(kolom '{_COLUMN_LABEL[key]}', cel {_where(r, label_col)} is leeg)."
                    )
            continue
        category = _CATEGORY_BY_LABEL.get(label)
        if category is None:
            raise WorkbookRefused(
                f"Blad '{title}', cel {_where(r, label_col)}: '{label}' is geen categorie "
                "van de tabel."
            )
        if category in seen:
            raise WorkbookRefused(
                f"Blad '{title}': de categorie '{label}' staat er twee keer "
                f"(rij {seen[category] + 1} en rij {r + 1})."
            )
        seen[category] = r
        counts: dict[str, int] = {}
        for key, label_of_count in layout.COLUMNS:
            c = columns[key]
            where = _where(r, c)
            cell = _cell(rows, r, c)
            _refuse_formula(title, where, f"{label}, {label_of_count}", cell)
            value = None if cell is None else cell.value
            if value is None or (isinstance(value, str) and not value.strip()):
                continue  # an empty count: absent, `compare` reports it
            number = _whole(value)
            if number is None:
                raise WorkbookRefused(
                    f"Blad '{title}', cel {where} ({label}, {label_of_count}): "
                    f"{_shown(value)} is geen geheel getal; een telling is een geheel getal "
                    "van 0 of meer."
                )
            counts[key] = number
            cells[(category, key)] = where
        figures[category] = counts
    return figures, cells


# --- the sheets together ----------------------------------------------------------------------


def _combined(sheets: list[_Sheet]) -> SubmittedWorkbook:
    if not sheets:
        raise WorkbookRefused("De werkmap bevat geen werkbladen.")
    by_place: dict[str, _Sheet] = {}
    for sheet in sheets:
        if sheet.place in by_place:
            other = by_place[sheet.place].title
            what = (
                "het totaal (een lege NIS-code)"
                if sheet.place == TOTAL
                else f"de gemeente met NIS-code {sheet.place}"
            )
            raise WorkbookRefused(f"De bladen '{other}' en '{sheet.title}' tonen allebei {what}.")
        by_place[sheet.place] = sheet
    if TOTAL not in by_place:
        raise WorkbookRefused(
            "De werkmap heeft geen totaalblad (een blad met een lege "
            f"'{layout.NIS_LABEL}'); is dit een werkmap van een foto?"
        )
    first = by_place[TOTAL]
    for sheet in sheets:
        for key, label in ABOUT:
            mine, theirs = _about_shown(sheet, key), _about_shown(first, key)
            if mine != theirs:
                raise WorkbookRefused(
                    f"Blad '{sheet.title}' toont bij '{label}' {_shown(mine)}, maar blad "
                    f"'{first.title}' {_shown(theirs)}: de bladen horen niet bij één foto."
                )
    moments = first.about["moments"]
    cells: dict[tuple[str, str | None, str], str] = {}
    for sheet in sheets:
        cells.update({(sheet.place, *key): where for key, where in sheet.cells.items()})
    return SubmittedWorkbook(
        year=first.about["year"],
        as_of=moments[0],
        position=first.about["position"],
        rules=first.about["rules"],
        figures={s.place: s.figures for s in _in_place_order(by_place)},
        moment_text=first.about["moment_text"],
        as_of_ambiguous=len(moments) > 1,
        sheets={s.place: s.title for s in _in_place_order(by_place)},
        cells=cells,
        photo_id=first.about["photo_id"],
        chain=first.about["chain"],
    )


def _in_place_order(by_place: Mapping[str, _Sheet]) -> Iterable[_Sheet]:
    yield by_place[TOTAL]
    yield from (by_place[p] for p in sorted(by_place) if p != TOTAL)


def _about_shown(sheet: _Sheet, key: str) -> Any:
    return sheet.about["moment_text"] if key == "as_of" else sheet.about[key]


def _expected_titles(photo: Mapping[str, Any]) -> dict[str, str]:
    """The sheet titles `xlsx.photo_workbook` gives the photo's places, keyed as read here."""
    return {(TOTAL if place == "" else place): title for place, title in layout.photo_sheet_titles(photo).items()}


# --- cells ------------------------------------------------------------------------------------


def _cell(rows: list[tuple[Any, ...]], r: int, c: int) -> Any:
    row = rows[r] if r < len(rows) else ()
    return row[c] if c < len(row) else None


def _cell_value(rows: list[tuple[Any, ...]], r: int, c: int) -> Any:
    cell = _cell(rows, r, c)
    return None if cell is None else cell.value


def _text(cell: Any) -> str | None:
    value = None if cell is None else cell.value
    return value.strip() if isinstance(value, str) else None


def _where(r: int, c: int) -> str:
    return f"{get_column_letter(c + 1)}{r + 1}"


def _is_formula(cell: Any) -> bool:
    if cell is None or cell.value is None:
        return False
    value = cell.value
    if getattr(cell, "data_type", None) == "f":
        return True
    return not isinstance(value, (str, int, float, dt.datetime, dt.date, dt.time, dt.timedelta))


def _refuse_formula(title: str, where: str, what: str, cell: Any) -> None:
    if _is_formula(cell):
        value = cell.value
        shown = value if isinstance(value, str) else getattr(value, "text", type(value).__name__)
        raise WorkbookRefused(
            f"Blad '{title}', cel {where} ({what}): bevat een formule ({str(shown)[:60]}); "
            "een werkmap van een foto bevat alleen getallen en tekst, geen formules. "
            "Formules worden niet uitgerekend."
        )


def _whole(value: Any) -> int | None:
    """A whole number of 0 or more from 12, 12.0 or the text "12"; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    if isinstance(value, str) and _WHOLE_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _place(title: str, where: str, value: Any) -> str:
    """TOTAL for an empty NIS code, else the five-digit code (also when stored as a number)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return TOTAL
    number = _whole(value)
    if isinstance(value, str):
        text = value.strip()
    else:
        text = "" if number is None else f"{number:05d}"
    if not _NIS.fullmatch(text):
        raise WorkbookRefused(
            f"Blad '{title}', cel {where}: '{layout.NIS_LABEL}' is {_shown(value)}; "
            "verwacht een NIS-code van vijf cijfers (leeg op het totaalblad)."
        )
    return text


def _moment(title: str, where: str, value: Any) -> tuple[str, tuple[dt.datetime, ...]]:
    """The moment as `layout.moment_text` writes it, and the moments it can be."""
    if isinstance(value, dt.datetime):  # retyped in a spreadsheet: a date cell, Brussels time
        value = value.strftime(layout.MOMENT_FORMAT)
    moments: tuple[dt.datetime, ...] = ()
    if isinstance(value, str):
        try:
            moments = layout.moments_shown(value)
        except ValueError:
            moments = ()
    if not moments:
        raise WorkbookRefused(
            f"Blad '{title}', cel {where}: '{layout.MOMENT_LABEL}' is {_shown(value)}; "
            "verwacht een bestaand moment in Brusselse tijd zoals 01/03/2026 00:00."
        )
    return layout.moment_text(moments[0]), moments


def _shown(value: Any) -> str:
    if value is None:
        return "(leeg)"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)
