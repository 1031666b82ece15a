"""Who may call what, what each role receives, and the access log of reads and changes."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import time
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from service.api import access
from service.api.app import create_app
from service.cli import main as cli
from service.importer import import_history
from service.settings import Settings
from tests.builders import (
    CHILD_A,
    CHILD_B,
    PARENT,
    PASSWORD,
    login,
    register_line,
    write_history,
)

ROLES = ("public", "worker", "admin", "organizer", "regulator")
T = "2025-03-{:02d}T10:00:00+01:00"
TODAY = dt.datetime.now(ZoneInfo("Europe/Brussels")).date().isoformat()
NAMES = ("Ouder R1", "Ouder R2", "Ouder R3")
NATIONAL_NUMBERS = (CHILD_A, CHILD_B, PARENT)


def _history(tmp_path):
    """A location in Leuven (24062); R1 consents, R2 does not, R3 lives in Bierbeek (24011)."""
    return write_history(tmp_path / "h.jsonl", [
        {"at": T.format(1), "by": "anna", "type": "register_location", "location": "L1", "name": "Het Nest",
         "organizer": "vzw Nest", "municipality": "24062", "capacity": 18, "hours": []},
        register_line("R1", at=T.format(2), consent=True, contact={"name": NAMES[0], "phone": "0470 11 11 11"}),
        register_line("R2", at=T.format(3), consent=False, child={"national_number": CHILD_B},
                      contact={"name": NAMES[1], "phone": "0470 22 22 22"}),
        register_line("R3", at=T.format(4), municipality="24011",
                      child={"expected_birth": "2025-06-01", "parent_national_number": PARENT},
                      contact={"name": NAMES[2], "phone": "0470 33 33 33"}),
    ])


@pytest.fixture
def app(store_url, tmp_path):
    application = create_app(Settings(store=store_url))
    service = application.state.service
    assert import_history(service, _history(tmp_path)).ok
    for name, role in (("wanda", "worker"), ("adam", "admin"), ("regi", "regulator")):
        service.accounts.add(name, role, PASSWORD)
    service.accounts.add("olga", "organizer", PASSWORD, ("L1",))
    service.accounts.add("zoe", "worker", PASSWORD)  # the account the administrator's routes act on
    yield application
    service.close()


def _token(app, role: str) -> dict[str, str]:
    if role == "public":
        return {}
    name = {"worker": "wanda", "admin": "adam", "organizer": "olga", "regulator": "regi"}[role]
    accounts = app.state.service.accounts
    token, _ = accounts.issue(accounts.get(name), hours=1)
    return {"Authorization": f"Bearer {token}"}


def _url(path: str, photo_id: str) -> str:
    return (path.replace("{id}", "R1").replace("{year}", "2025").replace("{photo_id}", photo_id)
            .replace("{name}", "zoe").replace("{ref}", "L1"))


def _walk(app) -> list[tuple[str, str]]:
    return sorted((m, r.path) for r in app.routes for m in (getattr(r, "methods", None) or ()) if m != "HEAD")


def test_every_route_has_exactly_one_rule_and_no_rule_is_stale(store_url, tmp_path) -> None:
    app = create_app(Settings(store=store_url))
    try:
        assert access.unruled_routes(app) == []
        assert set(_walk(app)) == set(access.RULES)  # a removed route leaves no rule behind
    finally:
        app.state.service.close()


def test_a_new_route_without_a_rule_stops_the_application(store_url) -> None:
    app = create_app(Settings(store=store_url))
    try:
        app.add_api_route("/api/nieuw", lambda: {"x": 1}, methods=["GET"])
        with pytest.raises(RuntimeError, match="GET /api/nieuw"):
            access.install(app)
    finally:
        app.state.service.close()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_every_route_times_every_role_answers_as_its_rule_says(app) -> None:
    with TestClient(app) as client:
        photo_id = client.post("/api/photos/2025", headers=_token(app, "admin")).json()["id"]
        for method, path in _walk(app):
            allowed = access.RULES[(method, path)]
            for role in ROLES:
                r = client.request(method, _url(path, photo_id), headers=_token(app, role), follow_redirects=False)
                where = f"{method} {path} as {role}: {r.status_code} {r.text[:200]}"
                if role in allowed:
                    assert r.status_code not in (401, 403), where
                elif role == "public" and method == "GET" and not path.startswith("/api/"):
                    assert r.status_code == 303 and r.headers["location"].startswith("/aanmelden"), where  # a page
                else:
                    assert r.status_code == (401 if role == "public" else 403), where
                    if role == "public" and access.is_page(path):  # a person in a browser reads a page
                        assert "<h1>Uw sessie is afgelopen" in r.text, where
                    elif access.is_page(path):
                        assert "kunt u deze pagina niet gebruiken.</h1>" in r.text, where
                    else:
                        assert r.json()["fout"] in ("niet_aangemeld", "geen_toegang"), where
                    assert not any(n in r.text for n in NAMES + NATIONAL_NUMBERS), where


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_regulator_and_the_public_never_receive_a_person(app) -> None:
    with TestClient(app) as client:
        client.post("/api/photos/2025", headers=_token(app, "worker"))
        texts = []
        for role, paths in (("regulator", ["/api/photos", "/api/photos/2025", "/api/photos/2025.csv",
                                           "/api/photos/2025/verify", "/api/photos/2025/restatement",
                                           "/api/photos/2025/drill"]),
                            ("public", ["/api/public/photos"])):
            for path in paths:
                r = client.get(path, headers=_token(app, role))
                assert r.status_code == 200, (path, r.text)
                texts.append(r.text)
        everything = "\n".join(texts)
        assert not any(n in everything for n in NAMES + NATIONAL_NUMBERS + ("0470",))
        public = client.get("/api/public/photos").json()
        assert public[0]["total"]["all"]["requests"] == "<5"  # 3 requests: a small count is never shown


def test_an_organizer_sees_contact_details_only_with_consent_and_loses_them_at_withdrawal(app) -> None:
    with TestClient(app) as client:
        seen = client.get("/api/open-requests", headers=_token(app, "organizer"))
        assert seen.status_code == 200
        by_ref = {item["reference"]: item for item in seen.json()}
        assert set(by_ref) == {"R1", "R2"}  # R3 is not in a municipality of its locations
        assert by_ref["R1"]["contact"] == {"name": NAMES[0], "phone": "0470 11 11 11"}
        assert "contact" not in by_ref["R2"] and by_ref["R2"]["days_per_week"] == 4
        assert not any(n in seen.text for n in NATIONAL_NUMBERS + (NAMES[1],))

        worker = _token(app, "worker")
        withdrawn = client.post("/api/requests/R1/change_consent", json={"consent": False, "on": TODAY},
                                headers=worker)
        assert withdrawn.status_code == 200, withdrawn.text
        after = {item["reference"]: item for item in client.get("/api/open-requests", headers=_token(app, "organizer")).json()}
        assert "contact" not in after["R1"]
        assert NAMES[0] not in json.dumps(after)

        log = app.state.service.access_log.entries(request="R1")
        reads = [e for e in log if e.user == "olga"]
        assert len(reads) == 1 and reads[0].action == "lezen" and reads[0].role == "organizer"
        assert "open-requests" in reads[0].purpose
        assert [e.purpose for e in log if e.user == "wanda"] == ["api:change_consent"]


def test_an_organizer_proposes_only_its_own_place_for_a_request_it_could_answer(app) -> None:
    with TestClient(app) as client:
        org = _token(app, "organizer")
        body = {"proposal": "P1", "location": "L1", "start": "2025-09-01", "days_per_week": 4, "on": TODAY}
        assert client.get("/api/requests/R1", headers=org).status_code == 403
        assert client.post("/api/requests/R1/accept", json={"proposal": "P1", "on": TODAY}, headers=org).status_code == 403
        other = client.post("/api/requests/R1/propose", json={**body, "location": "L9"}, headers=org)
        assert other.status_code == 403 and other.json()["veld"] == "location"
        far = client.post("/api/requests/R3/propose", json=body, headers=org)
        assert far.status_code == 403 and "R3" in far.json()["melding"]
        made = client.post("/api/requests/R1/propose", json=body, headers=org)
        assert made.status_code == 200, made.text
        history = client.get("/api/requests/R1/history", headers=_token(app, "worker")).json()
        assert history[-1]["what"] == "ProposalMade" and history[-1]["by"] == "olga"


def test_reads_and_changes_are_in_the_access_log_which_cannot_be_edited(app, store_url, monkeypatch, capsys) -> None:
    with TestClient(app) as client:
        worker = _token(app, "worker")
        assert client.get("/api/requests/R2", headers=worker).status_code == 200
        assert client.get("/api/requests/R2/history", headers=worker).status_code == 200
        assert client.post("/api/requests/R2/withdraw", json={"on": TODAY, "reason": "verhuisd"},
                           headers=worker).status_code == 200
        entries = app.state.service.access_log.entries(request="R2")
        assert [(e.user, e.role, e.action, e.purpose) for e in entries] == [
            ("wanda", "worker", "lezen", "api:dossier"), ("wanda", "worker", "lezen", "api:verloop"),
            ("wanda", "worker", "wijziging", "api:withdraw")]
        assert all(dt.datetime.fromisoformat(e.at) > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5) for e in entries)

        monkeypatch.setenv("LOKET_STORE", store_url)
        assert cli(["access-log", "--request", "R2"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert [e["purpose"] for e in printed] == ["api:dossier", "api:verloop", "api:withdraw"]
        assert cli(["access-log", "--user", "wanda", "--format", "csv"]) == 0
        csv_text = capsys.readouterr().out
        assert csv_text.startswith("\ufeffpositie;") and csv_text.count("\r\n") == 4

        before = app.state.service.access_log.entries()
        assert before[-1].action == "export" and before[-1].user  # reading the log is in the log too
        with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="kan niet gewijzigd worden"):
            _raw_execute(store_url, "UPDATE access_log SET username = 'iemand' WHERE request = 'R2'")
        with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="kan niet gewijzigd worden"):
            _raw_execute(store_url, "DELETE FROM access_log")
        assert app.state.service.access_log.entries() == before


def _raw_execute(store_url: str, sql: str) -> None:
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///") + ".accounts") as conn:
            conn.execute(sql)
    else:
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute(sql)


# ------------------------------------------------------------------ logging in


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_login_gives_a_bearer_token_and_refuses_wrong_passwords_in_dutch(app) -> None:
    with TestClient(app) as client:
        good = client.post("/api/token", data={"username": "wanda", "password": PASSWORD})
        assert good.status_code == 200 and good.json()["token_type"] == "bearer"
        bad = client.post("/api/token", data={"username": "wanda", "password": "fout-wachtwoord-123"})
        unknown = client.post("/api/token", data={"username": "niemand", "password": PASSWORD})
        assert bad.status_code == unknown.status_code == 401
        assert bad.json() == unknown.json()  # nobody learns which names exist
        assert "verkeerd wachtwoord" in bad.json()["melding"]
        me = client.get("/api/me", headers={"Authorization": f"Bearer {good.json()['access_token']}"}).json()
        assert me["user"] == "wanda" and me["role_nl"] == "loketmedewerker"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_too_many_failed_logins_wait(app) -> None:
    with TestClient(app) as client:
        answers = [client.post("/api/token", data={"username": "wanda", "password": f"fout-{i}-wachtwoord"})
                   for i in range(app.state.service.settings.login_attempts + 1)]
        assert [a.status_code for a in answers[:-1]] == [401] * (len(answers) - 1)
        assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) > 0
        assert "Te veel" in answers[-1].json()["melding"]
        # even the right password waits now: guessing cannot go on
        assert client.post("/api/token", data={"username": "wanda", "password": PASSWORD}).status_code == 429


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_disabling_an_account_or_changing_its_password_ends_its_sessions_at_once(app) -> None:
    with TestClient(app) as client:
        login(client, "zoe")
        assert client.get("/api/open-requests").status_code == 200
        admin = _token(app, "admin")
        assert client.post("/api/users/zoe/disable", headers=admin).status_code == 200
        assert client.get("/api/open-requests").status_code == 401
        assert client.post("/api/token", data={"username": "zoe", "password": PASSWORD}).status_code == 401
        assert client.post("/api/users/zoe/enable", headers=admin).status_code == 200
        login(client, "zoe")
        new = client.post("/api/users/zoe/password", json={}, headers=admin).json()["password"]
        assert client.get("/api/open-requests").status_code == 401
        assert client.post("/api/token", data={"username": "zoe", "password": new}).status_code == 200


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_accounts_refuse_weak_passwords_unknown_roles_and_unknown_locations(app) -> None:
    with TestClient(app) as client:
        admin = _token(app, "admin")
        for body, field in (({"name": "kim", "role": "worker", "password": "kort"}, "password"),
                            ({"name": "kim", "role": "koning"}, "role"),
                            ({"name": "kim", "role": "organizer", "locations": ["L9"]}, "locations"),
                            ({"name": "kim", "role": "organizer"}, "locations"),
                            ({"name": "Kim Peeters", "role": "worker"}, "name")):
            r = client.post("/api/users", json=body, headers=admin)
            assert r.status_code == 422 and r.json()["veld"] == field, (body, r.text)
        made = client.post("/api/users", json={"name": "kim", "role": "organizer", "locations": ["L1"]}, headers=admin)
        assert made.status_code == 201 and len(made.json()["password"]) >= 12
        assert client.post("/api/users", json={"name": "kim", "role": "worker"}, headers=admin).status_code == 422
        assert "kim" in [u["name"] for u in client.get("/api/users", headers=admin).json()]
        assert [e.purpose for e in app.state.service.access_log.entries(user="adam")] == ["account kim: aangemaakt als organizer"]


# ------------------------------------------------------------ browser hardening


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_browser_session_needs_its_csrf_token_to_change_anything(app) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        logged = client.post("/api/login", data={"username": "wanda", "password": PASSWORD})
        assert logged.status_code == 200
        cookie = logged.headers["set-cookie"]
        assert all(flag in cookie for flag in ("HttpOnly", "Secure", "SameSite=strict", "Max-Age="))
        body = {"on": TODAY, "reason": "verhuisd"}
        refused = client.post("/api/requests/R2/withdraw", json=body)
        assert refused.status_code == 403 and refused.json()["fout"] == "csrf"
        forged = client.post("/api/requests/R2/withdraw", json=body, headers={"X-CSRF-Token": "0" * 64})
        assert forged.status_code == 403
        assert app.state.service.get_request("R2").is_open  # nothing was recorded
        token = logged.json()["csrf_token"]
        assert client.post("/api/requests/R2/withdraw", json=body, headers={"X-CSRF-Token": token}).status_code == 200
        assert client.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 200
        assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sessions_expire_and_an_idle_browser_session_ends(app) -> None:
    accounts = app.state.service.accounts
    with TestClient(app, base_url="https://testserver") as client:
        token, login_ = accounts.issue(accounts.get("wanda"), hours=1 / 3600)  # one second
        time.sleep(1.5)
        assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        _, browser = accounts.issue(accounts.get("wanda"), hours=1, browser=True)
        idle = app.state.service.settings.idle_minutes * 60
        client.cookies.set(access.COOKIE, accounts.token(browser, active_at=time.time() - idle - 5))
        assert client.get("/api/me").status_code == 401
        client.cookies.set(access.COOKIE, accounts.token(browser, active_at=time.time() - idle + 60))
        answer = client.get("/api/me")
        assert answer.status_code == 200 and access.COOKIE in answer.headers["set-cookie"]  # renewed by use
        client.cookies.clear()  # a browser's token is no API token: it would escape the idle limit
        bearer = {"Authorization": f"Bearer {accounts.token(browser, active_at=time.time())}"}
        assert client.get("/api/me", headers=bearer).status_code == 401


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_every_answer_carries_the_security_headers(app) -> None:
    with TestClient(app) as client:
        for r in (client.get("/api/public/photos"), client.get("/api/requests/R1"),
                  client.get("/api/requests/R1", headers=_token(app, "worker")), client.get("/nergens")):
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
            assert r.headers["Referrer-Policy"] == "no-referrer"
        assert client.get("/api/requests/R1", headers=_token(app, "worker")).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_national_numbers_never_reach_logs_errors_or_urls(app, caplog) -> None:
    caplog.set_level("DEBUG")
    with TestClient(app) as client:
        worker = _token(app, "worker")
        body = {k: v for k, v in register_line("X").items() if k not in ("at", "by", "type", "request")}
        answers = [
            client.post("/api/requests", json={**body, "request_date": TODAY}, headers=worker),  # duplicate of R1
            client.post("/api/requests", json={**body, "child": {"national_number": CHILD_A[:-1] + "9"}}, headers=worker),
            client.post("/api/requests", json={**body, "child": {"national_number": "x" + CHILD_A}}, headers=worker),
            client.post("/api/requests/R1/child_born", json={"national_number": CHILD_B, "on": TODAY}, headers=worker),
        ]
        assert [a.status_code for a in answers] == [409, 422, 422, 409]
        assert answers[0].json()["bestaand_dossier"] == "R1"
    texts = caplog.text + "".join(a.text for a in answers)
    for number in NATIONAL_NUMBERS + (CHILD_A[:-1] + "9",):
        assert number not in texts and not re.search(r"\d{6}[ .-]?\d{3}[ .-]?\d{2}", texts)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_browser_form_may_carry_its_csrf_token_as_a_field(app) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        token = client.post("/api/login", data={"username": "wanda", "password": PASSWORD}).json()["csrf_token"]
        assert client.post("/api/logout", data={"csrf_token": "0" * 64}).status_code == 403
        assert client.post("/api/logout", data={"csrf_token": token}).status_code == 200


def test_the_first_administrator_is_made_on_the_command_line(store_url, monkeypatch, capsys) -> None:
    import io

    monkeypatch.setenv("LOKET_STORE", store_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("een-heel-goed-wachtwoord\n"))
    assert cli(["user", "add", "anna", "--role", "admin"]) == 0
    assert "Wachtwoord" not in capsys.readouterr().out  # a typed password is never shown
    monkeypatch.setattr("sys.stdin", io.StringIO("kort\n"))
    assert cli(["user", "add", "bert", "--role", "worker"]) == 1
    assert "te kort" in capsys.readouterr().err
    assert cli(["user", "add", "bert", "--role", "worker", "--generate"]) == 0
    generated = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    assert cli(["user", "add", "olga", "--role", "organizer", "--location", "GEEN", "--generate"]) == 1
    assert "GEEN" in capsys.readouterr().err
    assert cli(["user", "disable", "bert"]) == 0
    assert cli(["user", "list"]) == 0
    listed = capsys.readouterr().out
    assert "anna\tadmin" in listed and "bert\tworker" in listed and "[uitgeschakeld]" in listed
    with TestClient(create_app(Settings(store=store_url))) as client:
        assert client.post("/api/token", data={"username": "anna", "password": "een-heel-goed-wachtwoord"}).status_code == 200
        assert client.post("/api/token", data={"username": "bert", "password": generated}).status_code == 401  # disabled
        log = client.app.state.service.access_log.entries()
        assert [e.purpose for e in log if e.action == "beheer"] == [
            "account anna: aangemaakt als admin", "account bert: aangemaakt als worker", "account bert: uitgeschakeld"]


# ------------------------------------------------------------ the attacker trial's findings


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_hostile_bodies_get_a_clear_refusal_with_the_security_headers(app) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        deep = "[" * 3000 + "]" * 3000
        for path in ("/api/token", "/api/public/photos", "/nergens"):
            r = client.post(path, content=deep, headers={"content-type": "application/json"})
            assert r.status_code == 422 and "te diep genest" in r.json()["melding"], (path, r.text)
        twice = '{"reason": "", "reason": "x"}'
        for content_type in ("APPLICATION/JSON", "application/problem+json", None):
            headers = {**_token(app, "worker"), **({"content-type": content_type} if content_type else {})}
            r = client.post("/api/requests/R1/void", content=twice, headers=headers)
            assert r.status_code == 422 and "meer dan eens" in r.json()["melding"], (content_type, r.text)
        huge = client.post("/nergens", content=b"x", headers={"content-length": str(30 * 2**20)})
        assert huge.status_code == 413
        assert client.get("/api/me/", headers=_token(app, "worker")).status_code == 404  # no redirect via Host
        long_name = client.post("/api/token", data={"username": "x" * 100, "password": "y"})
        assert long_name.status_code == 422 and long_name.json()["veld"] == "username"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_unexpected_error_answers_in_dutch_with_the_security_headers(app, monkeypatch) -> None:
    def broken(*_, **__):
        raise RuntimeError("kapot")

    monkeypatch.setattr(app.state.service, "open_requests", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/open-requests", headers=_token(app, "worker"))
        assert r.status_code == 500 and r.json()["fout"] == "interne_fout"
        assert r.headers["X-Frame-Options"] == "DENY" and "kapot" not in r.text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_organizer_cannot_tell_an_unknown_dossier_from_one_outside_its_reach(app) -> None:
    with TestClient(app) as client:
        org = _token(app, "organizer")
        body = {"proposal": "P1", "location": "L1", "start": "2025-09-01", "days_per_week": 4, "on": TODAY}
        unknown = client.post("/api/requests/BESTAAT-NIET/propose", json=body, headers=org)
        far = client.post("/api/requests/R3/propose", json=body, headers=org)
        by_id = client.post(f"/api/requests/{app.state.service.get_request('R3').id}/propose", json=body, headers=org)
        assert unknown.status_code == far.status_code == by_id.status_code == 403
        assert "R3" not in by_id.text  # an id is never turned into its reference


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_photo_shows_a_year_after_it_ended_and_the_public_sees_the_latest_moment(app) -> None:
    with TestClient(app) as client:
        worker = _token(app, "worker")
        early = client.post("/api/photos/2025", params={"as_of": "2025-06-01T00:00:00+02:00"}, headers=worker)
        assert early.status_code == 422 and early.json()["veld"] == "as_of"
        late = client.post("/api/photos/2025", params={"as_of": "2026-02-25T12:00:00+01:00"}, headers=worker)
        first = client.post("/api/photos/2025", params={"as_of": "2026-01-05T12:00:00+01:00"}, headers=worker)
        assert late.status_code == first.status_code == 201
        published = client.get("/api/public/photos").json()
        assert [(p["year"], p["as_of"]) for p in published] == [(2025, late.json()["as_of"])]
