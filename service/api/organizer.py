"""Open requests, for the loket and for organizers.

An organizer sees the open requests in the municipalities of its own (open) locations: the
reference and what the family needs; how to reach the family only where it consented to
share that with organizers, at the moment of asking. Never a national number. Each request
whose contact details an organizer received is written in the access log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service import access_log as log
from service.accounts import ORGANIZER
from service.api.access import Caller
from service.api.requests import Service
from service.matching import request_needs as needs

router = APIRouter(prefix="/api", tags=["opvangvragen"])

SHARED_WITH_ORGANIZERS = ("name", "phone", "email", "address")


@router.get("/open-requests", summary="Open opvangvragen (voor een organisator: die van zijn gemeenten)")
def open_requests(service: Service, caller: Caller) -> list[dict[str, Any]]:
    found = service.open_requests()
    if caller.role != ORGANIZER:
        return [{**needs(r), "urgent": r.urgent, "consent": r.consent} for r in found]
    reach = service.reach(caller.locations)
    out, shared = [], []
    for r in found:
        if r.municipality not in reach:
            continue
        item = needs(r)
        personal = service.personal_data(r) if r.consent else None
        if personal is not None:
            contact = personal.get("contact") or {}
            item["contact"] = {k: contact[k] for k in SHARED_WITH_ORGANIZERS if contact.get(k)}
            shared.append(r.reference)
        out.append(item)
    service.access_log.record_many(caller.name, caller.role, log.READ, shared, "api:open-requests (contact)")
    return out
