"""An import killed halfway and started again ends with the same store as one that ran through."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from service import demo
from service.application import LoketService
from service.settings import Settings


def _history(tmp_path: Path) -> Path:
    path = tmp_path / "history.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        demo.generate_loket(handle, years=(2024,), seed=7, scale=0.2)
    return path


def _import(store: str, path: Path, batch: str = "40") -> subprocess.Popen:
    env = {**os.environ, "LOKET_STORE": store, "LOKET_IMPORT_BATCH": batch}
    return subprocess.Popen([sys.executable, "-m", "service.cli", "import", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# Sealed data, key ids and keyed digests depend on each store's own secrets.
STORE_SPECIFIC = ("timestamp", "personal", "key_id", "source", "child_indexes")


def _portable(value: object) -> object:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in STORE_SPECIFIC}
    return value


def _content(store: str) -> tuple[list[tuple], dict]:
    service = LoketService(Settings(store=store))
    try:
        events = [
            (type(e).__name__, e.originator_id, e.originator_version,
             tuple(sorted((k, repr(_portable(v))) for k, v in vars(e).items() if k not in STORE_SPECIFIC)))
            for _, e in service.recorded_events()
        ]
        photo = service.photo(2024)
    finally:
        service.close()
    photo.pop("position")
    return events, photo


def _count(store: str) -> int:
    if store.startswith("sqlite"):
        db = store.removeprefix("sqlite://")
        if not Path(db).exists():
            return 0
        with sqlite3.connect(db) as conn:
            try:
                return conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
            except sqlite3.OperationalError:
                return 0
    with psycopg.connect(store) as conn:
        try:
            return conn.execute("SELECT count(*) FROM loket_events").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


def test_an_import_killed_at_random_points_ends_as_one_uninterrupted(store_url: str, tmp_path: Path, pg_or_sqlite_second) -> None:
    path = _history(tmp_path)
    reference = pg_or_sqlite_second
    whole = _import(reference, path, batch="500")
    assert whole.wait(timeout=300) == 0
    total = _count(reference)

    kills = 0
    for fraction in (0.15, 0.4, 0.7, 0.9):
        proc = _import(store_url, path)
        while proc.poll() is None and _count(store_url) < fraction * total:
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 3, "the import finished before it could be killed"
    assert 0 < _count(store_url) < total

    finished = _import(store_url, path)
    _, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err.decode()
    assert _content(store_url) == _content(reference)

    again = _import(store_url, path)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0 and b" 0 toegepast" in out
