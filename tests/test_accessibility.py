"""Accessibility of every page, checked on the HTML itself: each field has a label, one h1, headings in
order, the language, alternative text for charts, and error summaries a screen reader announces.

(The browser tests check keyboard focus and a phone's width in Chromium.)
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.importer import import_history
from service.photos import PhotoBook
from service.settings import Settings
from tests.builders import PASSWORD, line, register_line, write_history


class Page(HTMLParser):
    """What an accessibility audit looks at: fields and their labels, headings, images."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.fields: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.inside_label = 0
        self.headings: list[int] = []
        self.lang = ""
        self.svgs: list[dict[str, str]] = []
        self.images: list[dict[str, str]] = []
        self.buttons_without_text = 0
        self._button: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag == "label":
            self.inside_label += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea"):
            if a.get("type") not in ("hidden", "submit", "button"):
                self.fields.append({**a, "_tag": tag, "_wrapped": "1" if self.inside_label else ""})
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "svg":
            self.svgs.append(a)
        elif tag == "img":
            self.images.append(a)
        elif tag == "button":
            self._button = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.inside_label -= 1
        elif tag == "button" and self._button is not None:
            if not "".join(self._button).strip():
                self.buttons_without_text += 1
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)

    def problems(self) -> list[str]:
        found = []
        if self.lang != "nl-BE":
            found.append(f"lang={self.lang!r}")
        for f in self.fields:
            labelled = f["_wrapped"] or f.get("id") in self.label_for or f.get("aria-label")
            if not labelled:
                found.append(f"{f['_tag']} name={f.get('name')!r} has no label")
        if self.headings.count(1) != 1:
            found.append(f"{self.headings.count(1)} h1 headings")
        for before, after in zip(self.headings, self.headings[1:], strict=False):
            if after > before + 1:
                found.append(f"heading h{before} followed by h{after}")
        for svg in self.svgs:
            if not (svg.get("aria-label") or svg.get("aria-labelledby")) or svg.get("role") != "img":
                found.append("svg without role=img and a label")
        found += [f"img {i.get('src')} without alt" for i in self.images if "alt" not in i]
        if self.buttons_without_text:
            found.append(f"{self.buttons_without_text} buttons without text")
        return found


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("a11y")
    app = create_app(Settings(store=f"sqlite:///{tmp}/a11y.sqlite"))
    service = app.state.service
    history = [
        {"at": "2025-01-02T09:00:00+01:00", "by": "anna", "type": "register_location", "location": "L-1",
         "name": "Kinderdagverblijf Het Nest", "organizer": "vzw Het Nest", "municipality": "24062", "capacity": 18,
         "hours": []},
        {"at": "2025-01-02T09:01:00+01:00", "by": "anna", "type": "report_free_places", "location": "L-1",
         "from": "2025-09-01", "places": 2, "days_per_week": 5},
        register_line("A-1", at="2025-01-06T10:00:00+01:00", contact={"name": "Test Ouder", "phone": "0470 00 00 01"}),
        line("propose", "A-1", "2025-01-20T10:00:00+01:00", proposal="P1", location="L-1", start="2025-09-01",
             days_per_week=4, on="2025-01-20"),
    ]
    assert import_history(service, write_history(tmp / "h.jsonl", history)).ok
    PhotoBook(service).take(2025, dt.datetime(2026, 2, 25, 12, tzinfo=dt.timezone(dt.timedelta(hours=1))), "anna")
    service.accounts.add("anna", "worker", PASSWORD)
    with TestClient(app, base_url="https://testserver") as c:
        yield c


PUBLIC = ("/aanmelden", "/cijfers", "/aanvragen")
WORKER = ("/", "/intake", "/dossiers/A-1", "/dossiers/A-1?locatie=L-1", "/online", "/locaties", "/locaties/L-1",
          "/foto?jaar=2025", "/foto/2025/dossiers?cijfer=requests", "/foto/2025/herziening?moment=2026-02-25T12:00")


def test_every_page_has_labelled_fields_one_h1_ordered_headings_and_dutch_as_its_language(client) -> None:
    audit = {}
    for path in PUBLIC:
        audit[path] = Page(client.get(path).text).problems()
    assert client.post("/aanmelden", data={"username": "anna", "password": PASSWORD}).status_code == 200
    for path in WORKER:
        page = client.get(path)
        assert page.status_code == 200, path
        audit[path] = Page(page.text).problems()
    assert {path: found for path, found in audit.items() if found} == {}


def test_an_error_summary_is_announced_and_names_the_field_by_its_label(client) -> None:
    client.post("/aanmelden", data={"username": "anna", "password": PASSWORD})
    page = client.get("/intake").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page).group(1)
    wrong = client.post("/intake", data={"csrf_token": token, "desired_start": "2025-13-01", "days_per_week": "4",
                                         "municipality": "24062", "doen": "controleren"}).text
    summary = re.search(r'<div class="fouten" role="alert" tabindex="-1" autofocus>.*?</div>', wrong, re.S)
    assert summary is not None and "<strong>Gewenste startdatum</strong>" in summary.group(0)
    assert not Page(wrong).problems()


def test_the_audit_itself_sees_an_unlabelled_field_and_a_skipped_heading() -> None:
    bad = Page('<html lang="en"><h1>x</h1><h3>y</h3><input name="q"><svg></svg><button></button></html>').problems()
    assert bad == ["lang='en'", "input name='q' has no label", "heading h1 followed by h3",
                   "svg without role=img and a label", "1 buttons without text"]
