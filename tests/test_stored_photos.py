"""Taken photos are stored, rebuild identically after later events and corrections, and every figure drills down."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.importer import import_history
from service.photos import PhotoBook
from service.reports import canonical_json
from service.settings import Settings
from tests.builders import line, login, write_history

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
MOMENT = dt.datetime.fromisoformat("2026-02-25T12:00:00+01:00")


@pytest.fixture
def loket(service):
    assert import_history(service, SNAPSHOTS / "reference-history.jsonl").ok
    return service


def _manifest(as_of: str | None) -> dict:
    return next(m for m in json.loads((SNAPSHOTS / "manifest.json").read_text()) if m["as_of"] == as_of and m["year"] == 2025)


def test_a_taken_photo_is_stored_with_the_digests_of_the_reference_photo(loket) -> None:
    taken = PhotoBook(loket).take(2025, MOMENT, "anna")
    entry = _manifest("2026-02-25T12:00:00+01:00")
    snapshot = json.loads((SNAPSHOTS / entry["json"]).read_text(encoding="utf-8"))
    assert hashlib.sha256(PhotoBook(loket).workbook(taken["id"])).hexdigest() == taken["workbook_digest"]
    assert taken["figures_digest"] == hashlib.sha256(canonical_json(snapshot)).hexdigest()
    assert taken["position"] == snapshot["position"] and taken["taken_by"] == "anna"
    assert [p["id"] for p in PhotoBook(loket).listing()] == [taken["id"]]


def _later_lines(n_requests: int) -> list[dict]:
    from service.natnum_gen import make_number

    lines = []
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()  # after the photo was taken
    for i in range(n_requests):
        ref = f"LATER-{i}"
        lines.append({"at": at, "by": "bert", "type": "register", "request": ref, "request_date": at[:10],
                      "desired_start": "2025-12-01", "days_per_week": 3, "hours": [], "municipality": "24062",
                      "child": {"national_number": make_number(dt.date(2025, 1, 1) + dt.timedelta(days=i % 300), 800 + i // 300)},
                      "family": {}, "special_care": False, "consent": True})
        lines.append(line("propose", ref, at, proposal="P1", location="Het Nest", start="2025-12-01", days_per_week=3, on=at[:10]))
        lines.append(line("accept", ref, at, proposal="P1", on=at[:10]))
    return lines


def test_the_photo_rebuilds_identically_after_a_thousand_later_events_and_a_correction(loket, tmp_path) -> None:
    book = PhotoBook(loket)
    book.take(2025, MOMENT, "anna")
    before = loket.events.recorder.max_notification_id()
    assert import_history(loket, write_history(tmp_path / "later.jsonl", _later_lines(250))).ok
    counted = book.stored(2025)[0].classifications[0].split("\t")[0]  # a request the photo counted
    old = loket.get_request(counted)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    correction = line("correct_registration", old.reference, now, desired_start="2026-03-01",
                      reason="tikfout in het jaar")
    assert import_history(loket, write_history(tmp_path / "c.jsonl", [correction])).ok
    assert loket.events.recorder.max_notification_id() - before >= 1000
    assert all(r.identical for r in book.verify(2025))

    restated = book.restatement(2025, MOMENT)
    changed = {c["reference"]: c for c in restated["changed_requests"]}
    assert old.reference in changed and changed[old.reference]["now"] is None
    assert [e["what"] for e in changed[old.reference]["events"]] == ["RegistrationCorrected"]
    now_photo = loket.photo(2025, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    assert restated["known_now"] == {"total": now_photo["total"], "municipalities": now_photo["municipalities"]}
    assert restated["known_now"]["total"]["all"]["requests"] >= restated["stored"]["total"]["all"]["requests"] - 1 + 250


def _tamper(store_url: str, position: int, old: bytes, new: bytes) -> None:
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite://")) as conn:
            (state,) = conn.execute("SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchone()
            conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (bytes(state).replace(old, new), position))
    else:
        with psycopg.connect(store_url) as conn:
            (state,) = conn.execute("SELECT state FROM loket_events WHERE notification_id = %s", (position,)).fetchone()
            conn.execute("UPDATE loket_events SET state = %s WHERE notification_id = %s",
                         (bytes(state).replace(old, new), position))


def test_a_changed_event_row_makes_the_rebuild_differ_naming_figure_and_request(loket, store_url) -> None:
    book = PhotoBook(loket)
    book.take(2025, MOMENT, "anna")
    target = next((p, e) for p, e in loket.recorded_events()
                  if type(e).__name__ == "PlacementAccepted" and e.originator_version <= 4
                  and loket.get_request(str(e.originator_id)).original_year == 2025
                  and not loket.get_request(str(e.originator_id)).proposals[e.proposal].start != e.start
                  and e.days_per_week == loket.get_request(str(e.originator_id)).days_per_week)
    position, event = target
    _tamper(store_url, position, f'"days_per_week":{event.days_per_week}'.encode(), b'"days_per_week":0.5')
    loket.events.repository.cache = None
    result = PhotoBook(loket).verify(2025)[0]
    assert not result.identical
    assert loket.get_request(str(event.originator_id)).reference in result.differing_requests
    assert any("deviating" in f for f in result.differing_figures)


def test_every_figure_drills_down_to_as_many_requests(loket) -> None:
    book = PhotoBook(loket)
    photo = loket.photo(2025)
    figures = photo["municipalities"]["24062"]
    for category, counts in figures.items():
        for bucket, value in counts.items():
            drilled = book.drill(2025, "24062", category, bucket)
            assert drilled["count"] == value == len(drilled["requests"]), (category, bucket)
    assert book.drill(2025, None, "all", "unanswered")["count"] == photo["total"]["all"]["unanswered"]


def test_a_photo_of_a_moment_still_to_come_cannot_be_taken(loket) -> None:
    from service.aggregates.errors import InvalidValue

    with pytest.raises(InvalidValue):
        PhotoBook(loket).take(2099, None, "anna")


def test_the_api_takes_lists_verifies_restates_and_drills(store_url) -> None:
    with TestClient(create_app(Settings(store=store_url))) as client:
        login(client)
        service = client.app.state.service
        assert import_history(service, SNAPSHOTS / "reference-history.jsonl").ok
        taken = client.post("/api/photos/2025", params={"as_of": "2026-02-25T12:00:00+01:00"})
        assert taken.status_code == 201, taken.text
        assert [p["id"] for p in client.get("/api/photos").json()] == [taken.json()["id"]]
        verified = client.get("/api/photos/2025/verify").json()
        assert verified["identical"] is True
        restated = client.get("/api/photos/2025/restatement").json()
        assert restated["stored"] == {k: taken.json()[k] for k in ("total", "municipalities")}
        drilled = client.get("/api/photos/2025/drill", params={"municipality": "24062", "bucket": "no_proposal"})
        assert drilled.status_code == 200
        assert drilled.json()["count"] == service.photo(2025)["municipalities"]["24062"]["all"]["no_proposal"]
        bad = client.get("/api/photos/2025/drill", params={"bucket": "everything"})
        assert bad.status_code == 422 and bad.json()["veld"] == "bucket"


def _resaved(data: bytes, bump: bool) -> bytes:
    import io

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    if bump:
        wb["Totaal"]["B11"].value = wb["Totaal"]["B11"].value + 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_resaved_workbook_verifies_and_a_changed_cell_is_named(store_url) -> None:
    from service.reports import photo_workbook

    with TestClient(create_app(Settings(store=store_url))) as client:
        login(client)
        service = client.app.state.service
        assert import_history(service, SNAPSHOTS / "reference-history.jsonl").ok
        client.post("/api/photos/2025", params={"as_of": "2026-02-25T12:00:00+01:00"})
        original = photo_workbook(service.photo(2025, MOMENT))
        same = client.post("/api/photos/verify-workbook", content=_resaved(original, bump=False),
                           headers={"content-type": "application/octet-stream"})
        assert same.status_code == 200 and same.json()["equal"] is True and same.json()["stored_photo"]
        changed = client.post("/api/photos/verify-workbook", content=_resaved(original, bump=True),
                              headers={"content-type": "application/octet-stream"}).json()
        assert changed["equal"] is False and len(changed["differences"]) == 1
        assert "Totaal" in changed["differences"][0] and "B11" in changed["differences"][0]
        refused = client.post("/api/photos/verify-workbook", content=b"not a workbook")
        assert refused.status_code == 422 and "geweigerd" in refused.json()["melding"]


def test_the_workbook_of_a_taken_photo_anchors_the_log_against_a_rewritten_chain(loket, store_url) -> None:
    from service import ledger

    book = PhotoBook(loket)
    taken = book.take(2025, MOMENT, "anna")
    kept = book.workbook(taken["id"])  # the file the regulator keeps
    assert book.verify_workbook(kept)["equal"] is True
    # A full rewrite: change an event, drop the chain from there and chain it again.
    position = 1  # the first registration: its row holds "by"
    _tamper(store_url, position, b'"by":"', b'"by":"x')
    with ledger.connect(loket.settings) as store:
        store.execute("DELETE FROM event_chain WHERE position >= ?", (position,))
    loket.ledger.extend()
    result = book.verify_workbook(kept)
    assert result["equal"] is False
    assert any("herschreven" in d for d in result["differences"])


def test_a_workbook_of_a_photo_never_taken_does_not_verify(loket) -> None:
    from service.reports import photo_workbook

    preview = photo_workbook(loket.photo(2025, MOMENT, upto=3000))
    result = PhotoBook(loket).verify_workbook(preview)
    assert result["equal"] is False and "geen genomen foto" in result["differences"][0]


def test_a_photo_of_an_old_year_names_and_rebuilds_with_that_years_rule_set(service) -> None:
    from tests.conftest import CASES

    assert import_history(service, CASES / "rules-by-year.jsonl").ok
    book = PhotoBook(service)
    taken = {year: book.take(year, None, "anna") for year in (2021, 2022, 2024)}
    assert {y: t["rules"] for y, t in taken.items()} == {2021: "regels-2019", 2022: "regels-2022", 2024: "regels-2024"}
    assert taken[2021]["total"]["all"]["unanswered"] == 1 and taken[2022]["total"]["all"]["unanswered"] == 0
    assert "priority_group" not in taken[2024]["total"]
    for year in taken:
        assert all(r.identical for r in book.verify(year))


def test_a_moment_outside_the_products_calendar_is_refused_not_a_fault(store_url) -> None:
    with TestClient(create_app(Settings(store=store_url))) as client:
        login(client)
        for path in ("/api/photos/2025", "/api/photos/2025.xlsx"):
            r = client.get(path, params={"as_of": "0001-01-01T00:00:00+14:00"})
            assert r.status_code == 422 and r.json()["veld"] == "as_of"
        r = client.post("/api/photos/2025", params={"as_of": "0001-01-01T00:00:00+14:00"})
        assert r.status_code == 422
