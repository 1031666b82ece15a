"""The loket application: commands in, events saved, photos out.

Each command is handled as load -> one aggregate call (plus the child index where
uniqueness is at stake) -> save. The import saves many lines in one transaction; a
line refused by a rule triggers nothing, so it leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from eventsourcing.utils import get_topic

from service import commands as c
from service import municipalities
from service.access_log import AccessLog
from service.accounts import Accounts
from service.aggregates.care_request import CareRequest, request_id
from service.aggregates.child_index import ChildIndex, check_same_year, check_unique, child_index_id
from service.aggregates.errors import (
    DomainError,
    InvalidValue,
    RecordedInFuture,
    RecordedTooEarly,
    ReferenceTaken,
    RuleViolation,
    UnknownRequest,
)
from service.aggregates.import_ledger import RefusedLine
from service.aggregates.location import Location, location_id
from service.aggregates.online_application import PENDING as ONLINE_PENDING
from service.aggregates.online_application import OnlineApplication
from service.aggregates.reference_counter import ReferenceCounter, counter_id
from service.aggregates.stored_photo import StoredPhoto
from service.current import CurrentView
from service.identity import keyed_hash, normalize_national_number
from service.keyring import load_secrets
from service.ledger import Ledger
from service.matching import domain_order
from service.projections.photo import default_moment, fold, take_photo
from service.projections.readmodel import FiguresView
from service.projections.rules import RuleSet, rules_for
from service.settings import Settings
from service.sidedb import SideDB, private_file
from service.vault import KeyTable, Vault

BRUSSELS = ZoneInfo("Europe/Brussels")
logger = logging.getLogger("loket")


class DateAsISO(Transcoding):
    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


def _event_classes(aggregate: type[Aggregate]) -> list[type]:
    return [v for v in vars(aggregate).values() if isinstance(v, type) and issubclass(v, aggregate.Event)]


REQUEST_TOPICS = tuple(get_topic(cls) for cls in _event_classes(CareRequest))
RECORDED_TOPICS = REQUEST_TOPICS + tuple(get_topic(cls) for cls in _event_classes(Location))
LEDGER_TOPICS = RECORDED_TOPICS + (get_topic(RefusedLine.Refused),)
TIMED_TOPICS = RECORDED_TOPICS + (get_topic(StoredPhoto.Taken),)  # events that move history's clock on
ONLINE_TOPICS = tuple(get_topic(cls) for cls in _event_classes(OnlineApplication))
CLOCK_TOLERANCE = dt.timedelta(minutes=5)
PLACEMENT_YEARS = 3  # a child leaves childcare for school at about 2.5 to 3: older placements have ended
RETRIES = 8  # a conflict (another process saved the same dossier, child or number first) is retried on fresh state


class LoketEvents(Application):
    """The event store of one loket (eventsourcing Application)."""

    name = "Loket"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


@dataclass
class Outcome:
    reference: str
    id: uuid.UUID
    event: str
    position: int | None = None


class AggregateCache:
    """Aggregates as this process last saved them, kept between the transactions of one import.

    Before each use it reads the positions recorded since it last looked and forgets every
    aggregate another process changed there, so it never hands out a stale aggregate; a race
    it cannot see (a save between that look and our own) is a version conflict in the store,
    after which the cache is emptied and the lines are redone on fresh state.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self.items: dict[uuid.UUID, Aggregate | None] = {}
        self.limit = limit  # bounded memory: beyond it the cache starts over
        self.position: int | None = None

    def clear(self) -> None:
        self.items.clear()
        self.position = None

    def sync(self, recorder: Any, own: frozenset[int] = frozenset()) -> None:
        """Forget what others recorded since the last look (`own`: positions this process just saved)."""
        head = recorder.max_notification_id() or 0
        if self.position is None or len(self.items) > self.limit or head - self.position > 5000:
            self.items.clear()
        elif head > self.position:
            for note in recorder.select_notifications(self.position + 1, 5000, stop=head):
                if note.id not in own:
                    self.items.pop(uuid.UUID(str(note.originator_id)), None)
        self.position = head


@dataclass
class UnitOfWork:
    """Aggregates loaded or created while handling commands, saved together."""

    app: LoketEvents
    cache: AggregateCache | None = None
    loaded: dict[uuid.UUID, Aggregate | None] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)
    touched: dict[uuid.UUID, None] = field(default_factory=dict)  # since the last collect

    def get(self, aggregate_id: uuid.UUID) -> Any:
        if aggregate_id not in self.loaded:
            if self.cache is not None and aggregate_id in self.cache.items:
                self.loaded[aggregate_id] = self.cache.items[aggregate_id]
            else:
                try:
                    self.loaded[aggregate_id] = self.app.repository.get(aggregate_id)
                except AggregateNotFoundError:
                    self.loaded[aggregate_id] = None
        self.touched[aggregate_id] = None
        return self.loaded[aggregate_id]

    def add(self, aggregate: Aggregate) -> None:
        self.loaded[aggregate.id] = aggregate
        self.touched[aggregate.id] = None

    def collect(self) -> None:
        """Take the events a command triggered, so the store records them in command order.

        Only aggregates the command got or added can have triggered events."""
        for aggregate_id in self.touched:
            aggregate = self.loaded.get(aggregate_id)
            if aggregate is not None and aggregate.pending_events:
                self.events.extend(aggregate.collect_events())
        self.touched.clear()

    def pending(self) -> list[Any]:
        self.collect()
        return self.events

    def prefetch(self, ids: Sequence[uuid.UUID]) -> None:
        """Load many aggregates with one query (a new one is known not to exist without a query each)."""
        wanted = list(dict.fromkeys(i for i in ids if i not in self.loaded
                                    and (self.cache is None or i not in self.cache.items)))
        if not wanted:
            return
        found: dict[uuid.UUID, Aggregate | None] = dict.fromkeys(wanted)
        for stored in _select_many(self.app.recorder, wanted):
            event = self.app.mapper.to_domain_event(stored)
            found[event.originator_id] = event.mutate(found[event.originator_id])
        self.loaded.update(found)

    def saved(self, recordings: Sequence[Any]) -> None:
        """The events are recorded: keep the aggregates as they are now for the next transaction."""
        if self.cache is not None:
            self.cache.sync(self.app.recorder, own=frozenset(r.notification.id for r in recordings))
            self.cache.items.update(self.loaded)


def _select_many(recorder: Any, ids: Sequence[uuid.UUID]) -> list[Any]:
    """The stored events of many aggregates, each in version order (the library selects one at a time)."""
    from eventsourcing.persistence import StoredEvent

    table = recorder.events_table_name
    columns = "originator_id, originator_version, topic, state"
    out: list[Any] = []
    for start in range(0, len(ids), 900):
        part = ids[start:start + 900]
        if hasattr(recorder.datastore, "schema"):  # PostgreSQL
            from psycopg.sql import SQL, Identifier

            query = SQL("SELECT {c} FROM {s}.{t} WHERE originator_id = ANY(%s) ORDER BY originator_id, "
                        "originator_version").format(c=SQL(columns), s=Identifier(recorder.datastore.schema),
                                                     t=Identifier(table))
            with recorder.datastore.get_connection() as conn, conn.cursor() as cur:
                cur.execute(query, (list(part),))
                rows = [(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                        for r in cur.fetchall()]
        else:
            marks = ", ".join("?" * len(part))
            with recorder.datastore.transaction(commit=False) as cur:
                cur.execute(f"SELECT {columns} FROM {table} WHERE originator_id IN ({marks}) "
                            "ORDER BY originator_id, originator_version", [i.hex for i in part])
                rows = [(recorder.convert_originator_id(r["originator_id"]), r["originator_version"], r["topic"],
                         r["state"]) for r in cur.fetchall()]
        out += [StoredEvent(originator_id=oid, originator_version=version, topic=topic, state=state)
                for oid, version, topic, state in rows]
    return out


class LoketService:
    """What the CLI and the API call. Built once per process by `bootstrap.build`."""

    def __init__(self, settings: Settings, catch_up: bool = True) -> None:
        """`catch_up` chains events saved but not chained before a stop; verify-log opens without it."""
        self.settings = settings
        self.secrets = load_secrets(settings)  # a configuration error stops here, before any store is opened
        if not settings.is_postgres:
            settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            private_file(settings.sqlite_path)  # an empty file is a new SQLite database
        self.events = LoketEvents(env=settings.eventsourcing_env())
        self.ledger = Ledger(settings)
        if catch_up:
            self.ledger.extend()
        self._keys_db = SideDB(settings, ".keys")
        self._accounts_db = self._keys_db if settings.is_postgres else SideDB(settings, ".accounts")
        self.vault = Vault(KeyTable(self._keys_db, self.secrets), self.secrets)
        self.accounts = Accounts(self._accounts_db, self.secrets)
        self.access_log = AccessLog(self._accounts_db)
        self._write_lock = threading.Lock()
        self.current = CurrentView(lambda start: self.recorded_events(topics=RECORDED_TOPICS, start=start))
        self.figures = FiguresView(settings, self.events.recorder, self.events.mapper,
                                   lambda rid, version: self.events.repository.get(rid, version=version),
                                   REQUEST_TOPICS)
        self._area = frozenset(code for nis in settings.area for code in municipalities.related(nis))
        self._latest: dt.datetime | None = self._read_latest()

    def close(self) -> None:
        self.figures.close()
        self.ledger.close()
        self.events.close()
        self._keys_db.close()
        if self._accounts_db is not self._keys_db:
            self._accounts_db.close()

    # ------------------------------------------------------------- positions

    def _read_latest(self) -> dt.datetime | None:
        """The recorded time of the newest recorded event (history is only ever appended)."""
        top = self.events.recorder.max_notification_id() or 0
        window = 256
        while top > 0:  # look back window by window: the newest events may be index or ledger events
            start = max(1, top - window + 1)
            notes = self.events.recorder.select_notifications(start, window, stop=top, topics=TIMED_TOPICS)
            for note in reversed(notes):
                try:
                    state = self.events.mapper.transcoder.decode(note.state)
                    return dt.datetime.fromisoformat(state.get("recorded_at") or state["taken_at"])
                except (ValueError, KeyError, TypeError):  # a damaged row: verify-log names it
                    logger.warning("event at position %s cannot be read; run loket verify-log", note.id)
            top = start - 1
        return None

    def recorded_events(
        self, topics: Sequence[str] = REQUEST_TOPICS, page: int = 2000, start: int = 1, stop: int | None = None
    ) -> Iterator[tuple[int, Any]]:
        """(position, domain event) in the order the store recorded them, from `start` up to `stop`."""
        while True:
            notes = self.events.recorder.select_notifications(start, page, stop=stop, topics=topics)
            for n in notes:
                yield n.id, self.events.mapper.to_domain_event(n)
            if len(notes) < page:
                return
            start = notes[-1].id + 1

    def known_sources(self) -> dict[str, DomainError | None]:
        """History lines already handled, by digest: None when recorded, the refusal when refused."""
        decode = self.events.mapper.transcoder.decode
        refused_topic = get_topic(RefusedLine.Refused)
        known: dict[str, DomainError | None] = {}
        start = 1
        while True:
            notes = self.events.recorder.select_notifications(start, 5000, topics=LEDGER_TOPICS)
            for n in notes:
                state = decode(n.state)
                src = state.get("source")
                if not src:
                    continue
                if n.topic == refused_topic:
                    known[src] = RuleViolation(f"{state['reason']} (eerder geweigerd)")
                else:
                    known[src] = None
            if len(notes) < 5000:
                return known
            start = notes[-1].id + 1

    # -------------------------------------------------------------- commands

    def now(self) -> dt.datetime:
        """The recorded time of a command from a person: now, never before the store's latest."""
        moment = dt.datetime.now(BRUSSELS).replace(microsecond=0)
        if self._latest is not None and moment < self._latest:
            moment = self._latest.astimezone(BRUSSELS)
        return moment

    def execute(self, command: c.Command, stamp: bool = False) -> Outcome:
        """One command, saved at once. A race on the same child or dossier number is retried.

        With `stamp`, the command is recorded now (taken under the write lock, so recorded
        times follow the store's order within this process).
        """
        with self._write_lock:
            if stamp:
                command = command.model_copy(update={"recorded_at": self.now()})
            for attempt in range(1, RETRIES + 1):
                uow = UnitOfWork(self.events)
                outcome = self._handle(command, uow)
                try:
                    recordings = self._save(uow)
                except IntegrityError:
                    if attempt == RETRIES:
                        raise RuleViolation(
                            "Een andere gebruiker wijzigde dit dossier op hetzelfde moment; probeer opnieuw."
                        ) from None
                    time.sleep(random.uniform(0.005, 0.02) * attempt)  # jitter: racing processes spread out
                    continue
                self._advance(command.recorded_at)
                outcome.position = max((r.notification.id for r in recordings), default=None)
                return outcome
        raise AssertionError("unreachable")

    def execute_batch(
        self, commands: Sequence[c.Command], cache: AggregateCache | None = None
    ) -> list[Outcome | DomainError]:
        """Many commands in one transaction; each refused one is returned as its error.

        An import passes a `cache` to keep the aggregates it saved for its next batch."""
        with self._write_lock:
            if cache is not None:
                cache.sync(self.events.recorder)
            uow = UnitOfWork(self.events, cache)
            uow.prefetch([i for command in commands for i in self._ids_of(command)])
            self.vault.prefetch([agg.key_id for command in commands
                                 if isinstance(command.payload, c.ChildBorn | c.CorrectRegistration)
                                 and isinstance(agg := uow.get(request_id(command.target)), CareRequest)])
            results: list[Outcome | DomainError] = []
            latest = self._latest
            try:
                for command in commands:
                    try:
                        self._check_time(command, latest)
                        results.append(self._handle(command, uow))
                        uow.collect()
                        latest = command.recorded_at
                    except DomainError as error:
                        results.append(error)
                        self._remember_refusal(command, error, uow)
            finally:
                self.vault.forget_batch()
            try:
                recordings = self._save(uow)
            except IntegrityError:
                # Another writer got there first: redo the lines one by one on fresh state.
                if cache is not None:
                    cache.clear()
                return [self._retry_single(cmd) for cmd in commands]
            except BaseException:
                if cache is not None:
                    cache.clear()  # its aggregates hold events that were not recorded
                raise
            uow.saved(recordings)
            if latest is not None:
                self._advance(latest)
            return results

    def _ids_of(self, command: c.Command) -> list[uuid.UUID]:
        """The aggregates a command will look up first (to load them for a whole batch at once)."""
        if command.on_location:
            return [location_id(command.target)]
        ids = [request_id(command.target)] if command.target and not _looks_like_id(command.target) else []
        p = command.payload
        try:
            if isinstance(p, c.Register):
                ids.append(child_index_id(self._child_key(p.child)[0]))
            elif isinstance(p, c.ChildBorn):
                ids.append(child_index_id(self._child_key(c.Child(national_number=p.national_number), "")[0]))
            elif isinstance(p, c.Propose) and _is_reference(p.location):
                ids.append(location_id(p.location))
        except DomainError:  # a wrong number: the command itself refuses it, naming the field
            pass
        return ids

    def _remember_refusal(self, command: c.Command, error: DomainError, uow: UnitOfWork) -> None:
        if command.source is not None and error.lasting:
            uow.add(RefusedLine.record(command.source, error.code, error.message))
            uow.collect()

    def _retry_single(self, command: c.Command) -> Outcome | DomainError:
        uow = UnitOfWork(self.events)
        try:
            self._check_time(command, self._latest)
            outcome = self._handle(command, uow)
            self._save(uow)
            self._advance(command.recorded_at)
            return outcome
        except DomainError as error:
            refusal = UnitOfWork(self.events)
            self._remember_refusal(command, error, refusal)
            self._save(refusal)
            return error
        except IntegrityError:
            return RuleViolation("Een andere gebruiker wijzigde dit dossier op hetzelfde moment; importeer opnieuw.")

    def record(self, *aggregates: Aggregate, recorded_at: dt.datetime) -> None:
        """Save aggregates that are not commands on a request (a stored photo); history moves on to `recorded_at`."""
        with self._write_lock:
            self.events.save(*aggregates)
            self._chain()
            self._advance(recorded_at)

    def _save(self, uow: UnitOfWork) -> list[Any]:
        """New keys first (an orphan key is harmless), then the events in one transaction."""
        self.vault.flush()
        recordings = self.events.save(*uow.pending())
        if recordings:
            self._chain()
        return recordings

    def _chain(self) -> None:
        """Extend the tamper-evident chain over what was just saved.

        The events are committed already: failing the command now would invite a second
        recording, so a failure is logged and the next save (or the next start) chains it.
        """
        try:
            self.ledger.extend()
        except (sqlite3.OperationalError, psycopg.OperationalError) as error:
            logger.warning("chain not extended now (%s); the next save catches up", type(error).__name__)

    def _check_time(self, command: c.Command, latest: dt.datetime | None) -> None:
        if command.recorded_at > dt.datetime.now(BRUSSELS) + CLOCK_TOLERANCE:
            raise RecordedInFuture(
                f"Tijdstip 'at' {command.recorded_at.isoformat()} ligt in de toekomst: een feit wordt pas "
                "geregistreerd nadat het gebeurde.",
                field="at",
            )
        if latest is not None and command.recorded_at < latest:
            raise RecordedTooEarly(
                f"Tijdstip 'at' {command.recorded_at.isoformat()} ligt voor het laatst geregistreerde "
                f"tijdstip {latest.isoformat()}: geschiedenis wordt alleen aangevuld, nooit ervoor ingevoegd.",
                field="at",
            )

    def _advance(self, moment: dt.datetime) -> None:
        if self._latest is None or moment > self._latest:
            self._latest = moment

    def _handle(self, command: c.Command, uow: UnitOfWork) -> Outcome:
        meta = {"recorded_at": command.recorded_at.isoformat(), "by": command.by, "source": command.source}
        if command.on_location:
            return self._handle_location(command, uow, meta)
        if command.type == "register":
            return self._register(command.target, command.payload, uow, meta)  # type: ignore[arg-type]
        request = uow.get(request_id(command.target))
        if not isinstance(request, CareRequest):
            raise UnknownRequest(f"Dossier '{command.target}' bestaat niet bij dit loket.", field="request")
        handler = getattr(self, f"_on_{command.type}")
        handler(request, command.payload, uow, meta)
        return Outcome(request.reference, request.id, type(request.pending_events[-1]).__name__)

    # -- registration and identity

    def check_child(self, child: c.Child, year: int | None = None) -> None:
        """Refuse a wrong national or BIS number now, naming the field (nothing is recorded); with the year
        of the wished start, also a child that already has a request (the refusal names its dossier)."""
        key, eb = self._child_key(child)
        if year is not None:
            self._check_child_free(UnitOfWork(self.events), key, eb, year)

    def check_municipality(self, nis: str, field: str = "municipality") -> str:
        """A municipality of the service area, under any of its codes before or after a merger."""
        area = self._area or municipalities.flanders_and_brussels()
        if nis not in area:
            where = "het werkingsgebied van dit loket" if self.settings.area else "Vlaanderen of Brussel"
            raise InvalidValue(f"'{field}' {nis} is geen gemeente van {where}.", field=field)
        return nis

    def _child_key(self, child: c.Child, field: str = "child") -> tuple[str, dt.date | None]:
        if child.national_number is not None:
            digits = normalize_national_number(child.national_number, f"{field}.national_number")
            return keyed_hash(self.vault.hash_secret, "born", digits), None
        parent = normalize_national_number(child.parent_national_number or "", f"{field}.parent_national_number")
        key = keyed_hash(self.vault.hash_secret, "unborn", parent, str(child.birth_order))
        return key, child.expected_birth

    def _check_child_free(
        self, uow: UnitOfWork, key: str, expected_birth: dt.date | None, year: int, exclude: uuid.UUID | None = None
    ) -> ChildIndex | None:
        index = uow.get(child_index_id(key))
        if index is not None:
            others = [uow.get(rid) for rid in index.candidates(expected_birth)]
            check_unique([o for o in others if o is not None], year, exclude)
        return index

    def _link(self, uow: UnitOfWork, index: ChildIndex | None, key: str, request: CareRequest, eb: dt.date | None) -> None:
        if index is None:
            index = ChildIndex.open(key)
            uow.add(index)
        index.link(request.id, eb)

    def _personal(self, child: c.Child, contact: c.Contact | None, notes: str | None) -> dict[str, Any]:
        return {
            "child": child.model_dump(mode="json", exclude_none=True),
            "contact": contact.model_dump(exclude_none=True) if contact else {},
            "notes": notes,
        }

    def _issue_reference(self, uow: UnitOfWork, year: int) -> str:
        counter = uow.get(counter_id(year))
        if counter is None:
            counter = ReferenceCounter.start(year)
            uow.add(counter)
        while True:
            reference = counter.issue()
            # The same number written with other zero padding (an imported register's 2026-000001) is taken too:
            # two families must never both be "dossier 1 of 2026".
            number = int(reference.split("-")[1])
            if all(uow.get(request_id(f"{year}-{number:0{width}d}")) is None for width in (1, 4, 5, 6, 7)):
                return reference

    def _register(self, reference: str, cmd: c.Register, uow: UnitOfWork, meta: dict[str, Any]) -> Outcome:
        if _looks_like_id(reference):
            raise InvalidValue(
                f"Referentie '{reference}' heeft de vorm van een technische id (UUID); kies een dossiernummer.",
                field="request",
            )
        if reference and uow.get(request_id(reference)) is not None:
            raise ReferenceTaken(f"Dossier '{reference}' bestaat al bij dit loket.", field="request")
        self.check_municipality(cmd.municipality)
        key, eb = self._child_key(cmd.child)
        index = self._check_child_free(uow, key, eb, cmd.desired_start.year)
        if not reference:
            reference = self._issue_reference(uow, cmd.request_date.year)
        key_id = self.vault.new_key()
        request = CareRequest.register(
            reference=reference, care_type=cmd.care_type, request_date=cmd.request_date,
            desired_start=cmd.desired_start, days_per_week=cmd.days_per_week, hours=list(cmd.hours),
            municipality=cmd.municipality, child_kind="born" if eb is None and cmd.child.national_number else "unborn",
            family=cmd.family.given(), special_care=cmd.special_care, consent=cmd.consent, intake=cmd.intake,
            key_id=key_id, personal=self.vault.seal(key_id, self._personal(cmd.child, cmd.contact, cmd.notes)),
            child_indexes=[str(child_index_id(key))], **meta,
        )
        if cmd.origin is not None:
            request.received_from(loket=cmd.origin.loket, request=cmd.origin.request, **meta)
        uow.add(request)
        self._link(uow, index, key, request, eb)
        return Outcome(reference, request.id, "Registered")

    def _current_personal(self, request: CareRequest) -> dict[str, Any]:
        data = self.vault.open(request.key_id, request.personal)
        if data is None:
            raise RuleViolation(f"De persoonsgegevens van dossier {request.reference} zijn gewist.")
        return data

    def _on_child_born(self, request: CareRequest, cmd: c.ChildBorn, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        child = c.Child(national_number=cmd.national_number)
        key, _ = self._child_key(child, "")
        index = self._check_child_free(uow, key, None, request.original_year, exclude=request.id)
        data = self._current_personal(request)
        data["child"] = {**data["child"], "national_number": normalize_national_number(cmd.national_number, "national_number")}
        request.record_birth(on=cmd.on, personal=self.vault.seal(request.key_id, data),
                             child_indexes=[str(child_index_id(key))], **meta)
        self._link(uow, index, key, request, None)

    def _on_correct_registration(
        self, request: CareRequest, cmd: c.CorrectRegistration, uow: UnitOfWork, meta: dict[str, Any]
    ) -> None:
        given = cmd.model_fields_set - {"reason"}
        changes: dict[str, Any] = {}
        for name in given & {"care_type", "request_date", "desired_start", "days_per_week", "hours", "municipality",
                             "special_care", "intake"}:
            changes[name] = getattr(cmd, name)
        if "hours" in changes:
            changes["hours"] = sorted(set(changes["hours"] or []))
        if "family" in given and cmd.family is not None:
            changes["family"] = cmd.family.given()
        if "municipality" in changes:
            self.check_municipality(changes["municipality"])
        personal = None
        old_indexes = self._indexes_of(request, uow)  # before the correction changes who the child is
        new_index: tuple[ChildIndex | None, str, dt.date | None] | None = None
        if given & {"child", "contact", "notes"}:
            data = self._current_personal(request)
            if cmd.child is not None:
                key, eb = self._child_key(cmd.child)
                year = (cmd.desired_start or request.desired_start).year
                new_index = (self._check_child_free(uow, key, eb, year, exclude=request.id), key, eb)
                data["child"] = cmd.child.model_dump(mode="json", exclude_none=True)
                changes["child_kind"] = "born" if cmd.child.national_number else "unborn"
                changes["child_indexes"] = [str(child_index_id(key))]
            if "contact" in given:
                data["contact"] = cmd.contact.model_dump(exclude_none=True) if cmd.contact else {}
            if "notes" in given:
                data["notes"] = cmd.notes
            personal = self.vault.seal(request.key_id, data)
        if new_index is None and "desired_start" in changes and changes["desired_start"].year != request.original_year:
            for index in old_indexes:
                others = [uow.get(link.request_id) for link in index.links]
                check_same_year([o for o in others if o is not None], changes["desired_start"].year, request.id)
        request.correct_registration(changes=changes, personal=personal, reason=cmd.reason, **meta)
        if new_index is not None:
            for index in old_indexes:
                index.unlink(request.id)
            self._link(uow, new_index[0], new_index[1], request, new_index[2])

    def _indexes_of(self, request: CareRequest, uow: UnitOfWork) -> list[ChildIndex]:
        """The uniqueness indexes the request is linked to (also after its personal data was erased)."""
        ids = [uuid.UUID(i) for i in request.child_indexes]
        if not ids:  # requests registered before the ids were kept: derive them from the personal data
            data = self.vault.open(request.key_id, request.personal)
            child = data["child"] if data else {}
            if child.get("national_number"):
                ids.append(child_index_id(keyed_hash(self.vault.hash_secret, "born", child["national_number"])))
            if child.get("parent_national_number"):
                parent = "".join(ch for ch in child["parent_national_number"] if ch.isdigit())
                ids.append(child_index_id(keyed_hash(
                    self.vault.hash_secret, "unborn", parent, str(child.get("birth_order", 1)))))
        return [i for i in (uow.get(x) for x in ids) if i is not None]

    # -- follow-ups: one aggregate call each

    def _on_change_wish(self, r: CareRequest, cmd: c.ChangeWish, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        r.change_wish(desired_start=cmd.desired_start, days_per_week=cmd.days_per_week,
                      hours=list(cmd.hours) if cmd.hours is not None else None, **meta)

    def _on_update_family(self, r: CareRequest, cmd: c.UpdateFamily, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        r.update_family(family=cmd.family.given(), special_care=cmd.special_care, **meta)

    def _on_move(self, r: CareRequest, cmd: c.Move, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        r.move(municipality=self.check_municipality(cmd.municipality), on=cmd.on, **meta)

    def _on_change_consent(self, r: CareRequest, cmd: c.ChangeConsent, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        r.change_consent(consent=cmd.consent, on=cmd.on, **meta)

    def _on_propose(self, r: CareRequest, cmd: c.Propose, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        location = uow.get(location_id(cmd.location)) if _is_reference(cmd.location) else None
        if isinstance(location, Location) and location.closed_on is not None:
            raise RuleViolation(
                f"Locatie {location.reference} ({location.name}) is gesloten sinds {location.closed_on.isoformat()}; "
                "een voorstel daar kan niet.",
                field="location",
            )
        if not isinstance(location, Location):
            location = None
        r.propose(proposal=cmd.proposal, location=location.name if location else cmd.location,
                  location_ref=location.reference if location else None, start=cmd.start,
                  days_per_week=cmd.days_per_week, hours=list(cmd.hours), on=cmd.on, **meta)

    def _on_refuse(self, r: CareRequest, cmd: c.Refuse, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        r.refuse(proposal=cmd.proposal, on=cmd.on, reason=cmd.reason, **meta)

    def _on_withdraw_proposal(self, r: CareRequest, cmd: c.WithdrawProposal, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        r.withdraw_proposal(proposal=cmd.proposal, on=cmd.on, reason=cmd.reason, **meta)

    def _on_accept(self, r: CareRequest, cmd: c.Accept, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        offered = r.proposals.get(cmd.proposal)
        location = uow.get(location_id(offered.location_ref)) if offered and offered.location_ref else None
        if isinstance(location, Location) and location.closed_on is not None:
            raise RuleViolation(
                f"Locatie {location.reference} ({location.name}) is gesloten sinds {location.closed_on.isoformat()}; "
                "dit voorstel kan niet meer aanvaard worden.", field="proposal")
        r.accept(proposal=cmd.proposal, on=cmd.on, start=cmd.start, days_per_week=cmd.days_per_week, **meta)
        if isinstance(location, Location):
            location.take_place(request=str(r.id), start=r.placement.start, **meta)

    def _on_cancel_placement(self, r: CareRequest, cmd: c.CancelPlacement, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        where = r.placement_location()
        r.cancel_placement(on=cmd.on, reason=cmd.reason, **meta)
        location = uow.get(location_id(where)) if where else None
        if isinstance(location, Location):
            location.free_place(request=str(r.id), **meta)

    def _on_solve_elsewhere(self, r: CareRequest, cmd: c.SolveElsewhere, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        if cmd.municipality not in municipalities.all_codes():
            raise InvalidValue(f"'municipality' {cmd.municipality} is geen Belgische NIS-code.", field="municipality")
        r.solve_elsewhere(municipality=cmd.municipality, on=cmd.on, **meta)

    def _on_withdraw(self, r: CareRequest, cmd: c.Withdraw, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        r.withdraw(on=cmd.on, reason=cmd.reason, **meta)

    def _on_reopen(self, r: CareRequest, cmd: c.Reopen, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        # Reopening must not give the child a second open request.
        for index in self._indexes_of(r, uow):
            others = [uow.get(link.request_id) for link in index.links]
            for other in others:
                if other is not None and other.id != r.id and other.is_open:
                    check_unique([other], -1, exclude=r.id)
        r.reopen(on=cmd.on, reason=cmd.reason, **meta)

    def _on_void(self, r: CareRequest, cmd: c.Void, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        r.void(reason=cmd.reason, **meta)

    def _on_erase_personal_data(self, r: CareRequest, cmd: c.ErasePersonalData, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        key_id = r.key_id
        r.erase_personal_data(on=cmd.on, ground=cmd.ground, destroy_key=lambda: self.vault.erase(key_id), **meta)

    # -- locations

    def _handle_location(self, command: c.Command, uow: UnitOfWork, meta: dict[str, Any]) -> Outcome:
        loc = uow.get(location_id(command.target))
        p = command.payload
        if command.type == "register_location":
            assert isinstance(p, c.RegisterLocation)
            if loc is not None:
                raise ReferenceTaken(f"Locatie '{command.target}' bestaat al.", field="location")
            self.check_municipality(p.municipality)
            loc = Location.register(reference=command.target, name=p.name, organizer=p.organizer,
                                    municipality=p.municipality, capacity=p.capacity, hours=list(p.hours), **meta)
            uow.add(loc)
        elif loc is None:
            raise UnknownRequest(f"Locatie '{command.target}' bestaat niet bij dit loket.", field="location")
        elif isinstance(p, c.ReportFreePlaces):
            loc.report_free_places(from_date=p.from_, places=p.places, days_per_week=p.days_per_week,
                                   hours=list(p.hours) if p.hours is not None else None, **meta)
        elif isinstance(p, c.CloseLocation):
            loc.close(on=p.on, reason=p.reason, **meta)
            self._end_placements_at(loc, p, uow, meta)
            return Outcome(command.target, loc.id, "Closed")  # not the PlaceFreed events that follow it
        elif isinstance(p, c.ChangeLocation):
            changes = {k: getattr(p, k) for k in p.model_fields_set - {"reason"} if getattr(p, k) is not None}
            if "municipality" in changes:
                self.check_municipality(changes["municipality"])
            if "hours" in changes:
                changes["hours"] = sorted(set(changes["hours"]))
            loc.change_details(changes=changes, reason=p.reason, **meta)
        elif isinstance(p, c.ReopenLocation):
            loc.reopen(on=p.on, reason=p.reason, **meta)
        return Outcome(command.target, loc.id, type(loc.pending_events[-1]).__name__)

    def _end_placements_at(self, loc: Location, closure: c.CloseLocation, uow: UnitOfWork, meta: dict[str, Any]) -> None:
        """The crisis: every placement in force at the closed location is cancelled in the same
        transaction as the closure, and its request flagged for urgent follow-up."""
        reason = f"Sluiting van locatie {loc.reference} ({loc.name}): {closure.reason}"
        in_batch = [i for i, agg in uow.loaded.items() if isinstance(agg, CareRequest)]  # not saved yet
        known = [uuid.UUID(i) for i in loc.placed] + self.current.refresh().placed_at(loc.reference)
        for request_id_ in dict.fromkeys(known + in_batch):
            request = uow.get(request_id_)
            if (isinstance(request, CareRequest) and request.placement_location() == loc.reference
                    and request.status != "voided"  # registered in error: it leaves every count and list
                    and request.placement.start > _years_before(closure.on, PLACEMENT_YEARS)):  # still in care
                on = max(closure.on, request.placement.on)  # never cancelled before it was accepted
                request.end_placement_by_closure(location=loc.reference, on=on, reason=reason, **meta)
            if isinstance(request, CareRequest):
                loc.free_place(request=str(request.id), **meta)

    # ------------------------------------------------------------------ reads

    def get_request(self, reference_or_id: str) -> CareRequest:
        rid = _parse_id(reference_or_id)
        try:
            found = self.events.repository.get(rid)
        except AggregateNotFoundError:
            found = None
        if not isinstance(found, CareRequest):
            raise UnknownRequest(f"Dossier '{reference_or_id}' bestaat niet bij dit loket.", field="id")
        return found

    def history(self, reference_or_id: str) -> list[Any]:
        request = self.get_request(reference_or_id)
        return list(self.events.events.get(request.id))

    def personal_data(self, request: CareRequest) -> dict[str, Any] | None:
        return self.vault.open(request.key_id, request.personal)

    def erase(self, reference: str, ground: str, by: str) -> Outcome:
        """Erase a request's personal data now (the figures and its history stay)."""
        request = self.get_request(reference)
        today = dt.datetime.now(BRUSSELS).date()
        payload = c.ErasePersonalData(on=today, ground=ground)
        return self.execute(c.Command(type="erase_personal_data", target=request.reference, payload=payload,
                                      recorded_at=self.now(), by=by), stamp=True)

    def retention_due(self, years: int, today: dt.date | None = None) -> list[tuple[str, dt.date]]:
        """Requests closed at least `years` ago whose personal data is still there, oldest first."""
        today = today or dt.datetime.now(BRUSSELS).date()
        limit = _years_before(today, years)
        with self.current.lock():
            states = self.current.refresh().requests
            due = [(r.reference, r.closed_on) for r in states.values()
                   if not r.is_open and not r.erased and r.closed_on is not None and r.closed_on <= limit]
        return sorted(due, key=lambda item: (item[1], item[0]))  # type: ignore[arg-type, return-value]

    def handover(self, reference: str, to: str, by: str) -> dict[str, Any]:
        """One request as a history line for another loket: the request as it stands now, with where
        it came from. Only with the family's consent, and only while it is open."""
        request = self.get_request(reference)
        if not request.consent:
            raise RuleViolation(f"Dossier {request.reference}: het gezin gaf geen toestemming om gegevens te delen; "
                                "vraag ze eerst (change_consent).", field="consent")
        if not request.is_open:
            raise RuleViolation(f"Dossier {request.reference} is niet open; alleen een open vraag wordt overgedragen.")
        personal = self.vault.open(request.key_id, request.personal)
        if personal is None:
            raise RuleViolation(f"De persoonsgegevens van dossier {request.reference} zijn gewist.")
        line: dict[str, Any] = {
            "at": self.now().isoformat(), "by": by, "type": "register", "request": request.reference,
            "care_type": request.care_type, "request_date": request.request_date.isoformat(),
            "desired_start": request.wish_start.isoformat(), "days_per_week": request.wish_days,
            "hours": list(request.wish_hours), "municipality": request.municipality,
            "child": ({"national_number": personal["child"]["national_number"]}  # born since: the number is enough
                      if personal["child"].get("national_number") else personal["child"]),
            "family": request.family, "special_care": request.special_care, "consent": True,
            "origin": {"loket": self.settings.name, "request": request.reference},
        }
        if personal.get("contact"):
            line["contact"] = personal["contact"]
        if personal.get("notes"):
            line["notes"] = personal["notes"]
        self.access_log.record(by, "cli", "export", request.reference, f"overdracht aan {to}", "cli")
        return line

    def receive(self, line: dict[str, Any], municipality: str, reference: str | None, by: str) -> Outcome:
        """Register a request another loket handed over, now, in this loket's municipality."""
        obj = {**line, "at": self.now().isoformat(), "by": by, "municipality": municipality,
               "request": reference or "nieuw"}
        command = c.parse_line(obj)
        if not reference:  # this loket gives its own dossier number
            command = command.model_copy(update={"target": ""})
        payload = command.payload
        if not isinstance(payload, c.Register) or payload.origin is None:
            raise InvalidValue("Dit bestand is geen overdracht: verwacht één register-regel met 'origin'.", field="type")
        return self.execute(command, stamp=True)

    # -- online requests from parents

    def submit_online(self, fields: dict[str, Any]) -> uuid.UUID:
        """A parent's request, checked for its shape and its national numbers, kept sealed until a worker
        confirms it. Nothing counts yet."""
        payload = c.parse_payload("register", fields)
        self.check_municipality(payload.municipality)
        self.check_child(payload.child)
        key_id = self.vault.new_key()
        sealed = self.vault.seal(key_id, payload.model_dump(mode="json", exclude_none=True))
        application = OnlineApplication.submit(key_id=key_id, sealed=sealed, recorded_at=self.now().isoformat(),
                                               by="ouder (online)")
        with self._write_lock:
            self.vault.flush()
            self.events.save(application)
            self._chain()
        return application.id

    def online_applications(self) -> list[tuple[OnlineApplication, dict[str, Any] | None]]:
        """The applications still to check, oldest first, with their (opened) answers."""
        states: dict[uuid.UUID, OnlineApplication] = {}
        for _, event in self.recorded_events(topics=ONLINE_TOPICS):
            states[event.originator_id] = event.mutate(states.get(event.originator_id))
        pending = [a for a in states.values() if a.state == ONLINE_PENDING]
        return [(a, self.vault.open(a.key_id, a.sealed)) for a in pending]

    def confirm_online(self, application_id: uuid.UUID, by: str) -> Outcome:
        """Register the request now (a duplicate child is refused here) and close the application."""
        with self._write_lock:
            for attempt in range(1, RETRIES + 1):
                uow = UnitOfWork(self.events)
                application = uow.get(application_id)
                if not isinstance(application, OnlineApplication):
                    raise UnknownRequest("Deze online aanvraag bestaat niet.", field="id")
                application.check_pending()
                fields = self.vault.open(application.key_id, application.sealed) or {}
                command = c.Command(type="register", target="", payload=c.parse_payload("register", fields),
                                    recorded_at=self.now(), by=by)
                outcome = self._handle(command, uow)
                application.confirm(reference=outcome.reference, recorded_at=command.recorded_at.isoformat(), by=by)
                try:
                    recordings = self._save(uow)
                except IntegrityError:
                    if attempt == RETRIES:
                        raise RuleViolation("Een andere gebruiker wijzigde dit op hetzelfde moment; probeer opnieuw.") from None
                    continue
                self._advance(command.recorded_at)
                self.vault.erase(application.key_id)  # the request holds its own sealed copy now
                outcome.position = max((r.notification.id for r in recordings), default=None)
                return outcome
        raise AssertionError("unreachable")

    def reject_online(self, application_id: uuid.UUID, reason: str, by: str) -> None:
        with self._write_lock:
            uow = UnitOfWork(self.events)
            application = uow.get(application_id)
            if not isinstance(application, OnlineApplication):
                raise UnknownRequest("Deze online aanvraag bestaat niet.", field="id")
            key_id = application.key_id
            application.reject(reason=reason, destroy_key=lambda: self.vault.erase(key_id),
                               recorded_at=self.now().isoformat(), by=by)
            self._save(uow)

    def location(self, reference: str) -> Location | None:
        try:
            found = self.events.repository.get(location_id(reference))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Location) else None

    def check_locations(self, references: Sequence[str]) -> None:
        unknown = [ref for ref in references if self.location(ref) is None]
        if unknown:
            raise InvalidValue(f"onbekende opvanglocatie(s) {', '.join(unknown)}: registreer een locatie eerst "
                               "(register_location, zie README).", field="locations")

    def reach(self, references: Sequence[str]) -> frozenset[str]:
        """The municipalities (under every code before or after a merger) of these open locations."""
        codes: set[str] = set()
        for ref in references:
            loc = self.location(ref)
            if loc is not None and loc.closed_on is None:
                codes |= set(municipalities.related(loc.municipality))
        return frozenset(codes)

    def open_requests(self, every_care_type: bool = False) -> list[CareRequest]:
        """Every open request (for babies and toddlers, unless every care type) as known now, in the order of domain.md."""
        with self.current.lock():
            return sorted(self.current.refresh().open_requests(every_care_type), key=domain_order)

    def photo(
        self, year: int, as_of: dt.datetime | None = None, upto: int | None = None, rules: RuleSet | None = None
    ) -> dict[str, Any]:
        """The photo of `year` as known at `as_of`; a rebuild passes the stored position and rule set."""
        return self.photo_with_source(year, as_of, upto, rules)[0]

    def photo_with_source(
        self, year: int, as_of: dt.datetime | None = None, upto: int | None = None, rules: RuleSet | None = None
    ) -> tuple[dict[str, Any], str]:
        """The photo and how it was computed: "view" or "replay".

        Asked as known now (no `upto`), it is read from the figures view, caught up first; when the
        view cannot catch up in time it is replayed from the events (never read from a lagging view).
        A rebuild up to a stored position is always a replay: that is the proof.
        """
        moment = as_of or default_moment(year)
        rules = rules or rules_for(year)
        if upto is None:
            position = self.view_position(moment)
            if position is not None:
                total, per_municipality = self.figures.figures(year, position, rules, self.settings.area)
                return {"year": year, "as_of": moment.isoformat(), "position": position, "rules": rules.name,
                        "rules_description": rules.description, "total": total,
                        "municipalities": per_municipality}, "view"
        return take_photo(self.recorded_events(stop=upto), year, moment, rules, self.settings.area), "replay"

    def view_position(self, moment: dt.datetime) -> int | None:
        """The position the photo at `moment` covers, from a caught-up figures view (None: it is not)."""
        if self.figures.ready(self.settings.view_wait) is None:
            return None
        return self.figures.position_at(moment)

    def request_states(self, as_of: dt.datetime, upto: int | None = None) -> tuple[dict[uuid.UUID, CareRequest], int]:
        return fold(self.recorded_events(stop=upto), as_of)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _looks_like_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _is_reference(text: str) -> bool:
    return all(ch.isalnum() or ch in "._-" for ch in text)


def _parse_id(reference_or_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(reference_or_id)
    except ValueError:
        return request_id(reference_or_id)
