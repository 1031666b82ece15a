"""The HTTP API end to end, through TestClient against a real store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.settings import Settings
from tests.builders import CHILD_A, CHILD_B, login


@pytest.fixture
def client(store_url: str):
    with TestClient(create_app(Settings(store=store_url))) as cl:
        yield login(cl)


def _register_body(**fields):
    body = {
        "request_date": "2025-01-06", "desired_start": "2025-09-01", "days_per_week": 4, "hours": ["early"],
        "municipality": "24062", "child": {"national_number": CHILD_A}, "family": {"low_income": True, "single_parent": True},
        "special_care": False, "consent": True, "contact": {"name": "Ouder Test"},
    }
    body.update(fields)
    return body


def test_a_registration_answers_201_with_id_and_reference(client) -> None:
    r = client.post("/api/requests", json=_register_body())
    assert r.status_code == 201, r.text
    assert r.json()["reference"].endswith("-00001")
    state = client.get(f"/api/requests/{r.json()['id']}").json()
    assert state["categories"]["extended_hours"]["value"] is True
    assert state["categories"]["vulnerable_family"]["value"] is True
    assert state["open"] is True


def test_a_duplicate_child_answers_409_naming_the_existing_request(client) -> None:
    first = client.post("/api/requests", json=_register_body(request="D-1")).json()
    r = client.post("/api/requests", json=_register_body(request="D-2"))
    assert r.status_code == 409
    assert r.json()["bestaand_dossier"] == first["reference"] == "D-1"


def test_wrong_fields_answer_422_with_a_message_per_field(client) -> None:
    r = client.post("/api/requests", json=_register_body(days_per_week=8, municipality="abc", colour="blue"))
    assert r.status_code == 422
    fields = {v["veld"] for v in r.json()["velden"]}
    assert {"days_per_week", "municipality", "colour"} <= fields


def test_a_wrong_national_number_answers_422_naming_the_field(client) -> None:
    r = client.post("/api/requests", json=_register_body(child={"national_number": "24120610146"}))
    assert r.status_code == 422
    assert r.json()["veld"] == "child.national_number"
    assert "24120610146" not in r.text


def test_follow_ups_change_the_photo_and_the_history_shows_who(client) -> None:
    body = _register_body(request="F-1", request_date="2026-01-06", desired_start="2026-09-01")
    rid = client.post("/api/requests", json=body).json()["id"]
    login(client, "bert")  # who records it is who is logged in
    r = client.post(f"/api/requests/{rid}/propose", json={"proposal": "P1", "location": "Het Nest", "start": "2026-10-01",
                                                          "days_per_week": 4, "on": "2025-01-06"})
    assert r.status_code == 200, r.text
    assert client.post("/api/requests/F-1/accept", json={"proposal": "P1", "on": "2025-01-06"}).status_code == 200
    again = client.post(f"/api/requests/{rid}/accept", json={"proposal": "P1", "on": "2025-01-06"})
    assert again.status_code == 409 and "annuleer" in again.json()["melding"]
    history = client.get(f"/api/requests/{rid}/history").json()
    assert [h["what"] for h in history] == ["Registered", "ProposalMade", "PlacementAccepted"]
    assert history[0]["by"] == "anna" and history[1]["by"] == "bert"
    photo = client.get("/api/photos/2026", params={"as_of": "2099-01-01T00:00:00+01:00"}).json()
    assert photo["total"]["all"] == {"requests": 1, "unanswered": 1, "no_proposal": 0, "not_accepted": 0, "deviating": 1}


def test_the_photo_downloads_as_a_workbook_and_as_csv(client) -> None:
    client.post("/api/requests", json=_register_body(child={"national_number": CHILD_B}))
    xlsx = client.get("/api/photos/2025.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    csv = client.get("/api/photos/2025.csv")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")


def test_a_photo_as_of_a_moment_without_offset_is_refused(client) -> None:
    r = client.get("/api/photos/2025", params={"as_of": "2026-02-25T12:00:00"})
    assert r.status_code == 422 and r.json()["veld"] == "as_of"
    ok = client.get("/api/photos/2025", params={"as_of": "2026-02-25T12:00:00+01:00"})
    assert ok.status_code == 200 and ok.json()["as_of"] == "2026-02-25T12:00:00+01:00"


def test_an_unknown_request_or_command_answers_404_in_dutch(client) -> None:
    assert client.get("/api/requests/ONBEKEND").status_code == 404
    r = client.post("/api/requests/ONBEKEND/frobnicate", json={})
    assert r.status_code == 404 and "bestaat niet" in r.json()["melding"]


def test_every_follow_up_command_has_a_route() -> None:
    from service.commands import FOLLOW_UPS

    app = create_app.__globals__["requests"].router
    paths = {route.path for route in app.routes}
    assert {f"/api/requests/{{id}}/{cmd}" for cmd in FOLLOW_UPS} <= paths
