"""The figures view (bitemporal read model) gives exactly the photo of the reference replay.

On every store: every shared acceptance case, generated histories photographed at random
moments (a property test), a view that lags behind, a view that is busy, a catch-up after a
crash, and a rebuild from scratch.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import commands as c
from service.aggregates.errors import DomainError
from service.cli import main
from service.importer import import_history
from service.natnum_gen import make_number
from service.photos import PhotoBook
from service.projections import readmodel
from service.projections.photo import default_moment, take_photo
from service.projections.rules import RULE_SETS, rules_for
from tests.conftest import CASES

BRUSSELS = ZoneInfo("Europe/Brussels")
CASE_NAMES = sorted(p.name.removesuffix(".jsonl") for p in CASES.glob("*.jsonl"))
_children = itertools.count(1)


def replayed(service: Any, year: int, moment: dt.datetime, rules: Any = None) -> dict[str, Any]:
    """The reference: the pure photo function over every event in the store."""
    return take_photo(service.recorded_events(), year, moment, rules or rules_for(year), service.settings.area)


def from_view(service: Any, year: int, moment: dt.datetime, rules: Any = None) -> dict[str, Any]:
    photo, source = service.photo_with_source(year, moment, rules=rules)
    assert source == "view"
    return photo


def recorded_moments(service: Any) -> list[dt.datetime]:
    return sorted({dt.datetime.fromisoformat(e.recorded_at) for _, e in service.recorded_events()})


# ----------------------------------------------------------- acceptance cases


@pytest.mark.parametrize("case", CASE_NAMES)
def test_the_view_gives_the_replayed_photo_for_every_case_at_every_moment(case: str, service) -> None:
    import_history(service, CASES / f"{case}.jsonl")
    expected = json.loads((CASES / f"{case}.expected.json").read_text(encoding="utf-8"))
    for photo in expected:  # the expected figures themselves, through the view
        as_of = dt.datetime.fromisoformat(photo["as_of"]) if photo["as_of"] else default_moment(photo["year"])
        got = from_view(service, photo["year"], as_of)
        assert (got["total"], got["municipalities"]) == (photo["total"], photo["municipalities"]), case
    years = {p["year"] for p in expected} | {2024, 2025}
    tick = dt.timedelta(microseconds=1)
    moments = [m + d for m in recorded_moments(service) for d in (-tick, dt.timedelta(0))]
    for year, moment in itertools.product(sorted(years), [*moments, *(default_moment(y) for y in years)]):
        for rules in (rules_for(year), *RULE_SETS):  # the year's own rules, and a stored photo's other ones
            assert from_view(service, year, moment, rules) == replayed(service, year, moment, rules), (case, year, moment)


# ---------------------------------------------------------- generated histories

ACTIONS = ("propose", "refuse", "withdraw_proposal", "accept", "cancel_placement", "solve_elsewhere", "withdraw",
           "reopen", "void", "update_family", "move", "correct", "change_wish", "erase")
MUNICIPALITIES = ("24062", "21004", "11007", "11002", "44021")  # Leuven, Brussel, Borsbeek (merged 2025), Antwerpen, Gent
FAMILY = ("work_or_training", "single_parent", "low_income", "foster_family", "health_or_care", "low_education",
          "dutch_speaking")


def _day(at: dt.datetime, back: int) -> str:
    return (at.astimezone(BRUSSELS).date() - dt.timedelta(days=back)).isoformat()


def _line(action: str, ref: str, at: dt.datetime, draw: Any) -> dict[str, Any]:
    on = _day(at, draw(st.integers(0, 40)))
    base = {"at": at.isoformat(), "by": "anna", "type": action, "request": ref}
    start = (dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 730)))).isoformat()
    days = draw(st.sampled_from([2, 3, 4, 5]))
    proposal = f"P{draw(st.integers(1, 3))}"
    fields: dict[str, Any] = {
        "propose": {"proposal": proposal, "location": "Crèche", "start": start, "days_per_week": days, "on": on},
        "refuse": {"proposal": proposal, "on": on},
        "withdraw_proposal": {"proposal": proposal, "on": on, "reason": "plaats vergeven"},
        "accept": {"proposal": proposal, "on": on,
                   **draw(st.sampled_from([{}, {"start": start}, {"days_per_week": days}]))},
        "cancel_placement": {"on": on, "reason": "verhuis"},
        "solve_elsewhere": {"municipality": draw(st.sampled_from(MUNICIPALITIES)), "on": on},
        "withdraw": {"on": on, "reason": "geen antwoord"},
        "reopen": {"on": on, "reason": "toch nodig"},
        "void": {"reason": "testregistratie"},
        "update_family": {"family": {k: draw(st.sampled_from([True, False, None]))
                                     for k in draw(st.sets(st.sampled_from(FAMILY), min_size=1, max_size=4))},
                          **draw(st.sampled_from([{}, {"special_care": True}, {"special_care": False}]))},
        "move": {"municipality": draw(st.sampled_from(MUNICIPALITIES)), "on": on},
        "correct": {"reason": "tikfout", **draw(st.sampled_from([
            {"desired_start": start}, {"request_date": on}, {"municipality": draw(st.sampled_from(MUNICIPALITIES))},
            {"care_type": draw(st.sampled_from(["baby_toddler", "out_of_school"]))},
            {"hours": draw(st.sampled_from([[], ["early"], ["weekend", "late"]]))},
            {"days_per_week": days}]))},
        "change_wish": {"desired_start": start, "days_per_week": days},
        "erase": {"on": on, "ground": "bewaartermijn"},
    }[action]
    kind = {"correct": "correct_registration", "erase": "erase_personal_data"}.get(action, action)
    return {**base, "type": kind, **fields}


@st.composite
def histories(draw: Any) -> list[dict[str, Any]]:
    """A few requests and what happened to them; recorded times mostly increase, sometimes step back
    (as two racing writers can record them)."""
    at = dt.datetime(2024, 1, 8, 9, tzinfo=BRUSSELS) + dt.timedelta(days=draw(st.integers(0, 300)))
    refs: list[str] = []
    lines: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(3, 25))):
        at += dt.timedelta(minutes=draw(st.sampled_from([-90, -1, 0, 0, 1, 30, 60 * 24, 60 * 24 * 20])))
        if not refs or draw(st.integers(0, 4)) == 0:
            ref = f"G{next(_children)}"
            refs.append(ref)
            request_day = _day(at, draw(st.integers(0, 60)))
            desired = dt.date.fromisoformat(request_day) + dt.timedelta(days=draw(st.integers(-20, 400)))
            lines.append({
                "at": at.isoformat(), "by": "anna", "type": "register", "request": ref, "request_date": request_day,
                "desired_start": desired.isoformat(), "days_per_week": draw(st.sampled_from([2, 3, 4.5, 5])),
                "hours": draw(st.sampled_from([[], ["early"], ["holiday"]])),
                "municipality": draw(st.sampled_from(MUNICIPALITIES)),
                "care_type": draw(st.sampled_from(["baby_toddler"] * 5 + ["out_of_school"])),
                "child": {"national_number": make_number(dt.date(2023, 1, 1) + dt.timedelta(days=next(_children) % 700),
                                                         100 + next(_children) % 800)},
                "family": {k: True for k in draw(st.sets(st.sampled_from(FAMILY), max_size=4))},
                "special_care": draw(st.booleans()), "consent": True,
            })
        else:
            lines.append(_line(draw(st.sampled_from(ACTIONS)), draw(st.sampled_from(refs)), at, draw))
    return lines


def _apply(service: Any, lines: list[dict[str, Any]]) -> None:
    """Each line as a command of its own: a refusal by a rule is part of the history too."""
    for line in lines:
        try:
            service.execute(c.parse_line(line))
        except DomainError:
            pass


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(history=histories(), data=st.data())
def test_the_view_equals_the_replay_for_generated_histories_at_random_moments(service, history, data) -> None:
    half = len(history) // 2
    _apply(service, history[:half])
    service.photo(2025)  # the view catches up halfway: the rest is taken in incrementally
    _apply(service, history[half:])
    known = sorted({dt.datetime.fromisoformat(line["at"]) for line in history})  # this example's own moments
    for _ in range(4):
        moment = data.draw(st.one_of(
            st.sampled_from(known),
            st.sampled_from(known).map(lambda m: m - dt.timedelta(microseconds=1)),
            st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2026, 3, 1),
                         timezones=st.just(BRUSSELS)),
        ))
        year = data.draw(st.sampled_from([2024, 2025, 2026]))
        rules = data.draw(st.sampled_from([None, *RULE_SETS]))
        assert from_view(service, year, moment, rules) == replayed(service, year, moment, rules)


# ------------------------------------------------------------- lag and faults


def _history(service: Any, count: int, start: dt.datetime) -> None:
    lines = []
    for i in range(count):
        at = start + dt.timedelta(hours=i)
        ref = f"L{next(_children)}"
        lines.append({"at": at.isoformat(), "by": "anna", "type": "register", "request": ref,
                      "request_date": at.date().isoformat(), "desired_start": "2025-09-01", "days_per_week": 4,
                      "hours": [], "municipality": "24062", "family": {}, "special_care": False, "consent": True,
                      "child": {"national_number": make_number(dt.date(2024, 2, 1) + dt.timedelta(days=i % 300),
                                                               200 + next(_children) % 700)}})
        if i % 3:
            lines.append({"at": (at + dt.timedelta(minutes=5)).isoformat(), "by": "anna", "type": "propose",
                          "request": ref, "proposal": "P1", "location": "Crèche", "start": "2025-09-01",
                          "days_per_week": 4, "on": at.date().isoformat()})
        if i % 3 == 2:
            lines.append({"at": (at + dt.timedelta(minutes=9)).isoformat(), "by": "anna", "type": "accept",
                          "request": ref, "proposal": "P1", "on": at.date().isoformat()})
    _apply(service, lines)


def test_a_photo_asked_of_a_view_that_lags_behind_waits_for_it_and_is_exact(make_service) -> None:
    reader, writer = make_service(), make_service()  # two processes on one store
    _history(writer, 20, dt.datetime(2025, 1, 6, 9, tzinfo=BRUSSELS))
    first = reader.photo(2025)
    _history(writer, 30, dt.datetime(2025, 3, 3, 9, tzinfo=BRUSSELS))  # the reader's view is behind now
    assert reader.figures.position() < (reader.events.recorder.max_notification_id() or 0)
    moment = dt.datetime(2025, 3, 4, 12, tzinfo=BRUSSELS)
    assert from_view(reader, 2025, moment) == replayed(reader, 2025, moment)
    assert reader.photo(2025)["total"]["all"]["requests"] == first["total"]["all"]["requests"] + 30


def test_a_photo_asked_while_another_process_holds_the_view_is_replayed_exactly(make_service, store_url) -> None:
    reader = make_service(view_wait="0.2")
    holder = make_service()
    _history(holder, 12, dt.datetime(2025, 1, 6, 9, tzinfo=BRUSSELS))
    reader.photo(2025)
    _history(holder, 12, dt.datetime(2025, 2, 6, 9, tzinfo=BRUSSELS))  # the reader's view lags
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:  # another process in the middle of a long catch-up
        with holder.figures._tracked(wait=5):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(5)
        moment = dt.datetime(2025, 2, 6, 15, tzinfo=BRUSSELS)
        photo, source = reader.photo_with_source(2025, moment)
        assert source == "replay"
        assert photo == replayed(reader, 2025, moment)
    finally:
        release.set()
        thread.join()
    assert from_view(reader, 2025, moment) == photo


def test_a_catch_up_that_crashes_halfway_leaves_nothing_and_resumes_exactly(service, monkeypatch) -> None:
    _history(service, 40, dt.datetime(2025, 1, 6, 9, tzinfo=BRUSSELS))
    service.photo(2025)
    tracked = service.figures.position()
    before = service.figures.size()
    _history(service, 40, dt.datetime(2025, 4, 7, 9, tzinfo=BRUSSELS))
    monkeypatch.setattr(readmodel, "PAGE", 7)  # several pages: the crash comes after rows were written
    real, calls = readmodel.FiguresView._page, []

    def crash(self: Any, cur: Any, after: int, head: int) -> int:
        calls.append(after)
        upto = real(self, cur, after, head)
        if len(calls) == 3:
            raise RuntimeError("kill -9")
        return upto

    monkeypatch.setattr(readmodel.FiguresView, "_page", crash)
    with pytest.raises(RuntimeError):
        service.figures.catch_up()
    crashed_at = service.figures.position()
    assert tracked < crashed_at < service.events.recorder.max_notification_id()  # two pages committed, one not
    monkeypatch.setattr(readmodel.FiguresView, "_page", real)
    assert service.figures.size()["rows"] > before["rows"]
    moments = [dt.datetime(2025, m, 1, tzinfo=BRUSSELS) for m in range(1, 13)] + recorded_moments(service)[::7]
    resumed = [from_view(service, 2025, m) for m in moments]
    rows_resumed = _rows(service)
    service.figures.rebuild()
    assert _rows(service) == rows_resumed
    assert [from_view(service, 2025, m) for m in moments] == resumed == [replayed(service, 2025, m) for m in moments]


def _rows(service: Any) -> list[tuple]:
    return sorted(service.figures.db.rows("SELECT * FROM view_figure_rows"))


def test_a_view_built_by_another_rule_version_is_rebuilt(make_service, monkeypatch) -> None:
    first = make_service()
    _history(first, 10, dt.datetime(2025, 1, 6, 9, tzinfo=BRUSSELS))
    expected = first.photo(2025)
    assert first.figures.position() > 0
    monkeypatch.setattr(readmodel, "SCHEMA", "figures-rows-next")
    second = make_service()
    assert second.figures.position() == 0 and second.figures.size()["rows"] == 0
    assert from_view(second, 2025, default_moment(2025)) == expected


def test_a_taken_photo_read_from_the_view_verifies_against_the_replay(service) -> None:
    _history(service, 30, dt.datetime(2025, 1, 6, 9, tzinfo=BRUSSELS))
    book = PhotoBook(service)
    taken = book.take(2025, dt.datetime(2026, 1, 5, tzinfo=BRUSSELS), "anna")
    _history(service, 5, dt.datetime(2026, 1, 7, 9, tzinfo=BRUSSELS))
    (result,) = book.verify(2025)
    assert result.identical and taken["figures_digest"] == result.figures_digest
    drilled = book.drill(2025, None, "all", "unanswered", dt.datetime(2026, 1, 5, tzinfo=BRUSSELS))
    assert drilled["count"] == taken["total"]["all"]["unanswered"]


def test_rebuild_views_from_the_command_line(store_url, monkeypatch, capsys, service) -> None:
    _history(service, 15, dt.datetime(2025, 1, 6, 9, tzinfo=BRUSSELS))
    expected = service.photo(2025)
    monkeypatch.setenv("LOKET_STORE", store_url)
    assert main(["rebuild-views"]) == 0
    assert "herbouwd tot positie" in capsys.readouterr().out
    assert from_view(service, 2025, default_moment(2025)) == expected
