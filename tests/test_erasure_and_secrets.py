"""Erasure leaves no personal data in any file and keeps every figure; retention; the secrets and their rotation."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import random
import secrets
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.application import LoketService
from service.cli import main as cli
from service.importer import import_history
from service.keyring import ConfigurationError
from service.natnum_gen import make_number
from service.photos import PhotoBook
from service.settings import Settings
from tests.builders import CHILD_A, PASSWORD, line, login, register_line, write_history

BRUSSELS = dt.timezone(dt.timedelta(hours=1))


def _new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _person() -> tuple[str, str, str]:
    """A made-up family no other test uses: a name, a phone number, a synthetic national number."""
    tag = secrets.token_hex(4)
    birth = dt.date(2025, 1, 1) + dt.timedelta(days=random.randrange(300))
    return f"Wivine Testfamilie-{tag}", f"0499 {random.randrange(100000, 999999)}", make_number(birth, random.randrange(601, 997))


def _raw_files(store_url: str, pg_admin_url: str | None) -> list[Path]:
    """Every file the store keeps: the SQLite files beside it, or the whole PostgreSQL data directory."""
    if store_url.startswith("sqlite"):
        folder = Path(store_url.removeprefix("sqlite:///")).parent
        return [p for p in folder.rglob("*") if p.is_file()]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # what is in memory is written to the data files too
        data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
    return [p for p in data_dir.rglob("*") if p.is_file()]


def _found(files: list[Path], needles: dict[str, bytes]) -> list[str]:
    hits = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:  # a file removed while walking (PostgreSQL recycles its WAL)
            continue
        hits += [f"{what} in {path}" for what, needle in needles.items() if needle in data]
    return hits


def test_erasure_leaves_no_personal_data_in_any_file_and_every_photo_still_verifies(
        store_url, request, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    pg_admin = request.getfixturevalue("pg_admin_url") if store_url.startswith("postgres") else None
    name, phone, number = _person()
    history = request.getfixturevalue("tmp_path_factory").mktemp("elders") / "h.jsonl"  # not beside the store
    write_history(history, [register_line(
        "E-1", at="2025-02-03T10:00:00+01:00", child={"national_number": number},
        family={"low_income": True, "single_parent": True},
        contact={"name": name, "phone": phone, "email": "wivine@example.org"}, notes=f"belt na 17u, {name}")])
    with TestClient(create_app(Settings(store=store_url))) as client:
        login(client)
        assert import_history(client.app.state.service, history).ok
        state = client.get("/api/requests/E-1").json()
        assert state["personal_data"]["contact"]["name"] == name  # readable before: the search below means something
        service = client.app.state.service
        request_ = service.get_request("E-1")
        data_key = service.vault._key(request_.key_id)
        assert data_key is not None
        wrapped = service._keys_db.rows("SELECT wrapped FROM personal_data_keys WHERE key_id = ?", (request_.key_id,))[0][0]
        taken = PhotoBook(service).take(2025, dt.datetime(2026, 1, 2, 12, tzinfo=BRUSSELS), "anna")
        before = service.photo(2025, dt.datetime(2099, 1, 1, tzinfo=BRUSSELS))
    needles = {"name": name.encode(), "phone": phone.encode(), "national number": number.encode(),
               "data key": data_key}
    files = _raw_files(store_url, pg_admin)
    assert _found(files, {"reference": b'"reference":"E-1"'})  # the search does find what is stored in plaintext
    assert _found(files, needles) == []  # encrypted at rest, key wrapped

    monkeypatch.setenv("LOKET_STORE", store_url)
    assert cli(["erase", "E-1", "--ground", "verzoek van de ouder (art. 17 AVG)", "--by", "anna"]) == 0

    after = LoketService(Settings(store=store_url))
    try:
        assert after.personal_data(after.get_request("E-1")) is None
        assert after.vault._key(request_.key_id) is None
        now = after.photo(2025, dt.datetime(2099, 1, 1, tzinfo=BRUSSELS))
        assert (now["total"], now["municipalities"]) == (before["total"], before["municipalities"])  # every figure stays
        book = PhotoBook(after)
        assert after.ledger.verify().ok
        assert [r.identical for r in book.verify(2025)] == [True] and book.verify(2025)[0].stored["id"] == taken["id"]
        assert taken["total"]["all"]["requests"] == 1  # the stored photo counted the erased request
        what = [type(e).__name__ for e in after.history("E-1")]
        assert what == ["Registered", "PersonalDataErased"]  # what happened stays, without who
        assert [e.action for e in after.access_log.entries(request="E-1")] == ["lezen", "wijziging"]
    finally:
        after.close()
    files = _raw_files(store_url, pg_admin)
    assert _found(files, {"reference": b'"reference":"E-1"'})
    assert _found(files, needles) == []
    if store_url.startswith("sqlite"):  # secure_delete and a checkpoint: not even the wrapped key is left
        assert _found(files, {"wrapped key": bytes(wrapped)}) == []
    assert name not in caplog.text and phone not in caplog.text and number not in caplog.text
    with TestClient(create_app(Settings(store=store_url))) as client:
        login(client)
        state = client.get("/api/requests/E-1").json()
        assert state["personal_data"] is None and state["personal_data_erased"] is True
        assert state["categories"]["vulnerable_family"]["value"] is True


def test_the_retention_rule_lists_in_a_dry_run_and_erases_what_is_due(store_url, tmp_path, monkeypatch, capsys) -> None:
    at = "2021-{:02d}-01T10:00:00+01:00"
    lines = [
        register_line("OLD-W", at=at.format(1), desired_start="2021-09-01"),
        line("withdraw", "OLD-W", at.format(6), on="2021-06-01", reason="elders gevonden"),
        register_line("OLD-V", at=at.format(7), desired_start="2021-09-01", child={"national_number": "24120610244"}),
        line("void", "OLD-V", at.format(8), reason="dubbel ingevoerd"),
        register_line("OLD-E", at=at.format(9), desired_start="2022-09-01", child={"national_number": "90051704512"}),
        line("withdraw", "OLD-E", at.format(10), on="2021-10-01", reason="verhuisd"),
        line("erase_personal_data", "OLD-E", at.format(11), on="2021-11-01", ground="verzoek van de ouder"),
        register_line("OPEN", at="2024-01-05T10:00:00+01:00", desired_start="2024-09-01"),
        register_line("RECENT", at="2025-01-05T10:00:00+01:00", desired_start="2025-09-01",
                      child={"national_number": "24120610244"}),
        line("solve_elsewhere", "RECENT", "2025-06-01T10:00:00+01:00", municipality="24011", on="2025-06-01"),
    ]
    service = LoketService(Settings(store=store_url))
    try:
        assert import_history(service, write_history(tmp_path / "h.jsonl", lines)).ok
        assert service.retention_due(2, today=dt.date(2026, 12, 3)) == [
            ("OLD-W", dt.date(2021, 6, 1)), ("OLD-V", dt.date(2021, 8, 1))]
        assert [ref for ref, _ in service.retention_due(1, today=dt.date(2026, 12, 3))] == ["OLD-W", "OLD-V", "RECENT"]
    finally:
        service.close()

    monkeypatch.setenv("LOKET_STORE", store_url)
    assert cli(["retention", "--dry-run", "--years", "2"]) == 0
    listed = capsys.readouterr()
    assert listed.out.split() == ["OLD-W", "afgesloten", "op", "2021-06-01", "OLD-V", "afgesloten", "op", "2021-08-01"]
    assert "niets gewist" in listed.err
    check = LoketService(Settings(store=store_url))
    try:
        assert check.personal_data(check.get_request("OLD-W")) is not None  # a dry run erases nothing
    finally:
        check.close()

    assert cli(["retention", "--apply", "--years", "2", "--by", "dpo"]) == 0
    done = LoketService(Settings(store=store_url))
    try:
        assert done.personal_data(done.get_request("OLD-W")) is None
        assert done.personal_data(done.get_request("OLD-V")) is None
        assert done.personal_data(done.get_request("RECENT")) is not None
        assert done.retention_due(2, today=dt.date(2026, 12, 3)) == []
        erased = done.history("OLD-W")[-1]
        assert type(erased).__name__ == "PersonalDataErased" and "bewaartermijn" in erased.ground and erased.by == "dpo"
        assert [e.user for e in done.access_log.entries(request="OLD-V")] == ["dpo"]
    finally:
        done.close()


# ------------------------------------------------------------------------ secrets


@pytest.fixture
def no_secret_env(monkeypatch):
    for name in ("LOKET_KEK", "LOKET_HASH_KEY", "LOKET_SESSION_KEY", "LOKET_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_without_configured_secrets_a_development_file_is_made_once_with_a_warning(tmp_path, no_secret_env, caplog) -> None:
    caplog.set_level(logging.WARNING)
    store = f"sqlite:///{tmp_path}/s.sqlite"
    first = LoketService(Settings(store=store))
    first.close()
    made = tmp_path / "secrets.json"
    assert made.stat().st_mode & 0o777 == 0o600
    for path in (tmp_path / "s.sqlite", tmp_path / "s.sqlite.keys", tmp_path / "s.sqlite.accounts"):
        assert path.stat().st_mode & 0o777 == 0o600, path  # the store and its side files: the owner only
    assert "Ontwikkelingsgeheimen aangemaakt" in caplog.text and "productie" in caplog.text
    content = made.read_text()
    again = LoketService(Settings(store=store))  # the same file: the same child is recognised
    again.close()
    assert made.read_text() == content
    assert set(json.loads(content)) >= {"kek", "hash_key", "session_key"}


def test_secrets_come_from_a_file_or_the_environment_and_bad_ones_are_refused(tmp_path, no_secret_env, monkeypatch) -> None:
    store = f"sqlite:///{tmp_path}/s.sqlite"
    path = tmp_path / "elders" / "geheimen.json"
    with pytest.raises(ConfigurationError, match="bestaat niet"):
        LoketService(Settings(store=store, secrets_file=path))
    path.parent.mkdir()
    path.write_text(json.dumps({"kek": [_new_secret()], "hash_key": _new_secret(), "session_key": _new_secret()}))
    LoketService(Settings(store=store, secrets_file=path)).close()
    assert not (tmp_path / "secrets.json").exists()  # no development file when a file is configured
    with pytest.raises(ConfigurationError, match="te kort"):
        LoketService(Settings(store=store, secrets_file=path, kek=base64.b64encode(b"kort").decode()))
    with pytest.raises(ConfigurationError, match="base64"):
        LoketService(Settings(store=store, secrets_file=path, session_key="geen base64!"))
    with pytest.raises(ConfigurationError, match="LOKET_HASH_KEY, LOKET_SESSION_KEY ontbreekt"):
        LoketService(Settings(store=store, kek=_new_secret()))  # half configured is never the development file
    with pytest.raises(ConfigurationError, match="LOKET_HASH_KEY is niet de sleutel"):
        LoketService(Settings(store=store, secrets_file=path, hash_key=_new_secret()))
    monkeypatch.setenv("LOKET_STORE", store)
    monkeypatch.setenv("LOKET_SECRETS_FILE", str(path))
    monkeypatch.setenv("LOKET_HASH_KEY", _new_secret())
    assert cli(["user", "list"]) == 2  # the CLI says so and stops


def test_the_key_encryption_key_rotates_and_the_personal_data_stays_readable(store_url, tmp_path) -> None:
    old, new = _new_secret(), _new_secret()
    service = LoketService(Settings(store=store_url, kek=old))
    try:
        assert import_history(service, write_history(tmp_path / "h.jsonl", [register_line("R1")])).ok
    finally:
        service.close()
    both = LoketService(Settings(store=store_url, kek=f"{new},{old}"))
    try:
        assert both.personal_data(both.get_request("R1"))["child"]["national_number"] == CHILD_A
        assert both.vault.rotate() == 1
        assert list(both.vault.kek_usage().values()) == [1] and both.vault.rotate() == 0
    finally:
        both.close()
    only_new = LoketService(Settings(store=store_url, kek=new))
    try:
        assert only_new.personal_data(only_new.get_request("R1"))["child"]["national_number"] == CHILD_A
    finally:
        only_new.close()
    with pytest.raises(ConfigurationError, match="ontbreken in LOKET_KEK"):
        LoketService(Settings(store=store_url, kek=old))


def test_a_new_session_key_keeps_sessions_until_the_old_one_is_removed(store_url) -> None:
    old, new = os.environ["LOKET_SESSION_KEY"], _new_secret()
    with TestClient(create_app(Settings(store=store_url))) as client:
        login(client, "anna")
        token = client.headers["Authorization"]
    with TestClient(create_app(Settings(store=store_url, session_key=f"{new},{old}"))) as client:
        assert client.get("/api/me", headers={"Authorization": token}).status_code == 200
        fresh = client.post("/api/token", data={"username": "anna", "password": PASSWORD}).json()["access_token"]
    with TestClient(create_app(Settings(store=store_url, session_key=new))) as client:
        assert client.get("/api/me", headers={"Authorization": token}).status_code == 401
        assert client.get("/api/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_the_repository_holds_no_secret() -> None:
    root = Path(__file__).resolve().parents[1]
    ignored = (root / ".gitignore").read_text().split()
    assert "var/" in ignored  # the development secrets and stores live there
    tracked = [p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts and ".venv" not in p.parts
               and "var" not in p.relative_to(root).parts]
    assert not [p for p in tracked if p.name in ("secrets.json", ".env")]
