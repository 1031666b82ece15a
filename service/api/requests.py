"""Requests: register, follow up, read the state and the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, create_model

from service import commands as c
from service.aggregates.care_request import STATUS_NL, CareRequest
from service.aggregates.categories import one_month_after
from service.application import LoketService
from service.municipalities import is_brussels

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
    by: c.Text = "loket"


def _command(service: LoketService, type_: str, target: str, payload: c.Strict, by: str) -> c.Command:
    return c.Command(type=type_, target=target, payload=payload, recorded_at=service.now(), by=by)


@router.post("", status_code=201, response_model=Created, summary="Een opvangvraag registreren")
def register(body: RegisterBody, service: Service) -> Created:
    payload = c.Register.model_validate(body.model_dump(exclude={"request", "by"}, exclude_unset=True))
    outcome = service.execute(_command(service, "register", body.request or "", payload, body.by), stamp=True)
    return Created(id=str(outcome.id), reference=outcome.reference, event=outcome.event, position=outcome.position)


def _follow_up_route(command: str, model: type[c.Strict]) -> None:
    body_model = create_model(f"{model.__name__}Body", __base__=model, by=(c.Text, "loket"))

    def follow_up(id: RequestId, body: Any, service: Service) -> Recorded:
        payload = model.model_validate(body.model_dump(exclude={"by"}, exclude_unset=True, by_alias=True))
        request = service.get_request(id)
        outcome = service.execute(_command(service, command, request.reference, payload, body.by), stamp=True)
        return Recorded(id=str(outcome.id), reference=outcome.reference, event=outcome.event, position=outcome.position)

    follow_up.__name__ = command
    follow_up.__annotations__ = {"id": RequestId, "body": Annotated[body_model, Body()], "service": Service,
                                 "return": Recorded}
    router.add_api_route(
        f"/{{id}}/{command}", follow_up, methods=["POST"], response_model=Recorded, status_code=200,
        summary=f"Opvolging: {command}",
    )


for _name in c.FOLLOW_UPS:
    _follow_up_route(_name, c.REQUEST_COMMANDS[_name])


_REASONS = {
    "priority_group": "minstens twee van kenmerken 1-4 (werk/opleiding, alleenstaand, laag inkomen, pleeggezin)",
    "vulnerable_family": "minstens twee van 1, 2, 3, 5, 6, waarvan één van laag inkomen, gezondheid, laag opleidingsniveau",
    "special_care": "zoals geregistreerd of laatst bijgewerkt",
}


def _categories(r: CareRequest) -> dict[str, dict[str, Any]]:
    """The request's derived categories (computed by the domain), each with its reason in Dutch."""
    brussels = is_brussels(r.municipality)
    limit = one_month_after(r.request_date)
    reasons = {
        **_REASONS,
        "urgent": f"gewenste start {r.desired_start.isoformat()} {'ligt' if r.urgent else 'ligt niet'} op of voor "
                  f"{limit.isoformat()} (aanvraagdatum + 1 kalendermaand)",
        "extended_hours": "gevraagd: " + (", ".join(r.hours) or "geen ruimere openingsmomenten"),
    }
    if brussels:
        reasons["priority_group"] += "; in Brussel ook een ouder die voldoende Nederlands spreekt"
    return {name: {"value": value, "reden": reasons[name]} for name, value in r.categories(brussels).items()}


@router.get("/{id}", summary="De huidige toestand van een opvangvraag")
def state(id: RequestId, service: Service) -> dict[str, Any]:
    r = service.get_request(id)
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
        "version": r.version,
    }


# Technical or pseudonymous fields stay out of the audit trail people read.
_HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic", "personal", "key_id", "source",
           "recorded_at", "by", "reference", "child_indexes"}


@router.get("/{id}/history", summary="Het verloop van een opvangvraag (audit trail)")
def history(id: RequestId, service: Service) -> list[dict[str, Any]]:
    trail = []
    for event in service.history(id):
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
