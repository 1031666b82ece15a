"""Photos: the yearly figures as JSON, as the regulator's workbook, as CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from service.aggregates.errors import InvalidValue
from service.api.access import Caller
from service.api.requests import Service
from service.photos import PhotoBook
from service.reports import CSV_MEDIA_TYPE, photo_csv_bytes, photo_workbook
from service.reports.read_xlsx import WorkbookRefused

router = APIRouter(prefix="/api/photos", tags=["foto"])

Year = Annotated[int, Path(ge=2000, le=2100, description="rapporteringsjaar")]
AsOf = Annotated[str | None, Query(description="tijdstip ISO 8601 met tijdzone; standaard 1 maart 00:00 van het jaar erna")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _moment(as_of: str | None) -> dt.datetime | None:
    if as_of is None:
        return None
    text = as_of.strip().replace(" ", "+")  # a '+' in a query string arrives as a space
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"'as_of' '{as_of}' is geen ISO 8601-tijdstip (bv. 2026-02-25T12:00:00+01:00).", "as_of") from None
    if moment.tzinfo is None:
        raise InvalidValue("'as_of' mist een tijdzone (bv. +01:00).", "as_of")
    if not 2000 <= moment.year <= 2100:
        raise InvalidValue("'as_of' ligt niet tussen 2000 en 2100.", "as_of")
    return moment


def _download(data: bytes, media_type: str, name: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{year}.xlsx", summary="De foto als werkboek voor Opgroeien", response_class=Response)
def photo_xlsx(year: Year, service: Service, as_of: AsOf = None) -> Response:
    return _download(photo_workbook(service.photo(year, _moment(as_of))), XLSX, f"foto-{year}.xlsx")


@router.get("/{year}.csv", summary="De foto als CSV (puntkomma, UTF-8)", response_class=Response)
def photo_csv(year: Year, service: Service, as_of: AsOf = None) -> Response:
    return _download(photo_csv_bytes(service.photo(year, _moment(as_of))), CSV_MEDIA_TYPE, f"foto-{year}.csv")


@router.get("", summary="De genomen foto's")
def stored_photos(service: Service) -> list[dict[str, Any]]:
    return PhotoBook(service).listing()


@router.post("/verify-workbook", summary="Een ingediend werkboek (.xlsx als body) vergelijken met de herbouwde foto")
async def verify_workbook(request: Request) -> JSONResponse:
    from service.reports.read_xlsx import MAX_FILE_BYTES

    data = await request.body()
    if len(data) > MAX_FILE_BYTES:
        raise InvalidValue(f"Het werkboek is groter dan {MAX_FILE_BYTES // (1024 * 1024)} MB.", "body")
    service = request.app.state.service
    log = await run_in_threadpool(service.ledger.verify)
    if not log.ok:
        return JSONResponse({"equal": False, "log_intact": False, "differences": [
            f"Logboek NIET intact: eerste fout op positie {log.first_bad_position}. {log.reason}"]})
    book = PhotoBook(service)
    try:
        result = await run_in_threadpool(book.verify_workbook, data)
    except WorkbookRefused as error:
        raise InvalidValue(f"Werkboek geweigerd: {error.message}", "body") from None
    return JSONResponse(result)


@router.get("/stored/{photo_id}.xlsx", summary="Het werkboek van een genomen foto (met id en ketenkop)",
            response_class=Response)
def stored_workbook(photo_id: Annotated[str, Path(max_length=64)], service: Service) -> Response:
    return _download(PhotoBook(service).workbook(photo_id), XLSX, f"foto-{photo_id}.xlsx")


@router.post("/{year}", status_code=201, summary="De foto nemen en bewaren (met digests)")
def take(year: Year, service: Service, caller: Caller, as_of: AsOf = None) -> dict[str, Any]:
    return PhotoBook(service).take(year, _moment(as_of), caller.name)


@router.get("/{year}/verify", summary="Elke genomen foto van het jaar herbouwen en vergelijken")
def verify(year: Year, service: Service) -> dict[str, Any]:
    log = service.ledger.verify()
    if not log.ok:
        return {"year": year, "identical": False, "log_intact": False,
                "melding": f"Logboek NIET intact: eerste fout op positie {log.first_bad_position}. {log.reason}",
                "photos": []}
    rebuilds = PhotoBook(service).verify(year)
    if not rebuilds:
        raise InvalidValue(f"Er is geen genomen foto van {year} om te controleren.", "year")
    return {
        "year": year,
        "log_intact": True,
        "identical": all(r.identical for r in rebuilds),
        "photos": [
            {"as_of": r.stored["as_of"], "position": r.stored["position"], "rules": r.stored["rules"],
             "identical": r.identical, "stored_figures_digest": r.stored["figures_digest"],
             "rebuilt_figures_digest": r.figures_digest, "stored_workbook_digest": r.stored["workbook_digest"],
             "rebuilt_workbook_digest": r.workbook_digest, "differing_figures": r.differing_figures,
             "differing_requests": r.differing_requests}
            for r in rebuilds
        ],
    }


@router.get("/{year}/restatement", summary="Een genomen foto naast de cijfers zoals nu gekend")
def restatement(year: Year, service: Service, as_of: AsOf = None) -> dict[str, Any]:
    return PhotoBook(service).restatement(year, _moment(as_of))


@router.get("/{year}/drill", summary="De dossiers achter een cijfer (zonder persoonsgegevens)")
def drill(
    year: Year, service: Service,
    category: Annotated[str, Query(max_length=40)] = "all",
    bucket: Annotated[str, Query(max_length=40)] = "requests",
    municipality: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    return PhotoBook(service).drill(year, municipality, category, bucket, _moment(as_of))


@router.get("/{year}", summary="De foto van een rapporteringsjaar (JSON)")
def photo(year: Year, service: Service, as_of: AsOf = None) -> dict[str, Any]:
    return service.photo(year, _moment(as_of))


public = APIRouter(prefix="/api/public", tags=["publieke cijfers"])


@public.get("/photos", summary="De gepubliceerde cijfers: per jaar de bewaarde foto van het laatste moment, 1 tot 4 als '<5'")
def published(service: Service) -> list[dict[str, Any]]:
    return PhotoBook(service).published()
