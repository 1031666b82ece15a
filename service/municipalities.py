"""Municipality reference data: NIS codes, names, provinces, population, mergers over time.

The 2020 list (Statbel) holds the 581 municipalities after the 2019 mergers; the changes
file lists the 2019 and 2025 mergers (old code -> new code, valid from 1 January).
A report of year Y uses the municipalities as they were on 1 January of Y.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

BRUSSELS_REGION = "Brussels Hoofdstedelijk Gewest"
FLEMISH_REGION = "Vlaams Gewest"


@dataclass(frozen=True)
class Municipality:
    nis: str
    name: str
    province: str  # "Brussel" for the 19 municipalities of the Brussels-Capital Region
    region: str
    population: int


@dataclass(frozen=True)
class Merger:
    valid_from: dt.date
    old_nis: str
    old_name: str
    new_nis: str
    new_name: str


def _data_text(name: str) -> str:
    return resources.files("service").joinpath("data", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def municipalities_2020() -> dict[str, Municipality]:
    """The 2020 list, by NIS code."""
    rows = csv.DictReader(_data_text("belgian-municipalities-2020.csv").splitlines())
    result: dict[str, Municipality] = {}
    for row in rows:
        region = row["region_NL"]
        province = "Brussel" if region == BRUSSELS_REGION else row["province_NL"]
        nis = row["NIS_code"].strip().zfill(5)
        result[nis] = Municipality(
            nis, row["municipality_NL"], province, region, int(row["inhabitants"])
        )
    return result


@lru_cache(maxsize=1)
def mergers() -> tuple[Merger, ...]:
    rows = csv.DictReader(_data_text("municipality-changes.csv").splitlines())
    return tuple(
        Merger(
            dt.date.fromisoformat(r["valid_from"]),
            r["old_nis"].zfill(5),
            r["old_name"],
            r["new_nis"].zfill(5),
            r["new_name"],
        )
        for r in rows
    )


def successor(nis: str, year: int) -> str:
    """The code under which a request recorded under `nis` counts in reporting year `year`."""
    jan1 = dt.date(year, 1, 1)
    changed = True
    while changed:
        changed = False
        for m in mergers():
            if m.old_nis == nis and m.valid_from <= jan1 and m.new_nis != nis:
                nis, changed = m.new_nis, True
    return nis


@lru_cache(maxsize=1)
def _all_names() -> dict[str, str]:
    names = {nis: m.name for nis, m in municipalities_2020().items()}
    for m in mergers():
        names.setdefault(m.old_nis, m.old_name)
        if m.valid_from.year >= 2025 or m.new_nis not in names:
            names[m.new_nis] = m.new_name
    # Codes that kept their number but lost their meaning keep the 2020 name for older years.
    return names


def name(nis: str, year: int | None = None) -> str:
    """Dutch name of a municipality code, as it was in `year` when given."""
    if year is not None and year < 2025:
        m = municipalities_2020().get(nis)
        if m is not None:
            return m.name
    return _all_names().get(nis, nis)


@lru_cache(maxsize=1)
def flanders_and_brussels() -> frozenset[str]:
    """Every code a request may name when no service area is configured (any period)."""
    codes = {
        nis
        for nis, m in municipalities_2020().items()
        if m.region in (FLEMISH_REGION, BRUSSELS_REGION)
    }
    for m in mergers():
        codes.add(m.old_nis)
        codes.add(m.new_nis)
    return frozenset(codes)


def is_brussels(nis: str) -> bool:
    m = municipalities_2020().get(nis)
    return m is not None and m.region == BRUSSELS_REGION


def province(nis: str) -> str | None:
    """Province of a code; merged codes take the province of a predecessor."""
    m = municipalities_2020().get(nis)
    if m is not None:
        return m.province
    for mg in mergers():
        if mg.new_nis == nis and mg.old_nis in municipalities_2020():
            return municipalities_2020()[mg.old_nis].province
    return None


@lru_cache(maxsize=1)
def all_codes() -> frozenset[str]:
    """Every Belgian code known (2020 list and both merger waves)."""
    codes = set(municipalities_2020())
    for m in mergers():
        codes.update((m.old_nis, m.new_nis))
    return frozenset(codes)


@lru_cache(maxsize=4096)
def related(nis: str) -> frozenset[str]:
    """The code with every code merged into it or that it was merged into (over all years)."""
    found, todo = {nis}, [nis]
    while todo:
        code = todo.pop()
        for m in mergers():
            for a, b in ((m.old_nis, m.new_nis), (m.new_nis, m.old_nis)):
                if a == code and b not in found:
                    found.add(b)
                    todo.append(b)
    return frozenset(found)


def valid_in(nis: str, year: int) -> list[str]:
    """The codes that stood for this municipality on 1 January of `year`.

    A code created by a later merger stands for its predecessors; an old code for its successor.
    """
    jan1 = dt.date(year, 1, 1)
    predecessors = [m.old_nis for m in mergers() if m.new_nis == nis and m.valid_from > jan1 and m.old_nis != nis]
    if predecessors:
        return sorted({code for old in predecessors for code in valid_in(old, year)})
    return [successor(nis, year)]
