"""Realistic demo and benchmark histories (history-format.md: JSON Lines, one command a line).

Two generators, both deterministic for a given seed (the same call writes byte-identical
output) and both returning what they were built to produce:

* ``generate_loket``: an inter-municipal loket of real neighbouring municipalities over a few
  reporting years, with volumes proportional to population and calibrated on the published
  2024 figures (requests per inhabitant and share unanswered of the municipality's province),
  every way a request can end, the categories, corrections, moves, unborn children, twins,
  and noise recorded after each photo moment. Returns the expected default photo per year.
* ``generate_flanders``: every municipality of Flanders and Brussels for one reporting year
  such that the default photo gives exactly the published per-province figures (scaled with
  ``scale``), distributed over the municipalities in proportion to population. Returns the
  exact targets per province and municipality.

How each request is built: its outcome at the photo moment ("kind") is chosen first, then the
commands that lead to it, so its classification (domain.md, "The yearly count") is certain.
Noise is added that must not change the default photo: events recorded after the photo moment
(late acceptances back-dated before it, cancellations, reopenings, corrections, moves, voids),
registrations after the photo with a desired start in the year, requests whose original
desired start is in another year (also when a changed wish moves it into the year), voided
and out-of-school requests.

All national numbers are synthetic (see ``service.natnum_gen``); names are combinations from
small lists; e-mail addresses use example.be.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from service.municipalities import (
    BRUSSELS_REGION,
    FLEMISH_REGION,
    municipalities_2020,
    successor,
)
from service.natnum_gen import NationalNumbers

TZ = ZoneInfo("Europe/Brussels")
UTC = dt.UTC

# Leuven and its neighbours (arrondissement Leuven, no 2025 mergers among them).
DEFAULT_LOKET: tuple[str, ...] = (
    "24062",  # Leuven
    "24038",  # Herent
    "24055",  # Kortenberg
    "24009",  # Bertem
    "24086",  # Oud-Heverlee
    "24011",  # Bierbeek
    "24066",  # Lubbeek
    "24043",  # Holsbeek
)

# Published figures (reference/published-figures.md): province -> (requests, unanswered).
PUBLISHED: dict[int, dict[str, tuple[int, int]]] = {
    2023: {
        "Antwerpen": (14377, 5249),
        "Brussel": (5946, 2394),
        "Limburg": (4434, 1872),
        "Oost-Vlaanderen": (12202, 5458),
        "Vlaams-Brabant": (13776, 5283),
        "West-Vlaanderen": (6370, 2466),
    },
    2024: {
        "Antwerpen": (17925, 6029),
        "Brussel": (6124, 2289),
        "Limburg": (7455, 2547),
        "Oost-Vlaanderen": (16613, 7277),
        "Vlaams-Brabant": (16016, 5400),
        "West-Vlaanderen": (7135, 2813),
    },
}
PROVINCES = tuple(sorted(PUBLISHED[2024]))

# Outcomes at the photo moment.
NO_PROPOSAL = "no_proposal"
REFUSED = "refused"
PENDING = "pending"
PROPOSAL_WITHDRAWN = "proposal_withdrawn"
CANCELLED = "cancelled"
LATE = "late"
FEWER_DAYS = "fewer_days"
AS_ASKED = "as_asked"
ELSEWHERE = "elsewhere"
WITHDRAWN = "withdrawn"

REASON = {
    NO_PROPOSAL: "no_proposal",
    REFUSED: "not_accepted",
    PENDING: "not_accepted",
    PROPOSAL_WITHDRAWN: "not_accepted",
    CANCELLED: "not_accepted",
    LATE: "deviating",
    FEWER_DAYS: "deviating",
    AS_ASKED: None,
    ELSEWHERE: None,
    WITHDRAWN: None,
}
UNANSWERED_WEIGHTS = {
    NO_PROPOSAL: 55,
    REFUSED: 12,
    PENDING: 5,
    PROPOSAL_WITHDRAWN: 3,
    CANCELLED: 4,
    LATE: 13,
    FEWER_DAYS: 8,
}
ANSWERED_WEIGHTS = {AS_ASKED: 72, ELSEWHERE: 10, WITHDRAWN: 18}
ALL_KINDS = tuple(REASON)

MONTH_WEIGHTS = (10, 8, 9, 8, 7, 6, 5, 7, 14, 10, 8, 8)
DAYS_CHOICES = (1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6)
DAYS_WEIGHTS = (2, 1, 8, 3, 16, 5, 22, 8, 33, 2)
HOURS = ("early", "late", "weekend", "holiday")

FIRST_NAMES = (
    "Anna", "Bart", "Chloë", "Dirk", "Elif", "Femke", "Gert", "Hanne", "Ilias", "Jana",
    "Karim", "Lotte", "Mehmet", "Nina", "Olivier", "Pieter", "Rania", "Sofie", "Tom", "Ulla",
    "Vera", "Wout", "Yasmine", "Zeno", "Amira", "Bram", "Eline", "Jonas", "Lien", "Noor",
    "Ruben", "Sarah", "Lucas", "Marie", "Emma", "Arthur", "Louise", "Jules", "Olivia", "Noah",
    "Inès", "Joëlle", "Seppe", "Kobe", "Fatima",
)
LAST_NAMES = (
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
    "Wouters", "De Smet", "Dubois", "Hermans", "Aerts", "Pauwels", "Van den Broeck",
    "Vermeulen", "Verhoeven", "Desmet", "El Amrani", "Yılmaz", "Nowak", "Diallo",
    "Vandenberghe", "De Backer", "Coppens", "Lambrechts", "Michiels", "Martens", "Van Damme",
    "Declercq", "D'Hondt", "Öztürk",
)
LOCATION_KINDS = ("Kinderdagverblijf", "Kinderopvang", "Crèche", "Gezinsopvang", "Kinderopvang")
LOCATION_NAMES = (
    "De Vlinder", "Het Nest", "De Kleine Beer", "Het Zonnetje", "De Speelvogel", "Kabouterland",
    "De Rups", "Het Klavertje", "De Regenboog", "Pimpampoentje", "De Egeltjes", "Het Bijenkorfje",
    "De Teddybeer", "Ukkepuk", "De Kleine Prins", "Het Wolkje", "De Zeepbel", "De Boomhut",
    "Het Kuikentje", "De Lieveheersbeestjes", "Dikkie Dik", "De Zandbak", "Het Molentje",
    "De Knuffelbeer", "Sterrenpad", "De Appelboom", "Het Kasteeltje", "De Pluimpjes",
)
REFUSE_REASONS = (
    "te ver", "startdatum past niet", "te weinig dagen", "prijs te hoog",
    "andere opvang gevonden", "openingsuren passen niet",
)
WITHDRAW_PROPOSAL_REASONS = (
    "plaats niet meer beschikbaar", "locatie kan niet starten", "fout in aanbod",
)
CANCEL_REASONS = (
    "locatie gesloten", "gezin verhuisd", "opvang stopgezet door de ouders",
    "opvang stopgezet door de locatie",
)
WITHDRAW_REASONS = (
    "geen opvang meer nodig", "verhuisd buiten het werkingsgebied", "geen antwoord van het gezin",
    "kind gaat naar school", "ouder blijft thuis",
)
REOPEN_REASONS = (
    "gezin zoekt opnieuw opvang", "opvang elders viel weg", "gezin nam opnieuw contact op",
)
VOID_REASONS = ("testregistratie", "dubbele registratie", "verkeerd dossier aangemaakt")
NOTES = (
    "ouders bellen liefst na 17 uur", "broer of zus al in opvang", "aanvraag via Huis van het Kind",
    "ouder start nieuwe job", "graag opvang dicht bij het station", "inschrijving op papier",
)


def photo_moment(year: int) -> dt.datetime:
    """The default photo moment of reporting year `year`: 00:00 on 1 March of year+1, Brussels."""
    return dt.datetime(year + 1, 3, 1, tzinfo=TZ)


@lru_cache(maxsize=4096)
def month_after(day: dt.date) -> dt.date:
    """One calendar month later (31 January -> 28/29 February)."""
    return day + relativedelta(months=1)


def round_half_up(value: Decimal | float | int) -> int:
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def largest_remainder(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `total` over the keys in proportion to their weights; the parts sum to total.

    Ties in the remainder go to the larger weight, then the smaller key (deterministic).
    """
    wsum = sum(weights.values())
    if total == 0 or wsum == 0:
        return {k: 0 for k in weights}
    parts = {k: total * w // wsum for k, w in weights.items()}
    rest = total - sum(parts.values())
    order = sorted(weights, key=lambda k: (-((total * weights[k]) % wsum), -weights[k], k))
    for k in order[:rest]:
        parts[k] += 1
    return parts


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ı", "i"))
    return "".join(c for c in folded if c.isalnum() and c.isascii()).lower()


def _is_vulnerable(family: dict[str, bool | None]) -> bool:
    keys = ("work_or_training", "single_parent", "low_income", "health_or_care", "low_education")
    return sum(bool(family.get(k)) for k in keys) >= 2 and any(
        family.get(k) for k in ("low_income", "health_or_care", "low_education")
    )


def _is_priority(family: dict[str, bool | None], brussels: bool) -> bool:
    keys = ("work_or_training", "single_parent", "low_income", "foster_family")
    ok = sum(bool(family.get(k)) for k in keys) >= 2
    return ok and (not brussels or bool(family.get("dutch_speaking")))


# --------------------------------------------------------------------------------------------
# Building blocks


@dataclass
class _Step:
    day: dt.date  # the day the loket records it (a weekend is moved to Monday)
    typ: str
    fields: dict[str, Any]
    phase: str  # "pre": before the photo moment; "post": after it; "any"


@dataclass
class _Counted:
    """What a request counted in the photo of `year` is at that photo moment."""

    year: int
    municipality: str
    kind: str
    urgent: bool
    extended: bool
    family: dict[str, bool | None]
    special_care: bool


@dataclass
class _Timeline:
    """Plans the commands of one request with non-decreasing `on` dates and recording days."""

    cap: dt.date  # latest `on` / recording day for this phase
    cur_on: dt.date
    cur_day: dt.date
    phase: str = "pre"
    steps: list[_Step] = field(default_factory=list)

    def on(self, day: dt.date) -> dt.date:
        return max(min(day, self.cap), self.cur_on)

    def add(self, typ: str, fields: dict[str, Any], *, on: dt.date | None = None,
            day: dt.date | None = None, lag: int = 0, same_day: bool = False) -> None:
        if same_day:  # a fact that is never back-dated: its date is the day it is recorded
            on = max(on or day or self.cur_day, self.cur_on, self.cur_day)
            while on.weekday() >= 5:
                on += dt.timedelta(days=1)
            self.cur_on = self.cur_day = on
            self.steps.append(_Step(on, typ, {**fields, "on": on.isoformat()}, self.phase))
            return
        if on is not None:
            on = self.on(on)
            fields = {**fields, "on": on.isoformat()}
            rec = max(on + dt.timedelta(days=lag), self.cur_day)
            self.cur_on = on
        else:
            rec = max(min(day or self.cur_day, self.cap), self.cur_day)
        self.cur_day = rec
        self.steps.append(_Step(rec, typ, fields, self.phase))

    def after_photo(self, year: int, first_day: dt.date, cap: dt.date) -> None:
        """From now on the commands are recorded after the photo moment of `year`."""
        self.phase = "post"
        self.cap = cap
        self.cur_day = max(self.cur_day, first_day)


class _Generator:
    def __init__(self, seed: int, horizon: dt.date, *, flanders: bool,
                 area: Sequence[str], reporting_years: Sequence[int]) -> None:
        self.rng = random.Random(seed)
        self.horizon = horizon
        self.flanders = flanders
        self.area = tuple(area)
        self.reporting_years = tuple(reporting_years)
        self.mun = municipalities_2020()
        self.numbers = NationalNumbers()
        self.lines: list[tuple[dt.datetime, int, str, str, dict[str, Any]]] = []
        self.counted: list[_Counted] = []
        self._tmp = 0
        self._locations: dict[str, list[str]] = {}
        self._workers: dict[str, list[str]] = {}
        by_province: dict[str, list[str]] = {}
        for nis, m in sorted(self.mun.items()):
            if m.region in (FLEMISH_REGION, BRUSSELS_REGION):
                by_province.setdefault(m.province, []).append(nis)
        self.by_province = by_province
        self._loket_workers = [
            f"{_ascii(self.rng.choice(FIRST_NAMES))}.{_ascii(self.rng.choice(LAST_NAMES))}"
            for _ in range(5)
        ]

    # -- small pickers ------------------------------------------------------------------------

    def worker(self, nis: str) -> str:
        if not self.flanders:
            return self.rng.choice(self._loket_workers)
        ws = self._workers.get(nis)
        if ws is None:
            ws = [f"medewerker{k}.{nis}" for k in range(1, 3)]
            self._workers[nis] = ws
        return self.rng.choice(ws)

    def location(self, nis: str) -> str:
        """A location in the municipality: its name (Flanders), or the reference of a registered
        location (the loket's demo registers its locations, with free places over time)."""
        names = self._locations.get(nis)
        if names is None:
            r = random.Random(f"loc-{nis}-{self.rng.random()}")
            count = min(12, 2 + self.mun[nis].population // 15000)
            seen: list[str] = []
            while len(seen) < count:
                name = f"{r.choice(LOCATION_KINDS)} {r.choice(LOCATION_NAMES)}"
                if name not in seen:
                    seen.append(name)
            names = self._locations[nis] = seen
        name = self.rng.choice(names)
        if self.flanders:
            return name
        return f"L-{nis}-{names.index(name) + 1:02d}"

    def location_lines(self, first: dt.datetime, last: dt.datetime) -> list[tuple[dt.datetime, str, dict[str, Any]]]:
        """register_location for every location of the loket, and its free places each quarter.

        Drawn from a generator of their own, so the requests (and the figures) stay the same."""
        r = random.Random("locations")
        proposed: dict[str, int] = {}
        for line in self.lines:
            if line[3] == "propose":
                proposed[line[4]["location"]] = proposed.get(line[4]["location"], 0) + 1
        out: list[tuple[dt.datetime, str, dict[str, Any]]] = []
        at = first - dt.timedelta(hours=2)
        for nis in sorted(self._locations):
            for k, name in enumerate(self._locations[nis], start=1):
                ref = f"L-{nis}-{k:02d}"
                at += dt.timedelta(seconds=30)
                hours = sorted(h for h in ("early", "late", "weekend") if r.random() < 0.2)
                out.append((at, "register_location", {"location": ref, "name": name,
                                                      "organizer": f"vzw {name.split(' ', 1)[1]}",
                                                      "municipality": nis,
                                                      "capacity": _capacity(r.choice((9, 14, 18, 28, 36)),
                                                                            proposed.get(ref, 0)),
                                                      "hours": hours}))
                quarter = dt.date(first.year, 1, 1)
                while quarter <= last.date():
                    when = dt.datetime.combine(quarter, dt.time(7, r.randint(0, 59)), tzinfo=TZ)
                    if first <= when <= last:
                        out.append((when, "report_free_places", {
                            "location": ref, "from": (quarter + dt.timedelta(days=r.randint(0, 60))).isoformat(),
                            "places": r.choice((0, 0, 1, 1, 2, 3)), "days_per_week": r.choice((3, 4, 5))}))
                    quarter = dt.date(quarter.year + quarter.month // 10, (quarter.month + 2) % 12 + 1, 1)
        return out

    def other_municipality(self, nis: str, *, same_province: bool = True) -> str:
        if self.area and len(self.area) > 1 and not self.flanders:
            return self.rng.choice([a for a in self.area if a != nis])
        prov = self.mun[nis].province
        if same_province:
            pool = [n for n in self.by_province[prov] if n != nis]
        else:
            pool = [n for p, ns in self.by_province.items() if p != prov for n in ns]
        return self.rng.choice(pool)

    def elsewhere_municipality(self, nis: str) -> str:
        prov = self.mun[nis].province
        pool = [n for n in self.by_province[prov] if n != nis and n not in self.area]
        return self.rng.choice(pool)

    def tri(self, p_true: float, p_false: float) -> bool | None:
        u = self.rng.random()
        return True if u < p_true else False if u < p_true + p_false else None

    def family(self, brussels: bool) -> dict[str, bool | None]:
        fam = {
            "work_or_training": self.tri(0.86, 0.09),
            "single_parent": self.tri(0.11, 0.82),
            "low_income": self.tri(0.14, 0.70),
            "foster_family": self.tri(0.01, 0.92),
            "health_or_care": self.tri(0.05, 0.82),
            "low_education": self.tri(0.10, 0.72),
            "dutch_speaking": self.tri(0.60, 0.30) if brussels else self.tri(0.86, 0.08),
        }
        if self.rng.random() < 0.25:  # a partial form: unknown answers left out
            fam = {k: v for k, v in fam.items() if v is not None}
        return fam

    def contact(self) -> dict[str, str]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        r = self.rng
        c = {
            "name": f"{first} {last}",
            "phone": f"04{r.choice('6789')}{r.randint(0, 9)} {r.randint(0, 99):02d} "
            f"{r.randint(0, 99):02d} {r.randint(0, 99):02d}",
        }
        if r.random() < 0.4:
            c["email"] = f"{_ascii(first)}.{_ascii(last)}{r.randint(1, 99)}@example.be"
        return c

    def days(self) -> float:
        return self.rng.choices(DAYS_CHOICES, DAYS_WEIGHTS)[0]

    def hours(self) -> list[str]:
        if self.rng.random() >= 0.11:
            return []
        k = 1 if self.rng.random() < 0.7 else 2
        chosen = set(self.rng.sample(HOURS, k))
        return [h for h in HOURS if h in chosen]

    def desired_start(self, year: int) -> dt.date:
        month = self.rng.choices(range(1, 13), MONTH_WEIGHTS)[0]
        last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
        day = 1 if self.rng.random() < 0.45 else self.rng.randint(1, last)
        return dt.date(year, month, day)

    def between(self, lo: dt.date, hi: dt.date) -> dt.date:
        if hi <= lo:
            return lo
        return lo + dt.timedelta(days=self.rng.randint(0, (hi - lo).days))

    def at(self, day: dt.date) -> dt.datetime:
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        minute = self.rng.randint(8 * 60 + 30, 17 * 60 + 45)
        local = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=TZ)
        return local.astimezone(UTC)

    # -- one request --------------------------------------------------------------------------

    def request(
        self,
        *,
        year: int,
        nis: str,
        kind: str,
        counted: bool = True,
        twin: dict[str, Any] | None = None,
        care_type: str = "baby_toddler",
        registered_after_photo: bool = False,
        void: bool = False,
        typo_corrected_after_photo: bool = False,
        wish_into: int | None = None,
        noise_rate: float = 0.07,
        decor_rate: float = 1.0,
    ) -> dict[str, Any]:
        """Plan and emit one request; returns its base (for a twin)."""
        r = self.rng
        photo = photo_moment(year)
        photo_day = photo.date()
        pre_cap = min(dt.date(year + 1, 2, 10), self.horizon)
        brussels = self.mun[nis].region == BRUSSELS_REGION

        if twin is not None:
            base = dict(twin)
        else:
            base = self._base(year, nis, care_type, registered_after_photo,
                              reg_cap=None if counted else self.horizon - dt.timedelta(days=30))
        R: dt.date = base["request_date"]
        D: dt.date = base["desired_start"]
        days: float = base["days"]
        hours: list[str] = base["hours"]
        family = dict(base["family"])
        special = base["special_care"]

        reg_muni = nis
        move_to = None
        own = twin is None and counted  # decorations only on a counted request of its own
        if (own and not registered_after_photo and r.random() < 0.012 * decor_rate
                and (len(self.area) > 1 or self.flanders) and (D - R).days > 60):
            reg_muni = self.other_municipality(nis)
            move_to = nis
        typo = own and r.random() < 0.01 * decor_rate and (D - R).days > 40
        wrong_days = own and r.random() < 0.005 * decor_rate and (D - R).days > 40

        tmp = self._tmp
        self._tmp += 1
        by = self.worker(nis)
        first_day = base["reg_day"]
        cap = pre_cap if counted and not registered_after_photo else self.horizon
        tl = _Timeline(cap=max(cap, first_day), cur_on=R, cur_day=first_day,
                       phase="pre" if counted and not registered_after_photo else "any")
        if registered_after_photo:
            tl.phase = "post"

        reg_desired = D
        if typo:
            reg_desired = D.replace(year=D.year + 1) if not (D.month == 2 and D.day == 29) else D
        if typo_corrected_after_photo:
            reg_desired = D.replace(year=year + 1) if not (D.month == 2 and D.day == 29) else \
                dt.date(year + 1, 2, 28)
        reg_days = days
        if wrong_days:
            reg_days = 7 if days != 7 else 5
        register: dict[str, Any] = {
            "request_date": R.isoformat(),
            "desired_start": reg_desired.isoformat(),
            "days_per_week": _num(reg_days),
            "hours": hours,
            "municipality": reg_muni,
            "child": base["child"],
            "family": dict(family),
            "special_care": special,
            "consent": base["consent"],
            "contact": base["contact"],
        }
        if base.get("intake"):
            register["intake"] = base["intake"]
        if base.get("notes"):
            register["notes"] = base["notes"]
        if care_type != "baby_toddler":
            register["care_type"] = care_type
        tl.steps.append(_Step(first_day, "register", register, tl.phase))

        # Decorations right after the registration (before any proposal).
        room = max(0, min(30, (D - R).days - 40))

        def soon() -> dt.date:
            return R + dt.timedelta(days=r.randint(0, room))

        if typo:
            tl.add("correct_registration",
                   {"desired_start": D.isoformat(), "reason": "tikfout jaartal"}, day=first_day)
        if wrong_days:
            tl.add("correct_registration",
                   {"days_per_week": _num(days), "reason": "verkeerd aantal dagen ingegeven"},
                   day=soon())
        if counted and r.random() < 0.008 * decor_rate:
            tl.add("correct_registration",
                   {"contact": self.contact() | {"name": base["contact"]["name"]},
                    "reason": "telefoonnummer verbeterd"}, day=soon())
        if move_to is not None:
            tl.add("move", {"municipality": move_to}, on=soon(), lag=r.randint(0, 3))
        if counted and r.random() < 0.01 * decor_rate and room > 0 and care_type == "baby_toddler":
            tl.add("withdraw", {"reason": "geen antwoord van het gezin"}, on=soon())
            tl.add("reopen", {"reason": "gezin nam opnieuw contact op"}, on=soon())
        if r.random() < 0.04 * decor_rate:
            change = self._family_change(family, brussels)
            upd: dict[str, Any] = {"family": change}
            family.update(change)
            if r.random() < 0.2:
                special = not special
                upd["special_care"] = special
            tl.add("update_family", upd, day=soon())
        if r.random() < 0.02 * decor_rate:
            tl.add("change_consent", {"consent": not base["consent"]}, on=soon(), same_day=True)
        wish_start = None
        if wish_into is not None:
            wish_start = self.between(dt.date(wish_into, 1, 1), dt.date(wish_into, 3, 31))
            tl.add("change_wish", {"desired_start": wish_start.isoformat()}, day=soon())
        elif counted and r.random() < 0.035 * decor_rate and kind not in (LATE, FEWER_DAYS):
            wish: dict[str, Any] = {}
            u = r.random()
            if u < 0.5:
                wish["desired_start"] = (D + dt.timedelta(days=r.randint(1, 90))).isoformat()
            elif u < 0.8:
                wish["days_per_week"] = _num(max(0.5, days - 0.5) if days > 1 else days + 1)
            else:
                wish["hours"] = [h for h in HOURS if h in set(hours) ^ {"early"}]
            tl.add("change_wish", wish, day=soon())

        # Unborn child: the birth, recorded a few days after.
        born_step = None
        if "expected_birth" in base["child"] and base.get("birth") is not None and not void:
            B = base["birth"]
            if B + dt.timedelta(days=10) <= self.horizon and r.random() < 0.85:
                born_step = (B, base["born_number"])

        # The outcome.
        placement = self._outcome(tl, kind, R, D, days, hours, nis, care_type)
        if void:
            tl.add("void", {"reason": r.choice(VOID_REASONS)}, day=tl.cur_day + dt.timedelta(
                days=r.randint(0, 20)))

        if born_step is not None:
            B, number = born_step
            rec = B + dt.timedelta(days=r.randint(1, 6))
            step = _Step(rec, "child_born", {"national_number": number, "on": B.isoformat()},
                         "any")
            idx = next((i for i, s in enumerate(tl.steps) if i > 0 and s.day > rec),
                       len(tl.steps))
            tl.steps.insert(idx, step)

        # Noise after the photo moment.
        post_allowed = (counted and not registered_after_photo and not void
                        and dt.date(year + 1, 3, 20) < self.horizon)
        if post_allowed and r.random() < noise_rate:
            first_post = photo_day + dt.timedelta(days=r.randint(1, 60))
            first_post = min(first_post, self.horizon - dt.timedelta(days=40))
            tl.after_photo(year, first_post, self.horizon)
            self._after_photo(tl, kind, R, D, days, nis, year, placement, family, brussels)
        if typo_corrected_after_photo:
            first_post = photo_day + dt.timedelta(days=r.randint(1, 30))
            tl.after_photo(year, first_post, self.horizon)
            tl.add("correct_registration",
                   {"desired_start": D.isoformat(), "reason": "tikfout jaartal"}, day=first_post)

        self._emit(tmp, by, tl.steps, photo)

        if counted and care_type == "baby_toddler" and not void and not registered_after_photo \
                and not typo_corrected_after_photo:
            urgent = D <= month_after(R)
            self.counted.append(
                _Counted(year, nis, kind, urgent, bool(hours), family, special)
            )
        return base

    def _base(self, year: int, nis: str, care_type: str, late_after_photo: bool,
              reg_cap: dt.date | None = None) -> dict[str, Any]:
        r = self.rng
        brussels = self.mun[nis].region == BRUSSELS_REGION
        D = self.desired_start(year)
        reg_cap = min(dt.date(year + 1, 1, 31), reg_cap or dt.date.max)
        u = r.random()
        late = False
        if late_after_photo:
            R = self.between(dt.date(year + 1, 3, 2), min(dt.date(year + 1, 4, 30),
                                                          self.horizon - dt.timedelta(days=30)))
            D = self.between(dt.date(year, 10, 1), dt.date(year, 12, 31))
            late = True
        elif u < 0.02:
            R = D + dt.timedelta(days=r.randint(1, 14))
            late = True
        elif u < 0.14:
            R = D - dt.timedelta(days=r.randint(0, 30))
        elif u < 0.60:
            R = D - dt.timedelta(days=r.randint(31, 182))
        elif u < 0.93:
            R = D - dt.timedelta(days=r.randint(183, 365))
        else:
            R = D - dt.timedelta(days=r.randint(366, 480))
        if not late_after_photo:
            R = min(R, reg_cap)
            if R > D:
                late = True
        reg_day = R if r.random() < 0.88 else R + dt.timedelta(days=r.randint(1, 10))

        base: dict[str, Any] = {
            "request_date": R,
            "desired_start": D,
            "reg_day": reg_day,
            "days": self.days() if care_type == "baby_toddler" else r.choice((1, 2, 2.5, 3)),
            "hours": self.hours(),
            "family": self.family(brussels),
            "special_care": r.random() < 0.03,
            "consent": r.random() < 0.9,
            "contact": self.contact(),
            "birth": None,
        }
        if r.random() < 0.12:
            where = self.area and r.choice(self.area) or nis
            base["intake"] = f"Huis van het Kind {self.mun[where].name}"
        if r.random() < 0.05:
            base["notes"] = r.choice(NOTES)

        if care_type == "out_of_school":
            B = self.between(max(dt.date(2019, 1, 1), dt.date(year - 6, 1, 1)),
                             dt.date(year - 4, 6, 30))
            base["child"] = {"national_number": self.numbers.new(B)}
            base["birth"] = B
        elif not late and (D - R).days >= 150 and r.random() < 0.5:
            E = R + dt.timedelta(days=r.randint(14, (D - R).days - 75))
            parent_birth = self.between(dt.date(1975, 1, 1), dt.date(2000, 12, 31))
            parent = self.numbers.new(parent_birth)
            base["child"] = {"expected_birth": E.isoformat(), "parent_national_number": parent}
            B = E + dt.timedelta(days=r.randint(-14, 7))
            B = min(max(B, R + dt.timedelta(days=1)), D - dt.timedelta(days=30))
            base["birth"] = B
            base["born_number"] = self.numbers.new(B)
        else:
            lo = max(D - dt.timedelta(days=900), dt.date(2019, 1, 1))
            hi = min(R - dt.timedelta(days=3), D - dt.timedelta(days=42))
            if lo > hi:
                lo = hi - dt.timedelta(days=30)
            B = self.between(lo, hi)
            base["child"] = {"national_number": self.numbers.new(B)}
            base["birth"] = B
        return base

    def twin_of(self, base: dict[str, Any]) -> dict[str, Any]:
        twin = dict(base)
        twin["contact"] = base["contact"]
        child = dict(base["child"])
        if "expected_birth" in child:
            child["birth_order"] = 2
            twin["born_number"] = self.numbers.new(base["birth"])
        else:
            child = {"national_number": self.numbers.new(base["birth"])}
        twin["child"] = child
        return twin

    def _family_change(self, family: dict[str, bool | None], brussels: bool) -> dict[str, Any]:
        keys = ["single_parent", "low_income", "health_or_care", "low_education",
                "work_or_training"]
        k = self.rng.sample(keys, self.rng.choice((1, 1, 2)))
        change = {key: not bool(family.get(key)) for key in k}
        if brussels and self.rng.random() < 0.3:
            change["dutch_speaking"] = True
        return change

    def _proposal_on(self, tl: _Timeline, R: dt.date, D: dt.date) -> dt.date:
        r = self.rng
        if R >= D:
            p = R + dt.timedelta(days=r.randint(1, 7))
        else:
            p = max(D - dt.timedelta(days=r.randint(7, 120)),
                    R + dt.timedelta(days=r.randint(1, 10)))
        return tl.on(p)

    def _propose(self, tl: _Timeline, nis: str, ref: str, on: dt.date, start: dt.date,
                 days: float, hours: list[str]) -> None:
        fields: dict[str, Any] = {
            "proposal": ref,
            "location": self.location(nis),
            "start": start.isoformat(),
            "days_per_week": _num(days),
        }
        if hours:
            offered = [h for h in hours if self.rng.random() < 0.8]
            if offered:
                fields["hours"] = offered
        tl.add("propose", fields, on=on, lag=self.rng.choice((0, 0, 0, 1, 2, 5)))

    def _outcome(self, tl: _Timeline, kind: str, R: dt.date, D: dt.date, days: float,
                 hours: list[str], nis: str, care_type: str) -> dict[str, Any] | None:
        """The commands that make the request `kind` at the photo; returns the placement."""
        r = self.rng
        lag = lambda: r.choice((0, 0, 0, 0, 1, 1, 3, 7))  # noqa: E731
        tl.proposals = 0  # type: ignore[attr-defined]

        def next_ref() -> str:
            tl.proposals += 1  # type: ignore[attr-defined]
            return f"P{tl.proposals}"  # type: ignore[attr-defined]

        def as_asked_start(on: dt.date) -> dt.date:
            s = D if on <= D else on + dt.timedelta(days=1)
            if r.random() < 0.1:
                s = s + dt.timedelta(days=r.randint(1, 10))
            if s >= month_after(D):
                s = D
            return s

        def refused_once() -> None:
            on = self._proposal_on(tl, R, D)
            ref = next_ref()
            start = D if r.random() < 0.6 else month_after(D) + dt.timedelta(days=r.randint(0, 40))
            self._propose(tl, nis, ref, on, start, days, hours)
            tl.add("refuse", {"proposal": ref, "reason": r.choice(REFUSE_REASONS)},
                   on=on + dt.timedelta(days=r.randint(1, 12)), lag=lag())

        if kind == NO_PROPOSAL:
            return None
        if kind == PENDING:
            on = tl.on(max(R + dt.timedelta(days=1), tl.cap - dt.timedelta(days=r.randint(0, 60))))
            self._propose(tl, nis, next_ref(), on, max(D, on + dt.timedelta(days=14)), days, hours)
            return None
        if kind == REFUSED:
            refused_once()
            if r.random() < 0.12:
                refused_once()
            return None
        if kind == PROPOSAL_WITHDRAWN:
            on = self._proposal_on(tl, R, D)
            ref = next_ref()
            self._propose(tl, nis, ref, on, as_asked_start(on), days, hours)
            tl.add("withdraw_proposal",
                   {"proposal": ref, "reason": r.choice(WITHDRAW_PROPOSAL_REASONS)},
                   on=on + dt.timedelta(days=r.randint(2, 20)), lag=lag())
            return None
        if kind == CANCELLED:
            on = self._proposal_on(tl, R, D)
            ref = next_ref()
            start = as_asked_start(on)
            self._propose(tl, nis, ref, on, start, days, hours)
            acc = on + dt.timedelta(days=r.randint(1, 10))
            tl.add("accept", {"proposal": ref}, on=acc, lag=lag())
            tl.add("cancel_placement", {"reason": r.choice(CANCEL_REASONS)},
                   on=max(acc, start) + dt.timedelta(days=r.randint(5, 90)), lag=lag())
            if r.random() < 0.25:
                on2 = tl.on(tl.cur_on + dt.timedelta(days=r.randint(3, 30)))
                self._propose(tl, nis, next_ref(), on2, on2 + dt.timedelta(days=14), days, hours)
            return None
        if kind in (LATE, FEWER_DAYS, AS_ASKED, CANCELLED):
            if kind == AS_ASKED and r.random() < 0.1:
                refused_once()
            on = self._proposal_on(tl, R, D)
            ref = next_ref()
            p_days = days
            accept: dict[str, Any] = {"proposal": ref}
            if kind == AS_ASKED:
                start = as_asked_start(on)
                if r.random() < 0.05 and days < 7:
                    p_days = days + 0.5
                act_start, act_days = start, p_days
                if r.random() < 0.05:
                    act_start = start + dt.timedelta(days=r.randint(1, 5))
                    if act_start < month_after(D):
                        accept["start"] = act_start.isoformat()
                    else:
                        act_start = start
            elif kind == LATE:
                base = month_after(D)
                start = base if r.random() < 0.1 else base + dt.timedelta(days=r.randint(1, 75))
                start = max(start, on + dt.timedelta(days=1))
                if r.random() < 0.2:
                    tl.add("change_wish", {"desired_start": start.isoformat()},
                           day=tl.cur_day)  # the family asked for the later start itself
                act_start, act_days = start, p_days
            else:  # FEWER_DAYS
                start = as_asked_start(on)
                cut = r.choice((0.5, 1, 1, 1, 2))
                smaller = max(0.5, days - cut)
                if r.random() < 0.2:
                    accept["days_per_week"] = _num(smaller)
                else:
                    p_days = smaller
                act_start, act_days = start, smaller
            self._propose(tl, nis, ref, on, start, p_days, hours)
            tl.add("accept", accept, on=on + dt.timedelta(days=r.randint(1, 14)), lag=lag())
            if kind == AS_ASKED:
                assert act_start < month_after(D) and act_days >= days
            elif kind == LATE:
                assert act_start >= month_after(D)
            else:
                assert act_days < days
            return {"ref": ref, "start": act_start, "days": act_days}
        if kind == ELSEWHERE:
            if r.random() < 0.2:
                refused_once()
            tl.add("solve_elsewhere", {"municipality": self.elsewhere_municipality(nis)},
                   on=R + dt.timedelta(days=r.randint(14, 200)), lag=lag())
            return None
        if kind == WITHDRAWN:
            if r.random() < 0.15:
                refused_once()
            elif r.random() < 0.1:
                on = self._proposal_on(tl, R, D)
                self._propose(tl, nis, next_ref(), on, as_asked_start(on), days, hours)
            tl.add("withdraw", {"reason": r.choice(WITHDRAW_REASONS)},
                   on=R + dt.timedelta(days=r.randint(10, 200)), lag=lag())
            return None
        raise ValueError(kind)

    def _after_photo(self, tl: _Timeline, kind: str, R: dt.date, D: dt.date, days: float,
                     nis: str, year: int, placement: dict[str, Any] | None,
                     family: dict[str, bool | None], brussels: bool) -> None:
        """Commands recorded after the photo moment that would change the photo if counted."""
        r = self.rng
        photo_day = photo_moment(year).date()
        # A fact back-dated to before the photo moment but recorded after it.
        back = tl.on(photo_day - dt.timedelta(days=r.randint(1, 12)))
        on = back if r.random() < 0.4 else tl.cur_day
        n = getattr(tl, "proposals", 0)
        u = r.random()
        if u < 0.12 and (self.flanders or len(self.area) > 1):
            other = self.other_municipality(nis, same_province=False)
            tl.add("move", {"municipality": other}, on=on)
            return
        if u < 0.2:
            change = self._family_change(family, brussels)
            tl.add("update_family", {"family": change, "special_care": True}, day=tl.cur_day)
            return
        if kind == NO_PROPOSAL or kind == REFUSED or kind == CANCELLED:
            ref = f"P{n + 1}"
            self._propose(tl, nis, ref, on, max(D, on), days, [])
            tl.add("accept", {"proposal": ref}, on=on + dt.timedelta(days=r.randint(0, 5)))
        elif kind == PENDING:
            tl.add("accept", {"proposal": f"P{n}"}, on=on)
        elif kind == PROPOSAL_WITHDRAWN:
            tl.add("solve_elsewhere", {"municipality": self.elsewhere_municipality(nis)}, on=on)
        elif kind == LATE and placement is not None:
            s = placement["start"]
            if s.year == year or (year + 1) not in self.reporting_years:
                tl.add("correct_registration",
                       {"desired_start": s.isoformat(), "reason": "startdatum verkeerd ingegeven"},
                       day=tl.cur_day)
            else:
                tl.add("void", {"reason": "dubbele registratie"}, day=tl.cur_day)
        elif kind == FEWER_DAYS and placement is not None:
            tl.add("correct_registration",
                   {"days_per_week": _num(placement["days"]),
                    "reason": "verkeerd aantal dagen ingegeven"}, day=tl.cur_day)
        elif kind == AS_ASKED:
            tl.add("cancel_placement", {"reason": "locatie gesloten"}, on=on)
        elif kind in (ELSEWHERE, WITHDRAWN):
            tl.add("reopen", {"reason": r.choice(REOPEN_REASONS)}, on=on)

    def _emit(self, tmp: int, by: str, steps: list[_Step], photo: dt.datetime) -> None:
        photo_utc = photo.astimezone(UTC)
        last: dt.datetime | None = None
        for s in steps:
            at = self.at(s.day)
            if last is not None and at <= last:
                at = last + dt.timedelta(minutes=self.rng.randint(2, 25))
            if s.phase == "post" and at <= photo_utc:
                raise AssertionError(f"post-photo command {s.typ} recorded before the photo")
            if s.phase == "pre" and at >= photo_utc:
                raise AssertionError(f"command {s.typ} meant before the photo recorded after it")
            on = s.fields.get("on")
            if on is not None and on > at.astimezone(TZ).date().isoformat():
                raise AssertionError(f"{s.typ}: 'on' after the recording day")
            if s.typ == "change_consent" and on != at.astimezone(TZ).date().isoformat():
                raise AssertionError("a consent change is recorded on its own date")
            self.lines.append((at, len(self.lines), by, s.typ, {"_tmp": tmp, **s.fields}))
            last = at

    # -- output -------------------------------------------------------------------------------

    def write(self, out: TextIO, ref_style: str) -> int:
        self.lines.sort(key=lambda line: (line[0], line[1]))
        if not self.flanders and self.lines:
            worker = self._loket_workers[0]
            for at, typ, fields in self.location_lines(self.lines[0][0], self.lines[-1][0]):
                self.lines.append((at, -1, worker, typ, {"_tmp": None, **fields}))
            self.lines.sort(key=lambda line: (line[0], line[1]))
        refs: dict[int, str] = {}
        counters: dict[tuple[str, int], int] = {}
        n = 0
        for at, _, by, typ, fields in self.lines:
            tmp = fields.pop("_tmp")
            if tmp is None:  # a location's line
                out.write(json.dumps({"at": at.astimezone(TZ).isoformat(), "by": by, "type": typ, **fields},
                                     ensure_ascii=False) + "\n")
                n += 1
                continue
            if typ == "register":
                local = at.astimezone(TZ)
                key = (fields["municipality"] if ref_style == "nis" else "", local.year)
                counters[key] = counters.get(key, 0) + 1
                if ref_style == "nis":
                    refs[tmp] = f"{key[0]}-{local.year}-{counters[key]:05d}"
                else:
                    refs[tmp] = f"{local.year}-{counters[key]:06d}"
            line = {"at": at.astimezone(TZ).isoformat(), "by": by, "type": typ,
                    "request": refs[tmp], **fields}
            out.write(json.dumps(line, ensure_ascii=False))
            out.write("\n")
            n += 1
        return n


def _capacity(usual: int, proposals: int) -> int:
    """Room for every child the demo places there (placements are not ended by age in the demo)."""
    return max(usual, -(-proposals // 7) * 7)


def _draw_kinds(rng: random.Random, n: int, m: int) -> list[str]:
    """n outcomes of which exactly m unanswered, in random order."""
    kinds = rng.choices(list(UNANSWERED_WEIGHTS), list(UNANSWERED_WEIGHTS.values()), k=m)
    kinds += rng.choices(list(ANSWERED_WEIGHTS), list(ANSWERED_WEIGHTS.values()), k=n - m)
    rng.shuffle(kinds)
    return kinds


def _requests_for(gen: _Generator, year: int, nis: str, kinds: list[str], *,
                  noise: bool = True, noise_rate: float = 0.07) -> None:
    """The counted requests of one municipality for one year, with twins and noise."""
    r = gen.rng
    i = 0
    while i < len(kinds):
        base = gen.request(year=year, nis=nis, kind=kinds[i], noise_rate=noise_rate)
        i += 1
        if i < len(kinds) and r.random() < 0.012:
            gen.request(year=year, nis=nis, kind=kinds[i], twin=gen.twin_of(base),
                        noise_rate=noise_rate)
            i += 1
        if not noise:
            continue
        u = r.random()
        if u < 0.004:
            gen.request(year=year, nis=nis, kind=r.choice(ALL_KINDS), void=True)
        elif u < 0.007:
            gen.request(year=year, nis=nis, kind=r.choice((NO_PROPOSAL, AS_ASKED, WITHDRAWN)),
                        counted=False, care_type="out_of_school")
        elif u < 0.012 and dt.date(year + 1, 4, 30) < gen.horizon - dt.timedelta(days=30):
            gen.request(year=year, nis=nis, kind=NO_PROPOSAL, counted=False,
                        registered_after_photo=True)
        elif u < 0.014 and dt.date(year + 1, 3, 31) < gen.horizon:
            gen.request(year=year, nis=nis, kind=NO_PROPOSAL, counted=False,
                        typo_corrected_after_photo=True)
        elif u < 0.017 and (year - 1) not in gen.reporting_years:
            # desired start in the year before, with a changed wish into this year
            gen.request(year=year - 1, nis=nis, kind=r.choice(ALL_KINDS), counted=False,
                        wish_into=year)


def _next_year_noise(gen: _Generator, year: int, nis: str, count: int) -> None:
    """Requests with a desired start in year+1 (some with a changed wish into `year`)."""
    for _ in range(count):
        gen.request(year=year + 1, nis=nis, kind=gen.rng.choice((NO_PROPOSAL, NO_PROPOSAL,
                    PENDING, AS_ASKED, REFUSED, WITHDRAWN)), counted=False,
                    wish_into=year if gen.rng.random() < 0.1 else None)


def _figures(counted: list[_Counted], year: int, munis: Sequence[str] | None) -> dict[str, Any]:
    def empty() -> dict[str, int]:
        return {"requests": 0, "unanswered": 0, "no_proposal": 0, "not_accepted": 0,
                "deviating": 0}

    total = empty()
    per: dict[str, dict[str, int]] = {}
    if munis is not None:
        for nis in munis:
            per[successor(nis, year)] = empty()
    cats = {c: {"requests": 0, "unanswered": 0} for c in
            (["urgent", "extended_hours"] + (["priority_group"] if year < 2024 else [])
             + ["vulnerable_family", "special_care"])}
    mun = municipalities_2020()
    for c in counted:
        if c.year != year:
            continue
        key = successor(c.municipality, year)
        reason = REASON[c.kind]
        for bucket in (total, per.setdefault(key, empty())):
            bucket["requests"] += 1
            if reason is not None:
                bucket["unanswered"] += 1
                bucket[reason] += 1
        flags = {
            "urgent": c.urgent,
            "extended_hours": c.extended,
            "priority_group": _is_priority(c.family, mun[c.municipality].region == BRUSSELS_REGION),
            "vulnerable_family": _is_vulnerable(c.family),
            "special_care": c.special_care,
        }
        for cat, bucket in cats.items():
            if flags[cat]:
                bucket["requests"] += 1
                bucket["unanswered"] += reason is not None
    return {"total": total, "categories": cats, "municipalities": dict(sorted(per.items()))}


# --------------------------------------------------------------------------------------------
# Public API


def generate_loket(
    out: TextIO,
    municipalities: Sequence[str] = DEFAULT_LOKET,
    years: Sequence[int] = (2024, 2025),
    seed: int = 1,
    scale: float = 1.0,
) -> dict:
    """Write the history of an inter-municipal loket over `years`; return the expected photos.

    Yearly volume per municipality = population x (published requests per inhabitant of its
    province, 2024 figures for 2024 and later) x scale, +-4% from year to year; the unanswered
    share is the province's published share. The result:
    {"municipalities": [...], "years": [...], "lines": n, "requests": n_registered,
     "photos": {year: {"as_of": iso, "total": {...}, "categories": {...},
                       "municipalities": {nis: {...}}}}}
    with per bucket requests, unanswered, no_proposal, not_accepted, deviating, as the default
    photo of that year must show them.
    """
    mun = municipalities_2020()
    area = [str(n).zfill(5) for n in municipalities]
    unknown = [n for n in area if n not in mun or mun[n].region not in (FLEMISH_REGION,
                                                                        BRUSSELS_REGION)]
    if unknown or not area:
        raise ValueError(f"unknown municipality codes for a loket: {unknown}")
    if len(set(area)) != len(area):
        raise ValueError("municipality codes must be unique")
    years = sorted({int(y) for y in years})
    if not years:
        raise ValueError("at least one year")
    if scale <= 0:
        raise ValueError("scale must be positive")
    horizon = dt.date(years[-1] + 1, 6, 30)
    gen = _Generator(seed, horizon, flanders=False, area=area, reporting_years=years)
    prov_pop: dict[str, int] = {}
    for m in mun.values():
        if m.region in (FLEMISH_REGION, BRUSSELS_REGION):
            prov_pop[m.province] = prov_pop.get(m.province, 0) + m.population
    for year in years:
        pub = PUBLISHED.get(year, PUBLISHED[2024])
        for nis in area:
            m = mun[nis]
            req, unans = pub[m.province]
            wobble = Decimal(gen.rng.randint(-40, 40)) / 1000  # +-4% from year to year
            n = round_half_up(Decimal(m.population) * req / prov_pop[m.province]
                              * Decimal(str(scale)) * (1 + wobble))
            k = round_half_up(Decimal(n) * unans / req)
            _requests_for(gen, year, nis, _draw_kinds(gen.rng, n, k), noise_rate=0.08)
            if year == years[-1]:
                _next_year_noise(gen, year, nis, round_half_up(n * 0.1))
    lines = gen.write(out, "year")
    return {
        "municipalities": area,
        "years": years,
        "lines": lines,
        "requests": gen._tmp,
        "photos": {
            year: {"as_of": photo_moment(year).isoformat(), **_figures(gen.counted, year, area)}
            for year in years
        },
    }


def flanders_targets(year: int = 2024, scale: float = 1.0) -> dict[str, Any]:
    """The exact per-province and per-municipality targets generate_flanders builds."""
    if year not in PUBLISHED:
        raise ValueError(f"no published figures for {year}")
    if scale <= 0:
        raise ValueError("scale must be positive")
    mun = municipalities_2020()
    s = Decimal(str(scale))
    provinces: dict[str, dict[str, int]] = {}
    munis: dict[str, dict[str, int]] = {}
    for prov in PROVINCES:
        req, unans = PUBLISHED[year][prov]
        n = round_half_up(req * s)
        m = min(round_half_up(unans * s), n)
        provinces[prov] = {"requests": n, "unanswered": m}
        codes = {nis: mm.population for nis, mm in sorted(mun.items())
                 if mm.province == prov and mm.region in (FLEMISH_REGION, BRUSSELS_REGION)}
        req_split = largest_remainder(n, codes)
        # Unanswered in proportion to the requests allotted: never more than a municipality's
        # requests (its quota m*n_i/n <= n_i, so even rounded up it stays within).
        unans_split = largest_remainder(m, req_split)
        for nis in codes:
            munis[nis] = {"requests": req_split[nis], "unanswered": unans_split[nis]}
    total = {
        "requests": sum(p["requests"] for p in provinces.values()),
        "unanswered": sum(p["unanswered"] for p in provinces.values()),
    }
    return {"year": year, "provinces": provinces, "total": total,
            "municipalities": dict(sorted(munis.items()))}


def generate_flanders(out: TextIO, year: int = 2024, scale: float = 1.0, seed: int = 1) -> dict:
    """Write a history for every municipality of Flanders and Brussels whose default photo of
    `year` gives exactly the published per-province figures (scaled); return the targets:
    {"year", "provinces": {prov: {"requests", "unanswered"}}, "total": {...},
     "municipalities": {nis: {...}}, "lines": n, "photo_moment": iso,
     "reasons": {"no_proposal", "not_accepted", "deviating"}, "categories": {...}}.
    """
    targets = flanders_targets(year, scale)
    horizon = dt.date(year + 1, 6, 30)
    gen = _Generator(seed, horizon, flanders=True, area=(), reporting_years=(year,))
    for nis, t in targets["municipalities"].items():
        n, m = t["requests"], t["unanswered"]
        _requests_for(gen, year, nis, _draw_kinds(gen.rng, n, m), noise_rate=0.05)
        _next_year_noise(gen, year, nis, round_half_up(n * 0.04))
    lines = gen.write(out, "nis")
    figures = _figures(gen.counted, year, None)
    got = figures["municipalities"]
    for nis, t in targets["municipalities"].items():  # the generator's own bookkeeping
        g = got.get(nis, {"requests": 0, "unanswered": 0})
        if (g["requests"], g["unanswered"]) != (t["requests"], t["unanswered"]):
            raise AssertionError(f"{nis}: built {g}, target {t}")
    total = figures["total"]
    return {
        **targets,
        "lines": lines,
        "photo_moment": photo_moment(year).isoformat(),
        "reasons": {k: total[k] for k in ("no_proposal", "not_accepted", "deviating")},
        "categories": figures["categories"],
    }


__all__ = [
    "DEFAULT_LOKET",
    "PUBLISHED",
    "flanders_targets",
    "generate_flanders",
    "generate_loket",
    "photo_moment",
]
