"""The index that keeps one child to one open request, and one request per year.

Its id is derived from a keyed hash of the child's identity, never the identity itself:
two registrations of the same child load (or create) the same index and append to it in
the same save as the new request, so when they race, the store refuses the second.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from eventsourcing.domain import Aggregate

from service.aggregates.care_request import CareRequest
from service.aggregates.errors import DuplicateChild

NAMESPACE = uuid.UUID("0a3c5a0e-9c57-4bb8-8a6c-2f4e8b7d9c21")
UNBORN_WINDOW_DAYS = 60


def child_index_id(child_key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"child:{child_key}")


@dataclass(frozen=True)
class Link:
    request_id: uuid.UUID
    expected_birth: dt.date | None


class ChildIndex(Aggregate):
    class Created(Aggregate.Created):
        pass

    class Linked(Aggregate.Event):
        request_id: uuid.UUID
        expected_birth: dt.date | None

        def apply(self, agg: ChildIndex) -> None:
            agg.links.append(Link(self.request_id, self.expected_birth))

    class Unlinked(Aggregate.Event):
        request_id: uuid.UUID

        def apply(self, agg: ChildIndex) -> None:
            agg.links = [link for link in agg.links if link.request_id != self.request_id]

    def __init__(self) -> None:
        self.links: list[Link] = []

    @classmethod
    def open(cls, child_key: str) -> ChildIndex:
        return cls._create(cls.Created, id=child_index_id(child_key))

    def candidates(self, expected_birth: dt.date | None) -> list[uuid.UUID]:
        """Requests that may be the same child (for an unborn child: within 60 days)."""
        if expected_birth is None:
            return [link.request_id for link in self.links]
        return [
            link.request_id
            for link in self.links
            if link.expected_birth is None
            or abs((link.expected_birth - expected_birth).days) <= UNBORN_WINDOW_DAYS
        ]

    def link(self, request_id: uuid.UUID, expected_birth: dt.date | None) -> None:
        self.trigger_event(self.Linked, request_id=request_id, expected_birth=expected_birth)

    def unlink(self, request_id: uuid.UUID) -> None:
        if any(link.request_id == request_id for link in self.links):
            self.trigger_event(self.Unlinked, request_id=request_id)


def check_unique(existing: Iterable[CareRequest], original_year: int, exclude: uuid.UUID | None = None) -> None:
    """A child may have one open request, and one whose original desired start is in a year."""
    for other in existing:
        if other.id == exclude or other.status == "voided":
            continue
        if other.is_open:
            raise DuplicateChild(
                f"Dit kind heeft al een open opvangvraag: dossier {other.reference}. "
                "Wijzig of heropen dat dossier in plaats van een nieuw te registreren.",
                other.reference,
            )
        if other.original_year == original_year:
            raise DuplicateChild(
                f"Dit kind heeft al een opvangvraag met gewenste start in {original_year}: "
                f"dossier {other.reference}. Wijzig of heropen dat dossier.",
                other.reference,
            )


def check_same_year(others: Iterable[CareRequest], year: int, exclude: uuid.UUID) -> None:
    """A corrected desired start may not give the child a second request in that year."""
    for other in others:
        if other.id != exclude and other.status != "voided" and other.original_year == year:
            raise DuplicateChild(
                f"Dit kind heeft al een opvangvraag met gewenste start in {year}: dossier {other.reference}. "
                "Corrigeer of schrap eerst dat dossier.",
                other.reference,
            )
