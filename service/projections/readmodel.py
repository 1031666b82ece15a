"""The figures view: a bitemporal read model of the yearly count, kept by a projection.

For every request that counts in the figures, the view holds rows

    (request, reference, reporting year, municipality, five category flags, outcome)
    valid over [from_position, to_position)

where the positions are event positions in the store. A new row starts at the position of
each event that changes what the photo would count for the request; the row it replaces
ends there. The photo as known at a moment is then:

    P = the highest position of a care-request event recorded at or before the moment
    one GROUP BY over the rows with from_position <= P < to_position.

P is found in `view_moments`, which keeps, of the care-request events, those whose recorded
time is lower than that of every later event (a strictly increasing staircase): the highest
position recorded at or before a moment is the last step at or before it. With the usual
increasing clock that is every event; two racing writers at most remove a step.

The rows are rule-independent: the outcome keeps "solved elsewhere" apart (`solved_*`), and
the priority-group flag is kept in every year, so the year's rule set (or the rule set a
stored photo names) is applied when the figures are read. Nothing personal is held: a
dossier reference, dates and municipality codes reduced to flags and an outcome.

The projection is pulled: `catch_up` reads the notifications after its tracking position,
folds them into the requests with the aggregate's own event handlers (the reference photo's
`classify` and categories decide each row), and writes the rows, the moments and the new
tracking position in one transaction (exactly once; a crash leaves the old position and
no rows of the interrupted page). The same loop runs on SQLite (the tables live in
`<store>.views`) and PostgreSQL (tables `view_*` in the store's database): see docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from service import municipalities
from service.aggregates.care_request import CareRequest
from service.projections.photo import (
    ANSWERED,
    DEVIATING,
    NO_PROPOSAL,
    NOT_ACCEPTED,
    classify,
    empty_figures,
)
from service.projections.rules import RULE_SETS, RuleSet
from service.settings import Settings
from service.sidedb import SideDB

logger = logging.getLogger("loket")

NAME = "figures"
SCHEMA = "figures-rows-1"  # bump when what a row holds, or how it is derived, changes
FOREVER = 2**63 - 1  # to_position of a row still valid
PAGE = 5000  # notifications per transaction
ANALYZE_AFTER = 20_000  # events taken in by one catch-up after which the planner's statistics are refreshed
STATE_CACHE = 100_000  # request states kept between pages and calls (bounded memory)
FLAGS = ("urgent", "extended_hours", "priority_group", "vulnerable_family", "special_care")
UNANSWERED = (NO_PROPOSAL, NOT_ACCEPTED, DEVIATING)
SOLVED = "solved_"  # prefix of an outcome that depends on the rule set: solved elsewhere
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ANSWERED_RULES = dataclasses.replace(RULE_SETS[-1], solved_elsewhere_is_answered=True)
_UNANSWERED_RULES = dataclasses.replace(RULE_SETS[-1], solved_elsewhere_is_answered=False)

DDL = (
    "CREATE TABLE IF NOT EXISTS view_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL, "
    "version TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS view_moments (position BIGINT PRIMARY KEY, recorded_us BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS view_moments_recorded ON view_moments (recorded_us)",
    "CREATE TABLE IF NOT EXISTS view_figure_rows (request_id TEXT NOT NULL, reference TEXT NOT NULL, "
    "year INTEGER NOT NULL, municipality TEXT NOT NULL, urgent SMALLINT NOT NULL, extended_hours SMALLINT NOT NULL, "
    "priority_group SMALLINT NOT NULL, vulnerable_family SMALLINT NOT NULL, special_care SMALLINT NOT NULL, "
    "outcome TEXT NOT NULL, from_position BIGINT NOT NULL, to_position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS view_figure_rows_open ON view_figure_rows (request_id, to_position)",
    "CREATE INDEX IF NOT EXISTS view_figure_rows_year ON view_figure_rows (year, from_position)",
)
_COLUMNS = ("request_id, reference, year, municipality, urgent, extended_hours, priority_group, vulnerable_family, "
            "special_care, outcome, from_position, to_position")
_INSERT = f"INSERT INTO view_figure_rows ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

Row = tuple[Any, ...]  # (reference, year, municipality, *flags, outcome)


class ViewBusy(Exception):
    """Another process or thread is updating the view and did not finish in time."""


def micros(moment: dt.datetime) -> int:
    """A moment as whole microseconds since 1970 (UTC): exact, and ordered as the moments are."""
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def raw_outcome(request: CareRequest) -> str:
    """The outcome under every rule set; `solved_<outcome>` where the rule set decides."""
    answered, unanswered = classify(request, _ANSWERED_RULES), classify(request, _UNANSWERED_RULES)
    return answered if answered == unanswered else SOLVED + unanswered


def outcome_under(raw: str, rules: RuleSet) -> str:
    if raw.startswith(SOLVED):
        return ANSWERED if rules.solved_elsewhere_is_answered else raw.removeprefix(SOLVED)
    return raw


def row_of(request: CareRequest | None) -> Row | None:
    """What the photo counts of this request, or None when it counts nowhere."""
    if request is None or not request.counts_in_figures:
        return None
    year = request.original_year
    nis = municipalities.successor(request.municipality, year)
    derived = request.categories(municipalities.is_brussels(nis))
    return (request.reference, year, nis, *(1 if derived[f] else 0 for f in FLAGS), raw_outcome(request))


def categories_from(flags: Sequence[int], rules: RuleSet) -> list[str]:
    """The report rows a request counts in (as `categories_of` in the reference photo)."""
    have = dict(zip(FLAGS, flags, strict=True))
    return ["all", *(cat for cat in rules.categories if cat != "all" and have[cat])]


def _version() -> str:
    """The schema and the reference data the rows were derived with (a change rebuilds the view)."""
    digest = hashlib.sha256()
    for name in ("municipality-changes.csv", "belgian-municipalities-2020.csv"):
        digest.update(municipalities._data_text(name).encode())
    return f"{SCHEMA}:{digest.hexdigest()[:16]}"


@dataclass
class _Open:
    row: Row
    since: int
    stored: bool  # already a row in the table (to be closed by an UPDATE)


@dataclass
class ViewStats:
    events: int = 0
    rows_written: int = 0
    loads: int = 0
    seconds: float = 0.0


class FiguresView:
    """The read model of one store. Thread-safe; several processes may share it."""

    def __init__(self, settings: Settings, recorder: Any, mapper: Any, load: Callable[[uuid.UUID, int], Any],
                 topics: Sequence[str]) -> None:
        """`load(id, version)` gives a request as it was at that version (from the event store)."""
        self.postgres = settings.is_postgres
        self.db = SideDB(settings, ".views", durable=False)
        self._recorder, self._mapper, self._load, self._topics = recorder, mapper, load, tuple(topics)
        self._lock = threading.Lock()
        self._states: dict[uuid.UUID, CareRequest] = {}
        self._open: dict[uuid.UUID, _Open | None] = {}
        self._cached_at = -1  # the tracking position the caches belong to
        self.stats = ViewStats()
        self.db.create(*DDL)
        self._check_version()

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ tracking

    def _check_version(self) -> None:
        version = _version()
        with self.db.transaction() as cur:
            found = cur.execute("SELECT version FROM view_tracking WHERE name = ?", (NAME,)).fetchall()
            if not found:
                cur.execute("INSERT INTO view_tracking (name, position, version) VALUES (?, 0, ?)", (NAME, version))
            elif found[0][0] != version:  # derived under other rules or data: start over (caught up on use)
                logger.warning("figures view built as %s, now %s: rebuilt from the event log", found[0][0], version)
                self._reset(cur, version)

    def _reset(self, cur: Any, version: str | None = None) -> None:
        cur.execute("DELETE FROM view_figure_rows")
        cur.execute("DELETE FROM view_moments")
        cur.execute("UPDATE view_tracking SET position = 0, version = COALESCE(?, version) WHERE name = ?",
                    (version, NAME))
        self._forget()

    def _forget(self) -> None:
        self._states.clear()
        self._open.clear()
        self._cached_at = -1

    def position(self) -> int:
        """The last store position the view has taken in."""
        return int(self.db.rows("SELECT position FROM view_tracking WHERE name = ?", (NAME,))[0][0])

    @contextlib.contextmanager
    def _tracked(self, wait: float) -> Iterator[tuple[Any, int]]:
        """A write transaction holding the view's tracking row: (cursor, tracking position)."""
        if not self._lock.acquire(timeout=wait):
            raise ViewBusy("de cijferweergave wordt in deze dienst bijgewerkt")
        try:
            if not self.postgres:
                self.db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            try:
                with self.db.transaction() as cur:
                    if self.postgres:
                        cur.execute(f"SET LOCAL lock_timeout = '{int(wait * 1000)}ms'")
                        found = cur.execute("SELECT position FROM view_tracking WHERE name = ? FOR UPDATE",
                                            (NAME,)).fetchall()
                    else:
                        found = cur.execute("SELECT position FROM view_tracking WHERE name = ?", (NAME,)).fetchall()
                    yield cur, int(found[0][0])
            except (psycopg.errors.LockNotAvailable, sqlite3.OperationalError) as error:
                if isinstance(error, sqlite3.OperationalError) and "locked" not in str(error):
                    raise
                raise ViewBusy("de cijferweergave wordt door een ander proces bijgewerkt") from None
            except BaseException:
                self._forget()  # the caches ran ahead of a transaction that did not commit
                raise
        finally:
            self._lock.release()

    def catch_up(self, head: int | None = None, wait: float = 30.0,
                 progress: Callable[[int, int], None] | None = None) -> int:
        """Take in every event up to `head` (default: the store's head now); the tracking position after.

        Each page of events is one transaction (rows, moments and tracking position together).
        Raises ViewBusy when another writer holds the view longer than `wait` seconds.
        """
        if head is None:
            head = self._recorder.max_notification_id() or 0
        start = self.position()
        if start >= head:  # the usual case: nothing to wait for, no lock taken
            return head
        while True:
            with self._tracked(wait) as (cur, position):
                if position >= head:
                    return position
                position = self._page(cur, position, head)
                cur.execute("UPDATE view_tracking SET position = ? WHERE name = ?", (position, NAME))
            if progress:
                progress(position, head)
            if position >= head:
                if position - start >= ANALYZE_AFTER:
                    self._analyze()
                return position

    def _analyze(self) -> None:
        """Fresh planner statistics after many new rows: the GROUP BY otherwise keeps a plan made for an
        almost empty table (measured on PostgreSQL: 40 ms before, 17 ms after, at half the Flanders scale)."""
        try:
            self.db.execute("ANALYZE view_figure_rows" if self.postgres else "ANALYZE")
            if self.postgres:
                self.db.execute("ANALYZE view_moments")
        except Exception:  # statistics are an optimisation: never a reason to fail a photo
            logger.warning("figures view: ANALYZE failed", exc_info=True)

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop every row and build the view again from the whole event log, in one transaction."""
        head = self._recorder.max_notification_id() or 0
        with self._tracked(wait=600.0) as (cur, _):
            self._reset(cur)
            position = 0
            while position < head:
                position = self._page(cur, position, head)
                if progress:
                    progress(position, head)
            cur.execute("UPDATE view_tracking SET position = ? WHERE name = ?", (head, NAME))
        self._analyze()
        return head

    # ---------------------------------------------------------- projection

    def _page(self, cur: Any, after: int, head: int) -> int:
        """Fold one page of notifications after `after` into the tables; the position taken in up to."""
        started = time.perf_counter()
        if self._cached_at != after or len(self._states) > STATE_CACHE:
            self._forget()  # another process moved the view on, or the caches grew too big
        notes = self._recorder.select_notifications(after + 1, PAGE, stop=head, topics=self._topics)
        upto = head if len(notes) < PAGE else notes[-1].id
        events = [(n.id, self._mapper.to_domain_event(n)) for n in notes]
        self._prepare(cur, events)
        closes: list[tuple[int, str]] = []
        inserts: list[tuple[Any, ...]] = []
        steps: list[tuple[int, int]] = []  # the page's staircase of (position, recorded_us)
        lowest: int | None = None
        touched: dict[uuid.UUID, None] = {}
        for position, event in events:
            rid = event.originator_id
            touched[rid] = None
            state = event.mutate(self._states.get(rid))
            self._states[rid] = state
            new = row_of(state)
            old = self._open.get(rid)
            if (old.row if old else None) != new:
                if old is not None:
                    if old.stored:
                        closes.append((position, str(rid)))
                    else:
                        inserts.append((str(rid), *old.row, old.since, position))
                self._open[rid] = _Open(new, position, False) if new is not None else None
            recorded = micros(dt.datetime.fromisoformat(event.recorded_at))
            lowest = recorded if lowest is None else min(lowest, recorded)
            while steps and steps[-1][1] >= recorded:
                steps.pop()
            steps.append((position, recorded))
        for rid in touched:
            open_ = self._open.get(rid)
            if open_ is not None and not open_.stored:
                inserts.append((str(rid), *open_.row, open_.since, FOREVER))
                open_.stored = True
        if closes:  # before the inserts: an UPDATE of the open row must not touch the new one
            cur.executemany(f"UPDATE view_figure_rows SET to_position = ? WHERE request_id = ? "
                            f"AND to_position = {FOREVER}", closes)
        if inserts:
            cur.executemany(_INSERT, inserts)
        if lowest is not None:
            cur.execute("DELETE FROM view_moments WHERE recorded_us >= ?", (lowest,))
            cur.executemany("INSERT INTO view_moments (position, recorded_us) VALUES (?, ?)", steps)
        self.stats.events += len(events)
        self.stats.rows_written += len(inserts)
        self.stats.seconds += time.perf_counter() - started
        self._cached_at = upto  # the caches now hold the state at `upto` (forgotten if this does not commit)
        return upto

    def _prepare(self, cur: Any, events: list[tuple[int, Any]]) -> None:
        """Load, for each request this page touches first, its state before the page and its open row."""
        first: dict[uuid.UUID, int] = {}
        seen: set[uuid.UUID] = set()
        for _, event in events:
            rid = event.originator_id
            if rid in seen:
                continue
            seen.add(rid)
            cached = self._states.get(rid)
            if cached is None or cached.version != event.originator_version - 1:
                first[rid] = event.originator_version - 1
        if not first:
            return
        for rid, version in first.items():
            if version > 0:
                self._states[rid] = self._load(rid, version)
                self.stats.loads += 1
            else:
                self._states.pop(rid, None)
            self._open[rid] = None
        ids = [str(rid) for rid, version in first.items() if version > 0]
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ", ".join("?" * len(part))
            found = cur.execute(
                f"SELECT request_id, reference, year, municipality, urgent, extended_hours, priority_group, "
                f"vulnerable_family, special_care, outcome, from_position FROM view_figure_rows "
                f"WHERE to_position = {FOREVER} AND request_id IN ({marks})", part).fetchall()
            for rid, *row, since in found:
                self._open[uuid.UUID(rid)] = _Open(tuple(row), int(since), True)

    # --------------------------------------------------------------- reads

    def position_at(self, moment: dt.datetime) -> int:
        """The highest care-request position recorded at or before `moment` (0: none)."""
        found = self.db.rows("SELECT position FROM view_moments WHERE recorded_us <= ? "
                             "ORDER BY recorded_us DESC LIMIT 1", (micros(moment),))
        return int(found[0][0]) if found else 0

    def ready(self, wait: float) -> int | None:
        """Catch up with the store's head now; None (and a warning) when that cannot be done in time."""
        try:
            return self.catch_up(wait=wait)
        except ViewBusy as error:
            logger.warning("figures view busy (%s): the photo is replayed from the events", error)
        except Exception:  # a fault in the view must never give a wrong or no photo: the replay answers
            logger.exception("figures view could not catch up: the photo is replayed from the events")
        return None

    def figures(self, year: int, position: int, rules: RuleSet, service_area: Sequence[str] = ()
                ) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, dict[str, int]]]]:
        """(total, per municipality) of `year` at `position`: one GROUP BY."""
        groups = self.db.rows(
            "SELECT municipality, outcome, COUNT(*), SUM(urgent), SUM(extended_hours), SUM(priority_group), "
            "SUM(vulnerable_family), SUM(special_care) FROM view_figure_rows "
            "WHERE year = ? AND from_position <= ? AND to_position > ? GROUP BY municipality, outcome",
            (year, position, position))
        total = empty_figures(rules)
        per_municipality = {code: empty_figures(rules)
                            for nis in service_area for code in municipalities.valid_in(nis, year)}
        for nis, raw, n, *sums in groups:
            outcome = outcome_under(raw, rules)
            counts = {"all": int(n), **{f: int(s) for f, s in zip(FLAGS, sums, strict=True)}}
            for figures in (total, per_municipality.setdefault(nis, empty_figures(rules))):
                for cat in rules.categories:
                    k = counts[cat]
                    if k:
                        c = figures[cat]
                        c["requests"] += k
                        if outcome in UNANSWERED:
                            c["unanswered"] += k
                            c[outcome] += k
        return total, dict(sorted(per_municipality.items()))

    def classified(self, year: int, position: int, rules: RuleSet) -> list[tuple[str, str, list[str], str]]:
        """(reference, municipality, categories, outcome) of every request counted in `year` at `position`."""
        found = self.db.rows(
            "SELECT reference, municipality, urgent, extended_hours, priority_group, vulnerable_family, special_care, "
            "outcome FROM view_figure_rows WHERE year = ? AND from_position <= ? AND to_position > ?",
            (year, position, position))
        return [(ref, nis, categories_from(flags, rules), outcome_under(raw, rules))
                for ref, nis, *flags, raw in found]

    def size(self) -> dict[str, int]:
        return {"rows": int(self.db.rows("SELECT COUNT(*) FROM view_figure_rows")[0][0]),
                "moments": int(self.db.rows("SELECT COUNT(*) FROM view_moments")[0][0])}
