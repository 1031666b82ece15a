"""Small SQL tables beside the event store: personal-data keys, accounts, the access log.

On SQLite each lives in a file of its own next to the store (the event store's tables are
the library's); on PostgreSQL they are tables of the same database. SQL is written once with
``?`` placeholders; `SideDB` translates for PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from service import faults  # noqa: F401  (reconnects every second after a database restart)
from service.settings import Settings


def private_file(path: Path) -> None:
    """Create `path` readable and writable by its owner only, when it does not exist yet."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...


class SideDB:
    """One connection per thread (SQLite) or a small pool (PostgreSQL); autocommit unless in `transaction`."""

    def __init__(self, settings: Settings, suffix: str, durable: bool = True) -> None:
        """`durable=False` (a view that can be rebuilt from the events): no fsync per commit, no secure delete."""
        self.durable = durable
        self.postgres = settings.is_postgres
        self.blob = "BYTEA" if self.postgres else "BLOB"
        self.serial = "BIGSERIAL PRIMARY KEY" if self.postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        if self.postgres:
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(settings.postgres_conninfo(), min_size=1, max_size=4,
                                        kwargs={"autocommit": True}, open=True, timeout=5,
                                        check=ConnectionPool.check_connection)  # survives a database restart
        else:
            self.path = Path(str(settings.sqlite_path) + suffix)
            private_file(self.path)
            self._local = threading.local()

    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            if self.durable:
                conn.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not just unlinked
            else:
                conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
            with self._pool.connection() as conn:
                cur = conn.execute(self._sql(sql), params)
                return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                        for row in (cur.fetchall() if cur.description else [])]
        cur = self._sqlite().execute(sql, params)
        return cur.fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        if self.postgres:
            with self._pool.connection() as conn:
                return int(conn.execute(self._sql(sql), params).rowcount)
        return int(self._sqlite().execute(sql, params).rowcount)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor whose statements commit together (or not at all)."""
        if self.postgres:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield _Translating(cur, self._sql)
            return
        conn = self._sqlite()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def create(self, *statements: str) -> None:
        """Create tables once, also when several processes start at the same moment."""
        with self.transaction() as cur:
            if self.postgres:
                cur.execute("SELECT pg_advisory_xact_lock(4242017)")
            for statement in statements:
                cur.execute(statement)

    def close(self) -> None:
        if self.postgres:
            self._pool.close()
        else:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
                self._local.conn = None


class _Translating:
    def __init__(self, cursor: Any, translate: Any) -> None:
        self._cursor = cursor
        self._translate = translate

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(self._translate(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(self._translate(sql), rows)

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()
