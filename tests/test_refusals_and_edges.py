"""Edges found by trying to break the product: each one refused clearly, or counted right."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.application import LoketService
from service.importer import FileRefused, import_history
from service.settings import Settings
from tests.builders import CHILD_A, CHILD_B, line, login, register_line, write_history

T = "2025-03-{:02d}T10:00:00+01:00"


@pytest.fixture
def svc(tmp_path: Path):
    service = LoketService(Settings(store=f"sqlite:///{tmp_path}/s.sqlite"))
    yield service
    service.close()


def _import(service: LoketService, tmp_path: Path, lines: list[dict], name: str = "h.jsonl"):
    return import_history(service, write_history(tmp_path / name, lines))


@pytest.mark.parametrize("field", ["desired_start", "request_date", "days_per_week", "care_type", "municipality"])
def test_a_correction_never_empties_a_field_of_the_request(svc, tmp_path, field) -> None:
    with pytest.raises(FileRefused) as refused:
        _import(svc, tmp_path, [register_line("R1"), line("correct_registration", "R1", T.format(1), reason="x", **{field: None})])
    assert refused.value.problems[0][0] == 2 and field in refused.value.problems[0][1]


def test_the_digest_of_a_line_is_keyed_so_its_content_cannot_be_guessed_back(svc, tmp_path) -> None:
    lines = [register_line("R1")]
    _import(svc, tmp_path, lines)
    canonical = json.dumps(lines[0], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    plain = hashlib.sha256(f"{canonical}\n#1".encode()).hexdigest()[:32]
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        stored = b"".join(bytes(r[0]) for r in conn.execute("SELECT state FROM stored_events"))
    assert plain.encode() not in stored


def test_a_refused_line_is_refused_again_on_a_second_import_and_nothing_new_is_recorded(svc, tmp_path) -> None:
    at = T.format(1)
    lines = [
        register_line("R1", at=at),
        line("accept", "R1", at, proposal="P1", on="2025-03-01"),
        line("propose", "R1", at, proposal="P1", location="A", start="2025-09-01", days_per_week=4, on="2025-03-01"),
    ]
    first = _import(svc, tmp_path, lines)
    position = svc.events.recorder.max_notification_id()
    photo = svc.photo(2025)
    second = _import(svc, tmp_path, lines)
    assert [n for n, _ in first.refused] == [n for n, _ in second.refused] == [2]
    assert second.applied == 0 and svc.events.recorder.max_notification_id() == position
    assert svc.photo(2025) == photo


def test_three_and_three_point_zero_are_the_same_line(svc, tmp_path) -> None:
    _import(svc, tmp_path, [register_line("R1"), line("change_wish", "R1", T.format(1), days_per_week=3)])
    again = _import(svc, tmp_path, [register_line("R1"), line("change_wish", "R1", T.format(1), days_per_week=3.0)], "b.jsonl")
    assert again.applied == 0 and again.already_recorded == 2


def test_after_correcting_a_childs_number_the_old_number_is_free(svc, tmp_path) -> None:
    report = _import(svc, tmp_path, [
        register_line("R1"),
        line("correct_registration", "R1", T.format(1), child={"national_number": CHILD_B}, reason="verkeerd kind"),
        register_line("R2", at=T.format(2)),
        register_line("R3", at=T.format(3), child={"national_number": CHILD_B}),
    ])
    assert [n for n, _ in report.refused] == [4]
    assert "R1" in report.refused[0][1]


def test_a_corrected_year_may_not_give_the_child_two_requests_in_that_year(svc, tmp_path) -> None:
    report = _import(svc, tmp_path, [
        register_line("R1", desired_start="2025-09-01"),
        line("withdraw", "R1", T.format(1), on="2025-03-01", reason="verhuisd"),
        register_line("R2", at=T.format(2), desired_start="2026-02-01"),
        line("correct_registration", "R1", T.format(3), desired_start="2026-01-15", reason="tikfout"),
    ])
    assert [n for n, _ in report.refused] == [4] and "R2" in report.refused[0][1]


def test_reopening_after_erasure_still_keeps_one_open_request_per_child(svc, tmp_path) -> None:
    report = _import(svc, tmp_path, [
        register_line("R1", desired_start="2025-09-01"),
        line("withdraw", "R1", T.format(1), on="2025-03-01", reason="x"),
        register_line("R2", at=T.format(2), desired_start="2026-02-01"),
        line("erase_personal_data", "R1", T.format(3), on="2025-03-03", ground="verzoek van de ouder"),
        line("reopen", "R1", T.format(4), on="2025-03-04", reason="toch nog nodig"),
    ])
    assert [n for n, _ in report.refused] == [5] and "R2" in report.refused[0][1]


def test_an_erasure_destroys_the_key_before_it_is_recorded(svc, tmp_path) -> None:
    _import(svc, tmp_path, [register_line("R1")])
    request = svc.get_request("R1")
    svc.vault.erase = lambda key_id: (_ for _ in ()).throw(OSError("schijf vol"))  # the key cannot be destroyed
    with pytest.raises(OSError):
        _import(svc, tmp_path, [line("erase_personal_data", "R1", T.format(1), on="2025-03-01", ground="x")], "b.jsonl")
    assert not svc.get_request("R1").erased  # nothing recorded that is not true
    assert svc.personal_data(request) is not None


def test_a_recording_time_in_the_future_is_refused(svc, tmp_path) -> None:
    report = _import(svc, tmp_path, [register_line("R1", at="2099-01-01T10:00:00+01:00", request_date="2025-01-06")])
    assert [n for n, _ in report.refused] == [1] and "toekomst" in report.refused[0][1]


@pytest.mark.parametrize("bad", [{"type": []}, {"at": 1736240000}, {"reason": "x", "on": "2025-03-01"}])
def test_a_line_of_the_wrong_shape_refuses_the_file(svc, tmp_path, bad) -> None:
    path = tmp_path / "h.jsonl"
    second = json.dumps({**line("withdraw", "R1", T.format(1), on="2025-03-01", reason="x"), **bad})
    if "on" in bad:  # a key given twice
        second = second[:-1] + ', "reason": "y"}'
    path.write_text(json.dumps(register_line("R1")) + "\n" + second + "\n", encoding="utf-8")
    with pytest.raises(FileRefused) as refused:
        import_history(svc, path)
    assert refused.value.problems[0][0] == 2


def test_a_line_separator_inside_a_text_is_not_a_new_line(svc, tmp_path) -> None:
    report = _import(svc, tmp_path, [register_line("R1", notes="eerste\u2028tweede\u0085derde")])
    assert report.applied == 1
    assert svc.personal_data(svc.get_request("R1"))["notes"] == "eerste\u2028tweede\u0085derde"


def test_a_proposal_at_a_closed_location_is_refused(svc, tmp_path) -> None:
    report = _import(svc, tmp_path, [
        register_line("R1"),
        {"at": T.format(1), "by": "anna", "type": "register_location", "location": "L1", "name": "Het Nest",
         "organizer": "vzw Nest", "municipality": "24062", "capacity": 18, "hours": []},
        {"at": T.format(2), "by": "anna", "type": "close_location", "location": "L1", "on": "2025-03-02", "reason": "brand"},
        line("propose", "R1", T.format(3), proposal="P1", location="L1", start="2025-09-01", days_per_week=4, on="2025-03-03"),
    ])
    assert [n for n, _ in report.refused] == [4] and "gesloten" in report.refused[0][1]


def test_a_service_area_follows_the_mergers(tmp_path) -> None:
    service = LoketService(Settings(store=f"sqlite:///{tmp_path}/m.sqlite", service_area="46029"))
    try:
        report = _import(service, tmp_path, [
            register_line("R1", municipality="44045", desired_start="2024-09-01", request_date="2024-01-06",
                          at="2024-01-06T10:00:00+01:00"),
            register_line("R2", municipality="46029", desired_start="2025-09-01", at=T.format(1),
                          child={"national_number": CHILD_B}),
        ])
        assert report.refused == []
        assert sorted(service.photo(2024)["municipalities"]) == ["44045", "46014"]
        assert service.photo(2024)["municipalities"]["44045"]["all"]["requests"] == 1
        assert sorted(service.photo(2025)["municipalities"]) == ["46029"]
    finally:
        service.close()


def test_ids_of_other_aggregates_and_uuid_references_are_not_dossiers(tmp_path) -> None:
    from service.aggregates.reference_counter import counter_id

    with TestClient(create_app(Settings(store=f"sqlite:///{tmp_path}/a.sqlite"))) as client:
        login(client)
        body = {**{k: v for k, v in register_line("X").items() if k not in ("at", "by", "type", "request")},
                "request_date": "2026-01-06", "desired_start": "2026-09-01"}
        assert client.post("/api/requests", json=body).status_code == 201
        assert client.get(f"/api/requests/{counter_id(2026)}").status_code == 404
        other = {**body, "child": {"national_number": CHILD_B}, "request": str(counter_id(2030))}
        r = client.post("/api/requests", json=other)
        assert r.status_code == 422 and r.json()["veld"] == "request"


def test_an_import_batch_size_below_one_is_a_settings_error() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(import_batch=0)


def test_the_national_number_in_a_wrong_line_is_never_echoed(svc, tmp_path) -> None:
    report = _import(svc, tmp_path, [register_line("R1", child={"national_number": CHILD_A[:-1] + "0"})])
    assert CHILD_A[:-1] + "0" not in report.refused[0][1]


def test_the_latest_recording_time_survives_a_restart_behind_many_refused_lines(tmp_path) -> None:
    store = f"sqlite:///{tmp_path}/r.sqlite"
    first = LoketService(Settings(store=store))
    unknown = [line("withdraw", f"X{i}", T.format(5), on="2025-03-05", reason="x") for i in range(300)]
    _import(first, tmp_path, [register_line("R1", at=T.format(5)), *unknown])
    first.close()
    second = LoketService(Settings(store=store))
    try:
        report = _import(second, tmp_path, [register_line("R2", at=T.format(1), child={"national_number": CHILD_B})], "b.jsonl")
        assert [n for n, _ in report.refused] == [1] and "voor het laatst geregistreerde" in report.refused[0][1]
    finally:
        second.close()


def test_registering_and_erasing_in_one_import_leaves_no_key(svc, tmp_path) -> None:
    _import(svc, tmp_path, [register_line("R1"), line("erase_personal_data", "R1", T.format(1), on="2025-03-01", ground="x")])
    request = svc.get_request("R1")
    assert request.erased and svc.vault._keys.get(request.key_id) is None


def test_a_line_refused_for_a_future_time_is_judged_again_later(svc, tmp_path, monkeypatch) -> None:
    import datetime as dt

    from service import application

    lines = [register_line("R1", at="2026-12-03T10:00:00+01:00", request_date="2026-12-03", desired_start="2027-09-01")]
    real = dt.datetime

    class Earlier(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return real(2026, 12, 1, tzinfo=tz)

    monkeypatch.setattr(application.dt, "datetime", Earlier)
    assert [n for n, _ in _import(svc, tmp_path, lines).refused] == [1]
    monkeypatch.setattr(application.dt, "datetime", real)
    assert _import(svc, tmp_path, lines).applied == 1


def test_the_api_refuses_a_key_given_twice(tmp_path) -> None:
    with TestClient(create_app(Settings(store=f"sqlite:///{tmp_path}/d.sqlite"))) as client:
        login(client)
        r = client.post("/api/requests", content='{"request_date": "2026-01-01", "request_date": "2026-01-02"}',
                        headers={"content-type": "application/json"})
        assert r.status_code == 422 and "meer dan eens" in r.json()["melding"]
