"""Properties of the photo over generated histories (hypothesis), through the aggregate's own commands.

- unanswered is the sum of its three buckets, in every category of every place;
- no category counts more than "all" in any column, and the total is the sum of the places;
- events recorded after the moment never change the photo of that moment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.aggregates.care_request import CareRequest
from service.aggregates.errors import DomainError
from service.projections.photo import COUNTS, take_photo
from service.projections.rules import rules_for

BRUSSELS = ZoneInfo("Europe/Brussels")
START = dt.datetime(2024, 6, 1, 9, tzinfo=BRUSSELS)
PLACES = ("24062", "24011", "21004", "44021")  # Leuven, Bierbeek, Brussel, Gent
HOURS = ("early", "late", "weekend", "holiday")
FAMILY = ("work_or_training", "single_parent", "low_income", "foster_family", "health_or_care", "low_education",
          "dutch_speaking")

days = st.integers(1, 14).map(lambda n: n / 2)
dates = st.dates(dt.date(2024, 10, 1), dt.date(2026, 2, 1))
family = st.dictionaries(st.sampled_from(FAMILY), st.sampled_from([True, False, None]), max_size=7)
hours = st.lists(st.sampled_from(HOURS), unique=True, max_size=3)

registration = st.fixed_dictionaries({
    "care_type": st.sampled_from(["baby_toddler", "baby_toddler", "out_of_school"]),
    "desired_start": dates, "days_per_week": days, "hours": hours, "municipality": st.sampled_from(PLACES),
    "family": family, "special_care": st.booleans(),
})
propose = st.tuples(st.just("propose"), st.integers(0, 5), st.fixed_dictionaries({"start": dates, "days_per_week": days,
                                                                                     "hours": hours}))
step = st.one_of(
    propose, propose, propose,  # proposals and answers weigh more: they decide the buckets
    st.tuples(st.sampled_from(["refuse", "withdraw_proposal", "accept"]), st.integers(0, 5), st.integers(0, 4)),
    st.tuples(st.just("accept_other"), st.integers(0, 5), st.fixed_dictionaries({"start": dates, "days_per_week": days})),
    st.tuples(st.just("accept_other"), st.integers(0, 5), st.fixed_dictionaries({"start": dates, "days_per_week": days})),
    st.tuples(st.sampled_from(["cancel_placement", "withdraw", "reopen", "void"]), st.integers(0, 5), st.none()),
    st.tuples(st.just("solve_elsewhere"), st.integers(0, 5), st.sampled_from(PLACES)),
    st.tuples(st.just("change_wish"), st.integers(0, 5), st.fixed_dictionaries({"desired_start": dates, "days_per_week": days})),
    st.tuples(st.just("update_family"), st.integers(0, 5), family),
    st.tuples(st.just("move"), st.integers(0, 5), st.sampled_from(PLACES)),
    st.tuples(st.just("correct"), st.integers(0, 5), st.fixed_dictionaries({"desired_start": dates})),
)
history = st.tuples(st.lists(registration, min_size=1, max_size=6),
                    st.lists(st.tuples(step, st.integers(1, 60 * 24 * 20)), max_size=40))


def _events(registrations: list[dict[str, Any]], steps: list[tuple[tuple, int]]) -> list[tuple[int, Any]]:
    """(position, event) of a history, each command applied by the aggregate (refused ones leave nothing)."""
    moment = START
    requests: list[CareRequest] = []
    recorded: list[Any] = []
    meta = lambda: {"recorded_at": moment.isoformat(), "by": "anna"}  # noqa: E731
    for i, fields in enumerate(registrations):
        moment += dt.timedelta(minutes=1)
        request = CareRequest.register(reference=f"R{i}", request_date=moment.date(), child_kind="born", consent=True,
                                       intake=None, key_id="k", personal="", child_indexes=[], **fields, **meta())
        requests.append(request)
        recorded += request.collect_events()
    for (kind, which, arg), minutes in steps:
        moment += dt.timedelta(minutes=minutes)
        r = requests[which % len(requests)]
        on = moment.date()
        proposal = f"P{arg}" if isinstance(arg, int) else None
        try:
            if kind == "propose":
                r.propose(proposal=f"P{len(r.proposals)}", location="Het Nest", location_ref=None, on=on, **arg, **meta())
            elif kind in ("refuse", "withdraw_proposal"):
                getattr(r, kind)(proposal=proposal, on=on, reason="x", **meta())
            elif kind == "accept":
                r.accept(proposal=proposal, on=on, start=None, days_per_week=None, **meta())
            elif kind == "accept_other":
                r.accept(proposal=f"P{len(r.proposals) - 1}", on=on, **arg, **meta())
            elif kind in ("cancel_placement", "withdraw", "reopen"):
                getattr(r, kind)(on=on, reason="x", **meta())
            elif kind == "void":
                r.void(reason="registered in error", **meta())
            elif kind == "solve_elsewhere":
                r.solve_elsewhere(municipality=arg, on=on, **meta())
            elif kind == "change_wish":
                r.change_wish(hours=None, **arg, **meta())
            elif kind == "update_family":
                r.update_family(family=arg, special_care=None, **meta())
            elif kind == "move":
                r.move(municipality=arg, on=on, **meta())
            elif kind == "correct":
                r.correct_registration(changes=arg, personal=None, reason="typfout", **meta())
        except DomainError:
            pass
        recorded += r.collect_events()
    return list(enumerate(recorded, start=1))


def _places(photo: dict[str, Any]) -> list[dict[str, dict[str, int]]]:
    return [photo["total"], *photo["municipalities"].values()]


fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(history, st.sampled_from([2024, 2025]))
def test_unanswered_is_the_sum_of_its_three_buckets_and_no_category_exceeds_all(h, year) -> None:
    events = _events(*h)
    photo = take_photo(events, year, dt.datetime(year + 1, 2, 25, 12, tzinfo=BRUSSELS), rules_for(year))
    for figures in _places(photo):
        for category, counts in figures.items():
            assert counts["unanswered"] == counts["no_proposal"] + counts["not_accepted"] + counts["deviating"]
            assert counts["unanswered"] <= counts["requests"]
            for column in COUNTS:
                assert counts[column] <= figures["all"][column], (category, column)
    for category, counts in photo["total"].items():
        for column in COUNTS:
            assert counts[column] == sum(m[category][column] for m in photo["municipalities"].values())


@fast
@given(history, st.sampled_from([2024, 2025]), st.integers(0, 60))
def test_events_recorded_after_the_moment_never_change_the_photo(h, year, cut) -> None:
    events = _events(*h)
    at = min(cut, len(events) - 1)
    moment = dt.datetime.fromisoformat(events[at][1].recorded_at)
    known = [(p, e) for p, e in events if dt.datetime.fromisoformat(e.recorded_at) <= moment]
    assert take_photo(events, year, moment, rules_for(year)) == take_photo(known, year, moment, rules_for(year))
