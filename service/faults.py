"""Faults of the store (server down or restarting, file read-only, disk full), told apart and named in Dutch.

The event store library wraps database errors in its own `PersistenceError`; the side tables
(keys, accounts, access log) and the chain use sqlite3, psycopg and psycopg_pool directly. All
of them mean the same to a user: nothing was recorded, try again once the store is back.
"""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg_pool
import psycopg_pool.base
from eventsourcing.persistence import IntegrityError, PersistenceError

# After a database restart the connection pools (the event store's and the side tables') try
# to reconnect with a delay that doubles each time (1, 2, 4, 8 s, ...), so a 30-second outage
# would keep the service refusing for up to half a minute more once the database is back.
# Try every second instead: a reconnection attempt to a local server costs next to nothing.
psycopg_pool.base.AttemptWithBackoff.DELAY_BACKOFF = 1.0

STORE_ERRORS: tuple[type[BaseException], ...] = (
    PersistenceError, psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout,
    psycopg.errors.ReadOnlySqlTransaction, sqlite3.OperationalError,
)

UNREACHABLE = ("De gegevensopslag is even niet bereikbaar; er werd niets geregistreerd. "
               "Probeer het zo dadelijk opnieuw.")
READ_ONLY = ("De gegevensopslag kan niet schrijven: het bestand of de map is alleen-lezen. Er werd niets "
             "geregistreerd; de beheerder moet de schrijfrechten herstellen.")
FULL = ("De gegevensopslag kan niet schrijven: de schijf is vol (of het bestand te groot). Er werd niets "
        "geregistreerd; de beheerder moet ruimte vrijmaken.")
WRITE_ERROR = ("De gegevensopslag kan niet schrijven: een schrijffout op de schijf (bijvoorbeeld een volle schijf "
               "of een bestand boven de toegelaten grootte). Er werd niets geregistreerd; de beheerder moet de schijf "
               "nakijken.")
CANNOT_OPEN = ("De gegevensopslag kan niet geopend worden: het bestand of de map is niet beschrijfbaar (bijvoorbeeld "
               "een alleen-lezen schijf) of bestaat niet. Er werd niets geregistreerd; controleer LOKET_STORE en de "
               "schrijfrechten.")
BUSY = ("De gegevensopslag is bezet door een andere schrijver; er werd niets geregistreerd. "
        "Probeer het zo dadelijk opnieuw.")

MESSAGES = {"read_only": READ_ONLY, "full": FULL, "write_error": WRITE_ERROR, "cannot_open": CANNOT_OPEN,
            "busy": BUSY, "unreachable": UNREACHABLE}
CODES = {"read_only": "opslag_alleen_lezen", "full": "opslag_vol", "write_error": "opslag_schrijffout",
         "cannot_open": "opslag_niet_te_openen", "busy": "opslag_bezet", "unreachable": "opslag_onbereikbaar"}

# What each kind of fault says in the errors of SQLite, PostgreSQL and the operating system.
_SIGNS = (
    ("read_only", ("readonly", "read-only", "read only")),
    ("full", ("disk is full", "no space left", "file too large", "disk full")),
    ("cannot_open", ("unable to open database file",)),
    ("write_error", ("disk i/o error",)),
    ("busy", ("database is locked", "database is busy")),
)


def is_store_fault(error: BaseException) -> bool:
    """A fault of the store, not of the request (an IntegrityError is a conflict, handled elsewhere)."""
    return isinstance(error, STORE_ERRORS) and not isinstance(error, IntegrityError)


def kind(error: BaseException) -> str:
    """One of MESSAGES' keys, from the error and the errors it wraps."""
    texts = []
    current: BaseException | None = error
    while current is not None and len(texts) < 5:
        texts.append(str(current).lower())
        current = current.__cause__ or current.__context__
    text = " | ".join(texts)
    for name, signs in _SIGNS:
        if any(sign in text for sign in signs):
            return name
    return "unreachable"


def message(error: BaseException) -> str:
    return MESSAGES[kind(error)]
