"""Who may call what: one rule per route, checked before the route runs.

`RULES` names, for every route of the application, the roles that may call it. The app
refuses to start when a route has no rule, and a test walks every route × every role.
Logins come from a bearer token (the API) or a session cookie (the browser); a browser's
changing request must also carry its CSRF token. Every answer gets the security headers.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import time
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordBearer
from starlette.routing import Match

from service import faults
from service.accounts import ADMIN, ORGANIZER, PUBLIC, REGULATOR, ROLE_NL, ROLES, WORKER, Login
from service.commands import FOLLOW_UPS

logger = logging.getLogger("loket.api")

COOKIE = "loket_sessie"
MAX_BODY_BYTES = 25 * 2**20  # the largest body: a workbook to verify (20 MB) with room to spare
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

LOKET = frozenset({WORKER, ADMIN})
FIGURES = LOKET | {REGULATOR}
LOGGED_IN = frozenset(ROLES)
EVERYONE = LOGGED_IN | {"public"}

RULES: dict[tuple[str, str], frozenset[str]] = {
    # logging in and out
    ("POST", "/api/token"): EVERYONE,
    ("POST", "/api/login"): EVERYONE,
    ("POST", "/api/logout"): LOGGED_IN,
    ("GET", "/api/me"): LOGGED_IN,
    # requests: the loket; an organizer sees open requests it could answer and may propose its own place
    ("POST", "/api/requests"): LOKET,
    ("GET", "/api/requests/{id}"): LOKET,
    ("GET", "/api/requests/{id}/history"): LOKET,
    **{("POST", f"/api/requests/{{id}}/{name}"): LOKET | ({ORGANIZER} if name == "propose" else set())
       for name in FOLLOW_UPS},
    ("GET", "/api/open-requests"): LOKET | {ORGANIZER},
    ("GET", "/api/requests/{id}/matches"): LOKET,
    # locations: anyone logged in reads them; an organizer reports its own free places and sees
    # the requests they could answer (without personal data); the crisis list is the loket's
    ("GET", "/api/locations"): LOGGED_IN,
    ("POST", "/api/locations"): LOKET,
    ("GET", "/api/locations/{ref}"): LOGGED_IN,
    ("POST", "/api/locations/{ref}/report_free_places"): LOKET | {ORGANIZER},
    ("POST", "/api/locations/{ref}/change_location"): LOKET,
    ("POST", "/api/locations/{ref}/close_location"): LOKET,
    ("POST", "/api/locations/{ref}/reopen_location"): LOKET,
    ("GET", "/api/locations/{ref}/matches"): LOKET | {ORGANIZER},
    ("GET", "/api/locations/{ref}/crisis"): LOKET,
    ("GET", "/api/locations/{ref}/crisis.csv"): LOKET,
    ("GET", "/api/locations/{ref}/crisis.xlsx"): LOKET,
    # figures: the loket and the regulator; only the loket takes a photo
    ("GET", "/api/photos"): FIGURES,
    ("POST", "/api/photos/{year}"): LOKET,
    ("GET", "/api/photos/{year}"): FIGURES,
    ("GET", "/api/photos/{year}.xlsx"): FIGURES,
    ("GET", "/api/photos/{year}.csv"): FIGURES,
    ("GET", "/api/photos/stored/{photo_id}.xlsx"): FIGURES,
    ("GET", "/api/photos/{year}/verify"): FIGURES,
    ("GET", "/api/photos/{year}/restatement"): FIGURES,
    ("GET", "/api/photos/{year}/drill"): FIGURES,
    ("POST", "/api/photos/verify-workbook"): FIGURES,
    # published figures: everyone, no login
    ("GET", "/api/public/photos"): EVERYONE,
    # accounts and the access log: the loket's administrator
    ("GET", "/api/users"): frozenset({ADMIN}),
    ("POST", "/api/users"): frozenset({ADMIN}),
    ("POST", "/api/users/{name}/password"): frozenset({ADMIN}),
    ("POST", "/api/users/{name}/disable"): frozenset({ADMIN}),
    ("POST", "/api/users/{name}/enable"): frozenset({ADMIN}),
    ("POST", "/api/users/{name}/role"): frozenset({ADMIN}),
    ("GET", "/api/access-log"): frozenset({ADMIN}),
    ("GET", "/api/access-log.csv"): frozenset({ADMIN}),
    # the web pages: the loket's; the public figures for everyone
    ("GET", "/static/loket.css"): EVERYONE,
    ("GET", "/aanmelden"): EVERYONE,
    ("POST", "/aanmelden"): EVERYONE,
    ("POST", "/afmelden"): LOGGED_IN,
    ("GET", "/"): LOKET,
    ("POST", "/zoeken"): LOKET,
    ("GET", "/dossiers/{ref}"): LOKET,
    ("GET", "/intake"): LOKET,
    ("GET", "/foto"): FIGURES,
    ("POST", "/foto/{year}/nemen"): LOKET,
    ("GET", "/foto/{year}/dossiers"): FIGURES,
    ("GET", "/foto/{year}/herziening"): FIGURES,
    ("POST", "/intake"): LOKET,
    ("POST", "/dossiers/{ref}/{command}"): LOKET,
    ("GET", "/cijfers"): EVERYONE,
    ("GET", "/aanvragen"): EVERYONE,
    ("POST", "/aanvragen"): EVERYONE,
    ("GET", "/online"): LOKET,
    ("GET", "/locaties"): LOKET,
    ("GET", "/locaties/{ref}"): LOKET,
    ("POST", "/locaties/{ref}/{command}"): LOKET,
    ("GET", "/locaties/{ref}/crisis"): LOKET,
    ("POST", "/online/{id}/bevestigen"): LOKET,
    ("POST", "/online/{id}/afwijzen"): LOKET,
    # the API's own documentation
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE,
    ("GET", "/docs/oauth2-redirect"): EVERYONE,
    ("GET", "/redoc"): EVERYONE,
}

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Strict-Transport-Security": "max-age=31536000",
}
_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
# Swagger UI and ReDoc load their scripts from a CDN (the only pages that do).
_CSP_DOCS = ("default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
             "style-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; script-src 'self' https://cdn.jsdelivr.net "
             "'unsafe-inline'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'")


def _methods(route: Any) -> set[str]:
    return {m for m in (getattr(route, "methods", None) or set()) if m != "HEAD"}


def unruled_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Routes of `app` without a rule (the app refuses to start with any)."""
    return sorted((m, route.path) for route in app.routes for m in _methods(route) if (m, route.path) not in RULES)


def csrf_token(secret: bytes, session: str) -> str:
    return hmac.new(secret, b"csrf\x1f" + session.encode(), hashlib.sha256).hexdigest()


# Declares the bearer token in the OpenAPI schema (the "Authorize" button of /docs); the guard
# below does the checking.
bearer = OAuth2PasswordBearer(tokenUrl="/api/token", auto_error=False)


def current_login(request: Request) -> Login:
    return getattr(request.state, "login", PUBLIC)  # type: ignore[no-any-return]


Caller = Annotated[Login, Depends(current_login)]


def is_page(path: str) -> bool:
    """A path a person reads in a browser (the loket's pages), not the API or its documentation."""
    return not path.startswith(("/api/", "/openapi", "/docs", "/redoc", "/static/"))


def page_refusal(status: int, message: str, after_post: bool = False) -> HTMLResponse:
    """A refusal a person reads: Dutch HTML with the way on (never raw JSON in a browser)."""
    extra = ("<p>Wat u invulde, werd niet bewaard. Met de terugknop van uw browser vindt u het meestal terug; "
             "meld eerst opnieuw aan in een ander tabblad.</p>") if after_post else ""
    body = (f'<!doctype html><html lang="nl-BE"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>Lokaal Loket Kinderopvang</title>'
            f'<link rel="stylesheet" href="/static/loket.css"></head><body><main id="inhoud">'
            f'<h1>{html.escape(message)}</h1>{extra}<p><a href="/aanmelden">Aanmelden</a> · <a href="/">Open vragen</a>'
            f' · <a href="/cijfers">Publieke cijfers</a></p></main></body></html>')
    return HTMLResponse(body, status_code=status)


def _refusal(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"fout": code, "melding": message, "veld": None, "velden": []}, status_code=status,
                        headers=headers)


def store_fault(error: BaseException) -> JSONResponse:
    """503: the store is down, read-only or full; nothing was recorded (the kind of fault is named)."""
    kind = faults.kind(error)
    logger.error("store fault (%s): %s: %.200s", kind, type(error).__name__, error)
    headers = {"Retry-After": "5"} if kind in ("unreachable", "busy") else None
    return _refusal(503, faults.CODES[kind], faults.message(error), headers)


def install(app: FastAPI) -> None:
    """Check every route's rule now, and every call from now on."""
    missing = unruled_routes(app)
    if missing:
        raise RuntimeError("routes zonder toegangsregel: " + ", ".join(f"{m} {p}" for m, p in missing))

    def matched(scope: dict[str, Any]) -> Any:
        for route in app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route
        return None

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            response: Response = _refusal(413, "te_groot", f"De inhoud is groter dan {MAX_BODY_BYTES // 2**20} MB.")
        elif length is None and "transfer-encoding" in request.headers:
            response = _refusal(411, "lengte_ontbreekt", "Geef de lengte van de inhoud op (Content-Length).")
        else:
            try:
                response = await _guarded(request, call_next)
            except Exception as error:  # never a bare 500: a Dutch answer with the security headers, and the trace in the log
                if faults.is_store_fault(error):  # also while checking the login, before any route
                    response = store_fault(error)
                else:
                    logger.exception("unhandled error on %s %s", request.method, request.url.path)
                    response = _refusal(500, "interne_fout", "Er ging iets mis in de dienst; er werd niets half "
                                                             "geregistreerd. Probeer opnieuw of meld het de beheerder.")
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        docs = request.url.path in ("/docs", "/redoc", "/docs/oauth2-redirect")
        response.headers.setdefault("Content-Security-Policy", _CSP_DOCS if docs else _CSP)
        if not request.url.path.startswith(("/api/public/", "/static/")):
            # nothing personal stays in a browser's cache: Back after logging out shows no dossier
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def _guarded(request: Request, call_next: Any) -> Response:
        service = request.app.state.service
        settings = service.settings
        login, from_cookie, stale = PUBLIC, False, False
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            found = service.accounts.login_of(auth[7:].strip())
            if found is not None and found.browser:  # a cookie's token is no API token (it has an idle limit)
                found = None
            login, stale = (found, False) if found is not None else (PUBLIC, True)
        elif COOKIE in request.cookies:
            found = service.accounts.login_of(request.cookies[COOKIE])
            if found is not None and found.browser and time.time() - found.active_at <= settings.idle_minutes * 60:
                login, from_cookie = found, True
        request.state.login = login
        route = matched(request.scope)
        if route is not None:
            method = "GET" if request.method == "HEAD" else request.method
            allowed = RULES.get((method, route.path))
            if allowed is None:  # a route added after start; never reached through install's check
                return _refusal(403, "geen_toegang", "Deze opdracht heeft geen toegangsregel.")
            if login.role not in allowed:
                if login.public and method == "GET" and not request.url.path.startswith(("/api/", "/openapi")):
                    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    target = "/aanmelden" if wanted == "/" else "/aanmelden?" + urlencode({"volgende": wanted})
                    return RedirectResponse(target, status_code=303)  # a page: to the login form, then back
                if login.public and is_page(request.url.path):
                    return page_refusal(401, "Uw sessie is afgelopen (30 minuten niet gebruikt, of afgemeld): "
                                             "meld opnieuw aan.", after_post=True)
                if login.public:
                    message = "Het token is ongeldig of verlopen; meld opnieuw aan." if stale else "Meld eerst aan."
                    return _refusal(401, "niet_aangemeld", message, {"WWW-Authenticate": "Bearer"})
                if is_page(request.url.path):
                    return page_refusal(403, f"Als {ROLE_NL[login.role]} kunt u deze pagina niet gebruiken.")
                return _refusal(403, "geen_toegang", f"Als {ROLE_NL[login.role]} mag u dit niet "
                                                     f"({method} {route.path}).")
            if from_cookie and method not in ("GET", "OPTIONS"):
                expected = csrf_token(service.secrets.session_keys[0], login.session)
                given = request.headers.get(CSRF_HEADER, "")
                if not given and "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
                    given = (parse_qs((await request.body()).decode("utf-8", "replace")).get(CSRF_FIELD) or [""])[0]
                if not hmac.compare_digest(given, expected) and is_page(request.url.path):
                    return page_refusal(403, "Het formulier is verlopen of komt niet van deze site: laad de pagina "
                                             "opnieuw.", after_post=True)
                if not hmac.compare_digest(given, expected):
                    return _refusal(403, "csrf", "Het formulier is verlopen of komt niet van deze site; "
                                                 "laad de pagina opnieuw.")
        response: Response = await call_next(request)
        if from_cookie and COOKIE not in response.headers.get("set-cookie", ""):  # not after a logout
            set_session_cookie(response, service.accounts.token(login, active_at=time.time()), login,
                               settings.cookie_secure)
        return response


def set_session_cookie(response: Response, token: str, login: Login, secure: bool) -> None:
    """The browser's session: HttpOnly, SameSite=Strict, Secure; renewed on every use until the session ends."""
    response.set_cookie(COOKIE, token, httponly=True, secure=secure, samesite="strict",
                        max_age=max(0, int(login.session_end - time.time())), path="/")
