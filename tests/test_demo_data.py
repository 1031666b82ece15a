"""The demo and benchmark history generators (service/demo.py).

The generated files must be clean history files (history-format.md) that the import accepts
line by line, and their default photos must give what the generators say they built. The
photo is checked with a small classifier written here from domain.md ("The yearly count"),
independent of the generator's own bookkeeping and of the product.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import json
from collections import Counter
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from stdnum.be import nn

from service import natnum_gen
from service.demo import (
    DEFAULT_LOKET,
    PUBLISHED,
    flanders_targets,
    generate_flanders,
    generate_loket,
)
from service.municipalities import BRUSSELS_REGION, municipalities_2020, successor

TZ = ZoneInfo("Europe/Brussels")

# history-format.md: per command its required and optional fields (besides at, by, type, request).
FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "register": (
        {"request_date", "desired_start", "days_per_week", "hours", "municipality", "child",
         "family", "special_care", "consent"},
        {"care_type", "contact", "intake", "notes"},
    ),
    "correct_registration": (
        {"reason"},
        {"care_type", "request_date", "desired_start", "days_per_week", "hours", "municipality",
         "child", "family", "special_care", "contact", "intake", "notes"},
    ),
    "change_wish": (set(), {"desired_start", "days_per_week", "hours"}),
    "update_family": ({"family"}, {"special_care"}),
    "child_born": ({"national_number", "on"}, set()),
    "move": ({"municipality", "on"}, set()),
    "change_consent": ({"consent", "on"}, set()),
    "propose": ({"proposal", "location", "start", "days_per_week", "on"}, {"hours"}),
    "register_location": ({"name", "organizer", "municipality", "capacity", "hours"}, set()),
    "report_free_places": ({"from", "places", "days_per_week"}, {"hours"}),
    "refuse": ({"proposal", "on"}, {"reason"}),
    "withdraw_proposal": ({"proposal", "on"}, {"reason"}),
    "accept": ({"proposal", "on"}, {"start", "days_per_week"}),
    "cancel_placement": ({"on", "reason"}, set()),
    "solve_elsewhere": ({"municipality", "on"}, set()),
    "withdraw": ({"on", "reason"}, set()),
    "reopen": ({"on", "reason"}, set()),
    "void": ({"reason"}, set()),
    "erase_personal_data": ({"on", "ground"}, set()),
}
FAMILY_KEYS = {"work_or_training", "single_parent", "low_income", "foster_family",
               "health_or_care", "low_education", "dutch_speaking"}
HOURS = {"early", "late", "weekend", "holiday"}
DATE_FIELDS = {"request_date", "desired_start", "on", "start"}


# ---------------------------------------------------------------------------------------------
# Generated files, made once per session (the generators are deterministic).


@cache
def loket_text(seed: int = 1, scale: float = 0.25) -> tuple[str, dict]:
    out = io.StringIO()
    result = generate_loket(out, seed=seed, scale=scale)
    return out.getvalue(), result


@cache
def flanders_text(seed: int = 1, scale: float = 0.02) -> tuple[str, dict]:
    out = io.StringIO()
    result = generate_flanders(out, scale=scale, seed=seed)
    return out.getvalue(), result


def parsed(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def at_of(line: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(line["at"])


def photo_moment(year: int) -> dt.datetime:
    return dt.datetime(year + 1, 3, 1, tzinfo=TZ)


# ---------------------------------------------------------------------------------------------
# An independent classifier (domain.md), only what the generators use.


def add_month(day: dt.date) -> dt.date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def fold(lines: list[dict[str, Any]], as_of: dt.datetime) -> dict[str, dict[str, Any]]:
    """The state of every request from the lines recorded up to and including `as_of`."""
    requests: dict[str, dict[str, Any]] = {}
    for line in lines:
        if at_of(line) > as_of:
            break  # lines are in recorded order
        if "request" not in line:  # a location's line
            continue
        ref, typ = line["request"], line["type"]
        if typ == "register":
            requests[ref] = {
                "care_type": line.get("care_type", "baby_toddler"),
                "request_date": dt.date.fromisoformat(line["request_date"]),
                "desired_start": dt.date.fromisoformat(line["desired_start"]),
                "days": line["days_per_week"],
                "hours": list(line["hours"]),
                "municipality": line["municipality"],
                "family": dict(line["family"]),
                "special_care": line["special_care"],
                "voided": False, "withdrawn": False, "solved": False,
                "proposals": {}, "placement": None,
            }
            continue
        req = requests[ref]
        if typ == "correct_registration":
            for key, name in (("care_type", "care_type"), ("municipality", "municipality"),
                              ("days_per_week", "days"), ("hours", "hours"),
                              ("special_care", "special_care")):
                if key in line:
                    req[name] = line[key]
            for key in ("request_date", "desired_start"):
                if key in line:
                    req[key] = dt.date.fromisoformat(line[key])
            if "family" in line:
                req["family"].update(line["family"])
        elif typ == "update_family":
            req["family"].update(line["family"])
            if "special_care" in line:
                req["special_care"] = line["special_care"]
        elif typ == "move":
            req["municipality"] = line["municipality"]
        elif typ == "propose":
            req["proposals"][line["proposal"]] = {
                "start": dt.date.fromisoformat(line["start"]),
                "days": line["days_per_week"],
            }
        elif typ == "accept":
            p = req["proposals"][line["proposal"]]
            start = dt.date.fromisoformat(line["start"]) if "start" in line else p["start"]
            req["placement"] = (start, line.get("days_per_week", p["days"]))
        elif typ == "cancel_placement":
            req["placement"] = None
        elif typ == "solve_elsewhere":
            req["solved"] = True
        elif typ == "withdraw":
            req["withdrawn"] = True
        elif typ == "reopen":
            req["withdrawn"] = req["solved"] = False
        elif typ == "void":
            req["voided"] = True
    return requests


def classify(req: dict[str, Any]) -> str | None:
    """None when answered, else the reason it is unanswered."""
    if req["withdrawn"]:
        return None
    if req["placement"] is not None:
        start, days = req["placement"]
        deviating = start >= add_month(req["desired_start"]) or days < req["days"]
        return "deviating" if deviating else None
    if req["solved"]:
        return None
    return "not_accepted" if req["proposals"] else "no_proposal"


def is_vulnerable(f: dict[str, Any]) -> bool:
    n = sum(bool(f.get(k)) for k in ("work_or_training", "single_parent", "low_income",
                                     "health_or_care", "low_education"))
    return n >= 2 and any(f.get(k) for k in ("low_income", "health_or_care", "low_education"))


def photo(lines: list[dict[str, Any]], year: int, as_of: dt.datetime | None = None) -> dict:
    """Figures of `year` as known at `as_of` (default: the default photo moment)."""
    state = fold(lines, as_of or photo_moment(year))
    empty = lambda: {"requests": 0, "unanswered": 0, "no_proposal": 0,  # noqa: E731
                     "not_accepted": 0, "deviating": 0}
    total, per = empty(), {}
    cats = {c: {"requests": 0, "unanswered": 0}
            for c in ("urgent", "extended_hours", "vulnerable_family", "special_care")}
    for req in state.values():
        if req["voided"] or req["care_type"] != "baby_toddler":
            continue
        if req["desired_start"].year != year:
            continue
        reason = classify(req)
        nis = successor(req["municipality"], year)
        for bucket in (total, per.setdefault(nis, empty())):
            bucket["requests"] += 1
            if reason:
                bucket["unanswered"] += 1
                bucket[reason] += 1
        flags = {
            "urgent": req["desired_start"] <= add_month(req["request_date"]),
            "extended_hours": bool(req["hours"]),
            "vulnerable_family": is_vulnerable(req["family"]),
            "special_care": bool(req["special_care"]),
        }
        for cat, on in flags.items():
            if on:
                cats[cat]["requests"] += 1
                cats[cat]["unanswered"] += bool(reason)
    return {"total": total, "municipalities": per, "categories": cats}


# ---------------------------------------------------------------------------------------------
# A checker of the import's rules (history-format.md, domain.md "The request's life").


def check_history(lines: list[dict[str, Any]], area: set[str] | None = None) -> None:
    """Raises AssertionError naming the first line the import would refuse."""
    mun = municipalities_2020()
    requests: dict[str, dict[str, Any]] = {}
    children: set[str] = set()
    unborn: dict[tuple[str, int], list[dt.date]] = {}
    previous = None
    for no, line in enumerate(lines, 1):
        where = f"line {no}: {line}"
        at = at_of(line)
        assert at.tzinfo is not None, where
        assert at.utcoffset() == at.astimezone(TZ).utcoffset(), f"offset not Brussels, {where}"
        assert previous is None or at >= previous, f"'at' goes back, {where}"
        previous = at
        assert isinstance(line["by"], str) and line["by"], where
        if line["type"] in ("register_location", "report_free_places"):
            assert line["location"].startswith("L-") and ("name" in line or line["places"] >= 0), where
            continue
        typ, ref = line["type"], line["request"]
        day = at.astimezone(TZ).date()
        for key in DATE_FIELDS & line.keys():
            dt.date.fromisoformat(line[key])
        if "on" in line:
            assert line["on"] <= day.isoformat(), f"'on' in the future of 'at', {where}"
        if "days_per_week" in line:
            d = line["days_per_week"]
            assert isinstance(d, (int, float)) and not isinstance(d, bool), where
            assert 0.5 <= d <= 7 and float(d * 2).is_integer(), where
        if "hours" in line:
            assert set(line["hours"]) <= HOURS and len(set(line["hours"])) == len(line["hours"])
        if "municipality" in line:
            assert isinstance(line["municipality"], str) and len(line["municipality"]) == 5
            assert line["municipality"] in mun, where
        if "family" in line:
            assert set(line["family"]) <= FAMILY_KEYS, where
            assert all(v in (True, False, None) for v in line["family"].values()), where

        if typ == "register":
            assert ref not in requests, f"reference reused, {where}"
            assert line["request_date"] <= day.isoformat(), where
            if area is not None:
                assert line["municipality"] in area, where
            child = line["child"]
            if "national_number" in child:
                assert set(child) == {"national_number"}, where
                number = child["national_number"]
                assert number not in children, f"child registered twice, {where}"
                children.add(number)
            else:
                assert set(child) <= {"expected_birth", "parent_national_number", "birth_order"}
                expected = dt.date.fromisoformat(child["expected_birth"])
                assert expected > dt.date.fromisoformat(line["request_date"]), where
                key = (child["parent_national_number"], child.get("birth_order", 1))
                assert all(abs((expected - e).days) > 60 for e in unborn.get(key, [])), where
                unborn.setdefault(key, []).append(expected)
            requests[ref] = {
                "at": at, "unborn": "expected_birth" in child, "voided": False,
                "closed": False, "placement": False, "proposals": {},
            }
            continue

        assert ref in requests, f"unknown request, {where}"
        req = requests[ref]
        assert at >= req["at"], where
        assert not req["voided"], f"command on a voided request, {where}"
        if typ == "void":
            req["voided"] = True
        elif typ == "child_born":
            assert req["unborn"], where
            req["unborn"] = False
            assert line["national_number"] not in children, where
            children.add(line["national_number"])
        elif typ == "change_consent":
            assert line["on"] == day.isoformat(), f"consent change back-dated, {where}"
        elif typ == "move":
            if area is not None:
                assert line["municipality"] in area, where
        elif typ == "propose":
            assert not req["closed"], f"proposal on a closed request, {where}"
            assert line["proposal"] not in req["proposals"], f"proposal reused, {where}"
            req["proposals"][line["proposal"]] = "pending"
        elif typ in ("refuse", "withdraw_proposal"):
            assert req["proposals"].get(line["proposal"]) == "pending", where
            req["proposals"][line["proposal"]] = typ
        elif typ == "accept":
            assert req["proposals"].get(line["proposal"]) == "pending", where
            assert not req["placement"] and not req["closed"], where
            req["proposals"][line["proposal"]] = "accepted"
            req["placement"] = True
        elif typ == "cancel_placement":
            assert req["placement"], where
            req["placement"] = False
        elif typ in ("solve_elsewhere", "withdraw"):
            assert not req["closed"] and not req["placement"], where
            req["closed"] = True
        elif typ == "reopen":
            assert req["closed"], where
            req["closed"] = False
        elif typ == "correct_registration" and "desired_start" in line:
            pass


def national_numbers(lines: list[dict[str, Any]]) -> list[str]:
    found = []
    for line in lines:
        child = line.get("child") or {}
        for key in ("national_number", "parent_national_number"):
            if key in child:
                found.append(child[key])
        if line["type"] == "child_born":
            found.append(line["national_number"])
    return found


# ---------------------------------------------------------------------------------------------
# Shape


@pytest.mark.parametrize("which", ["loket", "flanders"])
def test_every_line_parses_and_has_only_the_fields_of_its_command(which):
    text = (loket_text() if which == "loket" else flanders_text())[0]
    assert text.endswith("\n")
    types = Counter()
    for line in text.splitlines():
        obj = json.loads(line)
        target = "location" if obj["type"] in ("register_location", "report_free_places") else "request"
        assert list(obj)[:4] == ["at", "by", "type", target]
        required, optional = FIELDS[obj["type"]]
        fields = set(obj) - {"at", "by", "type", target}
        assert required <= fields, (required - fields, line)
        assert fields <= required | optional, (fields - required - optional, line)
        if "contact" in obj:
            assert set(obj["contact"]) <= {"name", "phone", "email", "address"}
        types[obj["type"]] += 1
    expected = {"register", "propose", "accept", "refuse", "withdraw_proposal",
                "cancel_placement", "solve_elsewhere", "withdraw", "reopen", "void",
                "change_wish", "update_family", "move", "correct_registration", "child_born"}
    assert expected <= set(types), expected - set(types)


def test_the_loket_file_has_every_kind_of_request_the_brief_asks_for():
    lines = parsed(loket_text()[0])
    registers = [x for x in lines if x["type"] == "register"]
    assert any(x.get("care_type") == "out_of_school" for x in registers)
    assert any("expected_birth" in x["child"] for x in registers)
    assert any(x["child"].get("birth_order") == 2 for x in registers)
    assert any(x["hours"] for x in registers)
    assert any(x["special_care"] for x in registers)
    assert any(x["desired_start"] < x["request_date"] for x in registers)  # late registration
    twins_born = Counter(x["child"]["national_number"][:6] + x["contact"]["name"]
                         for x in registers if "national_number" in x["child"])
    assert max(twins_born.values()) >= 2
    assert {x["municipality"] for x in registers} == set(DEFAULT_LOKET)


def test_lines_are_in_non_decreasing_recorded_order_and_obey_the_import_rules():
    check_history(parsed(loket_text()[0]), area=set(DEFAULT_LOKET))
    check_history(parsed(flanders_text()[0]))


def test_the_shared_checker_refuses_a_broken_history():
    lines = parsed(loket_text()[0])
    first = next(i for i, x in enumerate(lines) if x["type"] == "accept")
    broken = lines[: first + 1] + [dict(lines[first])]  # the same acceptance twice
    broken[-1]["at"] = lines[first]["at"]
    with pytest.raises(AssertionError):
        check_history(broken)
    backwards = [lines[1], lines[0]] if lines[0]["at"] != lines[1]["at"] else None
    if backwards:
        with pytest.raises(AssertionError):
            check_history(backwards)


def test_the_product_command_parser_accepts_every_line():
    from service import commands

    for line in parsed(loket_text()[0]):
        commands.parse_line(line)


# ---------------------------------------------------------------------------------------------
# National numbers


def test_synthetic_national_numbers_pass_stdnum_for_births_before_and_from_2000():
    for birth in (dt.date(1975, 1, 1), dt.date(1999, 12, 31), dt.date(2000, 1, 1),
                  dt.date(2019, 2, 28), dt.date(2024, 2, 29), dt.date(2025, 12, 31)):
        number = natnum_gen.make_number(birth, 601)
        assert nn.is_valid(number), number
        assert nn.get_birth_date(number) == birth
        assert natnum_gen.is_valid(number)
    # the check of a birth from 2000 on includes the leading 2; without it the same digits
    # would name someone born in 1919
    old_rule = "190101601" + f"{97 - int('190101601') % 97:02d}"
    assert nn.get_birth_year(old_rule) == 1919
    assert nn.get_birth_year(natnum_gen.make_number(dt.date(2019, 1, 1), 601)) == 2019
    assert nn.is_valid("85073003328") and nn.is_valid("24120610145")  # domain examples


def test_the_number_maker_never_hands_out_a_number_twice():
    numbers = natnum_gen.NationalNumbers(serial_first=995)
    made = [numbers.new(dt.date(2023, 5, 1)) for _ in range(10)]
    assert len(set(made)) == 10 and all(nn.is_valid(n) for n in made)


@pytest.mark.parametrize("which", ["loket", "flanders"])
def test_every_national_number_in_a_generated_file_is_valid_and_children_are_unique(which):
    lines = parsed((loket_text() if which == "loket" else flanders_text())[0])
    numbers = national_numbers(lines)
    assert numbers
    invalid = [n for n in numbers if not nn.is_valid(n)]
    assert not invalid, invalid[:5]
    children = [x["child"]["national_number"] for x in lines
                if x["type"] == "register" and "national_number" in x["child"]]
    children += [x["national_number"] for x in lines if x["type"] == "child_born"]
    assert len(children) == len(set(children))
    for number in children:
        assert 2019 <= nn.get_birth_year(number) <= 2026
    parents = [x["child"]["parent_national_number"] for x in lines
               if x["type"] == "register" and "parent_national_number" in x["child"]]
    for number in parents:
        assert 1975 <= nn.get_birth_year(number) <= 2000


# ---------------------------------------------------------------------------------------------
# Determinism


def test_the_same_seed_writes_byte_identical_output():
    a, b = io.StringIO(), io.StringIO()
    generate_loket(a, seed=7, scale=0.05)
    generate_loket(b, seed=7, scale=0.05)
    assert a.getvalue() == b.getvalue()
    c, d = io.StringIO(), io.StringIO()
    ra = generate_flanders(c, scale=0.005, seed=3)
    rb = generate_flanders(d, scale=0.005, seed=3)
    assert c.getvalue() == d.getvalue() and ra == rb
    e = io.StringIO()
    generate_loket(e, seed=8, scale=0.05)
    assert e.getvalue() != a.getvalue()


# ---------------------------------------------------------------------------------------------
# Targets and photos


def test_flanders_targets_add_up_from_municipalities_to_provinces_to_the_total():
    result = flanders_text()[1]
    assert result["year"] == 2024
    provinces = result["provinces"]
    assert set(provinces) == set(PUBLISHED[2024])
    for key in ("requests", "unanswered"):
        assert sum(p[key] for p in provinces.values()) == result["total"][key]
    mun = municipalities_2020()
    assert len(result["municipalities"]) == 319
    for prov, figures in provinces.items():
        members = [v for nis, v in result["municipalities"].items() if mun[nis].province == prov]
        for key in ("requests", "unanswered"):
            assert sum(v[key] for v in members) == figures[key]
    for v in result["municipalities"].values():
        assert 0 <= v["unanswered"] <= v["requests"]


def test_flanders_targets_at_full_scale_are_the_published_figures():
    result = flanders_targets(2024, 1.0)
    assert result["total"] == {"requests": 71268, "unanswered": 26355}
    for prov, (req, unans) in PUBLISHED[2024].items():
        assert result["provinces"][prov] == {"requests": req, "unanswered": unans}


def test_scaled_targets_round_each_published_number_half_up():
    result = flanders_targets(2024, 0.02)
    # Brussel: 6124 * 0.02 = 122.48 -> 122; 2289 * 0.02 = 45.78 -> 46
    assert result["provinces"]["Brussel"] == {"requests": 122, "unanswered": 46}
    # Antwerpen: 17925 * 0.02 = 358.5 -> 359 (half up)
    assert result["provinces"]["Antwerpen"]["requests"] == 359
    tiny = flanders_targets(2024, 0.0001)
    for figures in tiny["provinces"].values():
        assert figures["unanswered"] <= figures["requests"]


def test_the_default_photo_of_the_flanders_file_gives_exactly_its_targets():
    text, result = flanders_text()
    got = photo(parsed(text), 2024)
    mun = municipalities_2020()
    per_province: dict[str, Counter] = {}
    for nis, figures in got["municipalities"].items():
        c = per_province.setdefault(mun[nis].province, Counter())
        c["requests"] += figures["requests"]
        c["unanswered"] += figures["unanswered"]
    for prov, target in result["provinces"].items():
        assert dict(per_province.get(prov, {})) == target or (
            target["requests"] == 0 and prov not in per_province), prov
    assert {k: got["total"][k] for k in ("requests", "unanswered")} == result["total"]
    for nis, target in result["municipalities"].items():
        figures = got["municipalities"].get(nis, {"requests": 0, "unanswered": 0})
        assert (figures["requests"], figures["unanswered"]) == (
            target["requests"], target["unanswered"]), nis
    assert {k: got["total"][k] for k in result["reasons"]} == result["reasons"]
    assert got["categories"] == result["categories"]


def test_the_noise_after_the_photo_moment_would_change_the_flanders_photo_if_counted():
    text, result = flanders_text()
    lines = parsed(text)
    moment = photo_moment(2024)
    assert any(at_of(x) > moment for x in lines)
    later = photo(lines, 2024, as_of=at_of(lines[-1]))
    assert later["total"] != photo(lines, 2024)["total"]
    # a photo taken a moment earlier misses what was recorded in the last days
    assert photo(lines, 2024, as_of=moment - dt.timedelta(days=20))["total"] != later["total"]


def test_the_flanders_file_has_requests_of_other_years_and_not_counted_requests():
    lines = parsed(flanders_text()[0])
    registers = [x for x in lines if x["type"] == "register"]
    years = Counter(x["desired_start"][:4] for x in registers)
    assert years["2025"] > 0
    assert any(x.get("care_type") == "out_of_school" for x in registers)
    assert any(x["type"] == "void" for x in lines)
    for x in registers:
        if x.get("care_type", "baby_toddler") == "baby_toddler":
            assert x["municipality"] in municipalities_2020()


@pytest.mark.parametrize("year", [2024, 2025])
def test_the_loket_file_gives_the_photos_the_generator_says_it_built(year):
    text, result = loket_text()
    assert result["years"] == [2024, 2025]
    assert result["municipalities"] == list(DEFAULT_LOKET)
    assert result["lines"] == len(text.splitlines())
    expected = result["photos"][year]
    got = photo(parsed(text), year)
    assert got["total"] == expected["total"]
    assert got["categories"] == expected["categories"]
    for nis in DEFAULT_LOKET:
        assert got["municipalities"].get(nis) == expected["municipalities"][nis], nis
    share = expected["total"]["unanswered"] / expected["total"]["requests"]
    assert 0.25 < share < 0.45
    for reason in ("no_proposal", "not_accepted", "deviating"):
        assert expected["total"][reason] > 0


def test_loket_volume_follows_population_and_the_published_rate():
    result = generate_loket(io.StringIO(), seed=2, scale=1.0)
    figures = result["photos"][2024]["municipalities"]
    mun = municipalities_2020()
    vb_pop = sum(m.population for m in mun.values() if m.province == "Vlaams-Brabant")
    rate = PUBLISHED[2024]["Vlaams-Brabant"][0] / vb_pop
    for nis in DEFAULT_LOKET:
        expected = mun[nis].population * rate
        assert abs(figures[nis]["requests"] - expected) <= max(3, 0.05 * expected), nis
    assert figures["24062"]["requests"] > 5 * figures["24009"]["requests"]


def test_a_loket_of_one_brussels_municipality_and_older_years_is_clean():
    out = io.StringIO()
    result = generate_loket(out, municipalities=("21004",), years=(2022, 2023), seed=5,
                            scale=0.3)
    lines = parsed(out.getvalue())
    check_history(lines, area={"21004"})
    assert not any(x["type"] == "move" for x in lines)
    for year in (2022, 2023):
        got = photo(lines, year)
        assert got["total"] == result["photos"][year]["total"]
    assert "priority_group" in result["photos"][2023]["categories"]
    assert municipalities_2020()["21004"].region == BRUSSELS_REGION
