"""Locations, free places, matching both ways, and the crisis when a location closes.

The scenario is tests/data/crisis.jsonl: four locations in Leuven (24062) and Bierbeek (24011),
five requests of 2025 in Leuven wanting care from 2025-02-15, and Het Nest (L-NEST) closing on
2025-03-10 after a fire, with K-A and K-B placed there (K-C at De Zon, K-D only proposed at
Het Nest, K-E's placement there already cancelled). Free places: De Zon from 1 March (3, five
days, early), De Vlinder in Bierbeek from 1 March (2, four days), Klein Duimpje from
1 September (1, two days). After the closure K-B is placed again at De Zon on 20 March.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.application import LoketService
from service.cli import main as cli
from service.importer import import_history
from service.settings import Settings
from tests.builders import login, write_history

SCENARIO = Path(__file__).parent / "data" / "crisis.jsonl"
LINES = [json.loads(x) for x in SCENARIO.read_text().splitlines()]
CLOSURE = 23  # the line of close_location
BRUSSELS = dt.timezone(dt.timedelta(hours=1))
BEFORE = dt.datetime(2025, 3, 9, 12, tzinfo=BRUSSELS)


def _all(photo: dict) -> dict:
    return photo["total"]["all"]


@pytest.fixture
def scenario(store_url):
    service = LoketService(Settings(store=store_url))
    report = import_history(service, SCENARIO)
    yield service, report
    service.close()


def test_the_closure_cancels_the_placements_there_and_an_explicit_cancellation_is_refused(scenario) -> None:
    service, report = scenario
    refused = dict(report.refused)
    assert sorted(refused) == [24, 25, 26]
    assert "al geannuleerd door de sluiting van locatie L-NEST op 2025-03-10" in refused[24]
    assert "al geannuleerd door de sluiting van locatie L-NEST" in refused[25]
    assert "gesloten sinds 2025-03-10" in refused[26]  # no acceptance of a place at a closed location
    a = service.get_request("K-A")
    assert a.is_open and a.placement is None and a.crisis.location == "L-NEST" and a.crisis.open
    events = [type(e).__name__ for e in service.history("K-A")][-2:]
    assert events == ["PlacementCancelled", "ClosureCrisisFlagged"]
    assert "Sluiting van locatie L-NEST" in service.history("K-A")[-2].reason
    for untouched in ("K-C", "K-D", "K-E"):  # placed elsewhere, only proposed, cancelled before
        assert service.get_request(untouched).crisis is None


def test_the_crisis_list_names_each_family_with_fitting_places_elsewhere_and_the_progress(scenario) -> None:
    service, _ = scenario
    from service.crisis import crisis_list

    crisis = crisis_list(service, "L-NEST", today=dt.date(2025, 3, 11))
    assert [{"request": a["request"], "suggestions": a["suggestions"]} for a in crisis["affected"]] == [
        {"request": "K-A", "suggestions": ["L-ZON", "L-VLIN"]},  # own municipality first; De Vlinder is in Bierbeek
        {"request": "K-B", "suggestions": []},  # placed again at De Zon: nothing more to suggest
    ]
    a, b = crisis["affected"]
    assert a["had"] == {"proposal": "P1", "start": dt.date(2025, 2, 15), "days_per_week": 4}
    assert a["needed_from"] == dt.date(2025, 3, 11) and a["placed_again_on"] is None and a["open"]
    assert b["placed_again_on"] == dt.date(2025, 3, 20) and not b["open"]
    assert crisis["progress"] == {"affected": 2, "placed_again": 1, "waiting": 1, "closed_otherwise": 0,
                                  "last_placed_again_on": dt.date(2025, 3, 20)}
    assert [x["status"] for x in crisis["affected"]] == ["wacht op een plaats", "opnieuw geplaatst op 20/03/2025"]
    assert "contact" not in a
    assert crisis_list(service, "L-NEST", contact=True)["affected"][0]["contact"]["name"] == "Ouder K-A"


def test_a_closure_only_adds_events_the_photo_reads_them_as_explicit_cancellations(scenario, store_url, tmp_path) -> None:
    service, _ = scenario
    before = service.photo(2025, BEFORE)
    after = service.photo(2025)
    assert _all(before) == {"requests": 5, "unanswered": 2, "no_proposal": 0, "not_accepted": 2, "deviating": 0}
    # K-A lost its place (not accepted), K-B is placed again more than a month late (deviating)
    assert _all(after) == {"requests": 5, "unanswered": 4, "no_proposal": 0, "not_accepted": 3, "deviating": 1}
    explicit = [*LINES[:CLOSURE - 1],
                {**LINES[CLOSURE], "type": "cancel_placement"}, {**LINES[CLOSURE + 1], "type": "cancel_placement"},
                *LINES[CLOSURE + 3:]]
    other = LoketService(Settings(store=f"sqlite:///{tmp_path}/explicit.sqlite"))
    try:
        assert import_history(other, write_history(tmp_path / "explicit.jsonl", explicit)).ok
        assert other.photo(2025)["total"] == after["total"]
    finally:
        other.close()


def test_matching_both_ways_with_a_reason_for_each_result(scenario) -> None:
    service, _ = scenario
    from service.matching import places_for, requests_for

    view = service.current.refresh()
    places = places_for(service.get_request("K-A"), view.locations.values(), view.places_left)
    assert [(m.location.reference, m.fitting) for m in places] == [("L-ZON", 4), ("L-VLIN", 3), ("L-KLEIN", 2)]
    zon = places[0].reasons()
    # free two weeks after the wished start: less than a month later, so the start fits (not a deviating start)
    assert zon["start"] == {"fits": True, "reden": "vrij vanaf 01/03/2025, 14 dagen later dan nodig vanaf 15/02/2025"}
    assert zon["days"]["fits"] and zon["hours"]["fits"] and zon["municipality"]["fits"]
    assert places[2].reasons()["start"]["reden"] == (
        "pas vrij vanaf 01/09/2025, 198 dagen na nodig vanaf 15/02/2025: een maand of meer later")
    assert places[1].reasons()["municipality"]["reden"].startswith("in Bierbeek")
    assert places[2].reasons()["days"]["reden"] == "slechts 2 van de 4 gevraagde dagen"
    # De Zon's places answer the open requests of Leuven that want at most five days (K-B and K-C are placed)
    zon = view.locations["L-ZON"]
    assert view.places_left(zon) == 2  # three reported, K-B accepted one since
    assert [m.request.reference for m in requests_for(zon, view.open_requests(), view.places_left(zon))] == [
        "K-A", "K-D", "K-E"]
    assert requests_for(view.locations["L-NEST"], view.open_requests(), 5) == []  # closed


def test_the_api_and_the_command_line_give_the_same_crisis(scenario, store_url, monkeypatch, capsys, tmp_path) -> None:
    service, _ = scenario
    service.close()
    monkeypatch.setenv("LOKET_STORE", store_url)
    assert cli(["crisis", "L-NEST", "--by", "anna"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [a["suggestions"] for a in printed["affected"]] == [["L-ZON", "L-VLIN"], []]
    assert cli(["crisis", "L-NEST", "--format", "xlsx", "--out", str(tmp_path / "crisis.xlsx")]) == 0
    sheet = openpyxl.load_workbook(tmp_path / "crisis.xlsx").active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[1][0].startswith("2 gezinnen getroffen, 1 opnieuw geplaatst")
    assert rows[4][0] == "K-A" and rows[4][8] == "Ouder K-A" and rows[4][6] == "wacht op een plaats"
    assert rows[4][7] == "L-ZON Crèche De Zon (Leuven) / L-VLIN De Vlinder (Bierbeek)"
    assert cli(["match", "--location", "L-ZON"]) == 0
    assert [r["reference"] for r in json.loads(capsys.readouterr().out)["requests"]] == ["K-A", "K-D", "K-E"]
    with TestClient(create_app(Settings(store=store_url))) as client:
        login(client)
        api = client.get("/api/locations/L-NEST/crisis").json()
        assert [a["request"] for a in api["affected"]] == ["K-A", "K-B"] and api["progress"]["placed_again"] == 1
        assert api["affected"][0]["contact"]["phone"] == "0470 00 00 00"  # for phoning: loket workers only
        csv_text = client.get("/api/locations/L-NEST/crisis.csv").content.decode("utf-8-sig")
        today = dt.datetime.now(ZoneInfo("Europe/Brussels")).date().strftime("%d/%m/%Y")  # needed from today now
        assert csv_text.splitlines()[1].startswith(
            f"K-A;Leuven;15/02/2025;4;geen;{today};wacht op een plaats;L-ZON Crèche De Zon (Leuven) / "
            "L-VLIN De Vlinder (Bierbeek);Ouder K-A")
        matches = client.get("/api/requests/K-A/matches").json()
        assert [p["location"] for p in matches["places"]] == ["L-ZON", "L-VLIN", "L-KLEIN"]
        reads = client.app.state.service.access_log.entries(request="K-A")
        assert {e.purpose for e in reads} >= {"cli:crisislijst (json)", "api:crisislijst", "api:crisislijst (csv)"}


def test_locations_through_the_api_and_an_organizer_reports_only_its_own_free_places(store_url) -> None:
    with TestClient(create_app(Settings(store=store_url))) as client:
        login(client, "wanda")
        made = client.post("/api/locations", json={"location": "L1", "name": "Het Nest", "organizer": "vzw Nest",
                                                   "municipality": "24062", "capacity": 14, "hours": ["early"]})
        assert made.status_code == 201, made.text
        client.post("/api/locations", json={"location": "L2", "name": "De Zon", "organizer": "vzw Zon",
                                            "municipality": "24062", "capacity": 9, "hours": []})
        changed = client.post("/api/locations/L1/change_location", json={"capacity": 18, "reason": "uitbreiding"})
        assert changed.status_code == 200 and client.get("/api/locations/L1").json()["capacity"] == 18
        login(client, "olga", role="organizer", locations=("L1",))
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=1))).date().isoformat()
        body = {"from": today, "places": 2, "days_per_week": 5, "hours": ["early"]}
        assert client.post("/api/locations/L1/report_free_places", json=body).status_code == 200
        assert client.post("/api/locations/L2/report_free_places", json=body).status_code == 403
        late = client.post("/api/locations/L1/report_free_places", json={**body, "hours": ["late"]})
        assert late.status_code == 409 and late.json()["veld"] == "hours"
        assert client.get("/api/locations/L1").json()["free"]["places"] == 2
        assert client.post("/api/locations/L1/close_location", json={"on": today, "reason": "x"}).status_code == 403
        login(client, "wanda")
        closed = client.post("/api/locations/L1/close_location", json={"on": today, "reason": "brand"})
        assert closed.status_code == 200 and client.get("/api/locations/L1").json()["closed_on"] == today
        again = client.post("/api/locations/L1/reopen_location", json={"on": today, "reason": "hersteld"})
        assert again.status_code == 200 and client.get("/api/locations/L1").json()["closed_on"] is None


def test_an_organizer_sees_the_requests_its_places_could_answer_without_personal_data(scenario, store_url) -> None:
    service, _ = scenario
    service.close()
    with TestClient(create_app(Settings(store=store_url))) as client:
        login(client, "olga", role="organizer", locations=("L-ZON",))
        seen = client.get("/api/locations/L-ZON/matches")
        assert seen.status_code == 200
        assert [r["reference"] for r in seen.json()["requests"]] == ["K-A", "K-D", "K-E"]
        assert "Ouder" not in seen.text and "categories" not in seen.text
        assert client.get("/api/locations/L-VLIN/matches").status_code == 403
        assert client.get("/api/locations/L-NEST/crisis").status_code == 403


def test_the_crisis_list_is_quick_for_a_location_with_many_children(tmp_path) -> None:
    """Not a timing test (that is make bench): 300 placements at one location all end and are listed."""
    lines = [{"at": "2025-01-02T09:00:00+01:00", "by": "anna", "type": "register_location", "location": "GROOT",
              "name": "Groot", "organizer": "vzw", "municipality": "24062", "capacity": 400, "hours": []}]
    from service.natnum_gen import make_number

    for i in range(300):
        at = f"2025-01-{3 + i // 100:02d}T{9 + (i % 100) // 10:02d}:{(i % 10) * 5:02d}:00+01:00"
        ref = f"G-{i:03d}"
        lines.append({"at": at, "by": "anna", "type": "register", "request": ref, "request_date": at[:10],
                      "desired_start": "2025-02-15", "days_per_week": 4, "hours": [], "municipality": "24062",
                      "child": {"national_number": make_number(dt.date(2024, 10, 1) + dt.timedelta(days=i), 650)},
                      "family": {}, "special_care": False, "consent": True})
        lines.append({"at": at.replace(":00+", ":30+"), "by": "anna", "type": "propose", "request": ref, "proposal": "P1",
                      "location": "GROOT", "start": "2025-02-15", "days_per_week": 4, "on": at[:10]})
        lines.append({"at": at.replace(":00+", ":45+"), "by": "anna", "type": "accept", "request": ref, "proposal": "P1",
                      "on": at[:10]})
    for hour, ref, places in ((9, "KLEIN", 2), (10, "MIDDEL", 1)):  # three free places elsewhere for 300 families
        lines.append({"at": f"2025-02-28T{hour:02d}:00:00+01:00", "by": "anna", "type": "register_location", "location": ref,
                      "name": ref.title(), "organizer": "vzw", "municipality": "24062", "capacity": 20, "hours": []})
        lines.append({"at": f"2025-02-28T{hour:02d}:30:00+01:00", "by": "anna", "type": "report_free_places", "location": ref,
                      "from": "2025-03-01", "places": places, "days_per_week": 5})
    lines.append({"at": "2025-03-01T09:00:00+01:00", "by": "anna", "type": "close_location", "location": "GROOT",
                  "on": "2025-03-01", "reason": "faillissement"})
    service = LoketService(Settings(store=f"sqlite:///{tmp_path}/groot.sqlite"))
    try:
        assert import_history(service, write_history(tmp_path / "groot.jsonl", lines)).ok
        from service.crisis import crisis_list

        crisis = crisis_list(service, "GROOT")
        assert crisis["progress"]["affected"] == 300 and all(a["open"] for a in crisis["affected"])
        # the free places are spread in the order of calling: nobody is sent to a place already given above
        firsts = [a["suggestions"] for a in crisis["affected"][:4]]
        assert firsts == [["KLEIN", "MIDDEL"], ["KLEIN", "MIDDEL"], ["MIDDEL"], []]
        assert _all(service.photo(2025))["not_accepted"] == 300
    finally:
        service.close()


def test_the_crisis_workbook_opens(scenario) -> None:
    service, _ = scenario
    from service.crisis import crisis_list, crisis_xlsx

    data = crisis_xlsx(crisis_list(service, "L-NEST", contact=True))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet.title == "Crisislijst" and sheet["A1"].value.startswith("Sluiting L-NEST Kinderdagverblijf Het Nest")


def test_a_request_is_handed_to_another_loket_only_with_consent(tmp_path, monkeypatch, capsys) -> None:
    from tests.builders import line, register_line

    here, there = f"sqlite:///{tmp_path}/hier/s.sqlite", f"sqlite:///{tmp_path}/daar/s.sqlite"
    service = LoketService(Settings(store=here, name="Loket Leuven"))
    try:
        history = [register_line("R1", family={"low_income": True, "single_parent": True}, notes="belt na 17u"),
                   line("change_wish", "R1", "2025-01-07T10:00:00+01:00", days_per_week=3),
                   register_line("R2", at="2025-01-08T10:00:00+01:00", consent=False,
                                 child={"national_number": "24120610244"})]
        assert import_history(service, write_history(tmp_path / "h.jsonl", history)).ok
    finally:
        service.close()
    monkeypatch.setenv("LOKET_STORE", here)
    monkeypatch.setenv("LOKET_NAME", "Loket Leuven")
    out = tmp_path / "overdracht.jsonl"
    assert cli(["handover", "R2", "--to", "Loket Gent", "--out", str(out)]) == 1  # no consent
    assert "toestemming" in capsys.readouterr().err and not out.exists()
    assert cli(["handover", "R1", "--to", "Loket Gent", "--out", str(out), "--by", "anna"]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    sent = json.loads(out.read_text())
    assert sent["origin"] == {"loket": "Loket Leuven", "request": "R1"} and sent["days_per_week"] == 3
    assert sent["type"] == "register" and sent["notes"] == "belt na 17u"

    monkeypatch.setenv("LOKET_STORE", there)
    assert cli(["receive", str(out), "--municipality", "44021", "--as", "G-7", "--by", "bert"]) == 0
    gent = LoketService(Settings(store=there))
    try:
        received = gent.get_request("G-7")
        assert received.origin == {"loket": "Loket Leuven", "request": "R1"} and received.municipality == "44021"
        assert received.wish_days == 3 and received.request_date == dt.date(2025, 1, 6)  # waiting since then
        assert gent.personal_data(received)["contact"]["name"] == "Ouder R1"
        assert [type(e).__name__ for e in gent.history("G-7")] == ["Registered", "ReceivedFrom"]
    finally:
        gent.close()
    assert cli(["receive", str(out), "--municipality", "44021", "--as", "G-8"]) == 1  # the same child twice


# ------------------------------------------------------------- what the adversarial trial found


def _today() -> str:
    return dt.datetime.now(ZoneInfo("Europe/Brussels")).date().isoformat()


def test_nothing_is_placed_at_a_closed_location_whatever_the_dates(scenario) -> None:
    service, _ = scenario
    from tests.builders import line

    at = dt.datetime.now(ZoneInfo("Europe/Brussels")).replace(microsecond=0)
    lines = [line("propose", "K-A", at.isoformat(), proposal="P9", location="L-NEST", start="2025-03-01",
                  days_per_week=4, on="2025-03-01"),
             line("accept", "K-D", (at + dt.timedelta(seconds=1)).isoformat(), proposal="P1", on="2025-03-01")]
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        report = import_history(service, write_history(Path(folder) / "late.jsonl", lines))
    assert [n for n, _ in report.refused] == [1, 2]  # back-dated or not: the location is closed now
    assert all("gesloten sinds 2025-03-10" in reason for _, reason in report.refused)


def test_a_closure_sees_an_acceptance_another_process_saved_meanwhile(store_url, make_service, tmp_path) -> None:
    first, second = make_service(), make_service()
    assert import_history(first, write_history(tmp_path / "h.jsonl", LINES[:CLOSURE - 1])).ok
    second.current.refresh()  # the second process read the log before the acceptance below
    from service import commands as c

    first.execute(c.Command(type="propose", target="K-D", payload=c.Propose(
        proposal="P2", location="L-NEST", start=dt.date(2025, 3, 3), days_per_week=4, on=dt.date.today()),
        recorded_at=first.now(), by="anna"), stamp=True)
    first.execute(c.Command(type="accept", target="K-D", payload=c.Accept(proposal="P2", on=dt.date.today()),
                            recorded_at=first.now(), by="anna"), stamp=True)
    second.execute(c.Command(type="close_location", target="L-NEST", payload=c.CloseLocation(
        on=dt.date.today(), reason="brand"), recorded_at=second.now(), by="bert"), stamp=True)
    assert second.get_request("K-D").placement is None and second.get_request("K-D").crisis.location == "L-NEST"
    assert second.location("L-NEST").placed == {}


def test_free_places_left_never_exceed_the_report_and_a_voided_request_is_not_on_the_crisis_list(tmp_path) -> None:
    from tests.builders import line, register_line

    lines = [
        {"at": "2025-01-02T09:00:00+01:00", "by": "anna", "type": "register_location", "location": "L1",
         "name": "Een", "organizer": "vzw", "municipality": "24062", "capacity": 10, "hours": []},
        register_line("A", at="2025-01-06T10:00:00+01:00"),
        line("propose", "A", "2025-01-07T10:00:00+01:00", proposal="P1", location="L1", start="2025-09-01",
             days_per_week=4, on="2025-01-07"),
        line("accept", "A", "2025-01-08T10:00:00+01:00", proposal="P1", on="2025-01-08"),
        {"at": "2025-02-01T09:00:00+01:00", "by": "anna", "type": "report_free_places", "location": "L1",
         "from": "2025-03-01", "places": 1, "days_per_week": 5},
        line("cancel_placement", "A", "2025-02-02T10:00:00+01:00", on="2025-02-02", reason="verhuisd"),
        register_line("V", at="2025-02-03T10:00:00+01:00", child={"national_number": "24120610244"}),
        line("propose", "V", "2025-02-04T10:00:00+01:00", proposal="P1", location="L1", start="2025-09-01",
             days_per_week=4, on="2025-02-04"),
        line("accept", "V", "2025-02-05T10:00:00+01:00", proposal="P1", on="2025-02-05"),
        line("void", "V", "2025-02-06T10:00:00+01:00", reason="dubbel ingevoerd"),
        {"at": "2025-03-01T09:00:00+01:00", "by": "anna", "type": "close_location", "location": "L1",
         "on": "2025-03-01", "reason": "brand"},
    ]
    service = LoketService(Settings(store=f"sqlite:///{tmp_path}/s.sqlite"))
    try:
        report = import_history(service, write_history(tmp_path / "h.jsonl", lines[:-1]))
        assert report.ok
        # A's placement was accepted before the report: its cancellation gives no place back; V took the one place
        assert service.location("L1").places_left == 0
        assert import_history(service, write_history(tmp_path / "c.jsonl", lines[-1:])).ok
        from service.crisis import crisis_list, crisis_xlsx

        crisis = crisis_list(service, "L1", contact=True)
        assert crisis["affected"] == []  # the voided request leaves every list
        assert crisis_xlsx(crisis)
    finally:
        service.close()


def test_a_family_hit_by_two_closures_stays_on_both_lists(scenario) -> None:
    service, _ = scenario
    from service import commands as c
    from service.crisis import crisis_list

    today = dt.date.today()
    service.execute(c.Command(type="close_location", target="L-ZON", payload=c.CloseLocation(on=today, reason="faillissement"),
                              recorded_at=service.now(), by="anna"), stamp=True)
    nest, zon = crisis_list(service, "L-NEST"), crisis_list(service, "L-ZON")
    assert [a["request"] for a in nest["affected"]] == ["K-A", "K-B"] and nest["progress"]["placed_again"] == 1
    assert [a["request"] for a in zon["affected"]] == ["K-B", "K-C"]  # K-B was placed again at De Zon


def test_an_open_location_crisis_workbook_and_control_characters_do_not_break_it(scenario) -> None:
    service, _ = scenario
    from service.crisis import crisis_list, crisis_xlsx

    assert crisis_xlsx(crisis_list(service, "L-ZON"))  # never closed: an empty list, no error
    crisis = crisis_list(service, "L-NEST")
    crisis["affected"][0]["contact"] = {"name": "Jan\u000bPeeters\u0001"}
    sheet = openpyxl.load_workbook(io.BytesIO(crisis_xlsx(crisis))).active
    assert sheet["I5"].value == "JanPeeters"


def test_a_handed_over_child_born_since_registration_is_received(tmp_path, monkeypatch, capsys) -> None:
    from tests.builders import line, register_line

    here = f"sqlite:///{tmp_path}/hier/s.sqlite"
    service = LoketService(Settings(store=here))
    try:
        history = [register_line("U1", child={"expected_birth": "2025-02-20", "parent_national_number": "90051704512"}),
                   line("child_born", "U1", "2025-03-01T10:00:00+01:00", national_number="24120610145", on="2025-02-28")]
        assert import_history(service, write_history(tmp_path / "h.jsonl", history)).ok
        sent = service.handover("U1", "Loket Gent", "anna")
        assert sent["child"] == {"national_number": "24120610145"}
    finally:
        service.close()
    out = tmp_path / "o.jsonl"
    out.write_text(json.dumps(sent) + "\n")
    monkeypatch.setenv("LOKET_STORE", f"sqlite:///{tmp_path}/daar/s.sqlite")
    assert cli(["receive", str(out), "--municipality", "44021"]) == 0  # registered under a number of its own
    assert "Ontvangen als dossier 2025-00001" in capsys.readouterr().err
    for bad in ("[1, 2]", '{"type": "register"' + ', "x": ' * 0 + "}", "\u00ff\u00fe"):
        out.write_text(bad + "\n")
        assert cli(["receive", str(out), "--municipality", "44021"]) == 2
