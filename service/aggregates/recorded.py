"""What every recorded fact carries besides its own fields: when and by whom the loket recorded it."""

from __future__ import annotations

from eventsourcing.domain import Aggregate


class RecordedEvent(Aggregate.Event):
    recorded_at: str  # ISO 8601 with offset: the history line's `at`, or the server's clock
    by: str
    source: str | None  # digest of the history line it came from, to recognise a second import
