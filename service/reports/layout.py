"""The regulator's layout of the yearly figures: the one place to change when their template does.

Rows are the categories, columns the counts, both with the Dutch labels the regulator uses.
The photo dict's keys (see `service.reports`) name what is counted; this module names how it
is shown. Writers take their labels, sheet names, titles and moment text from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")

# (photo key, Dutch label), in the order the regulator lists them.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("all", "Alle opvangvragen"),
    ("urgent", "Dringende opvang"),
    ("extended_hours", "Ruimere openingsmomenten"),
    ("priority_group", "Voorrangsgroep"),  # only in photos of years before 2024
    ("vulnerable_family", "Kwetsbare gezinnen"),
    ("special_care", "Specifieke zorgbehoefte"),
)

COLUMNS: tuple[tuple[str, str], ...] = (
    ("requests", "Unieke opvangvragen"),
    ("unanswered", "Niet beantwoord"),
    ("no_proposal", "waarvan geen opvangvoorstel"),
    ("not_accepted", "waarvan voorstel niet aanvaard"),
    ("deviating", "waarvan afwijkend van de vraag"),
)

CATEGORY_HEADER = "Categorie"
TOTAL_SHEET = "Totaal"
ALL_MUNICIPALITIES = "Alle gemeenten van het werkingsgebied"
CREATOR = "Lokaal Loket Kinderopvang"
MOMENT_FORMAT = "%d/%m/%Y %H:%M"  # how Belgians write a moment: 01/03/2026 00:00

# Labels of the lines above the table, in order (the values are filled in by the writers).
MUNICIPALITY_LABEL = "Gemeente"
NIS_LABEL = "NIS-code"
YEAR_LABEL = "Jaar"
MOMENT_LABEL = "Toestand op (Brusselse tijd)"
RULES_LABEL = "Telregels"
POSITION_LABEL = "Laatst meegetelde registratie (volgnummer)"
PHOTO_ID_LABEL = "Genomen foto (id)"  # only on the workbook of a stored photo
CHAIN_LABEL = "Logboekketen (positie: schakel)"  # the chain head when the photo was taken
FOOTER = "&A — pagina &P van &N"  # sheet name, page of pages

# Excel's limits on sheet names.
SHEET_NAME_MAX = 31
SHEET_NAME_FORBIDDEN = frozenset("[]:*?/\\")
_RESERVED_SHEET_NAMES = frozenset({"history"})  # Excel reserves "History" (any case)

# A cell whose text starts with one of these may be run as a formula by a spreadsheet.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def rules_text(photo: Mapping[str, Any]) -> str:
    """The rule set's name, with what it means when the photo says so."""
    description = photo.get("rules_description")
    return f"{photo['rules']}: {description}" if description else str(photo["rules"])


def title(year: int) -> str:
    return f"Lokaal Loket Kinderopvang — foto van de opvangvragen {year}"


def categories(figures: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The category rows this photo has: every layout row whose key is present, in layout order."""
    return [(key, label) for key, label in CATEGORIES if key in figures]


def counts(figures: Mapping[str, Any], category: str) -> list[int]:
    """The counts of one category, in column order; refuses a count that is not a whole number."""
    cells = figures[category]
    row = [cells[key] for key, _ in COLUMNS]
    for (key, _), value in zip(COLUMNS, row, strict=True):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"count {category}.{key} is {value!r}; a photo count is a whole number")
    return row


def neutralized(text: str) -> str:
    """Text safe to put in a spreadsheet cell: formula-like text gets a leading single quote."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def unneutralized(text: str) -> str:
    """The text `neutralized` was given: its leading single quote dropped again."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text


def rules_name(text: str) -> str:
    """The rule set's name from the text `rules_text` wrote: what comes before the first colon."""
    return text.split(":", 1)[0].strip()


def photo_moment(photo: Mapping[str, Any]) -> dt.datetime:
    """The photo moment as an aware datetime; refuses a moment without its UTC offset."""
    value = photo["as_of"]
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(
            f"photo as_of {value!r} has no UTC offset; "
            "give the moment with its offset, e.g. 2026-03-01T00:00:00+01:00"
        )
    return moment


def moment_text(moment: dt.datetime) -> str:
    """The moment in Europe/Brussels as Belgians write it, e.g. 01/03/2026 00:00."""
    return moment.astimezone(BRUSSELS).strftime(MOMENT_FORMAT)


def moments_shown(text: str) -> tuple[dt.datetime, ...]:
    """The moments, to the minute and in Europe/Brussels, that `moment_text` shows as `text`.

    One, earliest first; but two in the hour that happens twice when summer time ends
    (e.g. 26/10/2025 02:30 is 02:30+02:00 and, an hour later, 02:30+01:00) and none in the
    hour skipped when it starts (29/03/2026 02:30 never happens). Raises ValueError when the
    text is not a moment written as MOMENT_FORMAT.
    """
    wall = dt.datetime.strptime(text.strip(), MOMENT_FORMAT)
    found: list[dt.datetime] = []
    for fold in (0, 1):
        moment = wall.replace(tzinfo=BRUSSELS, fold=fold)
        back = moment.astimezone(dt.UTC).astimezone(BRUSSELS)  # via UTC: a skipped time moves
        if back.replace(tzinfo=None) == wall and all(
            moment.utcoffset() != other.utcoffset() for other in found
        ):
            found.append(moment)
    return tuple(found)


def municipality_sheet_title(nis: str, name: str) -> str:
    """The wanted (not yet made safe) sheet name of a municipality: '<NIS> <name>'."""
    return f"{nis} {name}"


def sheet_names(wanted: Sequence[str]) -> list[str]:
    """Excel-safe, unique sheet names for the wanted names, in the same order.

    Forbidden characters are dropped, names are cut to 31 characters without a leading or
    trailing quote or blank, and a name equal (ignoring case, as Excel does) to an earlier
    one gets a number: "(2)", "(3)", ...
    """
    taken: set[str] = set(_RESERVED_SHEET_NAMES)
    result: list[str] = []
    for want in wanted:
        base = _trimmed("".join(c for c in want if c not in SHEET_NAME_FORBIDDEN)) or "Blad"
        candidate, n = base, 1
        while candidate.casefold() in taken:
            n += 1
            suffix = f" ({n})"
            candidate = _trimmed(base[: SHEET_NAME_MAX - len(suffix)]) + suffix
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def _trimmed(name: str) -> str:
    return name[:SHEET_NAME_MAX].strip(" '")


def photo_sheet_titles(photo: Mapping[str, Any]) -> dict[str, str]:
    """The sheet title of each place of a photo: "" for the total, then each NIS code in order."""
    from service import municipalities

    codes = sorted(photo["municipalities"])
    wanted = [TOTAL_SHEET] + [
        municipality_sheet_title(nis, municipalities.name(nis, photo["year"])) for nis in codes
    ]
    return dict(zip(["", *codes], sheet_names(wanted), strict=True))
