"""A portable archive of the whole event log with its chain: gzip-compressed JSON Lines.

Line 1 is a header, then one line per event row in position order; docs/archive.md
describes the format and how to check it by hand. An archive loads into an empty store of
either kind with every position kept, so positions cited by photos stay true.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import json
import os
import sqlite3
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import psycopg

from service import ledger
from service.settings import Settings

FORMAT, VERSION = "loket-archive", 1
EVENT_FIELDS = ("position", "originator_id", "originator_version", "topic", "state", "link")
BATCH = 2000


class ArchiveRefused(Exception):
    """An archive refused (bad file, or a store that is not empty), or not written (a store that is not intact).

    Nothing was written in either case; `line` is the archive's line number when one is at fault.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"regel {line}: {message}" if line else message)


@dataclass
class ExportReport:
    path: Path
    events: int
    head: tuple[int, str]


@dataclass
class ImportReport:
    events: int
    head: tuple[int, str]


# ------------------------------------------------------------------ export


def export(settings: Settings, path: Path | str) -> ExportReport:
    """Write the whole chained log to `path` (atomically); refuses a store whose chain does not verify."""
    path = Path(path)
    ledger.extend(settings)
    tmp = path.with_name(path.name + ".onvolledig")
    try:
        with ledger.connect(settings) as store, open(tmp, "wb") as raw:
            report = _write(store, raw, path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return report


def _write(store: ledger.Store, raw: BinaryIO, path: Path) -> ExportReport:
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out:
        def write(obj: dict[str, Any]) -> None:
            out.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n")

        def on_row(row: ledger.EventRow, link: str) -> None:  # only chained rows: a newer tail waits for the next export
            write({"position": row.position, "originator_id": row.originator_id,
                   "originator_version": row.originator_version, "topic": row.topic,
                   "state": base64.b64encode(row.state).decode("ascii"), "link": link})

        store.require_events_table()
        with store.transaction(write=False, snapshot=True):  # the header and the rows from one view
            head = store.chain_head()
            count = store.execute("SELECT count(*) FROM event_chain").fetchone()[0]
            write({"format": FORMAT, "version": VERSION,
                   "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                   "source": "postgresql" if store.kind == "postgres" else "sqlite",
                   "events": count, "head": {"position": head[0], "link": head[1]}})
            result = ledger.walk(store, True, {}, on_row)
    if not result.ok:
        raise ArchiveRefused(f"De opslag is niet intact, er werd geen archief geschreven. {result.reason}")
    return ExportReport(path, count, head)


# ------------------------------------------------------------------ import


def import_archive(settings: Settings, path: Path | str) -> ImportReport:
    """Load an archive into an empty store of either kind, positions kept, in one transaction."""
    from service.application import LoketService

    path = Path(path)
    with _Lines(path) as lines:
        header = _header(next(lines, None))
        LoketService(settings).close()  # the library creates its own tables (and the keys') first
        with ledger.connect(settings) as store:
            store.ensure_chain_table()
            with store.transaction(write=True):
                _refuse_unless_empty(store)
                count, head = _load(store, lines)
                if (count, head) != (header["events"], (header["head"]["position"], header["head"]["link"])):
                    raise ArchiveRefused(
                        f"Het archief is onvolledig: de kop meldt {header['events']} gebeurtenissen tot positie "
                        f"{header['head']['position']}, er staan er {count} in tot positie {head[0]}. "
                        "Er werd niets geschreven.")
                if store.kind == "postgres" and count:  # later saves continue after the archive's positions
                    store.execute(f"SELECT setval(pg_get_serial_sequence('{store.events_table}', 'notification_id'), ?)",
                                  (head[0],))
    return ImportReport(count, head)


class _Lines:
    def __init__(self, path: Path) -> None:
        try:
            self._file = gzip.open(path, "rb")
        except OSError as error:
            raise ArchiveRefused(f"Kan het archief {path} niet openen: {error.strerror or error}.") from None
        self.number = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return self

    def __next__(self) -> tuple[int, bytes]:
        try:
            line = self._file.readline()
        except (OSError, EOFError, zlib.error):
            raise ArchiveRefused("het archief is geen geldig gzip-bestand of is afgebroken. Er werd niets geschreven.",
                                 self.number + 1) from None
        if not line:
            raise StopIteration
        self.number += 1
        return self.number, line

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _parse(number: int, line: bytes) -> Any:
    if not line.endswith(b"\n"):
        raise ArchiveRefused("de laatste regel is afgebroken. Er werd niets geschreven.", number)
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise ArchiveRefused("geen geldige JSON. Er werd niets geschreven.", number) from None


def _header(first: tuple[int, bytes] | None) -> dict[str, Any]:
    if first is None:
        raise ArchiveRefused("Het archief is leeg: de kopregel ontbreekt. Er werd niets geschreven.")
    header = _parse(*first)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ArchiveRefused(f"dit is geen kopregel van een {FORMAT}. Er werd niets geschreven.", 1)
    if header.get("version") != VERSION:
        raise ArchiveRefused(f"archiefversie {header.get('version')!r} wordt niet ondersteund (alleen {VERSION}).", 1)
    head = header.get("head")
    if (not _is_int(header.get("events")) or not isinstance(head, dict) or not _is_int(head.get("position"))
            or not isinstance(head.get("link"), str)):
        raise ArchiveRefused("de kopregel mist 'events' of 'head' {position, link}. Er werd niets geschreven.", 1)
    return header


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _refuse_unless_empty(store: ledger.Store) -> None:
    if store.kind == "postgres":  # no save may slip in between the check and the load
        store.execute(f"LOCK TABLE {store.events_table} IN ACCESS EXCLUSIVE MODE")
    events = store.execute(f"SELECT count(*) FROM {store.events_table}").fetchone()[0]
    links = store.execute("SELECT count(*) FROM event_chain").fetchone()[0]
    if events or links:
        raise ArchiveRefused(
            f"De opslag is niet leeg ({events} gebeurtenissen, {links} schakels): een archief wordt alleen in een "
            "lege opslag geladen. Kies een nieuwe opslag (LOKET_STORE). Er werd niets geschreven.")


def _event(number: int, obj: Any, previous: int) -> ledger.EventRow:
    """An archive line as a row, every field checked; the message names what is wrong."""
    def refuse(what: str) -> ArchiveRefused:
        return ArchiveRefused(f"{what}. Het archief werd geweigerd, er werd niets geschreven.", number)

    if not isinstance(obj, dict) or set(obj) != set(EVENT_FIELDS):
        raise refuse(f"een gebeurtenis heeft precies de velden {', '.join(EVENT_FIELDS)}")
    position, oid, version, topic, state = (obj[k] for k in EVENT_FIELDS[:5])
    if not _is_int(position) or position <= previous:
        raise refuse(f"positie {position!r} volgt niet op positie {previous}")
    try:
        if str(uuid.UUID(oid)) != oid:
            raise ValueError
    except (ValueError, TypeError, AttributeError):
        raise refuse(f"originator_id {oid!r} is geen UUID in de vorm xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") from None
    if not _is_int(version) or not isinstance(topic, str) or not isinstance(obj["link"], str):
        raise refuse("originator_version moet een geheel getal zijn, topic en link tekst")
    try:
        data = base64.b64decode(state, validate=True)
        if base64.b64encode(data).decode("ascii") != state:  # one spelling only, the one the links are made of
            raise ValueError
    except (binascii.Error, TypeError, ValueError):
        raise refuse("state is geen geldige base64 (standaardalfabet, met opvulling)") from None
    return ledger.EventRow(position, oid, version, topic, data)


def _load(store: ledger.Store, lines: Iterator[tuple[int, bytes]]) -> tuple[int, tuple[int, str]]:
    """Insert every event and its link, checking each link while reading; returns (count, head)."""
    pos = store.position_column
    insert_event = (f"INSERT INTO {store.events_table} ({pos}, originator_id, originator_version, topic, state) "
                    "VALUES (?, ?, ?, ?, ?)")
    link, position, count = ledger.GENESIS, 0, 0
    events: list[tuple[Any, ...]] = []
    links: list[tuple[int, str]] = []

    def flush() -> None:
        try:
            store.executemany(insert_event, events)
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            raise ArchiveRefused("Het archief bevat een gebeurtenis (originator_id, originator_version) twee keer. "
                                 "Er werd niets geschreven.") from None
        store.insert_links(links)
        events.clear()
        links.clear()

    for number, line in lines:
        obj = _parse(number, line)
        row = _event(number, obj, position)
        link = ledger.next_link(link, row)
        if link != obj["link"]:
            raise ArchiveRefused(f"de schakel van positie {row.position} klopt niet: het archief werd gewijzigd of "
                                 "is beschadigd. Er werd niets geschreven.", number)
        oid = uuid.UUID(row.originator_id)
        events.append((row.position, oid if store.kind == "postgres" else oid.hex, row.originator_version,
                       row.topic, row.state))
        links.append((row.position, link))
        position, count = row.position, count + 1
        if len(events) >= BATCH:
            flush()
    flush()
    return count, (position, link)

