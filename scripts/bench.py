"""make bench: the Flanders-scale year on SQLite and on PostgreSQL, beside a plain fold.

For each store: import events/s, photo seconds, peak memory (max RSS of the process that
did it), and whether the photo reproduces the published provincial table. The baseline is a
plain Python fold over the same history file, with no store and no event objects.

Each step runs in its own process so its peak memory is its own. Usage:
    python scripts/bench.py [--scale 1.0] [--keep]
The PostgreSQL server comes from LOKET_TEST_PG (scripts/with-postgres sets it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_generate(history: Path, year: int, scale: float) -> dict:
    from service import demo

    with history.open("w", encoding="utf-8") as handle:
        return demo.generate_flanders(handle, year=year, scale=scale, seed=1)


def step_baseline(history: Path, year: int) -> dict:
    """A plain fold: dicts per request, the classification of domain.md, no store."""
    from dateutil.relativedelta import relativedelta

    moment = dt.datetime(year + 1, 3, 1, tzinfo=ZoneInfo("Europe/Brussels"))
    started = time.perf_counter()
    reqs: dict[str, dict] = {}
    lines = 0
    with history.open(encoding="utf-8") as handle:
        for raw in handle:
            line = json.loads(raw)
            lines += 1
            if dt.datetime.fromisoformat(line["at"]) > moment:
                continue
            t, ref = line["type"], line.get("request")
            if t == "register":
                reqs[ref] = {"start": dt.date.fromisoformat(line["desired_start"]), "days": line["days_per_week"],
                             "nis": line["municipality"], "care": line.get("care_type", "baby_toddler"),
                             "status": "open", "proposals": {}, "placement": None}
                continue
            r = reqs.get(ref)
            if r is None:
                continue
            if t == "correct_registration":
                for k, f in (("desired_start", "start"), ("days_per_week", "days"), ("municipality", "nis"), ("care_type", "care")):
                    if k in line:
                        r[f] = dt.date.fromisoformat(line[k]) if f == "start" else line[k]
            elif t == "move":
                r["nis"] = line["municipality"]
            elif t == "propose":
                r["proposals"][line["proposal"]] = (dt.date.fromisoformat(line["start"]), line["days_per_week"])
            elif t == "accept":
                start, days = r["proposals"][line["proposal"]]
                r["placement"] = (dt.date.fromisoformat(line["start"]) if "start" in line else start,
                                  line.get("days_per_week", days))
            elif t == "cancel_placement":
                r["placement"] = None
            elif t in ("withdraw", "solve_elsewhere", "void"):
                r["status"] = t
            elif t == "reopen":
                r["status"] = "open"
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in reqs.values():
        if r["status"] == "void" or r["care"] != "baby_toddler" or r["start"].year != year:
            continue
        c = counts[r["nis"]]
        c[0] += 1
        if r["status"] == "withdraw":
            continue
        if r["placement"] is not None:
            start, days = r["placement"]
            c[1] += start >= r["start"] + relativedelta(months=1) or days < r["days"]
        elif r["status"] != "solve_elsewhere":
            c[1] += 1
    seconds = time.perf_counter() - started
    return {"lines": lines, "seconds": seconds, "peak_mib": peak_mib(),
            "requests": sum(c[0] for c in counts.values()), "unanswered": sum(c[1] for c in counts.values())}


def step_import(store: str, history: Path) -> dict:
    from service.application import LoketService
    from service.importer import import_history
    from service.settings import Settings

    service = LoketService(Settings(store=store))
    started = time.perf_counter()
    report = import_history(service, history)
    seconds = time.perf_counter() - started
    events = service.events.recorder.max_notification_id() or 0
    service.close()
    return {"lines": report.lines, "refused": len(report.refused), "events": events, "seconds": seconds,
            "events_per_s": events / seconds, "lines_per_s": report.lines / seconds, "peak_mib": peak_mib()}


def step_photo(store: str, year: int) -> dict:
    from service import municipalities
    from service.application import LoketService
    from service.settings import Settings

    service = LoketService(Settings(store=store))
    started = time.perf_counter()
    photo = service.photo(year)
    seconds = time.perf_counter() - started
    service.close()
    provinces: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for nis, figures in photo["municipalities"].items():
        p = provinces[municipalities.province(nis) or "?"]
        p[0] += figures["all"]["requests"]
        p[1] += figures["all"]["unanswered"]
    return {"seconds": seconds, "peak_mib": peak_mib(), "requests": photo["total"]["all"]["requests"],
            "unanswered": photo["total"]["all"]["unanswered"], "provinces": dict(provinces)}


LOKET_AREA = ("24062", "24011", "24009", "24055", "24020", "24086", "24001", "24038")  # around Leuven


def step_generate_loket(history: Path, requests: int, locations: int, children: int) -> dict:
    """A big loket: `locations` locations with free places, `requests` open requests, and one
    location (GROOT) with `children` placements, all of 2025."""
    import random

    from service.natnum_gen import make_number

    rnd = random.Random(7)
    at = dt.datetime(2025, 1, 2, 8, tzinfo=ZoneInfo("Europe/Brussels"))
    lines = []

    def stamp() -> str:
        nonlocal at
        at += dt.timedelta(seconds=20)
        return at.isoformat()

    def hours() -> list[str]:
        return sorted(h for h in ("early", "late", "weekend") if rnd.random() < 0.15)

    lines.append({"at": stamp(), "by": "bench", "type": "register_location", "location": "GROOT", "name": "Groot",
                  "organizer": "vzw Groot", "municipality": "24062", "capacity": children + 20, "hours": []})
    for i in range(locations):
        lines.append({"at": stamp(), "by": "bench", "type": "register_location", "location": f"L-{i:04d}",
                      "name": f"Opvang {i}", "organizer": f"vzw {i}", "municipality": rnd.choice(LOKET_AREA),
                      "capacity": 14, "hours": ["early", "late", "weekend"]})
        lines.append({"at": stamp(), "by": "bench", "type": "report_free_places", "location": f"L-{i:04d}",
                      "from": f"2025-{rnd.randint(2, 12):02d}-01", "places": rnd.randint(1, 4),
                      "days_per_week": rnd.choice([2, 3, 4, 5]), "hours": hours()})
    for i in range(requests + children):
        ref = f"R-{i:05d}"
        birth = dt.date(2024, 1, 1) + dt.timedelta(days=i % 360)
        lines.append({"at": stamp(), "by": "bench", "type": "register", "request": ref, "request_date": at.date().isoformat(),
                      "desired_start": f"2025-{rnd.randint(3, 12):02d}-01", "days_per_week": rnd.choice([2, 3, 4, 5]),
                      "hours": hours(), "municipality": "24062" if i >= requests else rnd.choice(LOKET_AREA),
                      "child": {"national_number": make_number(birth, 601 + i // 360)},
                      "family": {"low_income": rnd.random() < 0.2, "single_parent": rnd.random() < 0.2},
                      "special_care": False, "consent": True, "contact": {"name": f"Ouder {i}", "phone": "0470 00 00 00"}})
        if i >= requests:
            lines.append({"at": stamp(), "by": "bench", "type": "propose", "request": ref, "proposal": "P1",
                          "location": "GROOT", "start": "2025-03-01", "days_per_week": 4, "on": at.date().isoformat()})
            lines.append({"at": stamp(), "by": "bench", "type": "accept", "request": ref, "proposal": "P1",
                          "on": at.date().isoformat()})
    with history.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(x) + "\n" for x in lines)
    return {"lines": len(lines)}


def step_matching(store: str, history: Path) -> dict:
    """Matching both ways and the crisis of GROOT, on a store holding the big loket."""
    import statistics

    from service import commands as c
    from service.application import LoketService
    from service.crisis import crisis_list
    from service.importer import import_history
    from service.matching import places_for, requests_for
    from service.settings import Settings

    service = LoketService(Settings(store=store))
    report = import_history(service, history)
    started = time.perf_counter()
    view = service.current.refresh()  # a fresh process reads the whole log once
    cold = time.perf_counter() - started
    opened = view.open_requests()
    locations = list(view.locations.values())
    per_request, per_location = [], []
    for r in opened[:100]:
        t = time.perf_counter()
        view = service.current.refresh()
        places_for(r, view.locations.values(), view.places_left)
        per_request.append(time.perf_counter() - t)
    for loc in locations[:50]:
        t = time.perf_counter()
        view = service.current.refresh()
        requests_for(loc, view.open_requests(), view.places_left(loc))
        per_location.append(time.perf_counter() - t)
    t = time.perf_counter()
    service.execute(c.Command(type="close_location", target="GROOT", payload=c.CloseLocation(on=dt.date(2025, 12, 1),
                              reason="faillissement"), recorded_at=service.now(), by="bench"), stamp=True)
    closure = time.perf_counter() - t
    t = time.perf_counter()
    crisis = crisis_list(service, "GROOT", contact=True)
    crisis_seconds = time.perf_counter() - t
    service.close()
    return {"lines": report.lines, "refused": len(report.refused), "open": len(opened), "locations": len(locations),
            "cold_view_s": cold, "match_request_ms": statistics.median(per_request) * 1000,
            "match_request_max_ms": max(per_request) * 1000, "match_location_ms": statistics.median(per_location) * 1000,
            "match_location_max_ms": max(per_location) * 1000, "closure_s": closure, "crisis_s": crisis_seconds,
            "affected": crisis["progress"]["affected"], "peak_mib": peak_mib()}


def run_step(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--step", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--step", nargs="+")
    parser.add_argument("--keep", action="store_true", help="keep the generated history and stores")
    parser.add_argument("--only", choices=("flanders", "matching"), default=None, help="run one part only")
    args = parser.parse_args()
    if args.step:
        name, *rest = args.step
        result = {"generate": lambda: step_generate(Path(rest[0]), int(rest[1]), float(rest[2])),
                  "baseline": lambda: step_baseline(Path(rest[0]), int(rest[1])),
                  "import": lambda: step_import(rest[0], Path(rest[1])),
                  "photo": lambda: step_photo(rest[0], int(rest[1])),
                  "generate_loket": lambda: step_generate_loket(Path(rest[0]), *map(int, rest[1:4])),
                  "matching": lambda: step_matching(rest[0], Path(rest[1]))}[name]()
        print(json.dumps(result))
        return 0

    # The parent stays small: Linux keeps a process's peak memory across exec, so every step,
    # the generator included, runs in a child started from this small process.
    work = Path(tempfile.mkdtemp(prefix="loket-bench-"))
    stores = _stores(work)
    ok = True
    if args.only != "matching":
        ok &= _flanders(args, work, stores)
    if args.only != "flanders":
        ok &= _matching(work, stores)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def _stores(work: Path) -> dict[str, str]:
    stores = {"sqlite": f"sqlite:///{work}/bench.sqlite"}
    pg = os.environ.get("LOKET_TEST_PG")
    if pg:
        stores["postgresql"] = pg.rsplit("/", 1)[0] + "/loket_bench"
    else:
        print("LOKET_TEST_PG not set: PostgreSQL skipped (run through make bench)", flush=True)
    return stores


def _fresh(stores: dict[str, str], work: Path, name: str) -> dict[str, str]:
    """Empty stores for one part of the bench."""
    import psycopg

    fresh = {"sqlite": f"sqlite:///{work}/{name}/bench.sqlite"}
    pg = os.environ.get("LOKET_TEST_PG")
    if "postgresql" in stores and pg:
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS loket_bench_{name}")
            conn.execute(f"CREATE DATABASE loket_bench_{name}")
        fresh["postgresql"] = pg.rsplit("/", 1)[0] + f"/loket_bench_{name}"
    return fresh


def _matching(work: Path, stores: dict[str, str]) -> bool:
    history = work / "loket.jsonl"
    made = run_step("generate_loket", str(history), "5000", "300", "300")
    print(f"\nbig loket: {made['lines']} lines (300 locations, 5,000 open requests, 300 children at GROOT)", flush=True)
    print("| store | cold view s | match a request ms (median / max) | match a location ms (median / max) "
          "| close GROOT s (300 placements cancelled) | crisis list s | peak MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ok = True
    for name, url in _fresh(stores, work, "matching").items():
        m = run_step("matching", url, str(history))
        ok &= m["refused"] == 0 and m["affected"] == 300
        print(f"| {name} | {m['cold_view_s']:.2f} | {m['match_request_ms']:.1f} / {m['match_request_max_ms']:.1f} | "
              f"{m['match_location_ms']:.1f} / {m['match_location_max_ms']:.1f} | {m['closure_s']:.2f} | "
              f"{m['crisis_s']:.2f} | {m['peak_mib']:.0f} |", flush=True)
    return ok


def _flanders(args: argparse.Namespace, work: Path, stores: dict[str, str]) -> bool:
    history = work / "flanders.jsonl"
    started = time.perf_counter()
    targets = run_step("generate", str(history), str(args.year), str(args.scale))
    print(f"generated {history} in {time.perf_counter() - started:.1f}s "
          f"(target {targets['total']['requests']} requests, {targets['total']['unanswered']} unanswered)", flush=True)

    baseline = run_step("baseline", str(history), str(args.year))
    print(f"baseline plain fold: {baseline['lines']} lines in {baseline['seconds']:.2f}s, "
          f"peak {baseline['peak_mib']:.0f} MiB -> {baseline['requests']} requests, {baseline['unanswered']} unanswered",
          flush=True)

    stores = _fresh(stores, work, "flanders")
    rows = []
    ok = True
    for name, url in stores.items():
        imp = run_step("import", url, str(history))
        photo = run_step("photo", url, str(args.year))
        matches = all(
            photo["provinces"].get(p, [0, 0]) == [t["requests"], t["unanswered"]] for p, t in targets["provinces"].items()
        )
        ok &= matches and imp["refused"] == 0
        rows.append((name, imp, photo, matches))
        print(f"{name}: import {imp['events']} events in {imp['seconds']:.1f}s = {imp['events_per_s']:.0f} events/s "
              f"({imp['lines_per_s']:.0f} lines/s, peak {imp['peak_mib']:.0f} MiB, {imp['refused']} refused); "
              f"photo {photo['seconds']:.2f}s (peak {photo['peak_mib']:.0f} MiB) -> {photo['requests']} requests, "
              f"{photo['unanswered']} unanswered; provinces match published table: {matches}", flush=True)

    print("\n| store | import events/s | import s | import peak MiB | photo s | photo peak MiB | table reproduced |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(f"| baseline (plain fold, no store) | – | – | – | {baseline['seconds']:.2f} | {baseline['peak_mib']:.0f} | "
          f"{baseline['requests'] == targets['total']['requests'] and baseline['unanswered'] == targets['total']['unanswered']} |")
    for name, imp, photo, matches in rows:
        print(f"| {name} | {imp['events_per_s']:.0f} | {imp['seconds']:.1f} | {imp['peak_mib']:.0f} | "
              f"{photo['seconds']:.2f} | {photo['peak_mib']:.0f} | {matches} |")
    return ok


if __name__ == "__main__":
    sys.exit(main())
