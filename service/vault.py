"""Personal data, encrypted per request with a key kept outside the event log.

Events hold only the ciphertext and a key id. Erasing a request's personal data deletes its
key: the ciphertext left in the (append-only) event log can then never be read again, and
no event has to be rewritten. The vault also holds the loket's secret for keyed hashes.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ERASED = None


class _KeyTable(Protocol):
    def put_many(self, items: list[tuple[str, bytes]]) -> None: ...
    def get(self, key_id: str) -> bytes | None: ...
    def delete(self, key_id: str) -> None: ...
    def secret(self, name: str) -> bytes: ...


class SQLiteKeys:
    """Keys in their own SQLite file beside the event store."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()
        with self._conn() as c:
            c.execute("CREATE TABLE IF NOT EXISTS personal_data_keys (key_id TEXT PRIMARY KEY, key BLOB NOT NULL)")
            c.execute("CREATE TABLE IF NOT EXISTS loket_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA secure_delete=ON")  # an erased key is overwritten, not just unlinked
            self._local.conn = conn
        return conn

    def put_many(self, items: list[tuple[str, bytes]]) -> None:
        c = self._conn()
        c.execute("BEGIN")
        c.executemany("INSERT INTO personal_data_keys VALUES (?, ?)", items)
        c.execute("COMMIT")

    def get(self, key_id: str) -> bytes | None:
        row = self._conn().execute("SELECT key FROM personal_data_keys WHERE key_id = ?", (key_id,)).fetchone()
        return row[0] if row else None

    def delete(self, key_id: str) -> None:
        c = self._conn()
        c.execute("DELETE FROM personal_data_keys WHERE key_id = ?", (key_id,))
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # and no copy of it stays behind in the WAL file

    def secret(self, name: str) -> bytes:
        c = self._conn()
        c.execute("INSERT OR IGNORE INTO loket_secrets VALUES (?, ?)", (name, os.urandom(32)))
        return c.execute("SELECT value FROM loket_secrets WHERE name = ?", (name,)).fetchone()[0]


class PostgresKeys:
    """Keys in their own tables of the PostgreSQL database, never in the events table."""

    def __init__(self, conninfo: str) -> None:
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(conninfo, min_size=1, max_size=4, kwargs={"autocommit": True}, open=True, timeout=10)
        with self._pool.connection() as c:
            c.execute("CREATE TABLE IF NOT EXISTS personal_data_keys (key_id TEXT PRIMARY KEY, key BYTEA NOT NULL)")
            c.execute("CREATE TABLE IF NOT EXISTS loket_secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL)")

    def put_many(self, items: list[tuple[str, bytes]]) -> None:
        with self._pool.connection() as c, c.transaction(), c.cursor() as cur:
            cur.executemany("INSERT INTO personal_data_keys VALUES (%s, %s)", items)

    def get(self, key_id: str) -> bytes | None:
        with self._pool.connection() as c:
            row = c.execute("SELECT key FROM personal_data_keys WHERE key_id = %s", (key_id,)).fetchone()
        return bytes(row[0]) if row else None

    def delete(self, key_id: str) -> None:
        with self._pool.connection() as c:
            c.execute("DELETE FROM personal_data_keys WHERE key_id = %s", (key_id,))

    def secret(self, name: str) -> bytes:
        with self._pool.connection() as c:
            c.execute(
                "INSERT INTO loket_secrets VALUES (%s, %s) ON CONFLICT (name) DO NOTHING", (name, os.urandom(32))
            )
            row = c.execute("SELECT value FROM loket_secrets WHERE name = %s", (name,)).fetchone()
        return bytes(row[0])

    def close(self) -> None:
        self._pool.close()


def _file_secret(path: Path) -> bytes:
    """The loket's secret for keyed hashes from a file of its own (created once, readable by the owner only)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(32))
    secret = path.read_bytes()
    if len(secret) < 32:
        raise ValueError(f"het geheim in {path} is te kort (minstens 32 bytes)")
    return secret


class Vault:
    def __init__(self, keys: _KeyTable, secret_file: Path | None = None) -> None:
        self._keys = keys
        self._new: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.hash_secret = _file_secret(secret_file) if secret_file else keys.secret("child_identity_hmac")

    def new_key(self) -> str:
        """A fresh key for one request; kept in memory until `flush`, which runs before the events are saved."""
        key_id = uuid.uuid4().hex
        with self._lock:
            self._new[key_id] = AESGCM.generate_key(bit_length=256)
        return key_id

    def flush(self) -> None:
        with self._lock:
            items, self._new = list(self._new.items()), {}
        if items:
            self._keys.put_many(items)

    def _key(self, key_id: str) -> bytes | None:
        with self._lock:
            key = self._new.get(key_id)
        return key if key is not None else self._keys.get(key_id)

    def seal(self, key_id: str, data: dict[str, Any]) -> str:
        key = self._key(key_id)
        if key is None:
            raise LookupError("de sleutel van deze persoonsgegevens is gewist")
        nonce = os.urandom(12)
        plain = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, key_id.encode())).decode()

    def open(self, key_id: str, token: str | None) -> dict[str, Any] | None:
        """The personal data, or None once erased."""
        key = self._key(key_id)
        if key is None or token is None:
            return ERASED
        raw = base64.b64decode(token)
        return json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], key_id.encode()))

    def erase(self, key_id: str) -> None:
        with self._lock:
            self._new.pop(key_id, None)  # a key not yet written must never be written after its erasure
        self._keys.delete(key_id)

    def close(self) -> None:
        close = getattr(self._keys, "close", None)
        if close is not None:
            close()
