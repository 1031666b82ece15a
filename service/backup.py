"""A backup of a store while the service runs: the database's own tools, plus the archive.

SQLite: the online backup API copies each file as one consistent snapshot, in this order:
the events first, then the personal-data keys (a key is always saved before its events, so
every event in the copy finds its key), then accounts and the access log. PostgreSQL:
`pg_dump --format=custom` (one consistent snapshot of every table). Beside it, the archive of
the event log with its chain (docs/archive.md), which any store can load, and a manifest.

The secrets (LOKET_KEK, LOKET_HASH_KEY, LOKET_SESSION_KEY) are never copied: without them the
backup opens no personal data; keep them elsewhere (docs/security.md, section 5).
Restoring: docs/reliability.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

from service import archive
from service.settings import Settings
from service.sidedb import private_file

SIDE_FILES = ("", ".keys", ".accounts")  # the store, then its keys, then accounts and access log
PG_BINDIRS = ("/usr/lib/postgresql/15/bin",)


class BackupFailed(Exception):
    """The backup could not be made; the message says why, in Dutch."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or next((str(Path(d, name)) for d in (os.environ.get("PG_BINDIR", ""), *PG_BINDIRS)
                                        if d and Path(d, name).exists()), None)
    if found is None:
        raise BackupFailed(f"{name} niet gevonden: installeer de PostgreSQL-clienttools of zet PG_BINDIR.")
    return found


def backup(settings: Settings, folder: Path) -> dict[str, Any]:
    """Write the backup into `folder` (created, must be empty); the manifest it wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise BackupFailed(f"De map {folder} is niet leeg; kies een nieuwe map per back-up.")
    os.chmod(folder, 0o700)
    files: list[Path] = []
    if settings.is_postgres:
        target = folder / "loket.dump"
        private_file(target)
        env = settings.eventsourcing_env()
        done = subprocess.run(
            [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target),
             "--host", env["POSTGRES_HOST"], "--port", env["POSTGRES_PORT"], "--username", env["POSTGRES_USER"],
             env["POSTGRES_DBNAME"]],
            env={**os.environ, "PGPASSWORD": env["POSTGRES_PASSWORD"], "PGCONNECT_TIMEOUT": "10"},
            capture_output=True, text=True,
        )
        if done.returncode:
            raise BackupFailed(f"pg_dump mislukte: {done.stderr.strip()[:500]}")
        files.append(target)
    else:
        for suffix in SIDE_FILES:
            source = Path(str(settings.sqlite_path) + suffix)
            if not source.exists():
                raise BackupFailed(f"{source} ontbreekt: is dit de opslag van LOKET_STORE?")
            target = folder / (settings.sqlite_path.name + suffix)
            private_file(target)
            with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
                    closing(sqlite3.connect(target)) as dst:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no WAL beside it
            files.append(target)
    archive_path = folder / "archief.jsonl.gz"
    exported = archive.export(settings, archive_path)
    os.chmod(archive_path, 0o600)
    files.append(archive_path)
    head = exported.head
    manifest = {
        "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "store": "postgresql" if settings.is_postgres else "sqlite",
        "events_in_archive": exported.events,
        "chain_head": {"position": head[0], "link": head[1]},
        "files": {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files},
        "secrets": "niet in de back-up: bewaar LOKET_KEK, LOKET_HASH_KEY en LOKET_SESSION_KEY apart",
    }
    path = folder / "MANIFEST.json"
    private_file(path)
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest
