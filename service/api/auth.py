"""Logging in (token for the API, cookie for the browser), accounts, and the access log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from pydantic import BaseModel, Field

from service import access_log as log
from service.accounts import (
    ROLE_NL,
    Account,
    AccountError,
    Login,
    LoginThrottle,
    generated_password,
)
from service.api.access import COOKIE, Caller, csrf_token, set_session_cookie
from service.api.requests import Service
from service.reports import CSV_MEDIA_TYPE

router = APIRouter(prefix="/api", tags=["aanmelden en beheer"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


def _throttle(request: Request) -> LoginThrottle:
    app = request.app
    if not hasattr(app.state, "throttle"):
        settings = app.state.service.settings
        app.state.throttle = LoginThrottle(settings.login_attempts, settings.login_window_minutes * 60)
    return app.state.throttle  # type: ignore[no-any-return]


class TooManyAttempts(Exception):
    def __init__(self, seconds: int) -> None:
        self.seconds = seconds


class BadLogin(Exception):
    pass


def _login(request: Request, service: Any, username: str, password: str, browser: bool) -> tuple[str, Login]:
    throttle = _throttle(request)
    keys = (f"naam:{username.lower()}", f"adres:{request.client.host if request.client else '?'}")
    wait = throttle.wait_seconds(*keys)
    if wait:
        raise TooManyAttempts(wait)
    account = service.accounts.authenticate(username, password)
    if account is None:
        throttle.failed(*keys)
        raise BadLogin()
    throttle.succeeded(keys[0])
    token, login = service.accounts.issue(account, service.settings.session_hours, browser=browser)
    service.access_log.record(login.name, login.role, log.LOGIN, None, "browser" if browser else "api:token")
    return token, login


@router.post("/token", response_model=Token, summary="Aanmelden voor de API (OAuth2, wachtwoord)")
def token(request: Request, service: Service, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=1024)],
          grant_type: Annotated[str | None, Form(pattern="^password$")] = None) -> Token:
    issued, _ = _login(request, service, username, password, browser=False)
    return Token(access_token=issued, expires_in=int(service.settings.session_hours * 3600))


@router.post("/login", summary="Aanmelden in de browser (sessiecookie)")
def login(request: Request, response: Response, service: Service,
          username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=1024)]) -> dict[str, Any]:
    issued, who = _login(request, service, username, password, browser=True)
    set_session_cookie(response, issued, who, service.settings.cookie_secure)
    return {**_me(who), "csrf_token": csrf_token(service.secrets.session_keys[0], who.session)}


@router.post("/logout", summary="Afmelden: elke sessie en elk token van dit account vervalt")
def logout(response: Response, caller: Caller, service: Service) -> dict[str, str]:
    service.accounts.end_sessions(caller.name)
    response.delete_cookie(COOKIE, path="/")
    return {"melding": "Afgemeld."}


def _me(login: Login) -> dict[str, Any]:
    return {"user": login.name, "role": login.role, "role_nl": ROLE_NL[login.role], "locations": list(login.locations)}


@router.get("/me", summary="Wie ben ik (naam, rol, eigen locaties)")
def me(caller: Caller, service: Service) -> dict[str, Any]:
    extra = {"csrf_token": csrf_token(service.secrets.session_keys[0], caller.session)} if caller.browser else {}
    return {**_me(caller), **extra}


# ------------------------------------------------------------------- accounts

class NewUser(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(max_length=64)
    role: str = Field(max_length=20)
    locations: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=100)
    password: str | None = Field(default=None, max_length=1024, description="leeg: een gegenereerd wachtwoord")


class NewPassword(BaseModel):
    model_config = {"extra": "forbid"}
    password: str | None = Field(default=None, max_length=1024, description="leeg: een gegenereerd wachtwoord")


class NewRole(BaseModel):
    model_config = {"extra": "forbid"}
    role: str = Field(max_length=20)
    locations: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=100)


def _account(a: Account) -> dict[str, Any]:
    return {"name": a.name, "role": a.role, "role_nl": ROLE_NL[a.role], "locations": list(a.locations),
            "active": a.active, "created_at": a.created_at}


def _administered(service: Any, caller: Login, name: str, what: str) -> None:
    service.access_log.record(caller.name, caller.role, log.ADMINISTER, None, f"account {name}: {what}")


@router.get("/users", summary="De accounts (beheerder)")
def users(service: Service) -> list[dict[str, Any]]:
    return [_account(a) for a in service.accounts.all()]


@router.post("/users", status_code=201, summary="Een account aanmaken (beheerder)")
def add_user(body: NewUser, caller: Caller, service: Service) -> dict[str, Any]:
    password = body.password or generated_password()
    service.check_locations(body.locations)
    account = service.accounts.add(body.name, body.role, password, tuple(body.locations))
    _administered(service, caller, body.name, f"aangemaakt als {body.role}")
    return {**_account(account), **({"password": password} if body.password is None else {})}


@router.post("/users/{name}/password", summary="Een nieuw wachtwoord (beheerder); open sessies vervallen")
def set_password(name: str, body: NewPassword, caller: Caller, service: Service) -> dict[str, Any]:
    password = body.password or generated_password()
    account = service.accounts.set_password(name, password)
    _administered(service, caller, name, "nieuw wachtwoord")
    return {**_account(account), **({"password": password} if body.password is None else {})}


@router.post("/users/{name}/disable", summary="Een account uitschakelen (beheerder)")
def disable(name: str, caller: Caller, service: Service) -> dict[str, Any]:
    if name == caller.name:
        raise AccountError("u kunt uw eigen account niet uitschakelen", "name")
    account = service.accounts.set_active(name, False)
    _administered(service, caller, name, "uitgeschakeld")
    return _account(account)


@router.post("/users/{name}/enable", summary="Een account weer inschakelen (beheerder)")
def enable(name: str, caller: Caller, service: Service) -> dict[str, Any]:
    account = service.accounts.set_active(name, True)
    _administered(service, caller, name, "ingeschakeld")
    return _account(account)


@router.post("/users/{name}/role", summary="De rol (en eigen locaties) van een account wijzigen (beheerder)")
def set_role(name: str, body: NewRole, caller: Caller, service: Service) -> dict[str, Any]:
    if name == caller.name:
        raise AccountError("u kunt uw eigen rol niet wijzigen", "name")
    service.check_locations(body.locations)
    account = service.accounts.set_role(name, body.role, tuple(body.locations))
    _administered(service, caller, name, f"rol {body.role}")
    return _account(account)


# ----------------------------------------------------------------- access log

Filter = Annotated[str | None, Query(max_length=64)]


@router.get("/access-log", summary="Het toegangslogboek: wie las of wijzigde welk dossier (beheerder)")
def access_log(service: Service, caller: Caller, request: Filter = None, user: Filter = None,
               limit: Annotated[int, Query(ge=1, le=100000)] = 1000) -> list[dict[str, Any]]:
    entries = service.access_log.entries(request=request, user=user, limit=limit)
    service.access_log.record(caller.name, caller.role, log.EXPORT, request, "api:access-log")
    return log.as_dicts(entries)


@router.get("/access-log.csv", summary="Het toegangslogboek als CSV voor de DPO (beheerder)", response_class=Response)
def access_log_csv(service: Service, caller: Caller, request: Filter = None, user: Filter = None) -> Response:
    entries = service.access_log.entries(request=request, user=user)
    service.access_log.record(caller.name, caller.role, log.EXPORT, None, "toegangslogboek als CSV")
    return Response(log.as_csv(entries), media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": 'attachment; filename="toegangslogboek.csv"'})
