"""Faults of the store under a running server: PostgreSQL restarted, an SQLite file read-only or its disk full.

During the fault a request gets 503 with a Dutch message naming the fault, and nothing is half
written; afterwards requests succeed again without restarting the service, and every request
that was answered 201 is in the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from service.application import LoketService
from service.settings import Settings
from tests.builders import register_line
from tests.servers import Server, bearer, children, free_port, make_account, registration

CLUSTER = Path(__file__).resolve().parents[1] / "scripts" / "pg-test-cluster"
REGISTERED = "service.aggregates.care_request:CareRequest.Registered"


class Load:
    """Threads registering distinct children through the API until stopped; every answer kept."""

    def __init__(self, url: str, auth: dict[str, str], numbers: list[str], threads: int = 4) -> None:
        self.url, self.auth, self.numbers = url, auth, list(numbers)
        self.answers: list[tuple[float, float, int, dict[str, Any]]] = []  # sent, answered, status, body
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _next(self) -> str | None:
        with self._lock:
            return self.numbers.pop() if self.numbers else None

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.auth, timeout=60) as client:
            while not self._stop.is_set() and (number := self._next()) is not None:
                sent = time.monotonic()
                try:
                    answer = client.post("/api/requests", json=registration(number))
                    item = (sent, time.monotonic(), answer.status_code, answer.json())
                except httpx.TransportError as error:
                    item = (sent, time.monotonic(), 0, {"transport": type(error).__name__})
                with self._lock:
                    self.answers.append(item)
                time.sleep(0.02)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)

    def statuses(self) -> set[int]:
        return {status for _, _, status, _ in self.answers}

    def created(self) -> list[dict[str, Any]]:
        return [body for _, _, status, body in self.answers if status == 201]


def _all_answered_201_are_in_the_store(server: Server, auth: dict[str, str], created: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=server.url, headers=auth, timeout=60) as client:
        for body in created:
            state = client.get(f"/api/requests/{body['id']}")
            assert state.status_code == 200, state.text
            assert state.json()["reference"] == body["reference"]
            assert state.json()["personal_data"]["child"]["national_number"]  # its key was saved too


def _log_verifies(store: str) -> None:
    from service.ledger import Ledger

    ledger = Ledger(Settings(store=store))
    try:
        ledger.extend()
        assert ledger.verify().ok
    finally:
        ledger.close()


# ---------------------------------------------------------------- PostgreSQL restarted


@pytest.fixture
def own_cluster():
    """A PostgreSQL cluster of this test alone, so that it can be crashed and started again."""
    if shutil.which("pg_ctl") is None and not Path("/usr/lib/postgresql/15/bin/pg_ctl").exists():
        pytest.fail("no PostgreSQL 15 binaries (pg_ctl): make test needs them, see the README", pytrace=False)
    directory = tempfile.mkdtemp(prefix="lk-pg.", dir="/tmp")
    os.rmdir(directory)
    port = free_port()
    subprocess.run(["bash", str(CLUSTER), "start", directory, str(port)], check=True, capture_output=True)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    # The test cluster commits asynchronously for speed; a crash would then lose commits already
    # answered. Production runs with synchronous_commit on (docs/reliability.md), and so does this test.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET synchronous_commit = on")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield directory, url
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", directory], capture_output=True)


def test_postgres_restarted_during_load_answers_503_then_succeeds_without_restarting_the_service(
    own_cluster, tmp_path: Path
) -> None:
    directory, store = own_cluster
    make_account(store)
    numbers = children(2000)
    with Server(store, tmp_path / "server.log") as server:
        auth = bearer(server.url)
        with Load(server.url, auth, numbers) as load:
            time.sleep(1.5)
            subprocess.run(["bash", str(CLUSTER), "halt", directory], check=True, capture_output=True)
            halted_at = time.monotonic()  # the database is down from here (not before the halt returned)
            time.sleep(12)  # a request waits 5 s or more for the database before it is answered 503
            resuming_at = time.monotonic()  # the database is down until here
            subprocess.run(["bash", str(CLUSTER), "resume", directory], check=True, capture_output=True)
            resumed_at = time.monotonic()
            time.sleep(5)
        during = [(status, body) for _, done, status, body in load.answers if halted_at + 0.5 < done < resuming_at]
        after = [(status, body) for sent, _, status, body in load.answers if sent > resumed_at + 2]

        assert load.statuses() <= {201, 409, 503}, load.statuses()
        # A commit whose answer the crash cut off is retried by the store library and then found
        # recorded: the registration is refused as a duplicate naming its own dossier, never made twice.
        ambiguous = [body for _, _, status, body in load.answers if status == 409]
        assert all(body["fout"] == "dubbele_aanvraag" and body["bestaand_dossier"] for body in ambiguous), ambiguous
        assert during and all(status == 503 for status, _ in during), during[:3]
        for _, body in during:
            assert body["fout"] == "opslag_onbereikbaar" and "niet bereikbaar" in body["melding"]
        assert after and all(status == 201 for status, _ in after), after[:3]
        _all_answered_201_are_in_the_store(server, auth, load.created())
        with httpx.Client(base_url=server.url, headers=auth) as client:
            for body in ambiguous:
                assert client.get(f"/api/requests/{body['bestaand_dossier']}").status_code == 200
    _log_verifies(store)


# ---------------------------------------------------------------- SQLite: disk full


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)]).returncode:
        pytest.skip("mounting a tmpfs is not allowed here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)])


@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_an_sqlite_store_on_a_full_disk_answers_503_and_nothing_is_corrupted(how: str, tmp_path: Path) -> None:
    """A small tmpfs that fills up (root), or a file-size limit on the server (RLIMIT_FSIZE, any user).

    Both are lifted afterwards with the server still running: it writes again without a restart.
    """
    if how == "tmpfs" and not _can_mount():
        pytest.skip("a full file system needs a tmpfs mount (root)")
    with ExitStack() as stack:
        folder = stack.enter_context(_tmpfs(tmp_path / "mnt", "3m")) if how == "tmpfs" else tmp_path
        store = f"sqlite:///{folder}/loket.sqlite"
        make_account(store)
        numbers = children(3000)
        server = Server(store, tmp_path / "server.log").start()
        stack.callback(server.stop)
        auth = bearer(server.url)
        with httpx.Client(base_url=server.url, headers=auth) as client:  # the side files exist and are warm
            assert client.post("/api/requests", json=registration(numbers.pop())).status_code == 201
        if how == "rlimit":
            largest = max(p.stat().st_size for p in folder.glob("loket.sqlite*"))
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (largest + 64 * 1024, resource.RLIM_INFINITY))
        with Load(server.url, auth, numbers[:2500]) as load:
            deadline = time.monotonic() + 90
            while 503 not in load.statuses() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
        full = [body for _, _, status, body in load.answers if status == 503]
        assert full, "the disk never filled"
        assert load.statuses() <= {201, 503}, load.statuses()
        for body in full:
            assert body["fout"] in ("opslag_vol", "opslag_schrijffout"), body
            assert "kan niet schrijven" in body["melding"] and "niets geregistreerd" in body["melding"]

        if how == "rlimit":
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        else:
            subprocess.run(["mount", "-o", "remount,size=64m", str(folder)], check=True)
        with httpx.Client(base_url=server.url, headers=auth) as client:
            again = client.post("/api/requests", json=registration(numbers[2800]))
            assert again.status_code == 201, again.text  # without restarting the service
        _all_answered_201_are_in_the_store(server, auth, load.created() + [again.json()])
        server.stop()
        for suffix in ("", ".keys", ".accounts"):
            with closing(sqlite3.connect(folder / f"loket.sqlite{suffix}")) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",), suffix
        _log_verifies(store)
        service = LoketService(Settings(store=store))
        try:
            registered = sum(1 for _ in service.recorded_events(topics=[REGISTERED]))
        finally:
            service.close()
        assert registered == len(load.created()) + 2  # nothing half written, nothing answered 503 recorded


# ---------------------------------------------------------------- SQLite: read-only


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("loket.sqlite*"))}


@pytest.mark.skipif(not _can_mount(), reason="a read-only file system needs a tmpfs mount (root)")
def test_an_sqlite_store_on_a_read_only_file_system_is_refused_clearly_and_left_unchanged(tmp_path: Path) -> None:
    """A file system cannot be made read-only while the server has its files open for writing (the
    kernel refuses, EBUSY), so this is the restart case: the service and the import refuse the
    read-only store with a Dutch message and exit 3, and not a byte changes."""
    with _tmpfs(tmp_path / "mnt", "64m") as mount:
        store = f"sqlite:///{mount}/loket.sqlite"
        make_account(store)
        with Server(store, tmp_path / "server.log") as server, httpx.Client(base_url=server.url) as client:
            client.headers.update(bearer(server.url))
            first = client.post("/api/requests", json=registration(children(1)[0]))
            assert first.status_code == 201, first.text
        before = _digests(mount)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        env = {**os.environ, "LOKET_STORE": store}
        history = tmp_path / "h.jsonl"
        history.write_text(json.dumps(register_line("R1", at="2025-01-06T10:00:00+01:00")) + "\n")
        for command in (["serve", "--port", str(free_port())], ["import", str(history)]):
            done = subprocess.run([sys.executable, "-m", "service.cli", *command], env=env, capture_output=True,
                                  text=True, timeout=60)
            assert done.returncode == 3, done.stderr
            assert "kan niet geopend worden" in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert _digests(mount) == before
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        with Server(store, tmp_path / "server.log") as server:
            _all_answered_201_are_in_the_store(server, bearer(server.url), [first.json()])
        _log_verifies(store)


@pytest.mark.parametrize(("error", "code"), [
    (sqlite3.OperationalError("attempt to write a readonly database"), "opslag_alleen_lezen"),
    (sqlite3.OperationalError("database or disk is full"), "opslag_vol"),
    (sqlite3.OperationalError("disk I/O error"), "opslag_schrijffout"),
    (sqlite3.OperationalError("unable to open database file"), "opslag_niet_te_openen"),
    (sqlite3.OperationalError("database is locked"), "opslag_bezet"),
    (psycopg.OperationalError("connection refused"), "opslag_onbereikbaar"),
    (psycopg.OperationalError("could not extend file: No space left on device"), "opslag_vol"),
    (psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"), "opslag_alleen_lezen"),
])
def test_each_fault_of_a_store_is_named_in_dutch(error: Exception, code: str) -> None:
    """A file system that turns read-only under a running server gives SQLite's 'readonly database'."""
    from service import faults
    from service.api.access import store_fault

    wrapped = OperationalError(str(error))
    wrapped.__cause__ = error
    for raised in (error, wrapped):
        answer = store_fault(raised)
        assert answer.status_code == 503
        body = json.loads(answer.body)
        assert body["fout"] == code and body["melding"] == faults.MESSAGES[faults.kind(raised)]
        assert "niets geregistreerd" in body["melding"]
