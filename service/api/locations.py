"""Locations, their free places, matching both ways, and the crisis list of a closed location."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response

from service import access_log as log
from service import commands as c
from service.accounts import ORGANIZER, Login
from service.aggregates.errors import Forbidden, UnknownRequest
from service.api.access import Caller
from service.api.requests import Created, RequestId, Service, _run
from service.crisis import crisis_csv, crisis_list, crisis_xlsx
from service.matching import for_location, for_request, location_json

router = APIRouter(tags=["opvanglocaties en crisis"])

LocationRef = Annotated[str, Path(description="referentie van de opvanglocatie", max_length=64)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RegisterLocationBody(c.RegisterLocation):
    location: c.Reference


def _location(service: Any, ref: str) -> Any:
    with service.current.lock():
        loc = service.current.refresh().locations.get(ref)
    if loc is None:
        raise UnknownRequest(f"Locatie '{ref}' bestaat niet bij dit loket.", field="location")
    return loc


def _own(caller: Login, ref: str) -> None:
    if caller.role == ORGANIZER and ref not in caller.locations:
        raise Forbidden(f"Locatie {ref} is geen eigen opvanglocatie.", "location")


@router.get("/api/locations", summary="De opvanglocaties met hun vrije plaatsen")
def locations(service: Service) -> list[dict[str, Any]]:
    with service.current.lock():
        found = service.current.refresh().locations.values()
        return [location_json(loc, service.current.places_left(loc)) for loc in sorted(found, key=lambda loc: loc.reference)]


@router.post("/api/locations", status_code=201, response_model=Created, summary="Een opvanglocatie registreren")
def register_location(body: RegisterLocationBody, service: Service, caller: Caller) -> Created:
    payload = c.RegisterLocation.model_validate(body.model_dump(exclude={"location"}))
    outcome = _run(service, caller, "register_location", body.location, payload)
    return Created(id=str(outcome.id), reference=outcome.reference, event=outcome.event, position=outcome.position)


@router.get("/api/locations/{ref}", summary="Eén opvanglocatie")
def location(ref: LocationRef, service: Service) -> dict[str, Any]:
    loc = _location(service, ref)
    return location_json(loc, service.current.places_left(loc))


def _location_route(command: str, model: type[c.Strict]) -> None:
    def change(ref: LocationRef, body: Any, service: Service, caller: Caller) -> Created:
        _own(caller, ref)
        _location(service, ref)
        payload = model.model_validate(body.model_dump(exclude_unset=True, by_alias=True))
        outcome = _run(service, caller, command, ref, payload)
        return Created(id=str(outcome.id), reference=outcome.reference, event=outcome.event, position=outcome.position)

    change.__name__ = command
    change.__annotations__ = {"ref": LocationRef, "body": Annotated[model, Body()], "service": Service,
                              "caller": Caller, "return": Created}
    router.add_api_route(f"/api/locations/{{ref}}/{command}", change, methods=["POST"], response_model=Created,
                         summary=f"Opvanglocatie: {command}")


for _name in ("report_free_places", "change_location", "close_location", "reopen_location"):
    _location_route(_name, c.LOCATION_COMMANDS[_name])


@router.get("/api/locations/{ref}/matches", summary="De open vragen die de vrije plaatsen kunnen beantwoorden")
def requests_for_location(ref: LocationRef, service: Service, caller: Caller) -> dict[str, Any]:
    _own(caller, ref)
    with service.current.lock():
        loc = _location(service, ref)
        return for_location(service.current, loc, loket=caller.role != ORGANIZER, today=service.now().date())


@router.get("/api/requests/{id}/matches", summary="De vrije plaatsen voor een open vraag, best passend eerst")
def places_for_request(id: RequestId, service: Service, caller: Caller) -> dict[str, Any]:
    request = service.get_request(id)
    with service.current.lock():
        return for_request(service.current.refresh(), request, service.now().date())


def _crisis(service: Any, caller: Login, ref: str, purpose: str) -> dict[str, Any]:
    crisis = crisis_list(service, ref, contact=True)
    service.access_log.record_many(caller.name, caller.role, log.READ, [a["request"] for a in crisis["affected"]],
                                   purpose)
    return crisis


@router.get("/api/locations/{ref}/crisis.csv", summary="De crisislijst om te bellen (CSV)", response_class=Response)
def crisis_as_csv(ref: LocationRef, service: Service, caller: Caller) -> Response:
    data = crisis_csv(_crisis(service, caller, ref, "api:crisislijst (csv)"))
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="crisis-{ref}.csv"'})


@router.get("/api/locations/{ref}/crisis.xlsx", summary="De crisislijst om te bellen (werkboek)", response_class=Response)
def crisis_as_xlsx(ref: LocationRef, service: Service, caller: Caller) -> Response:
    data = crisis_xlsx(_crisis(service, caller, ref, "api:crisislijst (xlsx)"))
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="crisis-{ref}.xlsx"'})


@router.get("/api/locations/{ref}/crisis", summary="De crisislijst van een gesloten locatie, met de voortgang")
def crisis(ref: LocationRef, service: Service, caller: Caller) -> dict[str, Any]:
    return _crisis(service, caller, ref, "api:crisislijst")
