"""A childcare location (opvanglocatie), as far as proposals and free places need it."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

from service.aggregates.care_request import check_not_after_recording
from service.aggregates.categories import hours_nl
from service.aggregates.errors import InvalidValue, RuleViolation
from service.aggregates.recorded import RecordedEvent

NAMESPACE = uuid.UUID("3b0f8e4c-57a2-4d59-a5b1-1c9d2e7f6a30")


def location_id(reference: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"location:{reference}")


@dataclass(frozen=True)
class FreePlaces:
    from_date: dt.date
    places: int
    days_per_week: float
    hours: tuple[str, ...] = ()  # the extended hours these places offer


class Location(Aggregate):
    class Event(RecordedEvent):
        pass

    class Registered(Aggregate.Created, Event):
        reference: str
        name: str
        organizer: str
        municipality: str
        capacity: int
        hours: list[str]

        def apply(self, agg: Location) -> None:
            agg.reference, agg.name, agg.organizer = self.reference, self.name, self.organizer
            agg.municipality, agg.capacity, agg.hours = self.municipality, self.capacity, tuple(self.hours)
            agg.free_places: list[FreePlaces] = []
            agg.closed_on: dt.date | None = None
            agg.placed: dict[str, dt.date] = {}  # request id -> start of each placement in force here
            agg.taken_since_report: set[str] = set()

    @classmethod
    def register(
        cls, *, reference: str, name: str, organizer: str, municipality: str, capacity: int,
        hours: list[str], recorded_at: str, by: str, source: str | None = None,
    ) -> Location:
        return cls._create(
            cls.Registered, id=location_id(reference), reference=reference, name=name, organizer=organizer,
            municipality=municipality, capacity=capacity, hours=sorted(set(hours)),
            recorded_at=recorded_at, by=by, source=source,
        )

    class FreePlacesReported(Event):
        from_date: dt.date
        places: int
        days_per_week: float
        hours: list[str] | None = None  # not given: the location's own hours (rows before it existed too)

        def apply(self, agg: Location) -> None:
            hours = agg.hours if self.hours is None else tuple(self.hours)
            agg.free_places.append(FreePlaces(self.from_date, self.places, self.days_per_week, hours))
            agg.taken_since_report = set()  # a report says what is free now

    def report_free_places(
        self, *, from_date: dt.date, places: int, days_per_week: float, hours: list[str] | None = None,
        recorded_at: str, by: str, source: str | None = None,
    ) -> None:
        self.check_not_closed()
        if places > self.capacity:
            raise RuleViolation(f"Locatie {self.reference} heeft maar {self.capacity} plaatsen in totaal.", field="places")
        if hours is not None and not set(hours) <= set(self.hours):
            missing = ", ".join(sorted(set(hours) - set(self.hours)))
            raise RuleViolation(f"Locatie {self.reference} is niet open op deze momenten: {hours_nl(missing.split(', '))}.",
                                field="hours")
        self.trigger_event(
            self.FreePlacesReported, from_date=from_date, places=places, days_per_week=days_per_week,
            hours=sorted(set(hours)) if hours is not None else None, recorded_at=recorded_at, by=by, source=source,
        )

    @property
    def offer(self) -> FreePlaces | None:
        """The free places as last reported (a report replaces the one before it), at the hours the
        location still offers."""
        if not self.free_places:
            return None
        last = self.free_places[-1]
        return FreePlaces(last.from_date, last.places, last.days_per_week, tuple(h for h in last.hours if h in self.hours))

    @property
    def places_left(self) -> int:
        """The last report's free places, less the placements accepted here since (a placement
        cancelled again gives its place back)."""
        offer = self.offer
        if offer is None or self.closed_on is not None:
            return 0
        return max(0, offer.places - len(self.taken_since_report))

    class PlaceTaken(Event):
        """A proposal here was accepted: a placement in force (written with the acceptance, so a
        closure and an acceptance at the same time conflict instead of missing each other)."""

        request: str
        start: dt.date

        def apply(self, agg: Location) -> None:
            agg.placed[self.request] = self.start
            agg.taken_since_report.add(self.request)

    def take_place(self, *, request: str, start: dt.date, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_not_closed()
        self.trigger_event(self.PlaceTaken, request=request, start=start, recorded_at=recorded_at, by=by, source=source)

    class PlaceFreed(Event):
        request: str

        def apply(self, agg: Location) -> None:
            agg.placed.pop(self.request, None)
            agg.taken_since_report.discard(self.request)

    def free_place(self, *, request: str, recorded_at: str, by: str, source: str | None = None) -> None:
        if request in self.placed:
            self.trigger_event(self.PlaceFreed, request=request, recorded_at=recorded_at, by=by, source=source)

    class DetailsChanged(Event):
        changes: dict[str, Any]
        reason: str

        def apply(self, agg: Location) -> None:
            for name, value in self.changes.items():
                setattr(agg, name, tuple(value) if name == "hours" else value)

    def change_details(self, *, changes: dict[str, Any], reason: str, recorded_at: str, by: str,
                       source: str | None = None) -> None:
        if not changes:
            raise RuleViolation("Geef minstens één gegeven om te wijzigen.", field="changes")
        self.trigger_event(self.DetailsChanged, changes=changes, reason=reason, recorded_at=recorded_at, by=by,
                           source=source)

    class Reopened(Event):
        on: dt.date
        reason: str

        def apply(self, agg: Location) -> None:
            agg.closed_on = None

    def reopen(self, *, on: dt.date, reason: str, recorded_at: str, by: str, source: str | None = None) -> None:
        if self.closed_on is None:
            raise RuleViolation(f"Locatie {self.reference} is niet gesloten.", field="location")
        if on < self.closed_on:
            raise InvalidValue(f"'on' ({on.isoformat()}) ligt voor de sluiting op {self.closed_on.isoformat()}.",
                               field="on")
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(self.Reopened, on=on, reason=reason, recorded_at=recorded_at, by=by, source=source)

    class Closed(Event):
        on: dt.date
        reason: str

        def apply(self, agg: Location) -> None:
            agg.closed_on = self.on

    def close(self, *, on: dt.date, reason: str, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_not_closed()
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(self.Closed, on=on, reason=reason, recorded_at=recorded_at, by=by, source=source)

    def check_not_closed(self) -> None:
        if self.closed_on is not None:
            raise RuleViolation(f"Locatie {self.reference} is gesloten sinds {self.closed_on.isoformat()}.",
                                field="location")
