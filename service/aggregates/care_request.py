"""The care request (opvangvraag): one family's request for childcare for one child.

Every method checks its rules first (small `check_*` helpers raising specific errors),
then triggers exactly one event. Events carry the date the fact happened in the world
(`on`, where it has one) and when and by whom the loket recorded it (`recorded_at`, `by`).
Personal data reaches this module only as an encrypted token (`personal`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

from service.aggregates.categories import derived_categories, is_urgent, wants_extended_hours
from service.aggregates.errors import InvalidValue, RuleViolation
from service.aggregates.recorded import RecordedEvent

NAMESPACE = uuid.UUID("6f1c3f0e-3c1b-4c55-9d7e-6b7a4f1d2e10")

OPEN, WITHDRAWN, SOLVED_ELSEWHERE, VOIDED = "open", "withdrawn", "solved_elsewhere", "voided"
PENDING, REFUSED, TAKEN_BACK, ACCEPTED, ENDED = "pending", "refused", "withdrawn", "accepted", "ended"
BABY_TODDLER, OUT_OF_SCHOOL = "baby_toddler", "out_of_school"

STATUS_NL = {
    OPEN: "open",
    WITHDRAWN: "ingetrokken",
    SOLVED_ELSEWHERE: "opgelost in een andere gemeente",
    VOIDED: "geschrapt (foutieve registratie)",
}


def request_id(reference: str) -> uuid.UUID:
    """The aggregate id of a request, derived from the loket's reference (unique in the loket)."""
    return uuid.uuid5(NAMESPACE, f"request:{reference}")


@dataclass(frozen=True)
class Proposal:
    reference: str
    location: str
    start: dt.date
    days_per_week: float
    hours: tuple[str, ...]
    on: dt.date
    state: str = PENDING
    location_ref: str | None = None  # a registered location's reference, when it names one


@dataclass(frozen=True)
class Placement:
    proposal: str
    start: dt.date
    days_per_week: float
    on: dt.date


@dataclass
class Crisis:
    """A placement ended because its location closed: the request needs urgent follow-up."""

    location: str
    on: dt.date
    had: Placement
    placed_again_on: dt.date | None = None

    @property
    def open(self) -> bool:
        return self.placed_again_on is None


class CareRequest(Aggregate):
    """Fields of the original request are corrected, never overwritten by a changed wish."""

    class Event(RecordedEvent):
        pass

    class Registered(Aggregate.Created, Event):
        reference: str
        care_type: str
        request_date: dt.date
        desired_start: dt.date
        days_per_week: float
        hours: list[str]
        municipality: str
        child_kind: str  # "born" or "unborn"
        family: dict[str, bool | None]
        special_care: bool
        consent: bool
        intake: str | None
        key_id: str
        personal: str
        child_indexes: list[str] | None = None  # ids of the child's uniqueness indexes (pseudonymous)

        def apply(self, agg: CareRequest) -> None:
            agg._init_from_registered(self)

    @classmethod
    def register(
        cls,
        *,
        reference: str,
        care_type: str,
        request_date: dt.date,
        desired_start: dt.date,
        days_per_week: float,
        hours: list[str],
        municipality: str,
        child_kind: str,
        family: dict[str, bool | None],
        special_care: bool,
        consent: bool,
        intake: str | None,
        key_id: str,
        personal: str,
        child_indexes: list[str],
        recorded_at: str,
        by: str,
        source: str | None = None,
    ) -> CareRequest:
        check_not_after_recording("request_date", request_date, recorded_at)
        return cls._create(
            cls.Registered,
            id=request_id(reference),
            reference=reference,
            care_type=care_type,
            request_date=request_date,
            desired_start=desired_start,
            days_per_week=days_per_week,
            hours=sorted(set(hours)),
            municipality=municipality,
            child_kind=child_kind,
            family=dict(family),
            special_care=special_care,
            consent=consent,
            intake=intake,
            key_id=key_id,
            personal=personal,
            child_indexes=list(child_indexes),
            recorded_at=recorded_at,
            by=by,
            source=source,
        )

    # ------------------------------------------------------------------ state

    def _init_from_registered(self, e: Registered) -> None:
        self.reference = e.reference
        self.care_type = e.care_type
        self.request_date = e.request_date
        self.desired_start = e.desired_start  # original, as corrected
        self.days_per_week = e.days_per_week
        self.hours = tuple(e.hours)
        self.wish_start, self.wish_days, self.wish_hours = e.desired_start, e.days_per_week, tuple(e.hours)
        self.municipality = e.municipality
        self.child_kind = e.child_kind
        self.family = dict(e.family)
        self.special_care = e.special_care
        self.consent = e.consent
        self.intake = e.intake
        self.key_id = e.key_id
        self.personal: str | None = e.personal
        self.child_indexes: list[str] = list(e.child_indexes or [])
        self.status = OPEN
        self.proposals: dict[str, Proposal] = {}
        self.placement: Placement | None = None
        self.solved_in: str | None = None
        self.erased = False
        self.closed_on: dt.date | None = None  # when it stopped being open (for the retention rule)
        self.crises: list[Crisis] = []  # placements ended by a closure, and their follow-up
        self.origin: dict[str, str] | None = None  # the loket and request it was handed over from

    # ---------------------------------------------------------- derived views

    @property
    def is_open(self) -> bool:
        return self.status == OPEN and self.placement is None

    @property
    def original_year(self) -> int:
        return self.desired_start.year

    @property
    def urgent(self) -> bool:
        return is_urgent(self.request_date, self.desired_start)

    @property
    def extended_hours(self) -> bool:
        return wants_extended_hours(self.hours)

    def categories(self, in_brussels: bool) -> dict[str, bool]:
        """The derived categories: urgent and extended hours on the original request, the family as last recorded."""
        return derived_categories(self.request_date, self.desired_start, self.hours, self.family, self.special_care,
                                  in_brussels)

    @property
    def counts_in_figures(self) -> bool:
        return self.status != VOIDED and self.care_type == BABY_TODDLER

    # ------------------------------------------------------------------ rules

    def check_not_voided(self) -> None:
        if self.status == VOIDED:
            raise RuleViolation(
                f"Dossier {self.reference} is geschrapt (foutieve registratie) en aanvaardt geen opdrachten meer."
            )

    def check_open(self, action: str) -> None:
        self.check_not_voided()
        if self.status != OPEN:
            raise RuleViolation(
                f"{action} kan niet: dossier {self.reference} is {STATUS_NL[self.status]}; heropen het eerst."
            )

    def check_no_placement(self, action: str) -> None:
        if self.placement is not None:
            raise RuleViolation(
                f"{action} kan niet: dossier {self.reference} heeft een aanvaarde plaatsing "
                f"(voorstel {self.placement.proposal}); annuleer die eerst."
            )

    def check_answer_date(self, found: Proposal, on: dt.date, done: str) -> Proposal:
        """A proposal is answered on or after the day it was made."""
        if on < found.on:
            raise RuleViolation(
                f"Voorstel '{found.reference}' kan niet {done} zijn op {on.strftime('%d/%m/%Y')}: het werd pas gedaan "
                f"op {found.on.strftime('%d/%m/%Y')}.", field="on",
            )
        return found

    def check_pending_proposal(self, proposal: str, action: str) -> Proposal:
        found = self.proposals.get(proposal)
        if found is None:
            raise RuleViolation(
                f"{action} kan niet: dossier {self.reference} heeft geen voorstel '{proposal}'.",
                field="proposal",
            )
        if found.state != PENDING:
            raise RuleViolation(
                f"{action} kan niet: voorstel '{proposal}' van dossier {self.reference} is al "
                f"{PROPOSAL_STATE_NL[found.state]}.",
                field="proposal",
            )
        return found

    # --------------------------------------------------------------- commands

    class RegistrationCorrected(Event):
        changes: dict[str, Any]
        personal: str | None
        reason: str

        def apply(self, agg: CareRequest) -> None:
            for name, value in self.changes.items():
                if name == "hours":
                    value = tuple(value)
                if name == "family":
                    agg.family.update(value)
                    continue
                setattr(agg, name, value)
            # A correction fixes the original request; the wish follows it where it was not changed.
            for orig, wish in (("desired_start", "wish_start"), ("days_per_week", "wish_days"), ("hours", "wish_hours")):
                if orig in self.changes:
                    setattr(agg, wish, getattr(agg, orig))
            if "child_kind" in self.changes:
                agg.child_kind = self.changes["child_kind"]
            if self.personal is not None:
                agg.personal = self.personal

    def correct_registration(
        self, *, changes: dict[str, Any], personal: str | None, reason: str, recorded_at: str, by: str, source: str | None = None
    ) -> None:
        self.check_not_voided()
        if not reason.strip():
            raise InvalidValue("Een correctie vraagt een reden.", field="reason")
        if "request_date" in changes:
            check_not_after_recording("request_date", changes["request_date"], recorded_at)
        if not changes and personal is None:
            raise InvalidValue("Een correctie moet minstens één veld verbeteren.", field="changes")
        self.trigger_event(
            self.RegistrationCorrected, changes=changes, personal=personal, reason=reason,
            recorded_at=recorded_at, by=by, source=source,
        )

    class WishChanged(Event):
        desired_start: dt.date | None
        days_per_week: float | None
        hours: list[str] | None

        def apply(self, agg: CareRequest) -> None:
            if self.desired_start is not None:
                agg.wish_start = self.desired_start
            if self.days_per_week is not None:
                agg.wish_days = self.days_per_week
            if self.hours is not None:
                agg.wish_hours = tuple(self.hours)

    def change_wish(
        self, *, desired_start: dt.date | None, days_per_week: float | None, hours: list[str] | None,
        recorded_at: str, by: str, source: str | None = None,
    ) -> None:
        self.check_not_voided()
        if desired_start is None and days_per_week is None and hours is None:
            raise InvalidValue("Een gewijzigde wens vraagt een nieuwe startdatum, dagen of uren.", field="desired_start")
        self.trigger_event(
            self.WishChanged, desired_start=desired_start, days_per_week=days_per_week,
            hours=sorted(set(hours)) if hours is not None else None, recorded_at=recorded_at, by=by, source=source,
        )

    class FamilyUpdated(Event):
        family: dict[str, bool | None]
        special_care: bool | None

        def apply(self, agg: CareRequest) -> None:
            agg.family.update(self.family)
            if self.special_care is not None:
                agg.special_care = self.special_care

    def update_family(
        self, *, family: dict[str, bool | None], special_care: bool | None, recorded_at: str, by: str, source: str | None = None
    ) -> None:
        self.check_not_voided()
        self.trigger_event(
            self.FamilyUpdated, family=dict(family), special_care=special_care, recorded_at=recorded_at, by=by, source=source
        )

    class Moved(Event):
        municipality: str
        on: dt.date

        def apply(self, agg: CareRequest) -> None:
            agg.municipality = self.municipality

    def move(self, *, municipality: str, on: dt.date, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_not_voided()
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(self.Moved, municipality=municipality, on=on, recorded_at=recorded_at, by=by, source=source)

    class ConsentChanged(Event):
        consent: bool
        on: dt.date

        def apply(self, agg: CareRequest) -> None:
            agg.consent = self.consent

    def change_consent(self, *, consent: bool, on: dt.date, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_not_voided()
        if on != _recorded_date(recorded_at):
            raise InvalidValue(
                f"Toestemming wordt nooit met terugwerkende kracht gewijzigd: 'on' ({on.isoformat()}) "
                f"moet de dag van registratie zijn ({_recorded_date(recorded_at).isoformat()}).",
                field="on",
            )
        self.trigger_event(self.ConsentChanged, consent=consent, on=on, recorded_at=recorded_at, by=by, source=source)

    class ChildBorn(Event):
        on: dt.date
        personal: str
        child_indexes: list[str] | None = None

        def apply(self, agg: CareRequest) -> None:
            agg.child_kind = "born"
            agg.personal = self.personal
            agg.child_indexes = [*agg.child_indexes, *(self.child_indexes or [])]

    def record_birth(
        self, *, on: dt.date, personal: str, child_indexes: list[str], recorded_at: str, by: str,
        source: str | None = None,
    ) -> None:
        self.check_not_voided()
        check_not_after_recording("on", on, recorded_at)
        if self.child_kind != "unborn":
            raise RuleViolation(
                f"Dossier {self.reference} is geregistreerd voor een geboren kind; gebruik een correctie.",
                field="national_number",
            )
        self.trigger_event(
            self.ChildBorn, on=on, personal=personal, child_indexes=list(child_indexes),
            recorded_at=recorded_at, by=by, source=source,
        )

    class ProposalMade(Event):
        proposal: str
        location: str
        location_ref: str | None
        start: dt.date
        days_per_week: float
        hours: list[str]
        on: dt.date

        def apply(self, agg: CareRequest) -> None:
            agg.proposals[self.proposal] = Proposal(
                self.proposal, self.location, self.start, self.days_per_week, tuple(self.hours), self.on,
                location_ref=self.location_ref,
            )

    def propose(
        self, *, proposal: str, location: str, location_ref: str | None, start: dt.date, days_per_week: float,
        hours: list[str], on: dt.date, recorded_at: str, by: str, source: str | None = None,
    ) -> None:
        self.check_open("Een voorstel doen")
        check_not_after_recording("on", on, recorded_at)
        if proposal in self.proposals:
            raise RuleViolation(
                f"Dossier {self.reference} heeft al een voorstel '{proposal}'; kies een nieuwe referentie.",
                field="proposal",
            )
        self.trigger_event(
            self.ProposalMade, proposal=proposal, location=location, location_ref=location_ref, start=start,
            days_per_week=days_per_week, hours=sorted(set(hours)), on=on, recorded_at=recorded_at, by=by, source=source,
        )

    class ProposalRefused(Event):
        proposal: str
        on: dt.date
        reason: str | None

        def apply(self, agg: CareRequest) -> None:
            agg._set_proposal_state(self.proposal, REFUSED)

    def refuse(self, *, proposal: str, on: dt.date, reason: str | None, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_not_voided()
        self.check_answer_date(self.check_pending_proposal(proposal, "Een voorstel weigeren"), on, "geweigerd")
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(self.ProposalRefused, proposal=proposal, on=on, reason=reason, recorded_at=recorded_at, by=by, source=source)

    class ProposalWithdrawn(Event):
        proposal: str
        on: dt.date
        reason: str | None

        def apply(self, agg: CareRequest) -> None:
            agg._set_proposal_state(self.proposal, TAKEN_BACK)

    def withdraw_proposal(
        self, *, proposal: str, on: dt.date, reason: str | None, recorded_at: str, by: str, source: str | None = None
    ) -> None:
        self.check_not_voided()
        self.check_answer_date(self.check_pending_proposal(proposal, "Een voorstel intrekken"), on, "ingetrokken")
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(self.ProposalWithdrawn, proposal=proposal, on=on, reason=reason, recorded_at=recorded_at, by=by, source=source)

    class PlacementAccepted(Event):
        proposal: str
        on: dt.date
        start: dt.date
        days_per_week: float

        def apply(self, agg: CareRequest) -> None:
            agg._set_proposal_state(self.proposal, ACCEPTED)
            agg.placement = Placement(self.proposal, self.start, self.days_per_week, self.on)
            agg.closed_on = self.on
            for crisis in agg.crises:
                if crisis.open:
                    crisis.placed_again_on = self.on

    def accept(
        self, *, proposal: str, on: dt.date, start: dt.date | None, days_per_week: float | None,
        recorded_at: str, by: str, source: str | None = None,
    ) -> None:
        self.check_open("Een voorstel aanvaarden")
        self.check_no_placement("Een voorstel aanvaarden")
        offered = self.check_answer_date(self.check_pending_proposal(proposal, "Een voorstel aanvaarden"), on,
                                         "aanvaard")
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(
            self.PlacementAccepted, proposal=proposal, on=on,
            start=start if start is not None else offered.start,
            days_per_week=days_per_week if days_per_week is not None else offered.days_per_week,
            recorded_at=recorded_at, by=by, source=source,
        )

    class PlacementCancelled(Event):
        on: dt.date
        reason: str

        def apply(self, agg: CareRequest) -> None:
            if agg.placement is not None:
                agg._set_proposal_state(agg.placement.proposal, ENDED)
            agg.placement = None
            agg.closed_on = None if agg.status == OPEN else agg.closed_on

    def cancel_placement(self, *, on: dt.date, reason: str, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_not_voided()
        if self.placement is None:
            if self.crisis is not None and self.crisis.open:
                raise RuleViolation(  # the last closure ended it
                    f"De plaatsing van dossier {self.reference} werd al geannuleerd door de sluiting van locatie "
                    f"{self.crisis.location} op {self.crisis.on.isoformat()}.")
            raise RuleViolation(f"Dossier {self.reference} heeft geen aanvaarde plaatsing om te annuleren.")
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(self.PlacementCancelled, on=on, reason=reason, recorded_at=recorded_at, by=by, source=source)

    class ReceivedFrom(Event):
        """Registered here for a family another loket handed over (with the family's consent)."""

        loket: str
        request: str

        def apply(self, agg: CareRequest) -> None:
            agg.origin = {"loket": self.loket, "request": self.request}

    def received_from(self, *, loket: str, request: str, recorded_at: str, by: str, source: str | None = None) -> None:
        self.trigger_event(self.ReceivedFrom, loket=loket, request=request, recorded_at=recorded_at, by=by,
                           source=source)

    @property
    def crisis(self) -> Crisis | None:
        """The last placement ended by a closure, if any."""
        return self.crises[-1] if self.crises else None

    def crisis_at(self, location: str) -> Crisis | None:
        """The crisis of this request at one location (the last, if it was hit there twice)."""
        found = [c for c in self.crises if c.location == location]
        return found[-1] if found else None

    def placement_location(self) -> str | None:
        """The registered location of the placement in force, if it names one."""
        if self.placement is None:
            return None
        return self.proposals[self.placement.proposal].location_ref

    class ClosureCrisisFlagged(Event):
        """The placement's location closed: cancelled (an event before this one), urgent follow-up now."""

        location: str
        on: dt.date
        proposal: str
        start: dt.date
        days_per_week: float

        def apply(self, agg: CareRequest) -> None:
            agg.crises.append(Crisis(self.location, self.on, Placement(self.proposal, self.start, self.days_per_week,
                                                                       self.on)))

    def end_placement_by_closure(
        self, *, location: str, on: dt.date, reason: str, recorded_at: str, by: str, source: str | None = None,
    ) -> None:
        """A closure cancels the placement as an explicit cancellation would, then flags the request."""
        had = self.placement
        assert had is not None
        self.trigger_event(self.PlacementCancelled, on=on, reason=reason, recorded_at=recorded_at, by=by, source=source)
        self.trigger_event(self.ClosureCrisisFlagged, location=location, on=on, proposal=had.proposal, start=had.start,
                           days_per_week=had.days_per_week, recorded_at=recorded_at, by=by, source=source)

    class SolvedElsewhere(Event):
        municipality: str
        on: dt.date

        def apply(self, agg: CareRequest) -> None:
            agg.status = SOLVED_ELSEWHERE
            agg.solved_in = self.municipality
            agg.closed_on = self.on

    def solve_elsewhere(self, *, municipality: str, on: dt.date, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_open("Opgelost in een andere gemeente registreren")
        self.check_no_placement("Opgelost in een andere gemeente registreren")
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(self.SolvedElsewhere, municipality=municipality, on=on, recorded_at=recorded_at, by=by, source=source)

    class Withdrawn(Event):
        on: dt.date
        reason: str

        def apply(self, agg: CareRequest) -> None:
            agg.status = WITHDRAWN
            agg.closed_on = self.on

    def withdraw(self, *, on: dt.date, reason: str, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_open("De vraag intrekken")
        self.check_no_placement("De vraag intrekken")
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(self.Withdrawn, on=on, reason=reason, recorded_at=recorded_at, by=by, source=source)

    class Reopened(Event):
        on: dt.date
        reason: str

        def apply(self, agg: CareRequest) -> None:
            agg.status = OPEN
            agg.solved_in = None
            agg.closed_on = None

    def reopen(self, *, on: dt.date, reason: str, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_not_voided()
        if self.status not in (WITHDRAWN, SOLVED_ELSEWHERE):
            raise RuleViolation(
                f"Heropenen kan niet: dossier {self.reference} is {STATUS_NL[self.status]}; "
                "alleen een ingetrokken of elders opgeloste vraag kan heropend worden."
            )
        check_not_after_recording("on", on, recorded_at)
        self.trigger_event(self.Reopened, on=on, reason=reason, recorded_at=recorded_at, by=by, source=source)

    class Voided(Event):
        reason: str

        def apply(self, agg: CareRequest) -> None:
            agg.status = VOIDED
            agg.closed_on = agg.closed_on or _recorded_date(self.recorded_at)

    def void(self, *, reason: str, recorded_at: str, by: str, source: str | None = None) -> None:
        self.check_not_voided()
        self.trigger_event(self.Voided, reason=reason, recorded_at=recorded_at, by=by, source=source)

    class PersonalDataErased(Event):
        on: dt.date
        ground: str

        def apply(self, agg: CareRequest) -> None:
            agg.personal = None
            agg.erased = True

    def erase_personal_data(
        self, *, on: dt.date, ground: str, destroy_key: Callable[[], None], recorded_at: str, by: str,
        source: str | None = None,
    ) -> None:
        """The key goes first: an erasure is never recorded while the data can still be read."""
        if self.erased:
            raise RuleViolation(f"De persoonsgegevens van dossier {self.reference} zijn al gewist.")
        check_not_after_recording("on", on, recorded_at)
        destroy_key()
        self.trigger_event(self.PersonalDataErased, on=on, ground=ground, recorded_at=recorded_at, by=by, source=source)

    def _set_proposal_state(self, proposal: str, state: str) -> None:
        self.proposals[proposal] = dataclasses.replace(self.proposals[proposal], state=state)


PROPOSAL_STATE_NL = {
    REFUSED: "geweigerd",
    TAKEN_BACK: "ingetrokken door de organisator",
    ACCEPTED: "aanvaard",
    ENDED: "aanvaard en daarna geannuleerd",
    PENDING: "wacht op antwoord",
}


def _recorded_date(recorded_at: str) -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromisoformat(recorded_at).astimezone(ZoneInfo("Europe/Brussels")).date()


def check_not_after_recording(field: str, day: dt.date, recorded_at: str) -> None:
    """Facts are recorded on or after the day they happened, never before."""
    recorded_on = _recorded_date(recorded_at)
    if day > recorded_on:
        raise InvalidValue(
            f"'{field}' ({day.isoformat()}) ligt na de dag van registratie ({recorded_on.isoformat()}); "
            "een feit wordt pas geregistreerd op of na de dag dat het gebeurde.",
            field=field,
        )
