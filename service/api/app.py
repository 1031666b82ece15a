"""The HTTP API. Plain `def` routes: the event store library is synchronous.

Routes parse input, call one service method, and map domain errors to HTTP answers
with Dutch messages that name the field. One service per application, built here.
"""

from __future__ import annotations

import email.message
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import faults
from service.accounts import AccountError
from service.aggregates.errors import (
    DomainError,
    DuplicateChild,
    Forbidden,
    InvalidValue,
    RecordedInFuture,
    RecordedTooEarly,
    ReferenceTaken,
    UnknownRequest,
)
from service.api import access, auth, locations, organizer, pages, photos, requests
from service.bootstrap import build
from service.commands import ShapeError, no_duplicate_keys, problems_of
from service.settings import Settings

logger = logging.getLogger("loket.api")

STATUS = {
    DuplicateChild: 409,
    ReferenceTaken: 409,
    RecordedTooEarly: 409,
    RecordedInFuture: 422,
    UnknownRequest: 404,
    Forbidden: 403,
    InvalidValue: 422,
}


def _status(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 409


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.service.close()

    app = FastAPI(
        title="Lokaal Loket Kinderopvang",
        description="Opvangvragen registreren en opvolgen, en de jaarlijkse foto voor Opgroeien.",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(access.bearer)],
    )
    app.state.service = build(settings)
    app.router.redirect_slashes = False  # no redirect built from the Host header; /api/me/ is simply unknown

    @app.middleware("http")
    async def refuse_duplicate_keys(request: Request, call_next: Any) -> Any:
        if request.method in ("POST", "PUT", "PATCH") and _parsed_as_json(request.headers.get("content-type")):
            body = await request.body()
            try:
                json.loads(body or b"{}", object_pairs_hook=no_duplicate_keys)
            except RecursionError:
                return _invalid([("(inhoud)", "de JSON is te diep genest")])
            except ValueError as error:
                if not isinstance(error, json.JSONDecodeError):  # bad JSON is answered by the route itself
                    return _invalid([("(inhoud)", str(error))])
        return await call_next(request)

    app.include_router(auth.router)
    app.include_router(requests.router)
    app.include_router(organizer.router)
    app.include_router(locations.router)
    app.include_router(photos.router)
    app.include_router(photos.public)
    app.include_router(pages.router)
    access.install(app)  # after every route: refuses to start when one has no access rule

    @app.exception_handler(auth.BadLogin)
    def bad_login(_: Request, error: auth.BadLogin) -> JSONResponse:
        return JSONResponse({"fout": "aanmelden_mislukt", "melding": "Onbekende gebruikersnaam of verkeerd wachtwoord.",
                             "veld": "password", "velden": []}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(auth.TooManyAttempts)
    def too_many(_: Request, error: auth.TooManyAttempts) -> JSONResponse:
        minutes = max(1, round(error.seconds / 60))
        return JSONResponse({"fout": "te_veel_pogingen", "melding": "Te veel mislukte aanmeldpogingen; probeer "
                             f"opnieuw over {minutes} minuten.", "veld": None, "velden": []},
                            status_code=429, headers={"Retry-After": str(error.seconds)})

    @app.exception_handler(AccountError)
    def account_error(_: Request, error: AccountError) -> JSONResponse:
        return _invalid([(error.field, error.message)])

    @app.exception_handler(DomainError)
    def domain_error(_: Request, error: DomainError) -> JSONResponse:
        body: dict[str, Any] = {"fout": error.code, "melding": error.message, "veld": error.field,
                                "velden": [{"veld": error.field, "melding": error.message}] if error.field else []}
        if isinstance(error, DuplicateChild):
            body["bestaand_dossier"] = error.existing_reference
        return JSONResponse(body, status_code=_status(error))

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> Response:
        messages = {404: "Deze pagina of opdracht bestaat niet.", 405: "Deze methode is hier niet toegelaten."}
        if access.is_page(request.url.path) and error.status_code in messages:
            return access.page_refusal(error.status_code, messages[error.status_code])
        return JSONResponse({"fout": "http", "melding": messages.get(error.status_code, str(error.detail))},
                            status_code=error.status_code, headers=getattr(error, "headers", None))

    def store_error(_: Request, error: Exception) -> JSONResponse:
        return access.store_fault(error)

    for error_class in faults.STORE_ERRORS:  # the event store's errors, and the side tables' own
        app.add_exception_handler(error_class, store_error)

    @app.exception_handler(ShapeError)
    def shape_error(_: Request, error: ShapeError) -> JSONResponse:
        return _invalid(error.problems)

    @app.exception_handler(RequestValidationError)
    def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        return _invalid(problems_of(error.errors(), skip=("body", "query", "path"), root="(inhoud)"))

    return app


def _parsed_as_json(content_type: str | None) -> bool:
    """Whether FastAPI reads this body as JSON: no content type, or application/json or …+json, in any case."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _invalid(problems: list[tuple[str, str]]) -> JSONResponse:
    return JSONResponse(
        {
            "fout": "ongeldige_invoer",
            "melding": "; ".join(f"{f}: {m}" for f, m in problems),
            "veld": problems[0][0] if problems else None,
            "velden": [{"veld": f, "melding": m} for f, m in problems],
        },
        status_code=422,
    )

