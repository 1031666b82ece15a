"""Requests: register, follow up, read the state and the audit trail."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel

from service import access_log as log
from service import commands as c
from service import faults
from service.accounts import ORGANIZER, Login
from service.aggregates.care_request import STATUS_NL, CareRequest
from service.aggregates.categories import hours_nl, one_month_after
from service.aggregates.errors import Forbidden, UnknownRequest
from service.api.access import Caller
from service.application import LoketService, Outcome
from service.municipalities import is_brussels

logger = logging.getLogger("loket.api")
router = APIRouter(prefix="/api/requests", tags=["opvangvragen"])


def get_service(request: Request) -> LoketService:
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[LoketService, Depends(get_service)]
RequestId = Annotated[str, Path(description="id (UUID) of referentie van het dossier", max_length=64)]


class Created(BaseModel):
    id: str
    reference: str
    event: str
    position: int | None


class Recorded(Created):
    pass


class RegisterBody(c.Register):
    request: c.Reference | None = None


def _run(service: LoketService, caller: Login, type_: str, target: str, payload: c.Strict) -> Outcome:
    """One command by the logged-in person, recorded now; the change goes into the access log."""
    command = c.Command(type=type_, target=target, payload=payload, recorded_at=service.now(), by=caller.name)
    outcome = service.execute(command, stamp=True)
    try:
        service.access_log.record(caller.name, caller.role, log.CHANGE, outcome.reference, f"api:{type_}")
    except faults.STORE_ERRORS as error:
        # The change is recorded (its event names who and when): answering "nothing was recorded"
        # now would invite sending it twice. The missing access-log line is left in the server log.
        logger.error("change at position %s recorded, access log not written (%s)", outcome.position,
                     faults.kind(error))
    return outcome


@router.post("", status_code=201, response_model=Created, summary="Een opvangvraag registreren")
def register(body: RegisterBody, service: Service, caller: Caller) -> Created:
    payload = c.Register.model_validate(body.model_dump(exclude={"request"}, exclude_unset=True))
    outcome = _run(service, caller, "register", body.request or "", payload)
    return Created(id=str(outcome.id), reference=outcome.reference, event=outcome.event, position=outcome.position)


def _follow_up_route(command: str, model: type[c.Strict]) -> None:
    def follow_up(id: RequestId, body: Any, service: Service, caller: Caller) -> Recorded:
        payload = model.model_validate(body.model_dump(exclude_unset=True, by_alias=True))
        if caller.role == ORGANIZER:
            request = check_organizer_may_propose(service, caller, id, payload)
        else:
            request = service.get_request(id)
        outcome = _run(service, caller, command, request.reference, payload)
        return Recorded(id=str(outcome.id), reference=outcome.reference, event=outcome.event, position=outcome.position)

    follow_up.__name__ = command
    follow_up.__annotations__ = {"id": RequestId, "body": Annotated[model, Body()], "service": Service,
                                 "caller": Caller, "return": Recorded}
    router.add_api_route(
        f"/{{id}}/{command}", follow_up, methods=["POST"], response_model=Recorded, status_code=200,
        summary=f"Opvolging: {command}",
    )


def check_organizer_may_propose(service: LoketService, caller: Login, id: str, payload: c.Strict) -> CareRequest:
    """An organizer proposes a place at one of its own locations, for an open request it could answer.

    A dossier it may not answer and one that does not exist get the same refusal, naming what
    was asked: an organizer learns nothing about dossiers outside its reach."""
    location = getattr(payload, "location", None)
    if location not in caller.locations:
        raise Forbidden("Een organisator doet alleen voorstellen voor een eigen opvanglocatie; geef als 'location' "
                        f"de referentie ervan: {', '.join(caller.locations)}.", "location")
    refusal = Forbidden(f"Dossier {id} staat niet open voor uw opvanglocaties.", "id")
    try:
        request = service.get_request(id)
    except UnknownRequest:
        raise refusal from None
    if not request.is_open or request.municipality not in service.reach(caller.locations):
        raise refusal
    return request


for _name in c.FOLLOW_UPS:
    _follow_up_route(_name, c.REQUEST_COMMANDS[_name])


FAMILY_SHORT_NL = {"work_or_training": "werk of opleiding", "single_parent": "alleenstaande ouder",
                   "low_income": "laag inkomen", "foster_family": "pleeggezin", "health_or_care": "gezondheid of zorg",
                   "low_education": "laag opleidingsniveau", "dutch_speaking": "ouder spreekt Nederlands"}


def _which(family: Any, keys: tuple[str, ...]) -> str:
    """Which of these family characteristics hold, named ("geen" when none)."""
    found = [FAMILY_SHORT_NL[k] for k in keys if family.get(k) is True]
    return ", ".join(found) if found else "geen"


def _categories(r: CareRequest) -> dict[str, dict[str, Any]]:
    """The request's derived categories (computed by the domain), each with its reason in Dutch."""
    brussels = is_brussels(r.municipality)
    limit = one_month_after(r.request_date)
    priority = ("work_or_training", "single_parent", "low_income", "foster_family")
    vulnerable = ("work_or_training", "single_parent", "low_income", "health_or_care", "low_education")
    reasons = {
        "priority_group": "minstens twee van werk of opleiding, alleenstaande ouder, laag inkomen, pleeggezin"
                          f"; hier: {_which(r.family, priority)}",
        "vulnerable_family": "minstens twee van werk of opleiding, alleenstaande ouder, laag inkomen, gezondheid of "
                             "zorg, laag opleidingsniveau, waarvan één van laag inkomen, gezondheid of zorg, laag "
                             f"opleidingsniveau; hier: {_which(r.family, vulnerable)}",
        "special_care": "zoals geregistreerd of laatst bijgewerkt",
        "urgent": f"gewenste start {be_date(r.desired_start)} {'ligt' if r.urgent else 'ligt niet'} op of voor "
                  f"{be_date(limit)} (aanvraagdatum + 1 kalendermaand)",
        "extended_hours": "gevraagd: " + (hours_nl(r.hours) if r.hours else "geen ruimere openingsmomenten"),
    }
    if brussels:
        reasons["priority_group"] += "; in Brussel ook een ouder die voldoende Nederlands spreekt"
    return {name: {"value": value, "reden": reasons[name]} for name, value in r.categories(brussels).items()}


def be_date(value: dt.date | None) -> str:
    """A date as Belgians write it: 01/09/2027."""
    return value.strftime("%d/%m/%Y") if value else ""


@router.get("/{id}", summary="De huidige toestand van een opvangvraag")
def state(id: RequestId, service: Service, caller: Caller) -> dict[str, Any]:
    r = service.get_request(id)
    service.access_log.record(caller.name, caller.role, log.READ, r.reference, "api:dossier")
    return {
        "id": str(r.id),
        "reference": r.reference,
        "status": r.status if not (r.status == "open" and r.placement) else "placed",
        "status_nl": "geplaatst" if r.status == "open" and r.placement else STATUS_NL[r.status],
        "open": r.is_open,
        "care_type": r.care_type,
        "original": {"request_date": r.request_date, "desired_start": r.desired_start,
                     "days_per_week": r.days_per_week, "hours": list(r.hours)},
        "wish": {"desired_start": r.wish_start, "days_per_week": r.wish_days, "hours": list(r.wish_hours)},
        "municipality": r.municipality,
        "family": r.family,
        "special_care": r.special_care,
        "consent": r.consent,
        "intake": r.intake,
        "categories": _categories(r),
        "proposals": [vars(p) for p in r.proposals.values()],
        "placement": vars(r.placement) if r.placement else None,
        "solved_in": r.solved_in,
        "personal_data": service.personal_data(r),
        "personal_data_erased": r.erased,
        "origin": r.origin,
        "crisis": ({"location": r.crisis.location, "on": r.crisis.on, "placed_again_on": r.crisis.placed_again_on}
                   if r.crisis else None),
        "version": r.version,
    }


# Technical or pseudonymous fields stay out of the audit trail people read.
_HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic", "personal", "key_id", "source",
           "recorded_at", "by", "reference", "child_indexes"}


@router.get("/{id}/history", summary="Het verloop van een opvangvraag (audit trail)")
def history(id: RequestId, service: Service, caller: Caller) -> list[dict[str, Any]]:
    trail = []
    events = service.history(id)
    service.access_log.record(caller.name, caller.role, log.READ, events[0].reference, "api:verloop")
    for event in events:
        fields = {k: v for k, v in vars(event).items() if k not in _HIDDEN}
        if isinstance(fields.get("changes"), dict):
            fields["changes"] = {k: v for k, v in fields["changes"].items() if k not in _HIDDEN}
        if getattr(event, "personal", None) is not None:
            fields["personal_data_changed"] = True
        trail.append({
            "version": event.originator_version,
            "what": type(event).__name__,
            "recorded_at": event.recorded_at,
            "by": event.by,
            "fields": fields,
        })
    return trail
