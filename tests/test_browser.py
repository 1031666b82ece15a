"""The web pages in a real browser: Debian's Chromium (/usr/bin/chromium), driven by Playwright, headless.

`make test` installs Chromium when it is missing. The service runs in a thread on a free port of
127.0.0.1 over plain HTTP, as `make run` does; its session cookie is Secure, which Chromium
accepts from 127.0.0.1. With LOKET_SCREENSHOTS=docs/screenshots the test also writes the README's
screenshots.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import socket
import threading
import time
from pathlib import Path

import openpyxl
import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from service.api.app import create_app
from service.importer import import_history
from service.natnum_gen import make_number
from service.photos import PhotoBook
from service.settings import Settings
from tests.builders import PASSWORD, line, register_line, write_history

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def site(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make test installs Debian's chromium package", pytrace=False)
    app = create_app(Settings(store=f"sqlite:///{tmp_path}/browser.sqlite"))
    service = app.state.service
    history = [
        {"at": "2025-01-02T09:00:00+01:00", "by": "anna", "type": "register_location", "location": "L-1",
         "name": "Kinderdagverblijf Het Nest", "organizer": "vzw Het Nest", "municipality": "24062", "capacity": 18,
         "hours": []},
        register_line("2025-00007", at="2025-01-06T10:00:00+01:00",
                      contact={"name": "Marie Voorbeeld", "phone": "0470 11 22 33"}, consent=False),
        line("propose", "2025-00007", "2025-01-20T10:00:00+01:00", proposal="P1", location="L-1", start="2025-09-01",
             days_per_week=4, on="2025-01-20"),
        {"at": "2025-12-01T09:00:00+01:00", "by": "anna", "type": "report_free_places", "location": "L-1",
         "from": "2026-09-01", "places": 2, "days_per_week": 5},
    ]
    assert import_history(service, write_history(tmp_path / "h.jsonl", history)).ok
    PhotoBook(service).take(2025, dt.datetime(2026, 2, 25, 12, tzinfo=dt.timezone(dt.timedelta(hours=1))), "anna")
    service.accounts.add("anna", "worker", PASSWORD)
    service.accounts.add("olga", "organizer", PASSWORD, ("L-1",))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LOKET_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_loket_worker_logs_in_registers_follows_up_and_finds_the_request(site, tmp_path) -> None:
    shots = _shots(tmp_path)
    number = make_number(dt.date(2025, 11, 14), 733)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="nl-BE")

        page.goto(f"{site}/cijfers")  # the public figures: no login, no person
        expect(page.get_by_role("heading", name="Cijfers van het Lokaal Loket Kinderopvang")).to_be_visible()
        assert "&lt;5" in page.content() and "Marie" not in page.content()
        page.screenshot(path=shots / "publieke-cijfers.png", full_page=True)

        page.goto(f"{site}/")
        expect(page).to_have_url(f"{site}/aanmelden")
        page.get_by_label("Gebruikersnaam").fill("anna")
        page.get_by_label("Wachtwoord").fill(PASSWORD)
        page.get_by_role("button", name="Aanmelden").click()
        expect(page.get_by_role("heading", name="Open vragen")).to_be_visible()
        page.screenshot(path=shots / "open-vragen.png", full_page=True)

        page.get_by_role("link", name="Nieuwe vraag").click()
        page.get_by_label("Gewenste startdatum").fill("2026-09-01")
        page.get_by_label("Dagen per week (0,5 tot 7)").fill("4")
        page.get_by_label("vroeg (voor 7 u)").check()
        page.get_by_label("Gemeente").select_option("24062")
        page.get_by_label("Rijksregisternummer of BIS-nummer (als het kind geboren is)").fill(number)
        page.get_by_label("Alleenstaande ouder").select_option("true")
        page.get_by_label("Laag gezinsinkomen").select_option("true")
        page.locator("#contact_name").fill("Nieuwe Ouder")
        page.locator("#contact_phone").fill("0470 99 88 77")
        page.get_by_role("button", name="Controleren").click()
        expect(page.get_by_role("heading", name="Zo telt deze vraag mee")).to_be_visible()
        page.screenshot(path=shots / "nieuwe-vraag.png", full_page=True)
        page.get_by_role("button", name="Registreren").click()
        expect(page.get_by_role("heading", name="Dossier 2026-00001")).to_be_visible()
        assert "Nieuwe Ouder" in page.content()

        # the free places that fit are on the request page; choosing one fills in the proposal
        page.get_by_role("link", name="Voorstel doen").first.click()
        expect(page.locator("#propose-location")).to_have_value("L-1")
        expect(page.locator("#propose-proposal")).to_have_value("V1")
        expect(page.locator("#propose-start")).to_have_value(max(dt.date(2026, 9, 1), dt.date.today()).isoformat())
        page.locator("form[action$='/propose'] button").click()
        expect(page.get_by_text("voorstel gedaan")).to_be_visible()
        page.screenshot(path=shots / "dossier.png", full_page=True)
        page.locator("summary", has_text="Voorstel aanvaard").click()
        page.locator("#accept-proposal").select_option("V1")
        page.locator("form[action$='/accept'] button").click()
        expect(page.get_by_role("heading", name="Dossier 2026-00001 geplaatst")).to_be_visible()

        page.get_by_role("link", name="Open vragen").click()
        page.get_by_label("Dossier", exact=True).fill("2025-0000")
        page.get_by_role("button", name="Toon").click()
        expect(page.get_by_role("link", name="2025-00007")).to_be_visible()
        page.get_by_label("Dossier", exact=True).fill("2026-00001")  # placed, so no longer open: still found
        page.get_by_role("button", name="Toon").click()
        expect(page.get_by_role("heading", name="Dossier 2026-00001 geplaatst")).to_be_visible()

        page.get_by_role("link", name="Foto", exact=True).click()
        page.get_by_label("Jaar", exact=True).fill("2025")
        page.get_by_role("button", name="Toon").click()
        expect(page.get_by_role("heading", name="De foto van 2025")).to_be_visible()
        page.get_by_label("Ik neem de foto van 2025 op dit moment en publiceer ze.").check()
        page.get_by_role("button", name="Foto nemen").click()
        expect(page.get_by_text("De foto is genomen en bewaard")).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("link", name="Werkboek (.xlsx)").click()
        assert download.value.suggested_filename.endswith(".xlsx")
        workbook = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
        assert any("2025" in str(cell.value) for ws in workbook for row in ws.iter_rows() for cell in row)
        page.screenshot(path=shots / "foto.png", full_page=True)
        browser.close()


def test_an_organizer_sees_no_personal_data_without_consent(site) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(locale="nl-BE")
        page.goto(f"{site}/aanmelden")
        page.get_by_label("Gebruikersnaam").fill("olga")
        page.get_by_label("Wachtwoord").fill(PASSWORD)
        page.get_by_role("button", name="Aanmelden").click()
        expect(page).to_have_url(f"{site}/cijfers")  # an organizer lands on the public figures
        page.goto(f"{site}/dossiers/2025-00007")
        assert "Als organisator kunt u deze pagina niet gebruiken." in page.content()  # the loket's pages are not its
        for path in ("/dossiers/2025-00007", "/api/open-requests", "/api/locations/L-1/matches"):
            page.goto(f"{site}{path}")
            assert "Marie" not in page.content() and "0470 11 22 33" not in page.content(), path
        page.goto(f"{site}/api/open-requests")
        assert "2025-00007" in page.content()  # the request's needs, without the family
        browser.close()


def test_keyboard_only_and_a_phones_width(site, tmp_path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 375, "height": 800}, locale="nl-BE")
        page.goto(f"{site}/dossiers/2025-00007")  # a deep link: log in first, then back to it
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Naar de inhoud"  # the skip link first
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "username"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("", "none")  # a visible focus ring
        page.keyboard.type("anna")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Dossier 2025-00007")).to_be_visible()
        for path in ("/", "/intake", "/dossiers/2025-00007", "/locaties/L-1", "/foto?jaar=2025", "/cijfers"):
            page.goto(f"{site}{path}")
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 375, f"{path} is {wide} px wide on a 375 px phone"
        page.goto(f"{site}/dossiers/2025-00007")
        page.screenshot(path=_shots(tmp_path) / "dossier-telefoon.png", full_page=False)
        browser.close()
