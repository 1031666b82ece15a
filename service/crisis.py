"""The crisis list of a closed location: every family whose placement ended with it.

In the order of domain.md (priority group and vulnerable families first, then urgent, then by
request date). For each affected request: what it had (the cancelled placement), whether it is placed again
(and when), and the fitting free places elsewhere, needed from the closure on (start, days and
hours fit; its own municipality first). Loket workers also get how to reach the family, for
phoning; that read is written in the access log by the caller.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from service import municipalities
from service.aggregates.care_request import STATUS_NL
from service.aggregates.categories import hours_nl
from service.aggregates.errors import UnknownRequest
from service.matching import domain_order, places_for
from service.reports.layout import neutralized

SUGGESTIONS = 5
BRUSSELS = ZoneInfo("Europe/Brussels")


def crisis_list(service: Any, location: str, contact: bool = False, today: dt.date | None = None) -> dict[str, Any]:
    """`today` (default: now, in Brussels) is the earliest start a family can still be offered."""
    today = today or dt.datetime.now(BRUSSELS).date()
    with service.current.lock():
        view = service.current.refresh()
        loc = view.locations.get(location)
        if loc is None:
            raise UnknownRequest(f"Locatie '{location}' bestaat niet bij dit loket.", field="location")
        affected = []
        # The first suggestion of each family is kept for it: a family further down the list is not sent to a
        # place the list already gave to a family above (free places are spread in the order of calling).
        left = {ref: view.places_left(other) for ref, other in view.locations.items()}
        for r in sorted(view.affected_by(location), key=domain_order):  # whom to call first
            crisis = r.crisis_at(location)
            needed = max(r.wish_start, crisis.on, today)
            fitting = [m for m in places_for(r, view.locations.values(), lambda other: left[other.reference],
                                             needed_from=needed, needs_met_only=True)
                       if m.criteria["start"].fits and m.criteria["days"].fits and m.criteria["hours"].fits]
            if fitting and not crisis.placed_again_on and r.is_open:
                left[fitting[0].location.reference] -= 1
            item: dict[str, Any] = {
                "request": r.reference,
                "suggestions": [] if crisis.placed_again_on else [m.location.reference for m in fitting[:SUGGESTIONS]],
                "municipality": r.municipality,
                "had": {"proposal": crisis.had.proposal, "start": crisis.had.start,
                        "days_per_week": crisis.had.days_per_week},
                "needed_from": needed,
                "hours": list(r.wish_hours),
                "placed_again_on": crisis.placed_again_on,
                "open": r.is_open,
                "status": _status(r, crisis),
                "suggested": [f"{m.location.reference} {m.location.name} ({municipalities.name(m.location.municipality)})"
                              for m in fitting[:SUGGESTIONS]] if not crisis.placed_again_on else [],
                "why": {} if crisis.placed_again_on else {m.location.reference: m.reasons() for m in fitting[:SUGGESTIONS]},
            }
            if contact:
                data = service.personal_data(r)
                item["contact"] = (data or {}).get("contact") or {}
                item["personal_data_erased"] = data is None
            affected.append(item)
    placed = [a["placed_again_on"] for a in affected if a["placed_again_on"] is not None]
    waiting = sum(1 for a in affected if a["placed_again_on"] is None and a["open"])
    return {
        "location": location, "name": loc.name, "closed_on": loc.closed_on,
        "affected": affected,
        "progress": {"affected": len(affected), "placed_again": len(placed), "waiting": waiting,
                     "closed_otherwise": len(affected) - len(placed) - waiting,
                     "last_placed_again_on": max(placed) if placed else None},
    }


def _status(request: Any, crisis: Any) -> str:
    """What the loket worker reads in the list: placed again, waiting, or closed otherwise."""
    if crisis.placed_again_on is not None:
        return f"opnieuw geplaatst op {crisis.placed_again_on.strftime('%d/%m/%Y')}"
    if request.is_open:
        return "wacht op een plaats"
    return f"afgesloten ({STATUS_NL.get(request.status, request.status)})"


COLUMNS = ("Dossier", "Gemeente", "Had plaats vanaf", "Dagen", "Ruimere uren", "Nodig vanaf", "Toestand",
           "Voorstellen (locaties)", "Naam", "Telefoon", "E-mail")


def _rows(crisis: dict[str, Any]) -> list[list[str]]:
    rows = []
    for a in crisis["affected"]:
        contact = a.get("contact") or {}
        suggested = " / ".join(a["suggested"]) or ("" if a["placed_again_on"] else "geen passende vrije plaats")
        rows.append([a["request"], municipalities.name(a["municipality"]), a["had"]["start"].strftime("%d/%m/%Y"),
                     f"{a['had']['days_per_week']:g}".replace(".", ","), hours_nl(a["hours"]),
                     a["needed_from"].strftime("%d/%m/%Y"), a["status"], suggested, contact.get("name", ""),
                     contact.get("phone", ""), contact.get("email", "")])
    return [[neutralized(str(v)) for v in row] for row in rows]


def _cell(text: str) -> str:
    """Text a workbook cell can hold: control characters dropped, and then (what is left may start
    with "=") neutralized again, so "\x01=HYPERLINK(…)" never becomes a formula."""
    return neutralized(ILLEGAL_CHARACTERS_RE.sub("", text))


def crisis_csv(crisis: dict[str, Any]) -> bytes:
    """The phone list as CSV: ; separated, UTF-8 with BOM (Excel with Belgian settings)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_rows(crisis))
    return ("\ufeff" + out.getvalue()).encode()


def crisis_xlsx(crisis: dict[str, Any]) -> bytes:
    """The phone list as a workbook: one row per family, progress on top."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Crisislijst"
    progress = crisis["progress"]
    closed = crisis["closed_on"].strftime("%d/%m/%Y") if crisis["closed_on"] else "(nu niet gesloten)"
    sheet.append([_cell(f"Sluiting {crisis['location']} {crisis['name']} op {closed}")])
    sheet.append([f"{progress['affected']} gezinnen getroffen, {progress['placed_again']} opnieuw geplaatst, "
                  f"{progress['waiting']} wachten nog, {progress['closed_otherwise']} anders afgesloten"])
    sheet.append([])
    sheet.append(list(COLUMNS))
    for row in _rows(crisis):
        sheet.append([_cell(v) for v in row])
    for column, width in zip("ABCDEFGHIJK", (14, 18, 14, 7, 16, 14, 26, 60, 26, 16, 28), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "B5"
    sheet.auto_filter.ref = f"A4:K{sheet.max_row}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
