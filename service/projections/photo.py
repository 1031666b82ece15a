"""The February photo: a pure function of (ordered events, year, moment, rule set).

The photo covers every event up to the highest position whose recorded time is at or
before the moment. It folds the care-request events into request states with the
aggregate's own event handlers, then classifies each request of the year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from service import municipalities
from service.aggregates.care_request import SOLVED_ELSEWHERE, WITHDRAWN, CareRequest
from service.aggregates.categories import deviates
from service.projections.rules import RuleSet

BRUSSELS = ZoneInfo("Europe/Brussels")
COUNTS = ("requests", "unanswered", "no_proposal", "not_accepted", "deviating")
ANSWERED, NO_PROPOSAL, NOT_ACCEPTED, DEVIATING, LAPSED = (
    "answered", "no_proposal", "not_accepted", "deviating", "withdrawn",
)


def default_moment(year: int) -> dt.datetime:
    """00:00 on 1 March of the next year, Europe/Brussels."""
    return dt.datetime(year + 1, 3, 1, tzinfo=BRUSSELS)


def fold(events: Iterable[tuple[int, Any]], as_of: dt.datetime) -> tuple[dict[UUID, CareRequest], int]:
    """Request states as known at `as_of`, and the last position included.

    Events recorded after the moment are held back; if a later position was recorded at or
    before the moment (two writers racing), the held-back ones are included up to it.
    """
    states: dict[UUID, CareRequest] = {}
    held: list[tuple[int, Any]] = []
    position = 0

    def apply(event: Any) -> None:
        states[event.originator_id] = event.mutate(states.get(event.originator_id))

    for pos, event in events:
        if dt.datetime.fromisoformat(event.recorded_at) <= as_of:
            for _, late in held:
                apply(late)
            held.clear()
            apply(event)
            position = pos
        else:
            held.append((pos, event))
    return states, position


def classify(request: CareRequest, rules: RuleSet) -> str:
    """One request's outcome, by the rules of domain.md in their order."""
    if request.status == WITHDRAWN:
        return LAPSED
    if request.placement is not None:
        p = request.placement
        return DEVIATING if deviates(request.desired_start, request.days_per_week, p.start, p.days_per_week) else ANSWERED
    if request.status == SOLVED_ELSEWHERE and rules.solved_elsewhere_is_answered:
        return ANSWERED
    return NOT_ACCEPTED if request.proposals else NO_PROPOSAL


def categories_of(request: CareRequest, municipality: str, rules: RuleSet) -> list[str]:
    """The rows of the report this request counts in, by the year's rule set."""
    derived = request.categories(municipalities.is_brussels(municipality))
    return ["all", *(cat for cat in rules.categories if cat != "all" and derived[cat])]


def empty_figures(rules: RuleSet) -> dict[str, dict[str, int]]:
    return {cat: dict.fromkeys(COUNTS, 0) for cat in rules.categories}


def add(figures: dict[str, dict[str, int]], cats: Sequence[str], outcome: str) -> None:
    for cat in cats:
        c = figures[cat]
        c["requests"] += 1
        if outcome in (NO_PROPOSAL, NOT_ACCEPTED, DEVIATING):
            c["unanswered"] += 1
            c[outcome] += 1


def classified(states: dict[UUID, CareRequest], year: int, rules: RuleSet) -> Iterable[tuple[CareRequest, str, list[str], str]]:
    """(request, municipality for the year, categories, outcome) of each request counted in `year`."""
    for request in states.values():
        if not request.counts_in_figures or request.original_year != year:
            continue
        nis = municipalities.successor(request.municipality, year)
        yield request, nis, categories_of(request, nis, rules), classify(request, rules)


def photo_from_states(
    states: dict[UUID, CareRequest], position: int, year: int, as_of: dt.datetime, rules: RuleSet,
    service_area: Sequence[str] = (),
) -> dict[str, Any]:
    total = empty_figures(rules)
    per_municipality: dict[str, dict[str, dict[str, int]]] = {
        code: empty_figures(rules) for nis in service_area for code in municipalities.valid_in(nis, year)
    }
    for _, nis, cats, outcome in classified(states, year, rules):
        add(total, cats, outcome)
        add(per_municipality.setdefault(nis, empty_figures(rules)), cats, outcome)
    return {
        "year": year,
        "as_of": as_of.isoformat(),
        "position": position,
        "rules": rules.name,
        "rules_description": rules.description,
        "total": total,
        "municipalities": dict(sorted(per_municipality.items())),
    }


def take_photo(
    events: Iterable[tuple[int, Any]], year: int, as_of: dt.datetime, rules: RuleSet,
    service_area: Sequence[str] = (),
) -> dict[str, Any]:
    """The photo of `year` as known at `as_of`, from (position, care-request event) pairs in order."""
    states, position = fold(events, as_of)
    return photo_from_states(states, position, year, as_of, rules, service_area)
