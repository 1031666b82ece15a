"""Stored event names and fields are a contract: an event stored by version 0.1 still reads the same."""

from __future__ import annotations

import uuid

from eventsourcing.persistence import StoredEvent

from service.application import LoketService
from service.settings import Settings

# A Registered event exactly as the first release stored it (the personal data is sealed
# under a key that no longer exists, as after an erasure).
TOPIC = "service.aggregates.care_request:CareRequest.Registered"
STATE = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-03T13:32:32.919088+00:00"},'
    b'"originator_topic":"service.aggregates.care_request:CareRequest","recorded_at":"2025-01-06T09:07:00+01:00",'
    b'"by":"anna","source":"48a81a5502fea805b67c73a8febc751f","reference":"A1","care_type":"baby_toddler",'
    b'"request_date":{"_type_":"date_iso","_data_":"2025-01-06"},"desired_start":{"_type_":"date_iso","_data_":"2025-09-01"},'
    b'"days_per_week":4.0,"hours":[],"municipality":"24062","child_kind":"born","family":{},"special_care":false,'
    b'"consent":true,"intake":null,"key_id":"1ff6d468a7bc4cf39e3cbfaaba93a666","personal":"NVLwP9wa"}'
)


def test_a_registered_event_of_the_first_release_still_builds_the_same_request(tmp_path) -> None:
    service = LoketService(Settings(store=f"sqlite:///{tmp_path}/s.sqlite"))
    try:
        stored = StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic=TOPIC, state=STATE)
        event = service.events.mapper.to_domain_event(stored)
        request = event.mutate(None)
        assert (request.reference, request.original_year, request.days_per_week) == ("A1", 2025, 4.0)
        assert request.is_open and not request.urgent and request.counts_in_figures
        assert service.personal_data(request) is None  # its key is not in this vault
    finally:
        service.close()
