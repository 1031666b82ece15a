"""Hands out the loket's dossier numbers of a year (2025-00001, ...), one at a time.

Two registrations that race for the same number both append to this counter; the store
refuses the second, which then takes the next number.
"""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate

NAMESPACE = uuid.UUID("9d5e2b71-4a0c-4f1e-8e43-5c6b7a8d9e02")


def counter_id(year: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"references:{year}")


class ReferenceCounter(Aggregate):
    class Created(Aggregate.Created):
        year: int

    class Issued(Aggregate.Event):
        number: int

        def apply(self, agg: ReferenceCounter) -> None:
            agg.last = self.number

    def __init__(self, year: int) -> None:
        self.year = year
        self.last = 0

    @classmethod
    def start(cls, year: int) -> ReferenceCounter:
        return cls._create(cls.Created, id=counter_id(year), year=year)

    def issue(self) -> str:
        self.trigger_event(self.Issued, number=self.last + 1)
        return f"{self.year}-{self.last:05d}"
