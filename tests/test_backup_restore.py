"""A backup made while the service runs, restored with the database's own tools: every stored photo verifies.

SQLite: `loket backup` (online backup API of the store, its keys and its accounts) and a copy
back. PostgreSQL: `loket backup` (pg_dump) and pg_restore into a new database. And the archive
in the backup loads into an empty store.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

from service.application import LoketService
from service.backup import _pg_tool
from service.cli import main as cli
from service.importer import import_history
from service.photos import PhotoBook
from service.settings import Settings
from tests.builders import CHILD_B, PASSWORD, line, register_line, write_history

BRUSSELS = ZoneInfo("Europe/Brussels")
T = "2025-03-{:02d}T10:00:00+01:00"


def _fill(store: str, tmp_path: Path) -> dict:
    service = LoketService(Settings(store=store))
    try:
        history = write_history(tmp_path / "h.jsonl", [
            register_line("R1", at=T.format(1), contact={"name": "Ouder Een"}),
            register_line("R2", at=T.format(2), child={"national_number": CHILD_B}),
            line("propose", "R2", T.format(3), proposal="P1", location="Het Nest", start="2025-09-01",
                 days_per_week=3, on="2025-03-03"),
            line("accept", "R2", T.format(4), proposal="P1", on="2025-03-04"),
        ])
        assert import_history(service, history).ok
        service.accounts.add("anna", "worker", PASSWORD)
        taken = PhotoBook(service).take(2025, dt.datetime(2026, 2, 25, 12, tzinfo=BRUSSELS), by="anna")
    finally:
        service.close()
    return taken


def _check_restored(store: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LOKET_STORE", store)
    assert cli(["verify-log"]) == 0, capsys.readouterr()
    assert cli(["verify-photo", "2025"]) == 0, capsys.readouterr()
    service = LoketService(Settings(store=store))
    try:
        assert service.personal_data(service.get_request("R1"))["contact"]["name"] == "Ouder Een"  # keys came along
        assert service.accounts.get("anna") is not None
        assert service.photo(2025)["total"]["all"]["requests"] == 2
    finally:
        service.close()


def test_a_backup_restored_with_the_databases_own_tools_verifies_every_stored_photo(
    store_url: str, pg_or_sqlite_second: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    _fill(store_url, tmp_path)
    folder = tmp_path / "backup"
    monkeypatch.setenv("LOKET_STORE", store_url)
    assert cli(["backup", str(folder)]) == 0, capsys.readouterr()
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert "archief.jsonl.gz" in manifest["files"] and manifest["chain_head"]["position"] > 0
    assert not any("secret" in name or "kek" in name for name in manifest["files"])

    restored = pg_or_sqlite_second
    if store_url.startswith("sqlite"):
        target = Settings(store=restored).sqlite_path
        for suffix in ("", ".keys", ".accounts"):
            shutil.copy(folder / f"loket.sqlite{suffix}", f"{target}{suffix}")
    else:
        dbname = restored.rsplit("/", 1)[1]
        url = Settings(store=restored).eventsourcing_env()
        subprocess.run([_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--host", url["POSTGRES_HOST"],
                        "--port", url["POSTGRES_PORT"], "--username", url["POSTGRES_USER"], "--dbname", dbname,
                        str(folder / "loket.dump")], check=True, capture_output=True)
    _check_restored(restored, monkeypatch, capsys)


def test_the_archive_in_a_backup_loads_into_an_empty_store_and_its_photos_verify(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """On SQLite (moving an archive between the kinds of store is tests/test_ledger_and_archive.py)."""
    store_url = f"sqlite:///{tmp_path}/store.sqlite"
    _fill(store_url, tmp_path)
    monkeypatch.setenv("LOKET_STORE", store_url)
    assert cli(["backup", str(tmp_path / "b")]) == 0
    empty = f"sqlite:///{tmp_path}/from-archive.sqlite"
    monkeypatch.setenv("LOKET_STORE", empty)
    assert cli(["import-archive", str(tmp_path / "b" / "archief.jsonl.gz")]) == 0, capsys.readouterr()
    assert cli(["verify-photo", "2025"]) == 0, capsys.readouterr()  # figures move; personal data stays behind


def test_a_backup_refuses_a_folder_that_is_not_empty(tmp_path: Path, monkeypatch, capsys) -> None:
    store_url = f"sqlite:///{tmp_path}/store.sqlite"  # the folder is checked before the store is touched
    _fill(store_url, tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "iets").write_text("x")
    monkeypatch.setenv("LOKET_STORE", store_url)
    assert cli(["backup", str(tmp_path / "full")]) == 2
    assert "niet leeg" in capsys.readouterr().err
