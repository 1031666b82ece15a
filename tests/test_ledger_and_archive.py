"""Tamper evidence (the event chain) and the portable archive, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from service import archive, ledger
from service.application import LoketService
from service.importer import import_history
from service.reports import canonical_json
from service.settings import Settings

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"


# ----------------------------------------------------------------- helpers


def _imported(service: LoketService, case: str = "outcomes") -> int:
    """Imports a shared case; returns the number of stored event rows."""
    report = import_history(service, CASES / f"{case}.jsonl")
    assert report.ok, report.refused
    return _count(service.settings)


def _sql(settings: Settings, statement: str, params: tuple = ()) -> list[tuple]:
    """A statement run directly on the database, as someone tampering with it would."""
    with ledger.connect(settings) as store:
        statement = statement.format(events=store.events_table, pos=store.position_column)
        cursor = store.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _count(settings: Settings) -> int:
    return _sql(settings, "SELECT count(*) FROM {events}")[0][0]


def _row(settings: Settings, position: int) -> tuple:
    return _sql(settings, "SELECT originator_id, originator_version, topic, state FROM {events} WHERE {pos} = ?",
                (position,))[0]


def _later_registration(tmp_path: Path) -> Path:
    """A history line registering one more request after the outcomes case."""
    line = json.loads((CASES / "outcomes.jsonl").read_text().splitlines()[0])
    line.update({"at": "2025-06-02T09:00:00+02:00", "request": "Z1", "request_date": "2025-06-02",
                 "desired_start": "2026-09-01", "child": {"expected_birth": "2026-03-10",
                                                          "parent_national_number": "90051704512"}})
    path = tmp_path / "later.jsonl"
    path.write_text(json.dumps(line) + "\n")
    return path


def _chained(service: LoketService, case: str = "outcomes") -> tuple[int, str]:
    _imported(service, case)
    return ledger.extend(service.settings)


@pytest.fixture
def other_kind_url(store_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty store of the OTHER kind than `store_url`."""
    if store_url.startswith("postgres"):
        yield f"sqlite:///{tmp_path}/other.sqlite"
    else:
        yield from _pg_database(request)


def _pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    admin = request.getfixturevalue("pg_admin_url")
    name = f"t_{secrets.token_hex(8)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(admin)._replace(path="/" + name).geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# ------------------------------------------------------------- the chain


def test_an_empty_store_has_the_genesis_head_and_verifies(service: LoketService) -> None:
    assert ledger.extend(service.settings) == (0, ledger.GENESIS)
    assert ledger.head(service.settings) == (0, ledger.GENESIS)
    result = ledger.verify(service.settings, anchors=[(0, ledger.GENESIS)])
    assert (result.ok, result.checked, result.first_bad_position) == (True, 0, None)


def test_after_an_import_extend_then_verify_is_clean_and_extend_is_idempotent(service: LoketService) -> None:
    rows = _imported(service)
    head = ledger.extend(service.settings)
    assert head[0] == rows and len(head[1]) == 64
    assert ledger.extend(service.settings) == head
    result = ledger.verify(service.settings)
    assert result.ok, result.reason
    assert (result.checked, result.head_position, result.head_link) == (rows, *head)


def test_the_first_link_is_the_documented_hash_of_the_first_row(service: LoketService) -> None:
    _chained(service)
    oid, version, topic, state = _row(service.settings, 1)
    kind = "postgres" if service.settings.is_postgres else "sqlite"
    canonical = json.dumps([1, ledger.canonical_id(oid, kind), version, topic, base64.b64encode(bytes(state)).decode()],
                           separators=(",", ":"))
    expected = hashlib.sha256((ledger.GENESIS + canonical).encode()).hexdigest()
    assert ledger.link_at(service.settings, 1) == expected


def test_a_changed_byte_in_one_events_state_fails_at_exactly_that_position(service: LoketService) -> None:
    _chained(service)
    state = bytearray(_row(service.settings, 7)[3])
    state[10] ^= 0x01
    _sql(service.settings, "UPDATE {events} SET state = ? WHERE {pos} = ?", (bytes(state), 7))
    result = ledger.verify(service.settings)
    assert (result.ok, result.first_bad_position, result.checked) == (False, 7, 6)
    assert "gewijzigd" in result.reason


def test_a_deleted_row_fails_at_its_position(service: LoketService) -> None:
    _chained(service)
    _sql(service.settings, "DELETE FROM {events} WHERE {pos} = ?", (12,))
    result = ledger.verify(service.settings)
    assert (result.ok, result.first_bad_position) == (False, 12)
    assert "ontbreekt" in result.reason


def test_two_swapped_rows_fail_at_the_first_of_them(service: LoketService) -> None:
    _chained(service)
    for old, new in ((4, -1), (9, 4), (-1, 9)):
        _sql(service.settings, "UPDATE {events} SET {pos} = ? WHERE {pos} = ?", (new, old))
    result = ledger.verify(service.settings)
    assert (result.ok, result.first_bad_position) == (False, 4)


def test_a_row_inserted_into_a_gap_between_chained_rows_fails_at_that_position(service: LoketService) -> None:
    # PostgreSQL leaves gaps when a save is rolled back; make one the same way on both stores.
    rows = _imported(service)  # the service chains every save: unchain from 10 on, as if 10 was never saved
    _sql(service.settings, "DELETE FROM {events} WHERE {pos} = ?", (10,))
    _sql(service.settings, "DELETE FROM event_chain WHERE position >= ?", (10,))
    ledger.extend(service.settings)
    assert ledger.verify(service.settings).ok
    oid, _, topic, state = _row(service.settings, 1)
    _sql(service.settings, "INSERT INTO {events} ({pos}, originator_id, originator_version, topic, state) "
                           "VALUES (?, ?, ?, ?, ?)", (10, oid, 99, topic, state))
    result = ledger.verify(service.settings)
    assert (result.ok, result.first_bad_position, result.checked) == (False, 10, 9)
    assert "ingevoegd" in result.reason
    assert rows == _count(service.settings)


def test_a_row_inserted_before_the_first_position_fails_there(service: LoketService) -> None:
    _chained(service)
    oid, _, topic, state = _row(service.settings, 1)
    _sql(service.settings, "INSERT INTO {events} ({pos}, originator_id, originator_version, topic, state) "
                           "VALUES (?, ?, ?, ?, ?)", (0, oid, 99, topic, state))
    result = ledger.verify(service.settings)
    assert (result.ok, result.first_bad_position, result.checked) == (False, 0, 0)


def test_a_row_added_directly_after_the_head_is_reported_as_not_chained(service: LoketService) -> None:
    position, _ = _chained(service)
    oid, _, topic, state = _row(service.settings, 1)
    _sql(service.settings, "INSERT INTO {events} ({pos}, originator_id, originator_version, topic, state) "
                           "VALUES (?, ?, ?, ?, ?)", (position + 1, oid, 99, topic, state))
    result = ledger.verify(service.settings)
    assert (result.ok, result.first_bad_position, result.unchained) == (False, position + 1, 1)
    assert "niet geketend" in result.reason
    tolerant = ledger.verify(service.settings, allow_unchained_tail=True)
    assert (tolerant.ok, tolerant.checked, tolerant.unchained) == (True, position, 1)


def test_a_rewritten_chain_is_caught_by_a_head_kept_elsewhere(service: LoketService) -> None:
    anchor = _chained(service)
    state = bytearray(_row(service.settings, 3)[3])
    state[5] ^= 0x01
    _sql(service.settings, "UPDATE {events} SET state = ? WHERE {pos} = ?", (bytes(state), 3))
    _sql(service.settings, "DELETE FROM event_chain WHERE position >= ?", (3,))
    ledger.extend(service.settings)  # the tamperer re-chains from the changed row on
    assert ledger.verify(service.settings).ok
    result = ledger.verify(service.settings, anchors=[anchor])
    assert (result.ok, result.first_bad_position) == (False, anchor[0])
    assert "herschreven" in result.reason


def test_a_cut_off_end_of_the_log_is_caught_by_a_head_kept_elsewhere(service: LoketService) -> None:
    anchor = _chained(service)
    _sql(service.settings, "DELETE FROM {events} WHERE {pos} > ?", (anchor[0] - 3,))
    _sql(service.settings, "DELETE FROM event_chain WHERE position > ?", (anchor[0] - 3,))
    result = ledger.verify(service.settings, anchors=[anchor])
    assert (result.ok, result.first_bad_position) == (False, anchor[0])


def test_processes_extending_at_once_build_one_chain(service: LoketService) -> None:
    rows = _imported(service)
    heads: list[tuple[int, str]] = []
    threads = [threading.Thread(target=lambda: heads.append(ledger.extend(service.settings))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(heads)) == 1 and heads[0][0] == rows
    assert ledger.verify(service.settings).ok


def test_a_ledger_kept_open_by_the_service_follows_later_saves(service: LoketService) -> None:
    kept = ledger.Ledger(service.settings)
    try:
        _imported(service, "categories")
        first = kept.extend()
        _imported(service, "outcomes")
        second = kept.extend()
        assert second[0] > first[0] and kept.link_at(first[0]) == first[1]
        assert kept.verify().ok and kept.head() == second
    finally:
        kept.close()


# ------------------------------------------------------------ the archive


def test_an_archive_moves_to_the_other_kind_of_store_and_back_unchanged(
    service: LoketService, other_kind_url: str, pg_or_sqlite_second: str, tmp_path: Path
) -> None:
    head = _chained(service)
    photo = service.photo(2025)
    first = archive.export(service.settings, tmp_path / "one.loket.jsonl.gz")
    assert (first.events, first.head) == (head[0], head)

    there = Settings(store=other_kind_url)
    assert archive.import_archive(there, first.path).head == head
    assert ledger.verify(there).ok and ledger.head(there) == head
    archive.export(there, tmp_path / "two.loket.jsonl.gz")

    back = Settings(store=pg_or_sqlite_second)
    archive.import_archive(back, tmp_path / "two.loket.jsonl.gz")
    result = ledger.verify(back)
    assert result.ok and (result.head_position, result.head_link) == head

    moved = LoketService(back)
    try:
        assert moved.photo(2025) == photo
        assert moved.get_request("A1").reference == "A1"
        assert len(moved.history("A1")) == len(service.history("A1"))
        report = import_history(moved, _later_registration(tmp_path))  # appended after the archive's positions
        assert report.ok, report.refused
        assert ledger.extend(back)[0] > head[0]
        assert ledger.verify(back).ok
    finally:
        moved.close()


def test_an_archive_loads_into_a_second_store_of_the_same_kind(
    service: LoketService, pg_or_sqlite_second: str, tmp_path: Path
) -> None:
    head = _chained(service)
    report = archive.export(service.settings, tmp_path / "a.gz")
    second = Settings(store=pg_or_sqlite_second)
    assert archive.import_archive(second, report.path).events == head[0]
    assert ledger.verify(second).ok and ledger.head(second) == head


def _rewrite(path: Path, change) -> Path:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    out = path.with_name("tampered.gz")
    out.write_bytes(gzip.compress("".join(change(lines)).encode()))
    return out


def test_a_tampered_archive_is_refused_naming_the_line_and_nothing_is_written(
    service: LoketService, pg_or_sqlite_second: str, tmp_path: Path
) -> None:
    _chained(service)
    good = archive.export(service.settings, tmp_path / "a.gz").path

    def change_state(lines: list[str]) -> list[str]:
        event = json.loads(lines[5])
        event["state"] = base64.b64encode(b"{}").decode()
        lines[5] = json.dumps(event) + "\n"
        return lines

    second = Settings(store=pg_or_sqlite_second)
    with pytest.raises(archive.ArchiveRefused) as refused:
        archive.import_archive(second, _rewrite(good, change_state))
    assert refused.value.line == 6 and "schakel" in str(refused.value)
    assert _count(second) == 0
    assert ledger.head(second) == (0, ledger.GENESIS)


def test_an_archive_missing_its_last_events_is_refused(
    service: LoketService, pg_or_sqlite_second: str, tmp_path: Path
) -> None:
    _chained(service)
    good = archive.export(service.settings, tmp_path / "a.gz").path
    second = Settings(store=pg_or_sqlite_second)
    with pytest.raises(archive.ArchiveRefused, match="onvolledig"):
        archive.import_archive(second, _rewrite(good, lambda lines: lines[:-2]))
    with pytest.raises(archive.ArchiveRefused, match="gzip"):
        truncated = tmp_path / "cut.gz"
        truncated.write_bytes(good.read_bytes()[:-20])
        archive.import_archive(second, truncated)
    assert _count(second) == 0


def test_importing_into_a_store_that_is_not_empty_is_refused(service: LoketService, tmp_path: Path) -> None:
    rows = _imported(service)
    report = archive.export(service.settings, tmp_path / "a.gz")
    with pytest.raises(archive.ArchiveRefused, match="niet leeg"):
        archive.import_archive(service.settings, report.path)
    assert _count(service.settings) == rows and ledger.verify(service.settings).ok


def test_a_tampered_store_is_not_exported(service: LoketService, tmp_path: Path) -> None:
    _chained(service)
    _sql(service.settings, "DELETE FROM {events} WHERE {pos} = ?", (5,))
    with pytest.raises(archive.ArchiveRefused, match="Positie 5"):
        archive.export(service.settings, tmp_path / "a.gz")
    assert not list(tmp_path.glob("a.gz*"))


def test_verify_log_from_the_command_line_names_the_first_bad_position(service: LoketService, monkeypatch, capsys) -> None:
    from service import cli

    _imported(service)
    monkeypatch.setenv("LOKET_STORE", service.settings.store)
    assert cli.main(["verify-log"]) == 0
    oid, version, topic, state = _row(service.settings, 7)
    _sql(service.settings, "UPDATE {events} SET state = ? WHERE {pos} = ?", (bytes(state) + b" ", 7))
    assert cli.main(["verify-log"]) == 1
    assert "positie 7" in capsys.readouterr().err


def test_the_reference_photos_verify_after_a_move_to_the_other_store_and_back(
    service: LoketService, other_kind_url: str, pg_or_sqlite_second: str, tmp_path: Path
) -> None:
    import datetime as dt

    from service.photos import PhotoBook

    snapshots = Path(__file__).resolve().parents[1] / "snapshots"
    assert import_history(service, snapshots / "reference-history.jsonl").ok
    manifest = json.loads((snapshots / "manifest.json").read_text())
    for entry in manifest:
        as_of = dt.datetime.fromisoformat(entry["as_of"]) if entry["as_of"] else None
        taken = PhotoBook(service).take(entry["year"], as_of, "anna")
        snapshot = json.loads((snapshots / entry["json"]).read_text(encoding="utf-8"))
        assert taken["figures_digest"] == hashlib.sha256(canonical_json(snapshot)).hexdigest()
    there = Settings(store=other_kind_url)
    archive.import_archive(there, archive.export(service.settings, tmp_path / "a.jsonl.gz").path)
    back = Settings(store=pg_or_sqlite_second)
    archive.import_archive(back, archive.export(there, tmp_path / "b.jsonl.gz").path)
    moved = LoketService(back, catch_up=False)
    try:
        book = PhotoBook(moved)
        anchors = [(e.chain_position, e.chain_head) for e in book.stored()]
        assert len(anchors) == len(manifest) and moved.ledger.verify(anchors=anchors).ok
        for year in {m["year"] for m in manifest}:
            assert all(r.identical for r in book.verify(year))
    finally:
        moved.close()


def test_reading_commands_never_chain_a_row_added_behind_the_services_back(service: LoketService, monkeypatch, capsys) -> None:
    from service import cli

    _imported(service)
    monkeypatch.setenv("LOKET_STORE", service.settings.store)
    oid, version, topic, state = _row(service.settings, 5)
    last = _count(service.settings)
    _sql(service.settings, "INSERT INTO {events} ({pos}, originator_id, originator_version, topic, state) "
                           "VALUES (?, ?, ?, ?, ?)", (last + 1, "ffffffff-ffff-ffff-ffff-ffffffffffff", 1, topic, state))
    for command in (["photos"], ["drill", "2025"], ["photo", "2025"], ["verify-photo", "2025"]):
        cli.main(command)
    assert cli.main(["verify-log"]) == 1
    assert cli.main(["photo", "2025", "--take"]) == 1  # no photo anchors an unchained log
    assert f"positie {last + 1}" in capsys.readouterr().err


def test_a_damaged_photo_row_is_named_by_verify_log_not_a_crash(service: LoketService, monkeypatch, capsys) -> None:
    from service import cli
    from service.photos import PhotoBook

    _imported(service)
    taken = PhotoBook(service).take(2025, None, "anna")
    position = service.events.recorder.max_notification_id()
    assert taken["chain_position"] == position - 1
    monkeypatch.setenv("LOKET_STORE", service.settings.store)
    _sql(service.settings, "UPDATE {events} SET state = ? WHERE {pos} = ?", (b"{}", position))
    assert cli.main(["verify-log"]) == 1
    assert cli.main(["verify-photo", "2025"]) == 1
    assert f"positie {position}" in capsys.readouterr().err
