"""Personal data, encrypted per request with a key kept outside the event log.

Events hold only the ciphertext and a key id. Erasing a request's personal data deletes its
key: the ciphertext left in the (append-only) event log can then never be read again, and
no event has to be rewritten. The vault also holds the loket's secret for keyed hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import uuid
from typing import Any

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.keyring import ConfigurationError, Secrets, kek_id
from service.sidedb import SideDB

ERASED = None


class KeyTable:
    """Each request's data key, wrapped (AES-GCM) under a key-encryption key from the configuration.

    A copy of this table (a backup, a dump) without the configuration's keys reveals no data key.
    """

    def __init__(self, db: SideDB, secrets: Secrets) -> None:
        self._db = db
        self._keks = {kek_id(k): k for k in secrets.keks}
        self._current = kek_id(secrets.kek)
        db.create(f"CREATE TABLE IF NOT EXISTS personal_data_keys (key_id TEXT PRIMARY KEY, kek_id TEXT NOT NULL, "
                  f"wrapped {db.blob} NOT NULL)",
                  "CREATE TABLE IF NOT EXISTS loket_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        try:
            used = {row[0] for row in db.rows("SELECT DISTINCT kek_id FROM personal_data_keys")}
        except (sqlite3.OperationalError, psycopg.errors.UndefinedColumn):
            raise ConfigurationError(
                "deze opslag komt van een oudere versie (sleutels niet omhuld); begin een nieuwe opslag "
                "(bv. rm var/demo.sqlite*) of importeer de geschiedenis opnieuw") from None
        missing = sorted(used - set(self._keks))
        if missing:
            raise ConfigurationError(
                f"de sleutel-encryptiesleutel(s) {', '.join(missing)} ontbreken in LOKET_KEK; zonder die sleutels "
                "zijn de persoonsgegevens onleesbaar (zie docs/security.md, rotatie)")

    def _wrap(self, key_id: str, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._keks[self._current]).encrypt(nonce, key, key_id.encode())

    def _unwrap(self, key_id: str, kek: str, wrapped: bytes) -> bytes:
        return AESGCM(self._keks[kek]).decrypt(wrapped[:12], wrapped[12:], key_id.encode())

    def put_many(self, items: list[tuple[str, bytes]]) -> None:
        with self._db.transaction() as cur:
            cur.executemany("INSERT INTO personal_data_keys VALUES (?, ?, ?)",
                            [(key_id, self._current, self._wrap(key_id, key)) for key_id, key in items])

    def get_many(self, key_ids: list[str]) -> dict[str, bytes]:
        """Many keys with one query (those that exist)."""
        found: dict[str, bytes] = {}
        for start in range(0, len(key_ids), 500):
            part = key_ids[start:start + 500]
            rows = self._db.rows(f"SELECT key_id, kek_id, wrapped FROM personal_data_keys WHERE key_id IN "
                                 f"({', '.join('?' * len(part))})", part)
            for key_id, kek, wrapped in rows:
                if kek not in self._keks:
                    raise ConfigurationError(f"sleutel-encryptiesleutel {kek} ontbreekt in LOKET_KEK")
                found[key_id] = self._unwrap(key_id, kek, bytes(wrapped))
        return found

    def get(self, key_id: str) -> bytes | None:
        rows = self._db.rows("SELECT kek_id, wrapped FROM personal_data_keys WHERE key_id = ?", (key_id,))
        if not rows:
            return None
        kek, wrapped = rows[0]
        if kek not in self._keks:
            raise ConfigurationError(f"sleutel-encryptiesleutel {kek} ontbreekt in LOKET_KEK")
        return self._unwrap(key_id, kek, bytes(wrapped))

    def delete(self, key_id: str) -> None:
        self._db.execute("DELETE FROM personal_data_keys WHERE key_id = ?", (key_id,))
        if not self._db.postgres:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no copy of the key stays in the WAL file

    def rotate(self, batch: int = 1000) -> int:
        """Rewrap every key not yet under the newest key-encryption key; how many were rewrapped."""
        done = 0
        while True:
            rows = self._db.rows("SELECT key_id, kek_id, wrapped FROM personal_data_keys WHERE kek_id <> ? LIMIT ?",
                                 (self._current, batch))
            if not rows:
                return done
            with self._db.transaction() as cur:
                for key_id, kek, wrapped in rows:
                    key = self._unwrap(key_id, kek, bytes(wrapped))
                    cur.execute("UPDATE personal_data_keys SET kek_id = ?, wrapped = ? WHERE key_id = ? AND kek_id = ?",
                                (self._current, self._wrap(key_id, key), key_id, kek))
            done += len(rows)

    def kek_usage(self) -> dict[str, int]:
        return {row[0]: int(row[1]) for row in
                self._db.rows("SELECT kek_id, COUNT(*) FROM personal_data_keys GROUP BY kek_id")}

    def check_hash_key(self, hash_key: bytes) -> None:
        """The keyed-hash key must be the one this store was made with (else uniqueness silently breaks)."""
        fingerprint = hmac.new(hash_key, b"loket-hash-key-fingerprint", hashlib.sha256).hexdigest()
        self._db.execute("INSERT INTO loket_settings VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                         ("hash_key_fingerprint", fingerprint))
        stored = self._db.rows("SELECT value FROM loket_settings WHERE name = ?", ("hash_key_fingerprint",))[0][0]
        if not hmac.compare_digest(stored, fingerprint):
            raise ConfigurationError(
                "LOKET_HASH_KEY is niet de sleutel waarmee deze opslag gemaakt werd; met een andere sleutel "
                "herkent het loket een kind niet meer (uniciteit). Gebruik de oorspronkelijke sleutel.")


class Vault:
    def __init__(self, keys: KeyTable, secrets: Secrets) -> None:
        self._keys = keys
        self._new: dict[str, bytes] = {}
        self._batch: dict[str, bytes] = {}  # keys read ahead for the batch being handled (see `prefetch`)
        self._lock = threading.Lock()
        keys.check_hash_key(secrets.hash_key)
        self.hash_secret = secrets.hash_key

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

    def prefetch(self, key_ids: list[str]) -> None:
        """Read the keys a batch of commands will use with one query; `forget_batch` drops them again."""
        wanted = [k for k in dict.fromkeys(key_ids) if k not in self._new and k not in self._batch]
        if wanted:
            found = self._keys.get_many(wanted)
            with self._lock:
                self._batch.update(found)

    def forget_batch(self) -> None:
        with self._lock:
            self._batch.clear()

    def _key(self, key_id: str) -> bytes | None:
        with self._lock:
            key = self._new.get(key_id) or self._batch.get(key_id)
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
            self._batch.pop(key_id, None)
        self._keys.delete(key_id)

    def rotate(self) -> int:
        return self._keys.rotate()

    def kek_usage(self) -> dict[str, int]:
        return self._keys.kek_usage()
