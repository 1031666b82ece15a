"""A history line the import refused, remembered so that importing the file again refuses it again.

Without it a refused line would be judged anew against a later state and could be applied
on a second import; a corrected line has another digest and is judged as a new line.
"""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate

NAMESPACE = uuid.UUID("5c7d1e2f-8a9b-4c3d-9e0f-1a2b3c4d5e6f")


class RefusedLine(Aggregate):
    class Refused(Aggregate.Created):
        source: str
        code: str
        reason: str

    def __init__(self, source: str, code: str, reason: str) -> None:
        self.source, self.code, self.reason = source, code, reason

    @classmethod
    def record(cls, source: str, code: str, reason: str) -> RefusedLine:
        return cls._create(cls.Refused, id=uuid.uuid5(NAMESPACE, source), source=source, code=code, reason=reason)
