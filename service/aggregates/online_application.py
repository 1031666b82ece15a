"""A parent's online request: waiting for a loket worker to check it.

It is not a care request: it counts nowhere until a worker confirms it, which registers the
request (and only then is a duplicate child caught). The family's answers, personal data
included, are sealed with a key of their own, which is destroyed when the application is
confirmed (the request then holds its own copy, sealed under its own key) or rejected.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate

from service.aggregates.errors import RuleViolation
from service.aggregates.recorded import RecordedEvent

PENDING, CONFIRMED, REJECTED = "te_controleren", "bevestigd", "afgewezen"


class OnlineApplication(Aggregate):
    class Event(RecordedEvent):
        pass

    class Submitted(Aggregate.Created, Event):
        key_id: str
        sealed: str  # the whole form, sealed: nothing of it is readable in the event log

        def apply(self, agg: OnlineApplication) -> None:
            agg.key_id, agg.sealed = self.key_id, self.sealed
            agg.state, agg.reference, agg.submitted_at = PENDING, None, self.recorded_at

    @classmethod
    def submit(cls, *, key_id: str, sealed: str, recorded_at: str, by: str) -> OnlineApplication:
        return cls._create(cls.Submitted, id=uuid.uuid4(), key_id=key_id, sealed=sealed, recorded_at=recorded_at, by=by,
                           source=None)

    class Confirmed(Event):
        reference: str

        def apply(self, agg: OnlineApplication) -> None:
            agg.state, agg.reference, agg.sealed = CONFIRMED, self.reference, None

    class Rejected(Event):
        reason: str

        def apply(self, agg: OnlineApplication) -> None:
            agg.state, agg.sealed = REJECTED, None

    def check_pending(self) -> None:
        if self.state != PENDING:
            raise RuleViolation(f"Deze online aanvraag is al {self.state.replace('_', ' ')}.")

    def confirm(self, *, reference: str, **meta: Any) -> None:
        """Registered as `reference`; the service destroys the application's key once this is saved."""
        self.check_pending()
        self.trigger_event(self.Confirmed, reference=reference, source=None, **meta)

    def reject(self, *, reason: str, destroy_key: Any, **meta: Any) -> None:
        self.check_pending()
        destroy_key()
        self.trigger_event(self.Rejected, reason=reason, source=None, **meta)
