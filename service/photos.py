"""Stored photos and the proof of every number: take, list, verify, restate, drill down.

A taken photo is stored as an event with its figures, digests, the classification of every
request it counted and the chain head at its position. Verifying rebuilds it from the event
log up to that position with its own rule set and compares digests; a restatement puts the
figures as known now beside it; a drill-down lists the requests behind any figure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.utils import get_topic

from service import municipalities
from service.aggregates.errors import InvalidValue
from service.aggregates.stored_photo import StoredPhoto
from service.application import LoketService
from service.projections.photo import COUNTS, classified, default_moment, photo_from_states
from service.projections.rules import rules_by_name, rules_for
from service.reports import canonical_json, photo_workbook

BRUSSELS = ZoneInfo("Europe/Brussels")
TAKEN_TOPIC = get_topic(StoredPhoto.Taken)
BUCKETS = COUNTS  # requests, unanswered, no_proposal, not_accepted, deviating


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def figures_of(photo: dict[str, Any]) -> dict[str, Any]:
    return {"total": photo["total"], "municipalities": photo["municipalities"]}


def _line(reference: str, nis: str, cats: list[str], outcome: str) -> str:
    return f"{reference}\t{nis}\t{outcome}\t{','.join(cats)}"


def _classification_lines(states: dict[UUID, Any], year: int, rules_name: str) -> list[str]:
    rules = rules_by_name(rules_name)
    return sorted(_line(request.reference, nis, cats, outcome)
                  for request, nis, cats, outcome in classified(states, year, rules))


@dataclass
class Rebuild:
    stored: dict[str, Any]
    photo: dict[str, Any]
    figures_digest: str
    workbook_digest: str
    differing_figures: list[str] = field(default_factory=list)
    differing_requests: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return (self.figures_digest == self.stored["figures_digest"]
                and self.workbook_digest == self.stored["workbook_digest"])


class PhotoBook:
    """The photos of one loket's store."""

    def __init__(self, service: LoketService, chain_head: Callable[[], tuple[int, str]] | None = None) -> None:
        self.service = service
        self.chain_head = chain_head or service.ledger.extend

    # ----------------------------------------------------------------- take

    def take(self, year: int, as_of: dt.datetime | None, by: str) -> dict[str, Any]:
        moment = as_of or default_moment(year)
        now = dt.datetime.now(BRUSSELS)
        if moment > now:
            raise InvalidValue(
                f"Een foto kan pas genomen worden als het moment voorbij is: {moment.isoformat()} ligt in de "
                "toekomst; bekijk de cijfers zoals nu gekend zonder de foto te bewaren.",
                field="as_of",
            )
        if moment < dt.datetime(year + 1, 1, 1, tzinfo=BRUSSELS):
            raise InvalidValue(
                f"Een foto van {year} toont de toestand na het einde van dat jaar: het moment "
                f"{moment.isoformat()} ligt voor 1 januari {year + 1}.",
                field="as_of",
            )
        rules = rules_for(year)
        chained, _ = self.service.ledger.head()
        if chained < (self.service.events.recorder.max_notification_id() or 0):
            raise InvalidValue(
                "Het logboek heeft gebeurtenissen die (nog) niet geketend zijn; controleer het eerst met "
                "loket verify-log. Een foto wordt alleen op een sluitend logboek genomen.",
                field="year",
            )
        photo, source = self.service.photo_with_source(year, moment, rules=rules)
        if source == "view":  # the same position: the rows valid there are never rewritten
            lines = sorted(_line(*c) for c in self.service.figures.classified(year, photo["position"], rules))
        else:
            states, _ = self.service.request_states(moment, upto=photo["position"])
            lines = _classification_lines(states, year, rules.name)
        position = photo["position"]
        chain_position, chain_head = self.chain_head() if self.chain_head else (None, None)
        photo_id = uuid.uuid4()
        proof = {"photo_id": photo_id, "chain_position": chain_position, "chain_head": chain_head}
        stored = StoredPhoto.take(
            photo_id,
            year=year, as_of=moment.isoformat(), position=position, rules=rules.name, taken_by=by,
            taken_at=now.replace(microsecond=0).isoformat(), figures=figures_of(photo),
            figures_digest=digest(canonical_json(photo)), workbook_digest=digest(photo_workbook(photo, proof)),
            classifications=lines,
            chain_position=chain_position, chain_head=chain_head,
        )
        event = stored.pending_events[0]
        self.service.record(stored, recorded_at=dt.datetime.fromisoformat(event.taken_at))
        return self.describe(event)

    # ----------------------------------------------------------------- read

    def describe(self, event: Any) -> dict[str, Any]:
        """A stored photo as JSON: what it is, with its digests (not the per-request list)."""
        return {
            "id": str(event.originator_id),
            "year": event.year,
            "as_of": event.as_of,
            "position": event.position,
            "rules": event.rules,
            "taken_by": event.taken_by,
            "taken_at": event.taken_at,
            "figures_digest": event.figures_digest,
            "workbook_digest": event.workbook_digest,
            "chain_position": event.chain_position,
            "chain_head": event.chain_head,
            **event.figures,
        }

    def stored(self, year: int | None = None) -> list[Any]:
        """The Taken events of the stored photos (of one year), oldest first."""
        events = [e for _, e in self.service.recorded_events(topics=(TAKEN_TOPIC,))]
        return [e for e in events if year is None or e.year == year]

    def listing(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in self.describe(e).items() if k not in ("total", "municipalities")}
                for e in self.stored()]

    def published(self) -> list[dict[str, Any]]:
        """The public figures: per year the latest stored photo, a count from 1 to 4 shown as "<5"."""
        latest: dict[int, Any] = {}
        for e in self.stored():  # per year the photo of the latest moment (of those, the last taken)
            if e.year not in latest or dt.datetime.fromisoformat(e.as_of) >= dt.datetime.fromisoformat(latest[e.year].as_of):
                latest[e.year] = e
        out = []
        for year, e in sorted(latest.items()):
            total, places = public_figures(e.figures["total"], dict(sorted(e.figures["municipalities"].items())))
            out.append({"year": year, "as_of": e.as_of, "taken_at": e.taken_at, "rules": e.rules, "total": total,
                        "municipalities": {nis: {"name": municipalities.name(nis, year), **figures}
                                           for nis, figures in places.items()}})
        return out

    def find(self, year: int, as_of: dt.datetime | None) -> Any:
        """The stored photo of a year (at a moment; the latest taken one when no moment is given)."""
        candidates = [e for e in self.stored(year)
                      if as_of is None or dt.datetime.fromisoformat(e.as_of) == as_of]
        if not candidates:
            when = f" op {as_of.isoformat()}" if as_of else ""
            raise InvalidValue(f"Er is geen genomen foto van {year}{when}; neem ze eerst (loket photo {year} --take).",
                               field="year")
        return candidates[-1]

    # --------------------------------------------------------------- verify

    def rebuild(self, event: Any) -> Rebuild:
        moment = dt.datetime.fromisoformat(event.as_of)
        states, _ = self.service.request_states(moment, upto=event.position)
        rules = rules_by_name(event.rules)
        photo = photo_from_states(states, event.position, event.year, moment, rules, self.service.settings.area)
        result = Rebuild(self.describe(event), photo, digest(canonical_json(photo)),
                         digest(photo_workbook(photo, _proof(event))))
        if not result.identical:
            result.differing_figures = _differing_figures(event.figures, figures_of(photo))
            now = set(_classification_lines(states, event.year, event.rules))
            then = set(event.classifications)
            result.differing_requests = sorted({line.split("\t")[0] for line in now ^ then})
        return result

    def verify(self, year: int) -> list[Rebuild]:
        return [self.rebuild(e) for e in self.stored(year)]

    # ----------------------------------------------------------- restatement

    def restatement(self, year: int, as_of: dt.datetime | None = None) -> dict[str, Any]:
        """The stored figures beside the figures as known now, and what changed each changed request."""
        event = self.find(year, as_of)
        moment = dt.datetime.fromisoformat(event.as_of)
        now_states, now_position = self.service.request_states(dt.datetime.now(BRUSSELS))
        rules = rules_by_name(event.rules)
        # The same question asked again with everything known now: the year's requests, classified now.
        known_now = photo_from_states(now_states, now_position, year, moment, rules, self.service.settings.area)
        then = {line.split("\t")[0]: line for line in event.classifications}
        now = {line.split("\t")[0]: line for line in _classification_lines(now_states, year, event.rules)}
        changed = sorted(ref for ref in then.keys() | now.keys() if then.get(ref) != now.get(ref))
        wanted = set(changed)
        ids = {r.id: r.reference for r in now_states.values() if r.reference in wanted}
        events_after: dict[str, list[dict[str, Any]]] = {ref: [] for ref in changed}
        for position, e in self.service.recorded_events(start=event.position + 1):
            if e.originator_id in ids:
                events_after[ids[e.originator_id]].append(
                    {"position": position, "what": type(e).__name__, "recorded_at": e.recorded_at, "by": e.by}
                )
        return {
            "photo": {k: v for k, v in self.describe(event).items() if k not in ("total", "municipalities")},
            "stored": event.figures,
            "known_now": figures_of(known_now),
            "known_now_position": now_position,
            "changed_requests": [
                {"reference": ref, "then": _outcome(then.get(ref)), "now": _outcome(now.get(ref)),
                 "events": events_after[ref]}
                for ref in changed
            ],
        }

    # ------------------------------------------------------- submitted workbook

    def workbook(self, photo_id: str) -> bytes:
        """The workbook of a stored photo, rebuilt (the same bytes as when it was taken)."""
        event = self._by_id(photo_id)
        result = self.rebuild(event)
        return photo_workbook(result.photo, _proof(event))

    def _by_id(self, photo_id: str) -> Any:
        for e in self.stored():
            if str(e.originator_id) == photo_id:
                return e
        raise InvalidValue(f"Er is geen genomen foto met id {photo_id}.", field="id")

    def verify_workbook(self, data: bytes) -> dict[str, Any]:
        """A submitted workbook (perhaps re-saved by a spreadsheet) against the stored photo it shows."""
        from service.reports.read_xlsx import compare, read_workbook

        submitted = read_workbook(data)
        summary = {"year": submitted.year, "as_of": submitted.as_of.isoformat(), "position": submitted.position,
                   "rules": submitted.rules, "stored_photo": None}
        def shown(e: Any) -> bool:
            if submitted.photo_id:
                return str(e.originator_id) == submitted.photo_id
            return submitted.shows_moment(dt.datetime.fromisoformat(e.as_of)) and e.position == submitted.position

        matches = [e for e in self.stored(submitted.year) if shown(e)]
        if not matches:
            return {**summary, "equal": False, "differences": [
                f"Er is geen genomen foto van {submitted.year} op {submitted.moment_text or submitted.as_of.isoformat()} "
                f"met positie {submitted.position}"
                + (f" en id {submitted.photo_id}" if submitted.photo_id else "")
                + ": dit werkboek hoort niet bij een foto die het loket nam."]}
        event = matches[-1]
        rebuilt = self.rebuild(event)
        differences = [d.describe() for d in compare(rebuilt.photo, submitted)]
        if not rebuilt.identical:
            differences.append("De bewaarde foto zelf herbouwt niet identiek (zie loket verify-photo).")
        if submitted.chain is not None:
            position, link = submitted.chain
            if (event.chain_position, event.chain_head) != (position, link):
                differences.append(f"Het werkboek toont logboekketen {position}: {link}, de bewaarde foto "
                                   f"{event.chain_position}: {event.chain_head}.")
            now = self.service.ledger.link_at(position)
            if now != link:
                differences.append(f"De logboekketen op positie {position} is nu {now}, het werkboek toont {link}: "
                                   "het logboek werd sindsdien herschreven.")
        return {**summary, "stored_photo": str(event.originator_id), "chain_checked": submitted.chain is not None,
                "equal": not differences, "differences": differences}

    # ------------------------------------------------------------ drill-down

    def drill(self, year: int, municipality: str | None, category: str, bucket: str,
              as_of: dt.datetime | None = None, upto: int | None = None) -> dict[str, Any]:
        """The references of the requests behind one figure (no personal data)."""
        rules = rules_for(year)
        if category not in rules.categories:
            raise InvalidValue(f"'category' {category} bestaat niet in {year}; kies uit {', '.join(rules.categories)}.",
                               field="category")
        if bucket not in BUCKETS:
            raise InvalidValue(f"'bucket' {bucket} bestaat niet; kies uit {', '.join(BUCKETS)}.", field="bucket")
        if municipality is not None and municipality not in municipalities.all_codes():
            raise InvalidValue(f"'municipality' {municipality} is geen Belgische NIS-code.", field="municipality")
        moment = as_of or default_moment(year)
        position = self.service.view_position(moment) if upto is None else None
        if position is not None:
            counted = self.service.figures.classified(year, position, rules)
        else:
            states, position = self.service.request_states(moment, upto=upto)
            counted = [(request.reference, nis, cats, outcome)
                       for request, nis, cats, outcome in classified(states, year, rules)]
        wanted = municipalities.successor(municipality, year) if municipality else None
        refs = sorted(
            reference
            for reference, nis, cats, outcome in counted
            if (wanted is None or nis == wanted) and category in cats
            and (bucket == "requests" or outcome == bucket
                 or (bucket == "unanswered" and outcome in ("no_proposal", "not_accepted", "deviating")))
        )
        return {"year": year, "as_of": moment.isoformat(), "position": position, "rules": rules.name,
                "municipality": wanted, "category": category, "bucket": bucket, "count": len(refs), "requests": refs}


SMALL, HIDDEN = "<5", "–"
PARTS = ("no_proposal", "not_accepted", "deviating")  # unanswered = their sum


def public_figures(total: dict[str, dict[str, int]],
                   places: dict[str, dict[str, dict[str, int]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The published figures: a count from 1 to 4 is shown as "<5", and enough other cells are hidden ("–") that
    no hidden count follows from the ones shown.

    Two sums would give a small count away: unanswered = no proposal + not accepted + deviating (in every row), and
    the loket's total = the sum of its municipalities (in every column). So: when one of the three parts is
    hidden, all three are (and unanswered too when all three are small); when a column has a hidden municipality,
    at least one more of its cells is hidden that is not small (the smallest shown), or else the total.
    """
    rows = {"": total, **places}
    hidden: dict[tuple[str, str, str], str] = {}
    for row, figures in rows.items():
        for cat, counts in figures.items():
            for bucket, n in counts.items():
                if 1 <= n <= 4:
                    hidden[(row, cat, bucket)] = SMALL
    changed = True
    while changed:
        changed = False

        def hide(key: tuple[str, str, str]) -> None:
            nonlocal changed
            if key not in hidden:
                hidden[key] = HIDDEN
                changed = True

        for row, figures in rows.items():  # the row's sum
            for cat in figures:
                parts = [(row, cat, b) for b in PARTS]
                if any(k in hidden for k in parts):
                    for k in parts:
                        hide(k)
                    if all(hidden.get(k) == SMALL for k in parts):
                        hide((row, cat, "unanswered"))
        for cat in total:  # the column's sum
            for bucket in total[cat]:
                inside = [(nis, cat, bucket) for nis in places]
                if not any(k in hidden for k in inside) or any(hidden.get(k) == HIDDEN for k in inside + [("", cat, bucket)]):
                    continue
                shown = sorted((places[nis][cat][bucket], nis) for nis, _, _ in inside if (nis, cat, bucket) not in hidden)
                hide((shown[0][1], cat, bucket) if shown else ("", cat, bucket))

    def show(row: str) -> dict[str, Any]:
        return {cat: {bucket: hidden.get((row, cat, bucket), n) for bucket, n in counts.items()}
                for cat, counts in rows[row].items()}

    return show(""), {nis: show(nis) for nis in places}


def _proof(event: Any) -> dict[str, Any]:
    return {"photo_id": event.originator_id, "chain_position": event.chain_position, "chain_head": event.chain_head}


def _outcome(line: str | None) -> dict[str, Any] | None:
    if line is None:
        return None
    _, nis, outcome, cats = line.split("\t")
    return {"municipality": nis, "outcome": outcome, "categories": cats.split(",") if cats else []}


def _differing_figures(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Each figure (place / category / count) whose value differs."""
    out = []
    places = {"totaal": (then["total"], now["total"])}
    for nis in sorted(then["municipalities"].keys() | now["municipalities"].keys()):
        places[nis] = (then["municipalities"].get(nis, {}), now["municipalities"].get(nis, {}))
    for place, (a, b) in places.items():
        for cat in sorted(a.keys() | b.keys()):
            for count in COUNTS:
                x, y = a.get(cat, {}).get(count), b.get(cat, {}).get(count)
                if x != y:
                    out.append(f"{place} / {cat} / {count}: opgeslagen {x}, herbouwd {y}")
    return out
