"""An upgrade that changes an event class keeps every old photo identical (upcasting).

Simulated here: WishChanged version 2 renames `days_per_week` to `days` and adds a `channel`.
Rows stored by version 1 are upcast when read; the stored photo still verifies, and events
written by version 2 carry their class_version.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from eventsourcing import utils

from service.aggregates.care_request import CareRequest
from service.importer import import_history
from service.photos import PhotoBook

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
TOPIC = "service.aggregates.care_request:CareRequest.WishChanged"


class WishChangedV2(CareRequest.Event):
    class_version = 2
    desired_start: dt.date | None
    days: float | None
    hours: list[str] | None
    channel: str

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        state["days"] = state.pop("days_per_week")
        state["channel"] = "onbekend"

    def apply(self, agg: CareRequest) -> None:
        if self.desired_start is not None:
            agg.wish_start = self.desired_start
        if self.days is not None:
            agg.wish_days = self.days
        if self.hours is not None:
            agg.wish_hours = tuple(self.hours)


@pytest.fixture
def upgraded(monkeypatch):
    """Version 2 of the class answers to the stored topic, as after a deployment."""
    WishChangedV2.__qualname__ = "CareRequest.WishChanged"
    monkeypatch.setattr(CareRequest, "WishChanged", WishChangedV2)
    monkeypatch.setitem(utils._topic_cache, TOPIC, WishChangedV2)
    yield


def test_an_old_photo_rebuilds_identically_after_an_event_class_changed(service, request) -> None:
    assert import_history(service, SNAPSHOTS / "reference-history.jsonl").ok
    assert any(type(e).__name__ == "WishChanged" for _, e in service.recorded_events())
    taken = PhotoBook(service).take(2025, dt.datetime.fromisoformat("2026-02-25T12:00:00+01:00"), "anna")

    request.getfixturevalue("upgraded")
    upcast = [e for _, e in service.recorded_events() if isinstance(e, WishChangedV2)]
    assert upcast and all(e.channel == "onbekend" and hasattr(e, "days") for e in upcast)
    [rebuilt] = PhotoBook(service).verify(2025)
    assert rebuilt.identical and rebuilt.figures_digest == taken["figures_digest"]
