"""The requests and locations as known now, kept in memory and brought up to date from the store.

Matching, the crisis list and the open-request lists ask "what is open now?" many times; the
view reads only the events recorded since it last looked (also those other processes saved),
and folds them with the aggregates' own handlers, like the photo does. It holds no plaintext
personal data: only the sealed ciphertext the events carry.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from service.aggregates.care_request import CareRequest
from service.aggregates.location import Location


class CurrentView:
    def __init__(self, read: Callable[[int], Iterator[tuple[int, Any]]]) -> None:
        """`read(start)` yields (position, event) of requests and locations from `start` on."""
        self._read = read
        self._lock = threading.RLock()
        self.position = 0
        self.requests: dict[uuid.UUID, CareRequest] = {}
        self.locations: dict[str, Location] = {}
        self._locations_by_id: dict[uuid.UUID, Location] = {}

    def refresh(self) -> CurrentView:
        with self._lock:
            for position, event in self._read(self.position + 1):
                if isinstance(event, Location.Event):
                    after = event.mutate(self._locations_by_id.get(event.originator_id))
                    self._locations_by_id[after.id] = self.locations[after.reference] = after
                else:
                    self.requests[event.originator_id] = event.mutate(self.requests.get(event.originator_id))
                self.position = position
        return self

    def lock(self) -> threading.RLock:
        return self._lock

    @staticmethod
    def places_left(location: Location) -> int:
        return location.places_left

    def open_requests(self, every_care_type: bool = False) -> list[CareRequest]:
        return [r for r in self.requests.values() if r.is_open and (every_care_type or r.care_type == "baby_toddler")]

    def placed_at(self, location: str) -> list[uuid.UUID]:
        """Requests whose placement in force is at this registered location."""
        return [r.id for r in self.requests.values() if r.placement_location() == location]

    def affected_by(self, location: str) -> list[CareRequest]:
        """Requests whose placement ended when this location closed (its crisis list)."""
        return [r for r in self.requests.values() if r.crisis_at(location) is not None]
