"""The loket's web pages: server-rendered (Jinja2), Dutch, working without JavaScript.

Pages call the same service methods as the API and write the same access-log entries
("web:…" purposes). A browser logs in with a session cookie; every form carries its CSRF
token (checked by the guard in access.py). No personal data ever goes into a URL: searching by
name is a POST.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from service import access_log as log
from service import commands as c
from service import municipalities
from service.accounts import Login
from service.aggregates.care_request import PROPOSAL_STATE_NL, STATUS_NL, CareRequest
from service.aggregates.categories import derived_categories, hours_nl
from service.aggregates.errors import DomainError, DuplicateChild, InvalidValue
from service.api import auth
from service.api.access import COOKIE, Caller, csrf_token, set_session_cookie
from service.api.requests import Service, _categories, _run
from service.api.requests import be_date as date
from service.crisis import crisis_list
from service.matching import for_location, for_request, location_json
from service.photos import PhotoBook
from service.projections.photo import default_moment

ROOT = Path(__file__).resolve().parents[1]
templates = Jinja2Templates(directory=ROOT / "templates")
router = APIRouter(include_in_schema=False)

CATEGORY_NL = {"priority_group": "voorrangsgroep", "vulnerable_family": "kwetsbaar gezin", "urgent": "dringend",
               "extended_hours": "ruimere openingsmomenten", "special_care": "specifieke zorgbehoefte"}
CONTACT_FIELDS = (("name", "Naam"), ("phone", "Telefoon"), ("email", "E-mail"), ("address", "Adres"))


def be_iso(text: str | None) -> str:
    """An ISO date string (as personal data keeps it) as Belgians write it."""
    try:
        return date(dt.date.fromisoformat(text)) if text else ""
    except ValueError:
        return text or ""


def days(value: float) -> str:
    """Days a week as Belgians write them: 4, 2,5."""
    return f"{value:g}".replace(".", ",")


FIELD_NL = {"child.national_number": "Rijksregisternummer", "child.parent_national_number": "Rijksregisternummer ouder",
            "child.expected_birth": "Verwachte geboortedatum", "child": "Kind", "request_date": "Aanvraagdatum",
            "desired_start": "Gewenste startdatum", "days_per_week": "Dagen per week", "municipality": "Gemeente",
            "hours": "Ruimere openingsmomenten", "reason": "Reden", "proposal": "Voorstel", "location": "Locatie",
            "start": "Start", "on": "Datum", "consent": "Toestemming", "places": "Aantal plaatsen", "from": "Vanaf",
            "contact.email": "E-mail", "contact.phone": "Telefoon", "contact.name": "Naam", "as_of": "Moment",
            "bucket": "Cijfer", "category": "Categorie", "child.expected_birth_or_number": "Kind",
            "national_number": "Rijksregisternummer van het kind"}


WORDS_NL = {"parent_national_number": "rijksregisternummer van een ouder",
            "national_number": "rijksregisternummer van het kind", "expected_birth": "verwachte geboortedatum",
            "as_of": "moment", "bucket": "cijfer", "category": "categorie", "requests": "vragen",
            "unanswered": "onbeantwoord", "no_proposal": "geen voorstel", "not_accepted": "niet aanvaard",
            "deviating": "afwijkend"}
_WORDS = re.compile(r"\b(" + "|".join(sorted(WORDS_NL, key=len, reverse=True)) + r")\b")


def _dutch(errors: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
    """Error summary lines with the form's own labels, not the command's field names."""
    if not errors:
        return errors
    out = []
    for field, text in errors:
        label = FIELD_NL.get(field, field)
        text = text.replace(f"'{field}'", "").strip() if field else text
        text = _WORDS.sub(lambda m: WORDS_NL[m.group(1)], text)
        if text.lower().startswith(label.lower()):  # "Rijksregisternummer: Rijksregisternummer is ..." says it once
            text = text[len(label):].strip()
        out.append((label, text))
    return out


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    login: Login = getattr(request.state, "login", None)
    if "errors" in context:
        context["errors"] = _dutch(context["errors"])
    service = request.app.state.service
    csrf = csrf_token(service.secrets.session_keys[0], login.session) if login and login.session else ""
    return templates.TemplateResponse(request, name, {"login": login, "csrf": csrf, "date": date, "days": days, "be_iso": be_iso,
                                                      **context},
                                      status_code=status)


@router.get("/static/loket.css")
def stylesheet() -> Response:
    return Response((ROOT / "static" / "loket.css").read_bytes(), media_type="text/css",
                    headers={"Cache-Control": "max-age=3600"})


# ----------------------------------------------------------------- logging in


def _local(path: str) -> str:
    """Where to go after logging in: a path of this site only (never another site)."""
    ok = path.startswith("/") and not path.startswith(("//", "/\\")) and "\\" not in path and len(path) <= 300
    return path if ok else "/"


@router.get("/aanmelden", response_class=HTMLResponse)
def login_page(request: Request, volgende: str = "/") -> HTMLResponse:
    return _page(request, "login.html", next_path=_local(volgende))


@router.post("/aanmelden")
def login(request: Request, service: Service, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=1024)], volgende: Annotated[str, Form(max_length=300)] = "/") -> Response:
    try:
        token, who = auth._login(request, service, username, password, browser=True)
    except auth.BadLogin:
        return _page(request, "login.html", 401, username=username, next_path=_local(volgende),
                     errors=[("", "Onbekende gebruikersnaam of verkeerd wachtwoord.")])
    except auth.TooManyAttempts as wait:
        return _page(request, "login.html", 429, username=username, next_path=_local(volgende),
                     errors=[("", f"Te veel mislukte pogingen; probeer opnieuw over {max(1, wait.seconds // 60)} minuten.")])
    home = {"regulator": "/foto", "organizer": "/cijfers"}.get(who.role, "/")  # where each role's pages are
    answer = RedirectResponse(_local(volgende) if volgende != "/" else home, status_code=303)
    set_session_cookie(answer, token, who, service.settings.cookie_secure)
    return answer


@router.post("/afmelden")
def logout(caller: Caller, service: Service) -> Response:
    service.accounts.end_sessions(caller.name)
    answer = RedirectResponse("/aanmelden", status_code=303)
    answer.delete_cookie(COOKIE, path="/")
    return answer


# ------------------------------------------------------------------ dashboard


def _flags(r: CareRequest) -> list[str]:
    cats = r.categories(municipalities.is_brussels(r.municipality))
    flags = [CATEGORY_NL[name] for name in ("priority_group", "vulnerable_family", "urgent") if cats[name]]
    if r.crisis is not None and r.crisis.open:
        flags.insert(0, "crisis: dringend opvolgen")
    return flags


def _row(r: CareRequest) -> dict[str, Any]:
    flags = _flags(r)
    if r.care_type != "baby_toddler":
        flags.append("buitenschoolse opvang")
    if any(p.state == "pending" for p in r.proposals.values()):
        flags.append("voorstel wacht op antwoord")
    return {"reference": r.reference, "municipality_name": municipalities.name(r.municipality),
            "request_date": date(r.request_date), "desired_start": date(r.wish_start),
            "days": days(r.wish_days), "flags": flags}


STANDING_NL = {"zonder_voorstel": "nog geen voorstel", "voorstel": "voorstel wacht op antwoord",
               "crisis": "crisis (locatie gesloten)", "buitenschools": "buitenschoolse opvang"}
PAGE_SIZE = 100


def _standing(r: CareRequest, wanted: str) -> bool:
    pending = any(p.state == "pending" for p in r.proposals.values())
    return {"zonder_voorstel": not pending, "voorstel": pending,
            "crisis": r.crisis is not None and r.crisis.open,
            "buitenschools": r.care_type != "baby_toddler"}.get(wanted, True)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, service: Service, gemeente: str = "", categorie: str = "", ouder_dan: str = "",
              dossier: str = "", stand: str = "", pagina: str = "1") -> Response:
    wanted = dossier.strip()
    if wanted:
        try:  # an exact dossier number opens the dossier, open or closed
            return RedirectResponse(f"/dossiers/{quote(service.get_request(wanted).reference)}", status_code=303)
        except DomainError:
            pass
    everything = service.open_requests(every_care_type=True)
    found = everything
    if gemeente:
        found = [r for r in found if r.municipality in municipalities.related(gemeente)]
    if categorie in CATEGORY_NL:
        found = [r for r in found if r.categories(municipalities.is_brussels(r.municipality))[categorie]]
    if _whole(ouder_dan, 1200) is not None:
        limit = dt.date.today() - dt.timedelta(days=30 * int(ouder_dan))
        found = [r for r in found if r.request_date <= limit]
    if stand in STANDING_NL:
        found = [r for r in found if _standing(r, stand)]
    if wanted:
        found = [r for r in found if wanted.lower() in r.reference.lower()]
    if stand != "crisis":  # families hit by a closure first: they lost a place they had
        found = sorted(found, key=lambda r: not (r.crisis is not None and r.crisis.open))
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(max(1, _whole(pagina) or 1), pages)
    year = service.now().year
    places = sorted({municipalities.successor(r.municipality, year) for r in everything}, key=municipalities.name)
    filters = {"gemeente": gemeente, "categorie": categorie, "ouder_dan": ouder_dan, "dossier": dossier, "stand": stand}
    return _page(request, "dashboard.html", rows=[_row(r) for r in found[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]],
                 found=len(found), total=len(everything), page=page, pages=pages,
                 municipalities=[(nis, municipalities.name(nis)) for nis in places],
                 categories=list(CATEGORY_NL.items()), standings=list(STANDING_NL.items()), filters=filters,
                 query={k: v for k, v in filters.items() if v})


def _folded(text: str) -> str:
    """A name as a search compares it: no accents, no case, single spaces ("Maës" finds "Maes")."""
    plain = unicodedata.normalize("NFKD", text)
    return " ".join("".join(ch for ch in plain if not unicodedata.combining(ch)).casefold().split())


@router.post("/zoeken", response_class=HTMLResponse)
def search(request: Request, service: Service, caller: Caller, naam: Annotated[str, Form(max_length=100)] = "") -> HTMLResponse:
    """Search every dossier (open ones first) by a family's name: a POST, so a name never goes into a URL."""
    wanted = _folded(naam)
    everything = service.open_requests(every_care_type=True)
    found, names = [], {}
    if len(wanted) >= 2:
        with service.current.lock():
            known = list(service.current.refresh().requests.values())
        open_ids = {r.id for r in everything}
        for r in sorted(known, key=lambda r: (r.id not in open_ids, r.reference)):
            data = service.personal_data(r)
            name = ((data or {}).get("contact") or {}).get("name", "")
            if name and wanted in _folded(name):
                found.append(r)
                names[r.reference] = name
        service.access_log.record_many(caller.name, caller.role, log.READ, [r.reference for r in found],
                                       "web:zoeken op naam")
    rows = [{**_row(r), "name": names[r.reference],
             "state": "" if r.is_open else ("geplaatst" if r.placement else STATUS_NL[r.status])} for r in found]
    shown = " ".join(naam.split())
    return _page(request, "dashboard.html", rows=rows, found=len(rows), total=len(everything), with_names=True,
                 page=1, pages=1, municipalities=[], categories=list(CATEGORY_NL.items()),
                 standings=list(STANDING_NL.items()), filters={}, query={}, searched=shown,
                 message=(f"{len(found)} dossier(s) met '{shown}' in de naam (open dossiers eerst)."
                          if len(wanted) >= 2 else "Geef minstens twee letters van de naam."))


# ----------------------------------------------------------------- the intake

FAMILY_NL = (("work_or_training", "Ouders werken of volgen een opleiding"), ("single_parent", "Alleenstaande ouder"),
             ("low_income", "Laag gezinsinkomen"), ("foster_family", "Pleeggezin"),
             ("health_or_care", "Gezondheids- of zorgsituatie"), ("low_education", "Laag opleidingsniveau"),
             ("dutch_speaking", "Een ouder spreekt voldoende Nederlands"))


def _intake_page(request: Request, service: Any, status: int = 200, **extra: Any) -> HTMLResponse:
    return _page(request, "intake.html", status, municipalities=_current_municipalities(service), family_nl=FAMILY_NL,
                 hours_nl=[(h, hours_nl([h])) for h in ("early", "late", "weekend", "holiday")],
                 contact_fields=CONTACT_FIELDS, category_nl=CATEGORY_NL, today=service.now().date().isoformat(),
                 **{"v": {"hours": []}, **extra})


def _register_fields(form: Any) -> dict[str, Any]:
    """The intake form as the fields of a `register` command (empty answers left out)."""
    text = {k: v.strip() for k, v in form.items() if isinstance(v, str) and v.strip() and k not in ("csrf_token", "doen")}
    fields: dict[str, Any] = {k: text[k] for k in ("request_date", "desired_start", "municipality", "care_type", "notes")
                              if k in text}
    if "days_per_week" in text:
        try:
            fields["days_per_week"] = float(text["days_per_week"].replace(",", "."))
        except ValueError:
            fields["days_per_week"] = text["days_per_week"]  # the command model names the field
    fields["hours"] = [h for h in form.getlist("hours") if isinstance(h, str)]
    if "national_number" in text:
        fields["child"] = {"national_number": text["national_number"]}
    else:
        fields["child"] = {k: text[k] for k in ("expected_birth", "parent_national_number") if k in text}
    fields["family"] = {key: text["family_" + key] == "true" for key, _ in FAMILY_NL if "family_" + key in text}
    fields["special_care"] = text.get("special_care") == "true"
    fields["consent"] = text.get("consent") == "true"
    contact = {key: text["contact_" + key] for key, _ in CONTACT_FIELDS if "contact_" + key in text}
    if contact:
        fields["contact"] = contact
    return fields


@router.get("/intake", response_class=HTMLResponse)
def intake_page(request: Request, service: Service) -> HTMLResponse:
    return _intake_page(request, service)


@router.post("/intake", response_class=HTMLResponse)
async def intake(request: Request, service: Service, caller: Caller) -> Response:
    form = await request.form()
    values = {**{k: v for k, v in form.items() if isinstance(v, str)}, "hours": form.getlist("hours")}
    fields = _register_fields(form)
    from starlette.concurrency import run_in_threadpool

    def run() -> Response:
        try:
            payload = c.parse_payload("register", fields)
        except c.ShapeError as error:
            return _intake_page(request, service, 422, v=values, errors=error.problems)
        if form.get("doen") != "registreren":  # check only: show what the answers mean, record nothing
            try:
                service.check_municipality(payload.municipality)
                service.check_child(payload.child, payload.desired_start.year)
            except DuplicateChild as error:
                return _intake_page(request, service, 409, v=values, existing=error.existing_reference,
                                    errors=[("child", error.message)])
            except DomainError as error:
                return _intake_page(request, service, 422, v=values, errors=[(error.field or "", error.message)])
            if payload.desired_start < payload.request_date:
                values["warning"] = (f"Let op: de gewenste start ({date(payload.desired_start)}) ligt vóór de "
                                     f"aanvraagdatum ({date(payload.request_date)}). Klopt dat?")
            brussels = municipalities.is_brussels(payload.municipality)
            preview = derived_categories(payload.request_date, payload.desired_start, payload.hours,
                                         payload.family.given(), payload.special_care, brussels)
            return _intake_page(request, service, v=values, preview=preview)
        try:
            outcome = _run(service, caller, "register", "", payload)
        except DuplicateChild as error:
            return _intake_page(request, service, 409, v=values, existing=error.existing_reference,
                                errors=[("child", error.message)])
        except DomainError as error:
            return _intake_page(request, service, 409 if not isinstance(error, InvalidValue) else 422, v=values,
                                errors=[(error.field or "", error.message)])
        return RedirectResponse(f"/dossiers/{outcome.reference}", status_code=303)

    return await run_in_threadpool(run)


# ------------------------------------------------------ online requests of parents


@router.get("/aanvragen", response_class=HTMLResponse)
def apply_page(request: Request, service: Service) -> HTMLResponse:
    return _intake_page(request, service, public=True, action="/aanvragen",
                        heading="Kinderopvang aanvragen bij het Lokaal Loket")


@router.post("/aanvragen", response_class=HTMLResponse)
async def apply(request: Request, service: Service) -> HTMLResponse:
    """A parent's request (no login): kept sealed, counted only once a loket worker confirms it."""
    form = await request.form()
    values = {**{k: v for k, v in form.items() if isinstance(v, str)}, "hours": form.getlist("hours")}
    fields = {**_register_fields(form), "request_date": service.now().date().isoformat(), "care_type": "baby_toddler"}
    fields.pop("notes", None)  # the worker's notes are not the parent's to write
    throttle = auth._throttle(request)
    address = f"aanvraag:{request.client.host if request.client else '?'}"
    extra = {"public": True, "action": "/aanvragen", "heading": "Kinderopvang aanvragen bij het Lokaal Loket"}
    if throttle.wait_seconds(address):
        return _intake_page(request, service, 429, v=values, errors=[("", "Te veel aanvragen van dit adres; probeer later opnieuw.")], **extra)
    from starlette.concurrency import run_in_threadpool

    def run() -> HTMLResponse:
        contact = fields.get("contact") or {}
        if not (contact.get("phone") or contact.get("email")):
            return _intake_page(request, service, 422, v=values, errors=[
                ("contact.phone", "geef een telefoonnummer of een e-mailadres: zo kan het loket u bereiken")], **extra)
        try:
            service.submit_online(fields)
        except c.ShapeError as error:
            return _intake_page(request, service, 422, v=values, errors=error.problems, **extra)
        except DomainError as error:
            return _intake_page(request, service, 422, v=values, errors=[(error.field or "", error.message)], **extra)
        throttle.failed(address)  # counts submissions per address
        return _page(request, "base.html", message="Dank u. Het loket heeft uw aanvraag ontvangen. Een medewerker "
                                                    "bekijkt ze en neemt contact met u op; pas dan is ze ingeschreven.")

    return await run_in_threadpool(run)


@router.get("/online", response_class=HTMLResponse)
def online(request: Request, service: Service, caller: Caller) -> HTMLResponse:
    return _online_page(request, service, caller)


def _online_page(request: Request, service: Any, caller: Login, status: int = 200, **extra: Any) -> HTMLResponse:
    items = []
    for application, answers in service.online_applications():
        answers = answers or {}
        contact = answers.get("contact") or {}
        items.append({"id": application.id, "name": contact.get("name"), "phone": contact.get("phone"),
                      "when": dt.datetime.fromisoformat(application.submitted_at).strftime("%d/%m/%Y %H:%M"),
                      "municipality": municipalities.name(answers.get("municipality", "")),
                      "start": date(dt.date.fromisoformat(answers["desired_start"])) if answers.get("desired_start") else "",
                      "days": days(answers.get("days_per_week", 0)), "email": contact.get("email"),
                      "address": contact.get("address"), "child": _child_nl(answers.get("child") or {}),
                      "family": [label for key, label in FAMILY_NL if (answers.get("family") or {}).get(key) is True],
                      "consent": bool(answers.get("consent"))})
    service.access_log.record(caller.name, caller.role, log.READ, None, f"web:online aanvragen ({len(items)})")
    return _page(request, "online.html", status, items=items, **extra)


def _child_nl(child: dict[str, Any]) -> str:
    if child.get("national_number"):
        return f"rijksregisternummer {child['national_number']}"
    if child.get("expected_birth"):
        born = date(dt.date.fromisoformat(child["expected_birth"]))
        return f"verwacht op {born} (ouder {child.get('parent_national_number', '?')})"
    return "onbekend"


def _application_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@router.post("/online/{id}/bevestigen")
def confirm_online(id: str, request: Request, service: Service, caller: Caller) -> Response:
    if _application_id(id) is None:
        return _online_page(request, service, caller, 404, errors=[("", "Deze online aanvraag bestaat niet.")])
    try:
        outcome = service.confirm_online(_application_id(id), caller.name)
    except DuplicateChild as error:
        return _online_page(request, service, caller, 409, errors=[("child", error.message)],
                            existing=error.existing_reference, duplicate=str(id))
    except DomainError as error:
        return _online_page(request, service, caller, 409, errors=[(error.field or "", error.message)])
    service.access_log.record(caller.name, caller.role, log.CHANGE, outcome.reference, "web:online aanvraag bevestigd")
    return RedirectResponse(f"/dossiers/{outcome.reference}", status_code=303)


@router.post("/online/{id}/afwijzen")
def reject_online(id: str, request: Request, service: Service, caller: Caller,
                  reden: Annotated[str, Form(max_length=10_000)] = "") -> Response:
    if _application_id(id) is None:
        return _online_page(request, service, caller, 404, errors=[("", "Deze online aanvraag bestaat niet.")])
    if not reden.strip() or len(reden) > 200:
        return _online_page(request, service, caller, 422, errors=[("Reden", "geef een reden van 1 tot 200 tekens")])
    try:
        service.reject_online(_application_id(id), reden.strip(), caller.name)
    except DomainError as error:
        return _online_page(request, service, caller, 409, errors=[(error.field or "", error.message)])
    return RedirectResponse("/online", status_code=303)


# ------------------------------------------------------ locations and the crisis


@router.get("/locaties", response_class=HTMLResponse)
def locations_page(request: Request, service: Service) -> HTMLResponse:
    with service.current.lock():
        found = sorted(service.current.refresh().locations.values(), key=lambda loc: (loc.closed_on is not None, loc.name))
        rows = [location_json(loc, loc.places_left) for loc in found]
    return _page(request, "locations.html", locations=rows)


def _location_page(request: Request, service: Any, ref: str, status: int = 200, **extra: Any) -> HTMLResponse:
    with service.current.lock():
        view = service.current.refresh()
        loc = view.locations.get(ref)
        if loc is None:
            return _page(request, "base.html", 404, errors=[("location", f"Locatie '{ref}' bestaat niet bij dit loket.")])
        info = {**for_location(view, loc, loket=True, today=service.now().date()), "placed": len(view.placed_at(ref))}
    return _page(request, "location.html", status, l=info, today=service.now().date().isoformat(), **extra)


@router.get("/locaties/{ref}", response_class=HTMLResponse)
def location_page(ref: str, request: Request, service: Service) -> HTMLResponse:
    return _location_page(request, service, ref)


@router.post("/locaties/{ref}/{command}")
async def location_change(ref: str, command: str, request: Request, service: Service, caller: Caller) -> Response:
    if command not in ("report_free_places", "close_location", "reopen_location"):
        return _page(request, "base.html", 404, errors=[("", "Deze opdracht bestaat niet.")])
    form = {k: v.strip() for k, v in (await request.form()).items()
            if k != "csrf_token" and isinstance(v, str) and v.strip()}
    confirmed = form.pop("bevestigd", "") == "ja"
    if command == "close_location" and not confirmed:
        return _location_page(request, service, ref, 422, errors=[("Bevestiging", "Vink aan dat u de locatie sluit: "
                                                                   "elke lopende plaatsing wordt dan geannuleerd.")])
    fields: dict[str, Any] = dict(form)
    for name, kind in (("places", int), ("days_per_week", float)):
        if name in fields:
            try:
                fields[name] = kind(fields[name].replace(",", "."))
            except ValueError:
                pass  # the command model names the field
    from starlette.concurrency import run_in_threadpool

    def run() -> Response:
        try:
            _run(service, caller, command, ref, c.parse_payload(command, fields))
        except c.ShapeError as error:
            return _location_page(request, service, ref, 422, errors=error.problems)
        except DomainError as error:
            return _location_page(request, service, ref, 409, errors=[(error.field or "", error.message)])
        return RedirectResponse(f"/locaties/{ref}/crisis" if command == "close_location" else f"/locaties/{ref}",
                                status_code=303)

    return await run_in_threadpool(run)


@router.get("/locaties/{ref}/crisis", response_class=HTMLResponse)
def crisis_page(ref: str, request: Request, service: Service, caller: Caller) -> HTMLResponse:
    try:
        crisis = crisis_list(service, ref, contact=True)
    except DomainError as error:
        return _page(request, "base.html", 404, errors=[(error.field or "", error.message)])
    service.access_log.record_many(caller.name, caller.role, log.READ, [a["request"] for a in crisis["affected"]],
                                   "web:crisislijst")
    return _page(request, "crisis.html", c=crisis)


# --------------------------------------------------------------- request page

ACTIONS = (
    ("propose", "Voorstel doen", (("location", "Locatie", "select"),
                                  ("location_other", "Of de naam van een locatie die niet geregistreerd is", "text"),
                                  ("start", "Start van de opvang", "date"), ("days_per_week", "Dagen per week", "number"),
                                  ("on", "Datum van het voorstel", "date"),
                                  ("proposal", "Nummer van het voorstel (in dit dossier)", "text"))),
    ("accept", "Voorstel aanvaard", (("proposal", "Voorstel", "text"), ("on", "Datum van aanvaarding", "date"))),
    ("refuse", "Voorstel geweigerd", (("proposal", "Voorstel", "text"), ("on", "Datum", "date"), ("reason", "Reden", "text"))),
    ("cancel_placement", "Plaatsing annuleren", (("on", "Datum", "date"), ("reason", "Reden", "text"))),
    ("withdraw", "Vraag intrekken", (("on", "Datum", "date"), ("reason", "Reden", "text"))),
    ("reopen", "Vraag heropenen", (("on", "Datum", "date"), ("reason", "Reden", "text"))),
    ("change_consent", "Toestemming wijzigen", (("consent", "Toestemming", "select"), ("on", "Datum", "date"))),
    ("withdraw_proposal", "Voorstel intrekken (door de organisator)", (("proposal", "Voorstel", "text"),
                                                                         ("on", "Datum", "date"), ("reason", "Reden", "text"))),
    ("solve_elsewhere", "Opgelost in een andere gemeente", (("municipality", "Gemeente waar het gezin opvang vond", "select"),
                                                             ("on", "Datum", "date"))),
    ("change_wish", "Wens wijzigen (het gezin veranderde van gedachten)", (("desired_start", "Nieuwe gewenste start", "date"),
                                                                            ("days_per_week", "Dagen per week", "number"))),
    ("update_family", "Gezinssituatie bijwerken", tuple((f"family_{key}", label, "tristate") for key, label in (
        ("work_or_training", "Ouders werken of volgen een opleiding"), ("single_parent", "Alleenstaande ouder"),
        ("low_income", "Laag gezinsinkomen"), ("foster_family", "Pleeggezin"),
        ("health_or_care", "Gezondheids- of zorgsituatie"), ("low_education", "Laag opleidingsniveau"),
        ("dutch_speaking", "Een ouder spreekt voldoende Nederlands"))) + (("special_care", "Specifieke zorgbehoefte", "tristate"),)),
    ("correct_registration", "Registratie verbeteren (met reden)", (("request_date", "Juiste aanvraagdatum", "date"),
                                                                     ("desired_start", "Juiste gewenste start", "date"),
                                                                     ("days_per_week", "Juiste dagen per week", "number"),
                                                                     *((f"contact_{key}", label, "text") for key, label in CONTACT_FIELDS),
                                                                     ("reason", "Reden van de verbetering", "text"))),
    ("child_born", "Het kind is geboren", (("national_number", "Rijksregisternummer van het kind", "text"),
                                          ("on", "Datum", "date"))),
    ("move", "Het gezin verhuisde", (("municipality", "Nieuwe gemeente", "select"), ("on", "Datum", "date"))),
    ("void", "Registratie schrappen (foutief geregistreerd)", (("reason", "Reden", "text"),)),
)


def _required(command: str, name: str) -> bool:
    """Whether the command itself requires the field (the form says what the rule says)."""
    field = c.REQUEST_COMMANDS[command].model_fields.get(name)
    return field is not None and field.is_required() or (command, name) == ("correct_registration", "reason")
PENDING_CHOICE = {"accept", "refuse", "withdraw_proposal"}


def _fitting(command: str, r: CareRequest) -> bool:
    """Whether a follow-up can apply to the request as it stands (the others are not offered)."""
    if r.status == "voided":
        return False
    open_, placed = r.status == "open", r.placement is not None
    pending = any(p.state == "pending" for p in r.proposals.values())
    return {"propose": open_ and not placed, "accept": open_ and not placed and pending,
            "refuse": open_ and not placed and pending, "withdraw_proposal": open_ and not placed and pending,
            "cancel_placement": placed, "withdraw": open_, "reopen": not open_,
            "solve_elsewhere": open_ and not placed, "change_wish": open_ and not placed,
            "child_born": r.child_kind == "unborn", "move": open_}.get(command, True)


def _next_proposal(r: CareRequest) -> str:
    n = len(r.proposals) + 1
    while f"V{n}" in r.proposals:
        n += 1
    return f"V{n}"


def _actions(r: CareRequest, today: str, prefill: dict[str, str], places: list[tuple[str, str]],
             registered: list[dict[str, Any]], contact: dict[str, str]) -> list[dict[str, Any]]:
    """The follow-up forms that fit the request's state, prefilled with what the worker would type."""
    pending = [(p.reference, f"{p.reference}: {p.location}, vanaf {date(p.start)}")
               for p in r.proposals.values() if p.state == "pending"]
    locations = [("", "kies een geregistreerde locatie"),
                 *((loc["ref"], f"{loc['name']} ({loc['municipality']}, {loc['left']} vrij)") for loc in registered)]
    defaults = {("propose", "proposal"): _next_proposal(r), ("propose", "start"): max(r.wish_start.isoformat(), today),
                ("propose", "days_per_week"): days(r.wish_days).replace(",", "."),
                **{("propose", k): v for k, v in prefill.items()},
                **{("correct_registration", f"contact_{k}"): v for k, v in contact.items()}}
    options = {"proposal": pending, "municipality": places, "location": locations,
               "consent": [("true", "ja, gegeven"), ("false", "nee, ingetrokken")]}
    out = []
    for command, label, fields in ACTIONS:
        if not _fitting(command, r):
            continue
        out.append({"command": command, "label": label, "open": command == "propose" and bool(prefill), "fields": [
            {"name": name, "label": text, "type": "select" if command in PENDING_CHOICE and name == "proposal" else kind,
             "required": kind != "tristate" and _required(command, name) and name != "location",
             "value": today if kind == "date" and name == "on" else defaults.get((command, name), ""),
             "options": (pending if command in PENDING_CHOICE and name == "proposal" else
                         options.get(name) if kind == "select" else
                         [("", "ongewijzigd"), ("true", "ja"), ("false", "nee")] if kind == "tristate" else None)}
            for name, text, kind in fields]})
    return out


def _current_municipalities(service: Any) -> list[tuple[str, str]]:
    """The municipalities of the loket's area as they are called today: one line each (no merged twins)."""
    year = service.now().year
    area = service.settings.area or municipalities.flanders_and_brussels()
    codes = {municipalities.successor(nis, year) for nis in area}
    return sorted(((nis, municipalities.name(nis)) for nis in codes if municipalities.name(nis) != nis),
                  key=lambda item: item[1])


EVENT_NL = {"Registered": "geregistreerd", "RegistrationCorrected": "registratie verbeterd", "WishChanged": "wens gewijzigd",
            "FamilyUpdated": "gezinssituatie bijgewerkt", "Moved": "verhuisd", "ConsentChanged": "toestemming gewijzigd",
            "ChildBorn": "kind geboren", "ProposalMade": "voorstel gedaan", "ProposalRefused": "voorstel geweigerd",
            "ProposalWithdrawn": "voorstel ingetrokken", "PlacementAccepted": "voorstel aanvaard",
            "PlacementCancelled": "plaatsing geannuleerd", "ReceivedFrom": "overgenomen van een ander loket",
            "ClosureCrisisFlagged": "locatie gesloten: dringend opvolgen",
            "SolvedElsewhere": "opgelost in een andere gemeente", "Withdrawn": "ingetrokken", "Reopened": "heropend",
            "Voided": "geschrapt (foutief geregistreerd)", "PersonalDataErased": "persoonsgegevens gewist"}


def event_nl(name: str) -> str:
    return EVENT_NL.get(name, name)


def _detail(e: Any) -> str:
    """What the event says beyond its name: the proposal, the location, the dates, the reason."""
    parts = []
    if getattr(e, "proposal", None) and type(e).__name__ != "Registered":
        parts.append(f"voorstel {e.proposal}")
    if isinstance(getattr(e, "location", None), str):
        parts.append(e.location)
    if isinstance(getattr(e, "start", None), dt.date):
        parts.append(f"start {date(e.start)}")
    if isinstance(getattr(e, "on", None), dt.date) and type(e).__name__ != "Registered":
        parts.append(f"op {date(e.on)}")
    if isinstance(getattr(e, "municipality", None), str) and type(e).__name__ in ("Moved", "SolvedElsewhere"):
        parts.append(municipalities.name(e.municipality))
    if getattr(e, "reason", None):
        parts.append(f"reden: {e.reason}")
    return ", ".join(parts)


def _timeline(service: Any, r: CareRequest) -> list[dict[str, Any]]:
    out = []
    for e in service.history(r.reference):
        at = dt.datetime.fromisoformat(e.recorded_at)
        out.append({"at": e.recorded_at, "when": at.astimezone(BRUSSELS).strftime("%d/%m/%Y %H:%M"),
                    "what": event_nl(type(e).__name__), "detail": _detail(e), "by": e.by})
    return out


def _request_page(request: Request, service: Any, caller: Login, reference: str, status: int = 200,
                  location: str = "", **extra: Any) -> HTMLResponse:
    try:
        r = service.get_request(reference)
    except DomainError as error:
        return _page(request, "base.html", 404, errors=[("", error.message)])
    service.access_log.record(caller.name, caller.role, log.READ, r.reference, "web:dossier")
    today = service.now().date()
    suggestions, prefill, registered = [], {}, []
    with service.current.lock():
        view = service.current.refresh()
        if r.is_open:
            suggestions = for_request(view, r, today)["places"][:5]
        for loc in sorted(view.locations.values(), key=lambda loc: loc.name):
            if loc.closed_on is None:
                registered.append({"ref": loc.reference, "name": loc.name, "left": view.places_left(loc),
                                   "municipality": municipalities.name(loc.municipality)})
        chosen = view.locations.get(location)
        if chosen is not None and chosen.closed_on is None:
            prefill = {"location": chosen.reference}
            if chosen.offer is not None:
                prefill["start"] = max(r.wish_start, chosen.offer.from_date, today).isoformat()
            if view.places_left(chosen) <= 0:
                extra.setdefault("message", f"Let op: {chosen.name} meldt geen vrije plaats meer. "
                                            "Doe het voorstel alleen als de organisator een plaats bevestigt.")
    state = "geplaatst" if r.status == "open" and r.placement else STATUS_NL[r.status]
    personal = service.personal_data(r)
    return _page(request, "request.html", status, r=r, state_nl=state, personal=personal,
                 contact_fields=CONTACT_FIELDS, municipality_name=municipalities.name(r.municipality),
                 hours=hours_nl(r.wish_hours), categories=_categories(r), category_nl=CATEGORY_NL,
                 timeline=_timeline(service, r), suggestions=suggestions, registered=registered,
                 actions=_actions(r, today.isoformat(), prefill, _current_municipalities(service), registered,
                                  ((personal or {}).get("contact") or {})),
                 proposals=list(r.proposals.values()), proposal_state=PROPOSAL_STATE_NL, **extra)


@router.get("/dossiers/{ref}", response_class=HTMLResponse)
def request_page(ref: str, request: Request, service: Service, caller: Caller, locatie: str = "") -> HTMLResponse:
    return _request_page(request, service, caller, ref, location=locatie[:64])


def _registered_name(service: Any, name: str) -> str:
    """A location typed by name: a registered location's reference when the name is one of theirs."""
    if not name:
        raise InvalidValue("Kies een geregistreerde locatie, of typ de naam van een locatie die niet geregistreerd is.",
                           field="location")
    with service.current.lock():
        same = [loc for loc in service.current.refresh().locations.values()
                if loc.closed_on is None and loc.name.casefold() == " ".join(name.split()).casefold()]
    if len(same) > 1:
        raise InvalidValue(f"{len(same)} geregistreerde locaties heten '{name}': kies de juiste in de lijst.",
                           field="location")
    return same[0].reference if same else name


@router.post("/dossiers/{ref}/{command}")
async def follow_up(ref: str, command: str, request: Request, service: Service, caller: Caller) -> Response:
    form = {k: v for k, v in (await request.form()).items() if k != "csrf_token" and isinstance(v, str) and v.strip()}
    if command not in {a[0] for a in ACTIONS}:
        return _page(request, "base.html", 404, errors=[("", "Deze opvolging bestaat niet.")])
    fields: dict[str, Any] = dict(form)
    if "days_per_week" in fields:
        try:
            fields["days_per_week"] = float(fields["days_per_week"].replace(",", "."))
        except ValueError:
            pass  # the command model names the field
    if "consent" in fields:
        fields["consent"] = fields["consent"] == "true"
    if "special_care" in fields:
        fields["special_care"] = fields["special_care"] == "true"
    family = {k.removeprefix("family_"): fields.pop(k) == "true" for k in list(fields) if k.startswith("family_")}
    if family or command == "update_family":
        fields["family"] = family
    contact = {k.removeprefix("contact_"): fields.pop(k).strip() for k in list(fields) if k.startswith("contact_")}
    chosen, other = fields.pop("location", "").strip(), fields.pop("location_other", "").strip()
    from starlette.concurrency import run_in_threadpool

    def run() -> Response:
        try:
            r = service.get_request(ref)
            if command == "propose":
                fields["location"] = chosen or _registered_name(service, other)
            if command == "correct_registration":
                current = ((service.personal_data(r) or {}).get("contact") or {})
                if contact != {k: v for k, v in current.items() if v}:  # only a changed contact is a correction
                    fields["contact"] = contact
            payload = c.parse_payload(command, fields)
            _run(service, caller, command, r.reference, payload)
        except c.ShapeError as error:
            return _request_page(request, service, caller, ref, 422, errors=error.problems)
        except DomainError as error:
            return _request_page(request, service, caller, ref, 422 if isinstance(error, InvalidValue) else 409,
                                 errors=[(error.field or "", error.message)])
        return RedirectResponse(f"/dossiers/{r.reference}", status_code=303)

    return await run_in_threadpool(run)


# ------------------------------------------------------------------ the photo

BRUSSELS = ZoneInfo("Europe/Brussels")


def _local_moment(text: str) -> dt.datetime | None:
    """A datetime-local field (Brussels time) as a moment, or None when empty or unreadable (or before 2000)."""
    try:
        moment = dt.datetime.fromisoformat(text).replace(tzinfo=BRUSSELS) if text.strip() else None
    except ValueError:
        return None
    return moment if moment is None or 2000 <= moment.year <= 2100 else None


BUCKET_NL = (("requests", "Vragen"), ("unanswered", "Onbeantwoord"), ("no_proposal", "geen voorstel"),
             ("not_accepted", "niet aanvaard"), ("deviating", "afwijkend"))


def _year(jaar: str, service: Any) -> int:
    """The year asked, or the last one whose photo is due (before March: the year before last)."""
    now = service.now()
    return int(jaar) if _whole(jaar) is not None and 2000 <= int(jaar) <= 2100 else now.year - (1 if now.month > 2 else 2)


def _whole(text: str, limit: int = 10**6) -> int | None:
    """A whole number typed in a form or an address (ASCII digits only, within reason), or None."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 7 and int(text) <= limit else None


def _known_year(year: int) -> str | None:
    """Why a year in an address cannot have a photo (None when it can)."""
    return None if 2000 <= year <= 2100 else f"Er zijn geen cijfers van het jaar {year}: kies een jaar van 2000 tot 2100."


@router.get("/foto", response_class=HTMLResponse)
def photo_page(request: Request, service: Service, jaar: str = "", moment: str = "", controle: str = "",
               genomen: str = "") -> HTMLResponse:
    return _photo_page(request, service, _year(jaar, service), moment, controle, genomen)


def _photo_page(request: Request, service: Any, year: int, moment: str, controle: str = "", genomen: str = "",
                status: int = 200, errors: list[tuple[str, str]] | None = None) -> HTMLResponse:
    as_of = _local_moment(moment) or default_moment(year)
    photo = service.photo(year, as_of)
    local = as_of.astimezone(BRUSSELS)
    link = {"moment": local.strftime("%Y-%m-%dT%H:%M")}
    rows = [{"name": "Totaal", "nis": "", "counts": _counts(photo["total"]["all"])}]
    rows += [{"name": municipalities.name(nis, year), "nis": nis, "counts": _counts(f["all"])}
             for nis, f in sorted(photo["municipalities"].items())]
    book = PhotoBook(service)
    checked = {r.stored["id"]: r.identical for r in book.verify(year)} if controle and book.stored(year) else {}
    stored = [{"id": str(e.originator_id), "taken_by": e.taken_by, "identical": checked.get(str(e.originator_id)),
               "position": e.position,
               "taken_at": dt.datetime.fromisoformat(e.taken_at).astimezone(BRUSSELS).strftime("%d/%m/%Y %H:%M"),
               "moment": dt.datetime.fromisoformat(e.as_of).astimezone(BRUSSELS).strftime("%d/%m/%Y %H:%M"),
               "moment_value": dt.datetime.fromisoformat(e.as_of).astimezone(BRUSSELS).strftime("%Y-%m-%dT%H:%M")}
              for e in book.stored(year)]
    message = "De foto is genomen en bewaard; ze staat nu ook op de publieke cijferpagina." if genomen else None
    now = service.now()
    note = ("Dit moment ligt nog in de toekomst: de tabel toont wat het loket nu weet."
            if as_of > now else None)
    return _page(request, "photo.html", status, year=year, photo=photo, rows=rows, stored=stored, buckets=BUCKET_NL,
                 moment_text=local.strftime("%d/%m/%Y %H:%M"), moment_value=link["moment"], note=note,
                 as_of_param=quote(local.isoformat()), message=message, errors=errors)


@router.post("/foto/{year}/nemen")
def take_photo(year: int, request: Request, service: Service, caller: Caller,
               moment: Annotated[str, Form(max_length=40)] = "",
               bevestigd: Annotated[str, Form(max_length=10)] = "",
               herhalen: Annotated[str, Form(max_length=10)] = "") -> Response:
    if _known_year(year):
        return _page(request, "base.html", 404, errors=[("Jaar", _known_year(year))])
    if moment.strip() and _local_moment(moment) is None:
        return _photo_page(request, service, year, "", status=422, errors=[
            ("Moment", f"'{moment[:40]}' is geen moment dat het loket kan lezen: kies een datum en een uur.")])
    if bevestigd != "ja":
        return _photo_page(request, service, year, moment, status=422, errors=[
            ("Bevestiging", "Vink aan dat u de foto op dit moment wilt nemen: een genomen foto wordt bewaard en "
                            "gepubliceerd.")])
    book = PhotoBook(service)
    wanted = _local_moment(moment) or default_moment(year)
    if any(dt.datetime.fromisoformat(e.as_of) == wanted for e in book.stored(year)) and herhalen != "ja":
        return _photo_page(request, service, year, moment, status=409, errors=[
            ("Moment", f"Er is al een foto van {year} op {wanted.strftime('%d/%m/%Y %H:%M')}. Neem ze alleen opnieuw als "
                       "er sindsdien iets verbeterd werd: vink dan ook 'opnieuw' aan.")])
    try:
        book.take(year, wanted, caller.name)
    except DomainError as error:
        return _photo_page(request, service, year, moment, status=422, errors=[(error.field or "", error.message)])
    return RedirectResponse(f"/foto?jaar={year}&moment={quote(wanted.strftime('%Y-%m-%dT%H:%M'))}&genomen=1",
                            status_code=303)


@router.get("/foto/{year}/dossiers", response_class=HTMLResponse)
def drill_page(year: int, request: Request, service: Service, gemeente: str = "", categorie: str = "all",
               cijfer: str = "requests", moment: str = "") -> HTMLResponse:
    """The dossiers behind one figure of the photo (references only)."""
    if _known_year(year):
        return _page(request, "base.html", 404, errors=[("Jaar", _known_year(year))])
    try:
        found = PhotoBook(service).drill(year, gemeente or None, categorie, cijfer, _local_moment(moment))
    except DomainError as error:
        return _page(request, "base.html", 422, errors=[(error.field or "", error.message)])
    when = dt.datetime.fromisoformat(found["as_of"]).astimezone(BRUSSELS)
    category_text = "alle opvangvragen" if categorie == "all" else CATEGORY_NL.get(categorie, categorie)
    return _page(request, "drill.html", d=found, year=year, bucket_nl=dict(BUCKET_NL)[cijfer], category_text=category_text,
                 place=municipalities.name(found["municipality"], year) if found["municipality"] else "alle gemeenten",
                 moment_text=when.strftime("%d/%m/%Y %H:%M"))


@router.get("/foto/{year}/herziening", response_class=HTMLResponse)
def restatement_page(year: int, request: Request, service: Service, moment: str = "") -> HTMLResponse:
    """A stored photo beside the same question asked with everything known now."""
    if _known_year(year):
        return _page(request, "base.html", 404, errors=[("Jaar", _known_year(year))])
    try:
        found = PhotoBook(service).restatement(year, _local_moment(moment))
    except DomainError as error:
        return _page(request, "base.html", 404, errors=[(error.field or "", error.message)])
    keys = [k for k, _ in BUCKET_NL]
    rows = [{"name": "Totaal", "then": [found["stored"]["total"]["all"][k] for k in keys],
             "now": [found["known_now"]["total"]["all"][k] for k in keys]}]
    for nis in sorted(set(found["stored"]["municipalities"]) | set(found["known_now"]["municipalities"])):
        then = found["stored"]["municipalities"].get(nis, {}).get("all", dict.fromkeys(keys, 0))
        now = found["known_now"]["municipalities"].get(nis, {}).get("all", dict.fromkeys(keys, 0))
        rows.append({"name": municipalities.name(nis, year), "then": [then[k] for k in keys], "now": [now[k] for k in keys]})
    for changed in found["changed_requests"]:
        for e in changed["events"]:
            e["what_nl"] = event_nl(e["what"])
    then_at = dt.datetime.fromisoformat(found["photo"]["as_of"]).astimezone(BRUSSELS).strftime("%d/%m/%Y %H:%M")
    return _page(request, "restatement.html", f=found, year=year, rows=rows, buckets=BUCKET_NL, then_at=then_at,
                 outcome_nl={"answered": "beantwoord", "no_proposal": "geen voorstel", "not_accepted": "niet aanvaard",
                             "deviating": "afwijkend", "withdrawn": "ingetrokken"})


# -------------------------------------------------------------- public figures


def _bars(years: list[dict[str, Any]]) -> dict[str, Any]:
    """An inline SVG bar chart (readable without JavaScript): requests and unanswered per year."""
    width, height, top = 640, 240, 20
    values = [(y["year"], y["total"]["all"]["requests"], y["total"]["all"]["unanswered"]) for y in years]
    numbers = [v for _, a, b in values for v in (a, b) if isinstance(v, int)]
    biggest = max(numbers or [1]) or 1
    slot = width / max(1, len(values))
    bars, ticks = [], []
    for i, (year, requests, unanswered) in enumerate(values):
        for j, (value, fill, label) in enumerate(((requests, "#0b5c8a", "opvangvragen"),
                                                  (unanswered, "#c0392b", "onbeantwoord"))):
            n = value if isinstance(value, int) else 4
            h = (height - top - 24) * n / biggest
            x = i * slot + slot * 0.15 + j * slot * 0.35
            bars.append({"x": round(x, 1), "y": round(height - 24 - h, 1), "w": round(slot * 0.3, 1), "h": round(h, 1),
                         "fill": fill, "value": value, "label": f"{year}: {value} {label}"})
        ticks.append({"x": round(i * slot + slot / 2, 1), "text": str(year)})
    return {"width": width, "height": height, "bars": bars, "ticks": ticks}


@router.get("/cijfers", response_class=HTMLResponse)
def figures(request: Request, service: Service) -> HTMLResponse:
    published = PhotoBook(service).published()
    years = []
    for y in reversed(published):
        rows = [{"name": "Totaal", "counts": _counts(y["total"]["all"])}]
        rows += [{"name": m["name"], "counts": _counts(m["all"])} for m in y["municipalities"].values()]
        moment = dt.datetime.fromisoformat(y["as_of"]).strftime("%d/%m/%Y %H:%M")
        years.append({"year": y["year"], "moment": moment, "rows": rows})
    return _page(request, "figures.html", years=years, chart=_bars(published))


def _counts(figures: dict[str, Any]) -> list[Any]:
    return [figures[k] for k in ("requests", "unanswered", "no_proposal", "not_accepted", "deviating")]
