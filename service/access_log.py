"""The access log: who read or changed which request, in which role, when, and why.

Append-only: the product has no way to change or delete a row, and the database refuses it
too (triggers), so a mistake in the product cannot rewrite it either. It names requests by
their reference and people of the loket by their account; it never holds a family's
personal data, so it survives erasure unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from service.reports.layout import neutralized
from service.sidedb import SideDB

READ, CHANGE, EXPORT, ADMINISTER, LOGIN = "lezen", "wijziging", "export", "beheer", "aanmelding"
FIELDS = ("position", "at", "user", "role", "action", "request", "purpose", "channel")
REFUSAL = "het toegangslogboek kan niet gewijzigd worden"
BRUSSELS = ZoneInfo("Europe/Brussels")


@dataclass(frozen=True)
class Entry:
    position: int
    at: str
    user: str
    role: str
    action: str
    request: str | None
    purpose: str
    channel: str


class AccessLog:
    def __init__(self, db: SideDB) -> None:
        self._db = db
        statements = [f"CREATE TABLE IF NOT EXISTS access_log (position {db.serial}, at TEXT NOT NULL, "
                      "username TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, request TEXT, "
                      "purpose TEXT NOT NULL, channel TEXT NOT NULL)",
                      "CREATE INDEX IF NOT EXISTS access_log_request ON access_log (request)",
                      "CREATE INDEX IF NOT EXISTS access_log_user ON access_log (username)"]
        if db.postgres:
            statements += [
                "CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$",
                "CREATE OR REPLACE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log "
                "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()",
                "CREATE OR REPLACE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log "
                "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()",
            ]
        else:
            statements += [
                f"CREATE TRIGGER IF NOT EXISTS access_log_no_update BEFORE UPDATE ON access_log "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
                f"CREATE TRIGGER IF NOT EXISTS access_log_no_delete BEFORE DELETE ON access_log "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
            ]
        db.create(*statements)

    def record(self, user: str, role: str, action: str, request: str | None, purpose: str, channel: str = "api") -> None:
        at = _now()
        self._db.execute("INSERT INTO access_log (at, username, role, action, request, purpose, channel) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (at, user, role, action, request, purpose, channel))

    def record_many(self, user: str, role: str, action: str, requests: list[str], purpose: str,
                    channel: str = "api") -> None:
        if not requests:
            return
        at = _now()
        with self._db.transaction() as cur:
            cur.executemany("INSERT INTO access_log (at, username, role, action, request, purpose, channel) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(at, user, role, action, ref, purpose, channel) for ref in requests])

    def entries(self, request: str | None = None, user: str | None = None, limit: int | None = None) -> list[Entry]:
        where, params = [], []
        if request is not None:
            where.append("request = ?")
            params.append(request)
        if user is not None:
            where.append("username = ?")
            params.append(user)
        sql = ("SELECT position, at, username, role, action, request, purpose, channel FROM access_log"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY position")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Entry(*row) for row in self._db.rows(sql, params)]


def _now() -> str:
    return dt.datetime.now(BRUSSELS).isoformat(timespec="milliseconds")


def as_dicts(entries: list[Entry]) -> list[dict[str, Any]]:
    return [asdict(e) for e in entries]


def as_csv(entries: list[Entry]) -> bytes:
    """For the data-protection officer: ; separated, UTF-8 with BOM (opens right in Excel, nl-BE)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["positie", "tijdstip", "gebruiker", "rol", "handeling", "dossier", "doel", "kanaal"])
    for e in entries:
        writer.writerow([neutralized(str(v)) for v in (e.position, e.at, e.user, e.role, e.action, e.request or "", e.purpose,
                                            e.channel)])
    return ("\ufeff" + out.getvalue()).encode()

