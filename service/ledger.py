"""Tamper evidence: a hash chain over every stored event row, in position order.

    link(first row) = sha256(GENESIS + canonical(row))
    link(row)       = sha256(link(previous row) + canonical(row))

where the links are lowercase hex text (their ASCII bytes are hashed), GENESIS is 64 zeros
and canonical(row) is the compact JSON array

    [position, originator_id, originator_version, topic, base64(state)]

(`json.dumps(..., separators=(",", ":"))`, ASCII; originator_id as a lowercase UUID with
dashes on both stores). Links are kept in `event_chain(position, link)` beside the events,
in the same database. An empty store has the head (0, GENESIS).

The chain proves that the rows are the ones that were chained. A person who can rewrite the
events table can also rewrite `event_chain`; that is caught only by comparing with a head
kept elsewhere (a stored photo, an archive, a printed head): see `verify(anchors=...)` and
docs/archive.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from service.settings import Settings

GENESIS = "0" * 64
PAGE = 5000
SQLITE_EVENTS = "stored_events"  # eventsourcing's SQLiteApplicationRecorder; position = rowid
POSTGRES_EVENTS = "loket_events"  # eventsourcing's PostgresApplicationRecorder for the "Loket" application
CHAIN_DDL = "CREATE TABLE IF NOT EXISTS event_chain (position BIGINT PRIMARY KEY, link TEXT NOT NULL)"
_PG_LOCK = 0x6C6F6B65745F63  # pg_advisory_xact_lock key: one chain writer at a time


class StoreNotFound(Exception):
    """There is no event store at the configured place (nothing was created)."""


@dataclass(frozen=True)
class EventRow:
    """One stored event row as the chain sees it (originator_id in canonical UUID form)."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


def canonical_bytes(row: EventRow) -> bytes:
    """The exact bytes a row contributes to its link."""
    state = base64.b64encode(row.state).decode("ascii")
    return json.dumps([row.position, row.originator_id, row.originator_version, row.topic, state],
                      separators=(",", ":")).encode("ascii")


def next_link(previous: str, row: EventRow) -> str:
    return hashlib.sha256(previous.encode("ascii") + canonical_bytes(row)).hexdigest()


def canonical_id(value: Any, kind: str) -> str:
    """The originator id as text; a stored id not in its store's own form can never match a valid one."""
    if isinstance(value, uuid.UUID):
        return str(value)
    text = str(value)
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return "ongeldig:" + text
    return str(parsed) if kind == "sqlite" and text == parsed.hex else "ongeldig:" + text


# --------------------------------------------------------------- the store


class Store:
    """A plain DB-API connection to the events database of either kind (not the Application's)."""

    def __init__(self, settings: Settings) -> None:
        self.kind = "postgres" if settings.is_postgres else "sqlite"
        self.events_table = POSTGRES_EVENTS if settings.is_postgres else SQLITE_EVENTS
        self.position_column = "notification_id" if settings.is_postgres else "rowid"
        self._settings = settings
        self.conn: Any = self._connect()
        self.ready = False  # both tables known to exist (kept by a long-lived Ledger)

    def _connect(self) -> Any:
        if self.kind == "postgres":
            try:
                return psycopg.connect(self._settings.postgres_conninfo(), autocommit=True)
            except psycopg.OperationalError as error:
                if "does not exist" in str(error):
                    raise StoreNotFound(f"De databank {self._settings.eventsourcing_env()['POSTGRES_DBNAME']} "
                                        "bestaat niet: controleer LOKET_STORE.") from None
                raise
        path = self._settings.sqlite_path
        if not path.exists():
            raise StoreNotFound(f"Er is geen opslag op {path}: controleer LOKET_STORE.")
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")  # as the eventsourcing recorder sets it: readers see a snapshot
        return conn

    def close(self) -> None:
        self.conn.close()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        if self.kind == "postgres":
            statement = statement.replace("?", "%s")
        return self.conn.execute(statement, params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.kind == "postgres":
            with self.conn.cursor() as cur:
                cur.executemany(statement.replace("?", "%s"), rows)
        else:
            self.conn.executemany(statement, rows)

    @contextmanager
    def transaction(self, *, write: bool, snapshot: bool = False) -> Iterator[None]:
        """One transaction; `write` serialises chain writers, `snapshot` gives one consistent view."""
        if self.kind == "postgres":
            with self.conn.transaction():
                if snapshot:
                    self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                if write:
                    self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK,))
                yield
            return
        self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def has_table(self, name: str) -> bool:
        if self.kind == "postgres":
            return self.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0]
        return self.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None

    def require_events_table(self) -> None:
        if not self.has_table(self.events_table):
            raise StoreNotFound("Deze opslag heeft (nog) geen gebeurtenissentabel: er werd nooit iets geregistreerd.")

    def ensure_chain_table(self) -> None:
        if self.kind == "postgres":
            with self.transaction(write=True):  # concurrent CREATE ... IF NOT EXISTS can collide in PostgreSQL
                self.execute(CHAIN_DDL)
        else:
            self.execute(CHAIN_DDL)

    def events_after(self, after: int, limit: int = PAGE) -> list[EventRow]:
        pos = self.position_column
        rows = self.execute(
            f"SELECT {pos}, originator_id, originator_version, topic, state FROM {self.events_table} "
            f"WHERE {pos} > ? ORDER BY {pos} LIMIT ?", (after, limit)).fetchall()
        return [EventRow(r[0], canonical_id(r[1], self.kind), r[2], r[3], bytes(r[4])) for r in rows]

    def chain_after(self, after: int, limit: int = PAGE) -> list[tuple[int, str]]:
        return [tuple(r) for r in self.execute(
            "SELECT position, link FROM event_chain WHERE position > ? ORDER BY position LIMIT ?", (after, limit))]

    def chain_head(self) -> tuple[int, str]:
        row = self.execute("SELECT position, link FROM event_chain ORDER BY position DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    def insert_links(self, links: Sequence[tuple[int, str]]) -> None:
        if self.kind == "postgres":  # one statement for the page, not one round trip per link
            self.execute("INSERT INTO event_chain (position, link) SELECT * FROM unnest(?::bigint[], ?::text[]) "
                         "ON CONFLICT (position) DO NOTHING", ([p for p, _ in links], [link for _, link in links]))
        else:
            self.executemany("INSERT OR IGNORE INTO event_chain (position, link) VALUES (?, ?)", links)


@contextmanager
def connect(settings: Settings) -> Iterator[Store]:
    store = Store(settings)
    try:
        yield store
    finally:
        store.close()


FIRST = -(2**63)  # page from the lowest possible position: a row put at 0 or below is seen too


def _pages(fetch: Any) -> Iterator[Any]:
    """Every item of a keyset-paged query: fetch(after) returns the next page after a position."""
    after = FIRST
    while True:
        page = fetch(after)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1][0] if isinstance(page[-1], tuple) else page[-1].position


# ----------------------------------------------------------------- results


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_bad_position: int | None
    reason: str
    head_position: int = 0
    head_link: str = GENESIS
    unchained: int = 0  # rows after the chain head that have no link yet


# ------------------------------------------------------------ the ledger


class Ledger:
    """The chain of one store, on one connection kept open (for a long-running service); thread-safe."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._store: Store | None = None

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _use(self) -> Store:
        if self._store is None:
            self._store = Store(self._settings)
        return self._store

    def _run(self, work: Any) -> Any:
        with self._lock:
            try:
                return work(self._use())
            except psycopg.OperationalError:  # a dropped server connection: once more on a new one
                if self._store is not None:
                    self._store.close()
                self._store = None
                return work(self._use())

    def extend(self) -> tuple[int, str]:
        return self._run(_extend)

    def head(self) -> tuple[int, str]:
        return self._run(_head)

    def link_at(self, position: int) -> str | None:
        return self._run(lambda s: _link_at(s, position))

    def verify(self, *, allow_unchained_tail: bool = False, anchors: Iterable[tuple[int, str]] = ()) -> VerifyResult:
        return self._run(lambda s: check(s, allow_unchained_tail=allow_unchained_tail, anchors=anchors))


def _extend(store: Store) -> tuple[int, str]:
    if not store.ready:
        store.require_events_table()
        store.ensure_chain_table()
        store.ready = True
    while True:
        with store.transaction(write=True):  # one writer at a time, continuing from what is stored
            position, link = store.chain_head()
            rows = store.events_after(position)
            links = []
            for row in rows:
                link = next_link(link, row)
                links.append((row.position, link))
            if links:
                store.insert_links(links)
                position = links[-1][0]
        if len(rows) < PAGE:
            return position, link


def _head(store: Store) -> tuple[int, str]:
    store.require_events_table()
    return store.chain_head() if store.has_table("event_chain") else (0, GENESIS)


def _link_at(store: Store, position: int) -> str | None:
    if not store.has_table("event_chain"):
        return None
    row = store.execute("SELECT link FROM event_chain WHERE position = ?", (position,)).fetchone()
    return row[0] if row else None


def extend(settings: Settings) -> tuple[int, str]:
    """Chain every event row after the chain head; returns the new head. Idempotent, safe to run concurrently."""
    with connect(settings) as store:
        return _extend(store)


def head(settings: Settings) -> tuple[int, str]:
    """(position, link) of the last chained row; (0, GENESIS) for a store with no chain yet."""
    with connect(settings) as store:
        return _head(store)


def link_at(settings: Settings, position: int) -> str | None:
    """The link stored for a position (to anchor, e.g. in a stored photo); None when it is not chained."""
    with connect(settings) as store:
        return _link_at(store, position)


def verify(settings: Settings, *, allow_unchained_tail: bool = False,
           anchors: Iterable[tuple[int, str]] = ()) -> VerifyResult:
    """Walk rows and links from the start; report the first position where they disagree."""
    with connect(settings) as store:
        return check(store, allow_unchained_tail=allow_unchained_tail, anchors=anchors)


# ------------------------------------------------------------ the check


def check(store: Store, *, allow_unchained_tail: bool = False, anchors: Iterable[tuple[int, str]] = (),
          on_row: Any = None) -> VerifyResult:
    """The walk behind `verify`, in one consistent snapshot; `on_row(row, link)` sees every verified row."""
    store.require_events_table()
    with store.transaction(write=False, snapshot=True):
        return walk(store, allow_unchained_tail, dict(anchors), on_row)


def walk(store: Store, allow_tail: bool, anchors: dict[int, str], on_row: Any = None) -> VerifyResult:
    """The walk itself, inside a transaction the caller opened (see `check`)."""
    if anchors.get(0) == GENESIS:  # the head of an empty store holds for every store
        del anchors[0]
    events = _pages(store.events_after)
    chain: Iterator[tuple[int, str]] = _pages(store.chain_after) if store.has_table("event_chain") else iter(())
    link, position, checked = GENESIS, 0, 0
    row, chained = next(events, None), next(chain, None)

    def bad(at: int, reason: str) -> VerifyResult:
        return VerifyResult(False, checked, at, reason, position, link)

    while chained is not None:
        if row is None or row.position > chained[0]:
            return bad(chained[0], f"Positie {chained[0]}: deze gebeurtenis werd geketend maar ontbreekt in de "
                                   "opslag (verwijderd of verplaatst).")
        if row.position < chained[0]:
            return bad(row.position, f"Positie {row.position}: deze gebeurtenis heeft geen schakel, terwijl latere "
                                     f"posities (vanaf {chained[0]}) wel geketend zijn: ze werd achteraf ingevoegd "
                                     "(of haar schakel werd verwijderd).")
        expected = next_link(link, row)
        if expected != chained[1]:
            return bad(row.position, f"Positie {row.position}: de opgeslagen gebeurtenis past niet bij haar schakel: "
                                     "haar inhoud werd gewijzigd, of rijen werden verwisseld of verplaatst.")
        anchor = anchors.pop(row.position, None)
        if anchor is not None and anchor != chained[1]:
            return bad(row.position, f"Positie {row.position}: de schakel verschilt van de elders vastgelegde "
                                     f"schakel ({anchor[:16]}…): de keten zelf werd herschreven.")
        if on_row is not None:
            on_row(row, expected)
        link, position, checked = expected, row.position, checked + 1
        row, chained = next(events, None), next(chain, None)
    if anchors:
        at = min(anchors)
        return bad(at, f"Positie {at}: elders vastgelegd als geketend, maar de keten eindigt bij positie {position}: "
                       "het einde van het logboek werd verwijderd.")
    tail = 0 if row is None else 1 + sum(1 for _ in events)
    summary = f"{checked} gebeurtenissen kloppen met hun schakels (kop: positie {position}, schakel {link[:16]}…)."
    if tail:
        first = row.position  # type: ignore[union-attr]
        message = (f"{tail} gebeurtenis(sen) vanaf positie {first} zijn niet geketend: nog niet aan de keten "
                   "toegevoegd, of rechtstreeks in de databank toegevoegd.")
        if not allow_tail:
            return VerifyResult(False, checked, first, message, position, link, tail)
        return VerifyResult(True, checked, None, f"{summary} {message}", position, link, tail)
    return VerifyResult(True, checked, None, summary, position, link)
