"""The loket's web pages, through TestClient (the browser tests with Playwright are issue 6's next step)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.importer import import_history
from service.natnum_gen import make_number
from service.photos import PhotoBook
from service.settings import Settings
from tests.builders import CHILD_B, PASSWORD, line, register_line, write_history

TODAY_RE = re.compile(r'name="on" type="date" required value="(\d{4}-\d{2}-\d{2})"')


@pytest.fixture
def browser(store_url, tmp_path):
    app = create_app(Settings(store=store_url))
    service = app.state.service
    history = [
        register_line("W-1", at="2025-01-06T10:00:00+01:00", contact={"name": "Fatima Testouder", "phone": "0470 12 34 56"}),
        register_line("W-2", at="2025-01-07T10:00:00+01:00", child={"national_number": CHILD_B},
                      family={"low_income": True, "single_parent": True}, contact={"name": "Jan Anders"}),
        line("withdraw", "W-1", "2025-02-01T10:00:00+01:00", on="2025-02-01", reason="elders gevonden"),
        line("reopen", "W-1", "2025-02-02T10:00:00+01:00", on="2025-02-02", reason="toch nog nodig"),
    ]
    assert import_history(service, write_history(tmp_path / "h.jsonl", history)).ok
    service.accounts.add("wanda", "worker", PASSWORD)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def _login(client) -> None:
    answer = client.post("/aanmelden", data={"username": "wanda", "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page).group(1)


def test_a_page_without_login_leads_to_the_login_form_and_a_wrong_password_says_so(browser) -> None:
    first = browser.get("/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/aanmelden"
    wrong = browser.post("/aanmelden", data={"username": "wanda", "password": "niet-het-wachtwoord"})
    assert wrong.status_code == 401 and 'role="alert"' in wrong.text and "verkeerd wachtwoord" in wrong.text
    assert 'lang="nl-BE"' in wrong.text and '<label for="username">' in wrong.text


def test_the_dashboard_lists_open_requests_priority_first_with_filters(browser) -> None:
    _login(browser)
    page = browser.get("/").text
    assert page.index("W-2") < page.index("W-1")  # a vulnerable family first
    assert "kwetsbaar gezin" in page and "Fatima" not in page  # no names in the list
    only_w1 = browser.get("/", params={"dossier": "W-1"}).text
    assert "W-1" in only_w1 and "/dossiers/W-2" not in only_w1
    vulnerable = browser.get("/", params={"categorie": "vulnerable_family"}).text
    assert "/dossiers/W-2" in vulnerable and "/dossiers/W-1" not in vulnerable


def test_a_deep_link_leads_back_after_login_and_never_to_another_site(browser) -> None:
    first = browser.get("/dossiers/W-2", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/aanmelden?volgende=%2Fdossiers%2FW-2"
    assert 'name="volgende" value="/dossiers/W-2"' in browser.get(first.headers["location"]).text
    back = browser.post("/aanmelden", data={"username": "wanda", "password": PASSWORD, "volgende": "/dossiers/W-2"},
                        follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/dossiers/W-2"
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "dossiers"):
        browser.cookies.clear()
        answer = browser.post("/aanmelden", data={"username": "wanda", "password": PASSWORD, "volgende": elsewhere},
                              follow_redirects=False)
        assert answer.headers["location"] == "/", elsewhere


def test_the_dashboard_opens_an_exact_dossier_number_pages_and_shows_every_care_type(browser) -> None:
    from service import commands as c

    service = browser.app.state.service
    _login(browser)
    exact = browser.get("/", params={"dossier": " W-2 "}, follow_redirects=False)
    assert exact.status_code == 303 and exact.headers["location"] == "/dossiers/W-2"
    part = browser.get("/", params={"dossier": "W-"}).text
    assert "/dossiers/W-1" in part and "/dossiers/W-2" in part
    unknown = browser.get("/dossiers/X-404")
    assert unknown.status_code == 404 and "bestaat niet" in unknown.text and "<!doctype html>" in unknown.text
    at = service.now()
    for n in range(3, 106):  # more than a page (100 rows), one of them out-of-school care
        fields = {"request_date": at.date().isoformat(), "desired_start": "2027-09-01", "days_per_week": 3,
                  "municipality": "24062", "child": {"national_number": make_number(dt.date(2026, 1, 1), n)},
                  "hours": [], "family": {}, "special_care": False, "consent": False,
                  "care_type": "out_of_school" if n == 3 else "baby_toddler"}
        service.execute(c.Command(type="register", target=f"W-{n}", payload=c.parse_payload("register", fields),
                                  recorded_at=at, by="wanda"), stamp=True)
    first = browser.get("/").text
    assert "Open vragen <span class=\"aantal\">(105)" in first and "Pagina 1 van 2" in first
    assert first.count('<a href="/dossiers/') == 100
    second = browser.get("/", params={"pagina": "2"}).text
    assert second.count('<a href="/dossiers/') == 5 and "Vorige" in second
    out_of_school = browser.get("/", params={"stand": "buitenschools"}).text
    assert out_of_school.count('<a href="/dossiers/') == 1 and "buitenschoolse opvang" in out_of_school


def test_searching_by_name_is_a_post_and_is_in_the_access_log(browser) -> None:
    _login(browser)
    token = _csrf(browser.get("/").text)
    found = browser.post("/zoeken", data={"naam": "fatima", "csrf_token": token})
    assert found.status_code == 200 and "/dossiers/W-1" in found.text and "/dossiers/W-2" not in found.text
    assert "<td>Fatima Testouder</td>" in found.text  # the worker sees whom each result is
    assert "fatima" not in str(found.url).lower()
    entries = browser.app.state.service.access_log.entries(request="W-1")
    assert [(e.user, e.purpose) for e in entries] == [("wanda", "web:zoeken op naam")]
    assert browser.post("/zoeken", data={"naam": "fatima"}).status_code == 403  # no CSRF token, no search
    loose = browser.post("/zoeken", data={"naam": "  TESTÖUDER ", "csrf_token": token})  # case, accents, spaces
    assert "/dossiers/W-1" in loose.text
    browser.post("/dossiers/W-1/withdraw", data={"on": dt.date.today().isoformat(), "reason": "verhuisd", "csrf_token": token})
    closed = browser.post("/zoeken", data={"naam": "fatima", "csrf_token": token})  # closed dossiers too
    assert "/dossiers/W-1" in closed.text and "ingetrokken" in closed.text


def test_the_request_page_shows_the_family_the_reasons_and_the_timeline_and_records_the_read(browser) -> None:
    _login(browser)
    page = browser.get("/dossiers/W-1").text
    assert "Fatima Testouder" in page and "0470 12 34 56" in page
    assert "dringend: ja" not in page.lower() and "gewenste start" in page.lower()
    assert page.count("<li><time") == 3 and "heropend" in page and "door anna" in page
    assert re.search(r"06/01/2025", page)  # dates as Belgians write them
    assert "style=" not in page  # the content security policy allows no inline styles
    assert browser.app.state.service.access_log.entries(request="W-1")[-1].purpose == "web:dossier"


def test_a_follow_up_form_records_the_event_and_a_wrong_field_is_named(browser) -> None:
    _login(browser)
    page = browser.get("/dossiers/W-1").text
    token, today = _csrf(page), TODAY_RE.search(page).group(1)
    without = browser.post("/dossiers/W-1/propose", data={"proposal": "P1", "location": "Het Nest", "start": "2025-09-01",
                                                          "days_per_week": "4", "on": today})
    assert without.status_code == 403  # no CSRF token
    made = browser.post("/dossiers/W-1/propose", data={"proposal": "P1", "location": "Het Nest", "start": "2025-09-01",
                                                       "days_per_week": "4", "on": today, "csrf_token": token},
                        follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/dossiers/W-1"
    service = browser.app.state.service
    assert type(service.history("W-1")[-1]).__name__ == "ProposalMade" and service.history("W-1")[-1].by == "wanda"
    wrong = browser.post("/dossiers/W-1/accept", data={"proposal": "P1", "on": "gisteren", "csrf_token": token})
    assert wrong.status_code == 422 and 'role="alert"' in wrong.text and "<strong>Datum</strong>" in wrong.text
    refused = browser.post("/dossiers/W-1/accept", data={"proposal": "P9", "on": today, "csrf_token": token})
    assert refused.status_code == 409 and "P9" in refused.text


def test_the_public_figures_page_needs_no_login_and_shows_no_person(browser) -> None:
    service = browser.app.state.service
    import datetime as dt

    PhotoBook(service).take(2025, dt.datetime(2026, 2, 25, 12, tzinfo=dt.timezone(dt.timedelta(hours=1))), "anna")
    page = browser.get("/cijfers")
    assert page.status_code == 200 and "<svg" in page.text and "&lt;5" in page.text
    assert "25/02/2026 12:00" in page.text and "Leuven" in page.text
    assert not any(x in page.text for x in ("Fatima", "Jan Anders", "W-1", "0470"))
    assert page.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_intake_form_checks_shows_the_categories_and_registers(browser) -> None:
    _login(browser)
    page = browser.get("/intake").text
    token = _csrf(page)
    today = re.search(r'id="request_date" name="request_date" type="date" required value="([0-9-]+)"', page).group(1)
    from service.natnum_gen import make_number

    number = make_number(__import__("datetime").date(2024, 12, 9), 777)
    answers = {"csrf_token": token, "request_date": today, "desired_start": today, "days_per_week": "3,5",
               "hours": ["early"], "municipality": "24062", "national_number": f"{number[:2]}.{number[2:4]}.{number[4:6]}-{number[6:9]}.{number[9:]}",
               "family_low_income": "true", "family_single_parent": "true", "consent": "true",
               "contact_name": "Nieuwe Ouder", "contact_phone": "0470 99 99 99"}
    checked = browser.post("/intake", data={**answers, "doen": "controleren"})
    assert checked.status_code == 200 and "Zo telt deze vraag mee" in checked.text
    assert re.search(r"dringend: <strong>ja</strong>", checked.text)  # it starts within a month
    assert re.search(r"kwetsbaar gezin: <strong>ja</strong>", checked.text)
    assert browser.app.state.service.open_requests()[0].reference != "nieuw"  # nothing recorded by a check
    wrong = browser.post("/intake", data={**answers, "national_number": number[:-1] + str((int(number[-1]) + 1) % 10),
                                          "doen": "registreren"})
    assert wrong.status_code == 422 and "<strong>Rijksregisternummer</strong>" in wrong.text
    made = browser.post("/intake", data={**answers, "doen": "registreren"}, follow_redirects=False)
    assert made.status_code == 303, made.text
    reference = made.headers["location"].rsplit("/", 1)[1]
    assert "Nieuwe Ouder" in browser.get(f"/dossiers/{reference}").text
    twice = browser.post("/intake", data={**answers, "doen": "registreren"})
    assert twice.status_code == 409 and f'href="/dossiers/{reference}"' in twice.text


def test_the_photo_page_shows_takes_downloads_and_verifies(browser) -> None:
    _login(browser)
    page = browser.get("/foto", params={"jaar": "2025", "moment": "2026-02-25T12:00"})
    assert page.status_code == 200 and "25/02/2026 12:00" in page.text and "Leuven" in page.text
    assert re.search(r"<th scope=\"row\">Totaal</th><td><a [^>]*>2</a></td>", page.text)
    # a figure opens the dossiers behind it
    behind = re.search(r'href="(/foto/2025/dossiers\?gemeente=&amp;cijfer=requests[^"]*)"', page.text).group(1)
    drilled = browser.get(behind.replace("&amp;", "&"))
    assert drilled.status_code == 200 and drilled.text.count('href="/dossiers/') == 2
    xlsx = re.search(r'href="(/api/photos/2025\.xlsx\?as_of=[^"]+)"', page.text).group(1)
    download = browser.get(xlsx.replace("&amp;", "&"))
    assert download.status_code == 200 and download.content[:2] == b"PK"  # the browser's cookie is enough
    token = _csrf(page.text)
    unconfirmed = browser.post("/foto/2025/nemen", data={"moment": "2026-02-25T12:00", "csrf_token": token})
    assert unconfirmed.status_code == 422 and "Bevestiging" in unconfirmed.text
    assert not PhotoBook(browser.app.state.service).stored(2025)  # nothing taken without the confirmation
    taken = browser.post("/foto/2025/nemen", data={"moment": "2026-02-25T12:00", "csrf_token": token,
                                                   "bevestigd": "ja"}, follow_redirects=False)
    assert taken.status_code == 303
    assert "De foto is genomen" in browser.get(taken.headers["location"]).text
    then_and_now = browser.get("/foto/2025/herziening", params={"moment": "2026-02-25T12:00"})
    assert then_and_now.status_code == 200 and "Dossiers die sindsdien anders tellen (0)" in then_and_now.text
    checked = browser.get("/foto", params={"jaar": "2025", "controle": "1"}).text
    assert re.search(r"genomen op [0-9/ :]+ door wanda", checked) and "herbouwd: <strong>identiek</strong>" in checked
    early = browser.post("/foto/2025/nemen", data={"moment": "2025-06-01T12:00", "csrf_token": token, "bevestigd": "ja"})
    assert early.status_code == 422 and "na het einde van dat jaar" in early.text


def _parent_answers(number: str, name: str) -> dict:
    return {"desired_start": "2026-09-01", "days_per_week": "4", "municipality": "24062", "national_number": number,
            "family_work_or_training": "true", "consent": "true", "contact_name": name, "contact_phone": "0499 55 66 77",
            "doen": "registreren"}


def test_a_parent_requests_online_and_it_counts_only_once_a_worker_confirms_it(browser) -> None:
    from service.natnum_gen import make_number

    service = browser.app.state.service
    number = make_number(__import__("datetime").date(2025, 10, 2), 741)
    before = len(service.open_requests())
    form = browser.get("/aanvragen")
    assert form.status_code == 200 and "Aanvraag versturen" in form.text and "Aanvraagdatum" not in form.text
    sent = browser.post("/aanvragen", data=_parent_answers(number, "Online Ouder"))
    assert sent.status_code == 200 and "heeft uw aanvraag ontvangen" in sent.text
    wrong = browser.post("/aanvragen", data=_parent_answers(number[:-1] + "0" if number[-1] != "0" else number[:-1] + "1",
                                                            "Fout Nummer"))
    assert wrong.status_code == 422 and "<strong>Rijksregisternummer</strong>" in wrong.text
    assert len(service.open_requests()) == before  # nothing counts yet
    assert all("Online Ouder" not in str(e.__dict__) for _, e in service.recorded_events(topics=None))  # sealed
    _login(browser)
    page = browser.get("/online").text
    assert "Online Ouder" in page
    application = re.search(r'action="/online/([0-9a-f-]+)/bevestigen"', page).group(1)
    confirmed = browser.post(f"/online/{application}/bevestigen", data={"csrf_token": _csrf(page)}, follow_redirects=False)
    assert confirmed.status_code == 303
    reference = confirmed.headers["location"].rsplit("/", 1)[1]
    assert "Online Ouder" in browser.get(f"/dossiers/{reference}").text and len(service.open_requests()) == before + 1
    assert "Online Ouder" not in browser.get("/online").text  # checked: gone from the list
    # the same child again online: caught at confirmation, then rejected (its data destroyed)
    browser.cookies.clear()
    assert browser.post("/aanvragen", data=_parent_answers(number, "Tweede Keer")).status_code == 200
    _login(browser)
    page = browser.get("/online").text
    second = re.search(r'action="/online/([0-9a-f-]+)/bevestigen"', page).group(1)
    twice = browser.post(f"/online/{second}/bevestigen", data={"csrf_token": _csrf(page)})
    assert twice.status_code == 409 and f"dossier {reference}" in twice.text
    rejected = browser.post(f"/online/{second}/afwijzen", data={"csrf_token": _csrf(page), "reden": "dubbel"},
                            follow_redirects=False)
    assert rejected.status_code == 303 and service.online_applications() == []


def test_locations_pages_report_free_places_close_and_work_the_crisis_list(browser) -> None:
    service = browser.app.state.service
    from service import commands as c

    service.execute(c.Command(type="register_location", target="L-1", payload=c.RegisterLocation(
        name="Het Nest", organizer="vzw Nest", municipality="24062", capacity=14, hours=[]),
        recorded_at=service.now(), by="anna"), stamp=True)
    today = service.now().date()
    for ref, proposal in (("W-1", "P1"),):
        service.execute(c.Command(type="propose", target=ref, payload=c.Propose(
            proposal=proposal, location="L-1", start=today, days_per_week=4, on=today), recorded_at=service.now(),
            by="anna"), stamp=True)
        service.execute(c.Command(type="accept", target=ref, payload=c.Accept(proposal=proposal, on=today),
                                  recorded_at=service.now(), by="anna"), stamp=True)
    _login(browser)
    listing = browser.get("/locaties").text
    assert "Het Nest" in listing and 'href="/locaties/L-1"' in listing
    page = browser.get("/locaties/L-1").text
    token = _csrf(page)
    reported = browser.post("/locaties/L-1/report_free_places", data={"from": today.isoformat(), "places": "2",
                                                                      "days_per_week": "5", "csrf_token": token})
    assert reported.status_code == 200 and "Vrij: 2 van 2" in reported.text and "/dossiers/W-2" in reported.text
    too_many = browser.post("/locaties/L-1/report_free_places", data={"from": today.isoformat(), "places": "99",
                                                                      "days_per_week": "5", "csrf_token": token})
    assert too_many.status_code == 409 and "14 plaatsen" in too_many.text
    unconfirmed = browser.post("/locaties/L-1/close_location", data={"on": today.isoformat(), "reason": "brand",
                                                                     "csrf_token": token})
    assert unconfirmed.status_code == 422 and "Bevestiging" in unconfirmed.text
    assert service.location("L-1").closed_on is None  # nothing closed without the confirmation
    closed = browser.post("/locaties/L-1/close_location", data={"on": today.isoformat(), "reason": "brand",
                                                                "bevestigd": "ja", "csrf_token": token})
    assert closed.status_code == 200 and "Crisislijst: Het Nest" in closed.text
    assert "Fatima Testouder" in closed.text and "wacht op een plaats" in closed.text  # to phone
    reads = [e.purpose for e in service.access_log.entries(request="W-1")]
    assert "web:crisislijst" in reads


def _forms(page: str) -> set[str]:
    return set(re.findall(r'action="/dossiers/W-2/(\w+)"', page))


def test_every_follow_up_of_the_issue_has_a_form_on_the_request_page_when_it_fits(browser) -> None:
    _login(browser)
    page = browser.get("/dossiers/W-2").text
    token = _csrf(page)
    assert {"propose", "solve_elsewhere", "withdraw", "correct_registration", "change_wish", "update_family",
            "change_consent"} <= _forms(page)
    assert not {"accept", "refuse", "cancel_placement", "reopen"} & _forms(page)  # nothing to answer or reopen yet
    assert 'name="proposal" type="text" required value="V1"' in page  # the next proposal's reference, prefilled
    today = TODAY_RE.search(page).group(1)
    proposed = browser.post("/dossiers/W-2/propose", data={"proposal": "V1", "location": "Het Nest", "start": "2025-09-01",
                                                           "days_per_week": "4", "on": today, "csrf_token": token})
    assert {"accept", "refuse", "withdraw_proposal"} <= _forms(proposed.text)
    assert '<option value="V1" >V1: Het Nest, vanaf 01/09/2025</option>' in proposed.text  # chosen, not typed
    accepted = browser.post("/dossiers/W-2/accept", data={"proposal": "V1", "on": today, "csrf_token": token})
    assert "cancel_placement" in _forms(accepted.text) and not {"propose", "accept"} & _forms(accepted.text)
    cancelled = browser.post("/dossiers/W-2/cancel_placement", data={"on": today, "reason": "verhuisd", "csrf_token": token})
    assert cancelled.status_code == 200, cancelled.text[-1500:]
    withdrawn = browser.post("/dossiers/W-2/withdraw", data={"on": today, "reason": "elders gevonden", "csrf_token": token})
    assert withdrawn.status_code == 200, re.search(r"<div class=\"fouten\".*?</div>", withdrawn.text, re.S).group(0)
    assert _forms(withdrawn.text) >= {"reopen"} and not {"propose", "withdraw", "change_wish"} & _forms(withdrawn.text)
    browser.post("/dossiers/W-2/reopen", data={"on": today, "reason": "toch nog nodig", "csrf_token": token})
    wish = browser.post("/dossiers/W-2/change_wish", data={"days_per_week": "2,5", "csrf_token": token})
    assert wish.status_code == 200 and "2,5 dagen" in wish.text
    family = browser.post("/dossiers/W-2/update_family", data={"family_low_income": "false", "family_single_parent": "",
                                                               "csrf_token": token})
    assert family.status_code == 200 and "kwetsbaar gezin: nee" in family.text.lower()
    corrected = browser.post("/dossiers/W-2/correct_registration", data={"days_per_week": "3", "csrf_token": token})
    assert corrected.status_code == 422 and "<strong>Reden</strong>" in corrected.text  # a correction names its reason


def test_checking_the_intake_already_refuses_a_wrong_national_number_in_dutch_words(browser) -> None:
    _login(browser)
    page = browser.get("/intake").text
    answers = {"csrf_token": _csrf(page), "request_date": "2025-01-06", "desired_start": "2025-09-01",
               "days_per_week": "4", "municipality": "24062", "national_number": "24120610149", "doen": "controleren"}
    checked = browser.post("/intake", data=answers)
    assert checked.status_code == 422 and "<strong>Rijksregisternummer</strong>" in checked.text
    assert "child.national_number" not in checked.text and "Zo telt deze vraag mee" not in checked.text


def test_what_the_second_worker_trial_found_is_fixed(browser) -> None:
    service = browser.app.state.service
    service.execute(c_register_location("L-7", "Het Wolkje"), stamp=True)
    service.execute(c_register_location("L-8", "De Zon"), stamp=True)
    service.execute(c_register_location("L-9", "de zon"), stamp=True)
    _login(browser)
    page = browser.get("/dossiers/W-2")
    assert page.headers["cache-control"] == "no-store"  # Back after logging out shows no family
    token, today = _csrf(page.text), TODAY_RE.search(page.text).group(1)
    base = {"start": today, "days_per_week": "4", "on": today, "csrf_token": token}
    # a location typed by its registered name is that location; a name two carry must be chosen from the list
    typed = browser.post("/dossiers/W-2/propose", data={**base, "proposal": "V1", "location_other": " het  wolkje"})
    assert typed.status_code == 200 and service.get_request("W-2").proposals["V1"].location_ref == "L-7"
    twice = browser.post("/dossiers/W-2/propose", data={**base, "proposal": "V2", "location_other": "De Zon"})
    assert twice.status_code == 422 and "kies de juiste in de lijst" in twice.text
    nothing = browser.post("/dossiers/W-2/propose", data={**base, "proposal": "V2"})
    assert nothing.status_code == 422 and "<strong>Locatie</strong>" in nothing.text
    assert set(service.get_request("W-2").proposals) == {"V1"}
    # an answer dated before the proposal is refused, naming both dates
    made = service.get_request("W-2").proposals["V1"].on
    early = browser.post("/dossiers/W-2/refuse", data={"proposal": "V1", "csrf_token": token,
                                                       "on": (made - dt.timedelta(days=30)).isoformat()})
    assert early.status_code == 409 and f"pas gedaan op {made.strftime('%d/%m/%Y')}" in early.text
    # contact details are corrected on the page; the timeline says what and why
    corrected = browser.post("/dossiers/W-2/correct_registration", data={
        "contact_name": "Jan Anders", "contact_phone": "0470 55 44 33", "reason": "nieuw nummer", "csrf_token": token})
    assert corrected.status_code == 200 and 'href="tel:0470554433"' in corrected.text
    assert "registratie verbeterd (reden: nieuw nummer)" in corrected.text
    assert "voorstel gedaan (voorstel V1, Het Wolkje" in corrected.text
    assert {"move", "void"} <= _forms(corrected.text) and "child_born" not in _forms(corrected.text)  # born already


def test_dead_ends_and_raw_answers_are_gone(browser) -> None:
    service = browser.app.state.service
    # a form sent after the session ended: a Dutch page that says what happened, not JSON
    gone = browser.post("/intake", data={"desired_start": "2026-09-01"})
    assert gone.status_code == 401 and "<h1>Uw sessie is afgelopen" in gone.text and "werd niet bewaard" in gone.text
    unknown = browser.get("/bestaat-niet")
    assert unknown.status_code == 404 and "<h1>Deze pagina of opdracht bestaat niet.</h1>" in unknown.text
    assert browser.get("/api/bestaat-niet").json()["fout"] == "http"  # the API keeps its JSON
    # a parent must leave a way to reach them
    answers = _parent_answers(make_number(dt.date(2025, 11, 2), 17), "Zonder Nummer")
    del answers["contact_phone"]
    refused = browser.post("/aanvragen", data=answers)
    assert refused.status_code == 422 and "telefoonnummer of een e-mailadres" in refused.text
    assert service.online_applications() == []
    # checking an intake already names the dossier of a child that has one
    _login(browser)
    page = browser.get("/intake").text
    check = browser.post("/intake", data={"csrf_token": _csrf(page), "request_date": "2025-01-10",
                                          "desired_start": "2025-09-01", "days_per_week": "4", "municipality": "24062",
                                          "national_number": CHILD_B, "doen": "controleren"})
    assert check.status_code == 409 and 'href="/dossiers/W-2"' in check.text
    # the same photo moment twice needs a second tick; a refused photo keeps the page
    token = _csrf(page)
    moment = {"moment": "2026-02-25T12:00", "csrf_token": token, "bevestigd": "ja"}
    assert browser.post("/foto/2025/nemen", data=moment, follow_redirects=False).status_code == 303
    again = browser.post("/foto/2025/nemen", data=moment)
    assert again.status_code == 409 and "Er is al een foto van 2025 op 25/02/2026 12:00" in again.text
    assert "<h1>De foto van 2025</h1>" in again.text and len(PhotoBook(service).stored(2025)) == 1
    assert browser.post("/foto/2025/nemen", data={**moment, "herhalen": "ja"}, follow_redirects=False).status_code == 303
    future = browser.post("/foto/2025/nemen", data={**moment, "moment": "2999-03-01T00:00"})
    summary = re.search(r"<div class=\"fouten\".*?</div>", future.text, re.S).group(0)
    assert future.status_code == 422 and "<strong>Moment</strong>" in summary and "as_of" not in summary


def test_a_new_dossier_number_never_repeats_an_imported_one_written_with_more_zeros(tmp_path) -> None:
    from service.application import LoketService

    service = LoketService(Settings(store=f"sqlite:///{tmp_path}/n.sqlite"))
    try:
        year = service.now().year
        history = [register_line(f"{year}-000001", at=f"{year}-01-06T10:00:00+01:00",
                                 request_date=f"{year}-01-06", desired_start=f"{year + 1}-01-06")]
        assert import_history(service, write_history(tmp_path / "h.jsonl", history)).ok
        fields = {"request_date": service.now().date().isoformat(), "desired_start": f"{year + 1}-09-01",
                  "days_per_week": 3, "municipality": "24062", "hours": [], "family": {}, "special_care": False,
                  "consent": False, "child": {"national_number": make_number(dt.date(year, 1, 2), 99)}}
        from service import commands as c

        outcome = service.execute(c.Command(type="register", target="", payload=c.parse_payload("register", fields),
                                            recorded_at=service.now(), by="anna"), stamp=True)
        assert outcome.reference == f"{year}-00002"
    finally:
        service.close()


def c_register_location(ref: str, name: str):
    from service import commands as c
    from service.application import LoketService  # noqa: F401  (the service stamps the moment)

    fields = {"name": name, "organizer": "vzw", "municipality": "24062", "capacity": 10, "hours": []}
    return c.Command(type="register_location", target=ref, payload=c.parse_payload("register_location", fields),
                     recorded_at=dt.datetime.now(dt.UTC), by="anna")


def test_what_the_page_attack_found_is_fixed(browser) -> None:
    service = browser.app.state.service
    service.accounts.add("rita", "regulator", PASSWORD)
    _login(browser)
    for path in ("/?ouder_dan=99999999", "/?ouder_dan=²", "/foto?jaar=²", "/?pagina=abc", "/?pagina=-1",
                 "/foto/2025/dossiers?moment=0001-01-01T00:00"):
        assert browser.get(path).status_code == 200, path
    for path in ("/foto/0/dossiers", "/foto/99999/dossiers", "/foto/-5/herziening"):
        answer = browser.get(path)
        assert answer.status_code in (404, 422) and "<!doctype html>" in answer.text, path
    token = _csrf(browser.get("/foto").text)
    for year in (0, 1999, 99999):
        answer = browser.post(f"/foto/{year}/nemen", data={"csrf_token": token, "bevestigd": "ja"})
        assert answer.status_code in (404, 422) and "<!doctype html>" in answer.text, year
    garbage = browser.post("/foto/2025/nemen", data={"csrf_token": token, "bevestigd": "ja", "moment": "morgen"})
    assert garbage.status_code == 422 and "geen moment" in garbage.text and not PhotoBook(service).stored(2025)
    for path in ("/online/xyz/bevestigen", "/online/xyz/afwijzen"):
        answer = browser.post(path, data={"csrf_token": token, "reden": "x"})
        assert answer.status_code == 404 and "bestaat niet" in answer.text and "uuid" not in answer.text.lower()
    # a regulator logs in on the photo page, sees no dossier links and no take form; other pages say why in Dutch
    browser.cookies.clear()
    landed = browser.post("/aanmelden", data={"username": "rita", "password": PASSWORD}, follow_redirects=False)
    assert landed.headers["location"] == "/foto"
    photo = browser.get("/foto?jaar=2025").text
    assert "Foto nemen" not in photo and "Open vragen" not in photo and 'href="/foto/2025/dossiers' in photo
    drilled = browser.get("/foto/2025/dossiers?cijfer=requests").text
    assert "W-2" in drilled and 'href="/dossiers/' not in drilled
    refused = browser.get("/dossiers/W-2")
    assert refused.status_code == 403 and "<h1>Als Opgroeien kunt u deze pagina niet gebruiken.</h1>" in refused.text
