"""A photo that was taken: what it counted, as of when, up to which position, by which rules.

It keeps the figures and each counted request's classification (references only, no
personal data), so a later rebuild can be compared figure by figure and request by request.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate


class StoredPhoto(Aggregate):
    class Taken(Aggregate.Created):
        year: int
        as_of: str
        position: int
        rules: str
        taken_by: str
        taken_at: str
        figures: dict[str, Any]
        figures_digest: str
        workbook_digest: str
        classifications: list[str]  # "reference<TAB>NIS<TAB>outcome<TAB>category,category"
        chain_position: int | None
        chain_head: str | None

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)

    @classmethod
    def take(cls, photo_id: uuid.UUID, **fields: Any) -> StoredPhoto:
        return cls._create(cls.Taken, id=photo_id, **fields)
