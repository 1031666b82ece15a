"""Matching free places and open requests, both ways, with the reason for every result.

Four criteria, each with what fits and what does not (in Dutch, for the loket worker):
start (free from on or before the start the family needs), days (enough days a week),
hours (every extended hour the family asks is offered) and municipality (the location lies in
the municipality the request is attributed to, under any code before or after a merger).

- For a request: every open location with a free place left, most fitting first (how many of
  start, days and hours fit; then the earliest start; then the family's own municipality; then
  the reference).
- For a location's free places: the open requests in its municipality that the places can
  take (days and hours fit): first those whose start fits too, then the others, each in the order
  of domain.md (priority group and vulnerable families first, then urgent requests, then by
  request date). A start fits unless the place is free a calendar month or more after the
  family needs it (the photo's own rule for a deviating start).

The system proposes; the loket worker decides (a chosen match is recorded as a proposal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from service import municipalities
from service.aggregates.care_request import CareRequest
from service.aggregates.categories import hours_nl, one_month_after
from service.aggregates.location import FreePlaces, Location

CRITERIA = ("start", "days", "hours", "municipality")


@dataclass(frozen=True)
class Criterion:
    fits: bool
    reason: str


@dataclass(frozen=True)
class Match:
    request: CareRequest
    location: Location
    offer: FreePlaces
    criteria: dict[str, Criterion]
    delay_days: int

    @property
    def fits(self) -> bool:
        return all(c.fits for c in self.criteria.values())

    @property
    def fitting(self) -> int:
        return sum(c.fits for c in self.criteria.values())

    @property
    def needs_met(self) -> int:
        """Start, days and hours: what the family needs; the municipality only orders equal ones."""
        return sum(self.criteria[name].fits for name in ("start", "days", "hours"))

    def reasons(self) -> dict[str, dict[str, Any]]:
        return {name: {"fits": c.fits, "reden": c.reason} for name, c in self.criteria.items()}


def _days(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def judge(request: CareRequest, location: Location, offer: FreePlaces, needed_from: dt.date | None = None) -> Match:
    """How one location's free places fit one request (needed from its wish, or from `needed_from`)."""
    need = needed_from or request.wish_start
    delay = (offer.from_date - need).days
    needed = f"nodig vanaf {need.strftime('%d/%m/%Y')}" + (" (vandaag)" if need == today_of(needed_from, request) else "")
    if delay <= 0:
        start = Criterion(True, f"vrij vanaf {offer.from_date.strftime('%d/%m/%Y')}, {needed}")
    elif offer.from_date < one_month_after(need):  # less than a month later: not a deviating start
        start = Criterion(True, f"vrij vanaf {offer.from_date.strftime('%d/%m/%Y')}, {delay} dagen later dan {needed}")
    else:
        start = Criterion(False, f"pas vrij vanaf {offer.from_date.strftime('%d/%m/%Y')}, {delay} dagen na {needed}: "
                                 "een maand of meer later")
    days = (Criterion(True, f"{_days(offer.days_per_week)} dagen per week vrij, {_days(request.wish_days)} gevraagd")
            if offer.days_per_week >= request.wish_days else
            Criterion(False, f"slechts {_days(offer.days_per_week)} van de {_days(request.wish_days)} gevraagde dagen"))
    missing = set(request.wish_hours) - set(offer.hours)
    hours = (Criterion(True, f"gevraagde ruimere uren: {hours_nl(request.wish_hours)}") if not missing else
             Criterion(False, f"niet aangeboden: {hours_nl(missing)}"))
    same = request.municipality in municipalities.related(location.municipality)
    place = municipalities.name(location.municipality)
    where = (Criterion(True, f"in {place}, de gemeente van de vraag") if same else
             Criterion(False, f"in {place}; de vraag hoort bij {municipalities.name(request.municipality)}"))
    return Match(request, location, offer, {"start": start, "days": days, "hours": hours, "municipality": where},
                 max(delay, 0))


def today_of(needed_from: dt.date | None, request: CareRequest) -> dt.date | None:
    """The day a need was moved to because the wished start had passed (None when it had not)."""
    return needed_from if needed_from is not None and needed_from > request.wish_start else None


def open_locations(locations: Iterable[Location], left: Callable[[Location], int]) -> list[tuple[Location, FreePlaces]]:
    """Locations that are open and have a free place left, with their last report."""
    return [(loc, loc.offer) for loc in locations if loc.closed_on is None and loc.offer is not None and left(loc) > 0]


def meets_needs(request: CareRequest, offer: FreePlaces, need: dt.date) -> bool:
    """Start, days and hours all fit (what `judge` decides, without writing its reasons)."""
    return (offer.from_date < one_month_after(need) and offer.days_per_week >= request.wish_days
            and set(request.wish_hours) <= set(offer.hours))


def places_for(request: CareRequest, locations: Iterable[Location], left: Callable[[Location], int],
               needed_from: dt.date | None = None, needs_met_only: bool = False) -> list[Match]:
    """Every open location with a free place left for one request, most fitting first (with `needs_met_only`,
    only those whose start, days and hours all fit)."""
    need = needed_from or request.wish_start
    matches = [judge(request, loc, offer, needed_from) for loc, offer in open_locations(locations, left)
               if not needs_met_only or meets_needs(request, offer, need)]
    return sorted(matches, key=lambda m: (-m.needs_met, m.delay_days, not m.criteria["municipality"].fits,
                                          m.location.reference))


def domain_order(request: CareRequest) -> tuple[bool, bool, dt.date, str]:
    """Priority group and vulnerable families first, then urgent, then by request date."""
    cats = request.categories(municipalities.is_brussels(request.municipality))
    return (not (cats["priority_group"] or cats["vulnerable_family"]), not request.urgent, request.request_date,
            request.reference)


def requests_for(location: Location, requests: Iterable[CareRequest], left: int,
                 today: dt.date | None = None) -> list[Match]:
    """The open requests a location's free places (`left` of them) could answer, in the order of domain.md.

    With `today`, a request is needed from its wish or from today, whichever is later."""
    offer = location.offer
    if location.closed_on is not None or offer is None or left <= 0:
        return []
    matches = [judge(r, location, offer, max(r.wish_start, today) if today else None) for r in requests]
    fitting = [m for m in matches if m.criteria["municipality"].fits and m.criteria["days"].fits
               and m.criteria["hours"].fits]
    return sorted(fitting, key=lambda m: (not m.fits, *domain_order(m.request)))  # those the start fits first


def location_json(loc: Location, left: int) -> dict[str, Any]:
    offer = loc.offer
    free = None if offer is None else {"from": offer.from_date, "places": offer.places, "places_left": left,
                                       "days_per_week": offer.days_per_week, "hours": list(offer.hours)}
    return {"location": loc.reference, "name": loc.name, "organizer": loc.organizer,
            "municipality": loc.municipality, "municipality_name": municipalities.name(loc.municipality),
            "capacity": loc.capacity, "hours": list(loc.hours), "closed_on": loc.closed_on, "free": free}


def request_needs(r: CareRequest) -> dict[str, Any]:
    return {"reference": r.reference, "municipality": r.municipality,
            "municipality_name": municipalities.name(r.municipality), "request_date": r.request_date,
            "desired_start": r.wish_start, "days_per_week": r.wish_days, "hours": list(r.wish_hours),
            "special_care": r.special_care}


def for_request(view: Any, request: CareRequest, today: dt.date) -> dict[str, Any]:
    """A request's needs and every location with a free place left, most fitting first, with reasons
    (needed from the wished start, or from today when that has passed)."""
    need = max(request.wish_start, today)
    places = [{**location_json(m.location, view.places_left(m.location)), "fits": m.fits, "reasons": m.reasons()}
              for m in places_for(request, view.locations.values(), view.places_left, needed_from=need)]
    return {**request_needs(request), "open": request.is_open, "places": places}


def for_location(view: Any, location: Location, loket: bool, today: dt.date) -> dict[str, Any]:
    """A location's free places and the open requests they could answer, in the order of domain.md.

    The loket sees why a family comes first; an organizer only the order."""
    items = []
    for m in requests_for(location, view.open_requests(), view.places_left(location), today):
        item = request_needs(m.request)
        if loket:
            item.update(urgent=m.request.urgent,
                        categories=m.request.categories(municipalities.is_brussels(m.request.municipality)))
        items.append({**item, "fits": m.fits, "reasons": m.reasons()})
    return {**location_json(location, view.places_left(location)), "requests": items}
