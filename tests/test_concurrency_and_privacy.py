"""Uniqueness under concurrency, and personal data kept out of the event log, on every store."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import psycopg

from service import commands as c
from service.aggregates.errors import DuplicateChild
from service.importer import import_history
from tests.builders import CHILD_A, register_line, write_history

AT = dt.datetime(2025, 1, 6, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))


def _register(ref: str, national_number: str = CHILD_A) -> c.Command:
    fields = register_line(ref, child={"national_number": national_number})
    payload = c.parse_payload("register", {k: v for k, v in fields.items() if k not in ("at", "by", "type", "request")})
    return c.Command(type="register", target=ref, payload=payload, recorded_at=AT, by="anna")


def test_two_registrations_of_the_same_child_at_once_never_both_land(make_service) -> None:
    for round_ in range(3):
        first, second = make_service(), make_service()
        barrier = threading.Barrier(2)
        results: list[object] = []
        nn = ["24120610145", "24120610244", "24120610343"][round_]

        def register(svc, ref: str) -> None:
            barrier.wait()
            try:
                results.append(svc.execute(_register(ref, nn)))
            except DuplicateChild as error:
                results.append(error)

        threads = [threading.Thread(target=register, args=(svc, f"X{round_}-{i}")) for i, svc in enumerate((first, second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        landed = [r for r in results if not isinstance(r, DuplicateChild)]
        refused = [r for r in results if isinstance(r, DuplicateChild)]
        assert len(landed) == 1 and len(refused) == 1, results
        assert refused[0].existing_reference == landed[0].reference
        assert first.photo(2025)["total"]["all"]["requests"] == round_ + 1


def _raw_event_rows(store_url: str) -> list[bytes]:
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite://")) as conn:
            return [bytes(r[0]) for r in conn.execute("SELECT state FROM stored_events")]
    with psycopg.connect(store_url) as conn:
        return [bytes(r[0]) for r in conn.execute("SELECT state FROM loket_events")]


def test_names_and_national_numbers_never_reach_the_event_log(service, store_url, tmp_path) -> None:
    lines = [register_line("R1", contact={"name": "Marie Vervaeke", "phone": "0470 12 34 56"}, notes="zoekt dicht bij werk")]
    import_history(service, write_history(tmp_path / "h.jsonl", lines))
    rows = b"".join(_raw_event_rows(store_url))
    for secret in (CHILD_A.encode(), b"Vervaeke", b"0470 12 34 56", b"dicht bij werk"):
        assert secret not in rows
    request = service.get_request("R1")
    assert service.personal_data(request)["contact"]["name"] == "Marie Vervaeke"


def test_erasure_removes_personal_data_for_good_and_keeps_every_figure(service, tmp_path) -> None:
    lines = [
        register_line("R1"),
        {"at": "2025-03-01T10:00:00+01:00", "by": "anna", "type": "erase_personal_data", "request": "R1",
         "on": "2025-03-01", "ground": "bewaartermijn verstreken"},
    ]
    before = None
    import_history(service, write_history(tmp_path / "a.jsonl", lines[:1]))
    before = service.photo(2025)
    import_history(service, write_history(tmp_path / "b.jsonl", lines))
    request = service.get_request("R1")
    assert service.personal_data(request) is None and request.erased
    after = service.photo(2025, dt.datetime.fromisoformat(before["as_of"]))
    assert {k: v for k, v in after.items() if k != "position"} == {k: v for k, v in before.items() if k != "position"}
