"""The command vocabulary of history-format.md, shared by the import and the HTTP API.

Each command is a pydantic model that forbids unknown fields, so a typo is never silently
ignored. Shape errors are translated to Dutch messages that name the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Plausible calendar of the product: requests, starts and facts of this century.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


def _date_string(value: Any) -> Any:
    if type(value) is dt.date:  # already parsed (re-validating a parsed command)
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("verwacht een datum als JJJJ-MM-DD")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} bestaat niet op de kalender") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"verwacht een datum tussen {FIRST_DAY.isoformat()} en {LAST_DAY.isoformat()}")
    return day


def _moment_string(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("verwacht een tijdstip als 2025-01-06T10:15:00+01:00")
    return value


def _halves(value: float) -> float:
    if not 0.5 <= value <= 7 or (value * 2) != int(value * 2):
        raise ValueError("verwacht een aantal dagen per week in halven van 0,5 tot 7")
    return float(value)


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("verwacht een getal")
    return value


Day = Annotated[dt.date, BeforeValidator(_date_string)]
Days = Annotated[float, BeforeValidator(_number), AfterValidator(_halves)]
Hour = Literal["early", "late", "weekend", "holiday"]
Nis = Annotated[str, Field(pattern=r"^\d{5}$")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Reference = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")]
NationalNumber = Annotated[str, Field(min_length=1, max_length=20)]  # checked by service.identity
OptionalFlag = StrictBool | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Child(Strict):
    national_number: NationalNumber | None = None
    expected_birth: Day | None = None
    parent_national_number: NationalNumber | None = None
    birth_order: Literal[1, 2, 3] = 1

    @model_validator(mode="after")
    def _one_identity(self) -> Child:
        if self.national_number is not None:
            if self.expected_birth or self.parent_national_number:
                raise ValueError(
                    "geef ofwel national_number, ofwel expected_birth met parent_national_number"
                )
        elif self.expected_birth is None or self.parent_national_number is None:
            raise ValueError(
                "een kind heeft een national_number, of (voor de geboorte) expected_birth en parent_national_number"
            )
        return self


class Family(Strict):
    work_or_training: OptionalFlag = None
    single_parent: OptionalFlag = None
    low_income: OptionalFlag = None
    foster_family: OptionalFlag = None
    health_or_care: OptionalFlag = None
    low_education: OptionalFlag = None
    dutch_speaking: OptionalFlag = None

    def given(self) -> dict[str, bool | None]:
        """Only the keys that were given (an update names only what changed)."""
        return {k: getattr(self, k) for k in type(self).model_fields if k in self.model_fields_set}


class Contact(Strict):
    name: Text | None = None
    phone: Text | None = None
    email: Text | None = None
    address: Text | None = None


class Origin(Strict):
    """Where a request handed over by another loket came from."""

    loket: Text
    request: Text


class Register(Strict):
    care_type: Literal["baby_toddler", "out_of_school"] = "baby_toddler"
    request_date: Day
    desired_start: Day
    days_per_week: Days
    hours: list[Hour]
    municipality: Nis
    child: Child
    family: Family
    special_care: StrictBool
    consent: StrictBool
    contact: Contact | None = None
    intake: Text | None = None
    notes: Text | None = None
    origin: Origin | None = None  # handed over by another loket (loket handover / loket receive)


class CorrectRegistration(Strict):
    """The fields entered wrongly and their right values; a field of the request is never emptied."""

    care_type: Literal["baby_toddler", "out_of_school"] | None = None
    request_date: Day | None = None
    desired_start: Day | None = None
    days_per_week: Days | None = None
    hours: list[Hour] | None = None
    municipality: Nis | None = None
    child: Child | None = None
    family: Family | None = None
    special_care: StrictBool | None = None
    contact: Contact | None = None
    intake: Text | None = None
    notes: Text | None = None
    reason: Text

    @model_validator(mode="after")
    def _no_empty_field(self) -> CorrectRegistration:
        emptied = sorted(
            name for name in self.model_fields_set
            if getattr(self, name) is None and name not in ("contact", "intake", "notes")
        )
        if emptied:
            raise ValueError(f"een correctie geeft de juiste waarde; null is niet toegelaten voor {', '.join(emptied)}")
        return self


class ChangeWish(Strict):
    desired_start: Day | None = None
    days_per_week: Days | None = None
    hours: list[Hour] | None = None


class UpdateFamily(Strict):
    family: Family
    special_care: StrictBool | None = None


class ChildBorn(Strict):
    national_number: NationalNumber
    on: Day


class Move(Strict):
    municipality: Nis
    on: Day


class ChangeConsent(Strict):
    consent: StrictBool
    on: Day


class Propose(Strict):
    proposal: Reference
    location: Text
    start: Day
    days_per_week: Days
    hours: list[Hour] = []
    on: Day


class Refuse(Strict):
    proposal: Reference
    on: Day
    reason: Text | None = None


class WithdrawProposal(Refuse):
    pass


class Accept(Strict):
    proposal: Reference
    on: Day
    start: Day | None = None
    days_per_week: Days | None = None


class CancelPlacement(Strict):
    on: Day
    reason: Text


class SolveElsewhere(Strict):
    municipality: Nis
    on: Day


class Withdraw(Strict):
    on: Day
    reason: Text


class Reopen(Withdraw):
    pass


class Void(Strict):
    reason: Text


class ErasePersonalData(Strict):
    on: Day
    ground: Text


class RegisterLocation(Strict):
    name: Text
    organizer: Text
    municipality: Nis
    capacity: Annotated[StrictInt, Field(ge=1, le=10000)]
    hours: list[Hour]


class ReportFreePlaces(Strict):
    from_: Day = Field(alias="from")
    places: Annotated[StrictInt, Field(ge=0, le=10000)]
    days_per_week: Days
    hours: list[Hour] | None = None  # not given: the location's own opening hours


class ChangeLocation(Strict):
    """Details of a location that changed (or were entered wrongly), with the reason."""

    name: Text | None = None
    organizer: Text | None = None
    municipality: Nis | None = None
    capacity: Annotated[StrictInt, Field(ge=0, le=10000)] | None = None
    hours: list[Hour] | None = None
    reason: Text


class ReopenLocation(Strict):
    on: Day
    reason: Text


class CloseLocation(Strict):
    on: Day
    reason: Text


REQUEST_COMMANDS: dict[str, type[Strict]] = {
    "register": Register,
    "correct_registration": CorrectRegistration,
    "change_wish": ChangeWish,
    "update_family": UpdateFamily,
    "child_born": ChildBorn,
    "move": Move,
    "change_consent": ChangeConsent,
    "propose": Propose,
    "refuse": Refuse,
    "withdraw_proposal": WithdrawProposal,
    "accept": Accept,
    "cancel_placement": CancelPlacement,
    "solve_elsewhere": SolveElsewhere,
    "withdraw": Withdraw,
    "reopen": Reopen,
    "void": Void,
    "erase_personal_data": ErasePersonalData,
}
LOCATION_COMMANDS: dict[str, type[Strict]] = {
    "register_location": RegisterLocation,
    "report_free_places": ReportFreePlaces,
    "close_location": CloseLocation,
    "change_location": ChangeLocation,
    "reopen_location": ReopenLocation,
}
FOLLOW_UPS = tuple(c for c in REQUEST_COMMANDS if c != "register")


class Command(BaseModel):
    """One command with who recorded it when: a line of a history file, or an API call."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    type: str
    target: str  # the request or location reference
    payload: Strict
    recorded_at: dt.datetime
    by: str
    source: str | None = None  # digest of the history line it came from

    @property
    def on_location(self) -> bool:
        return self.type in LOCATION_COMMANDS


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object hook: a key given twice is refused, never silently the last one."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        keys = [k for k, _ in pairs]
        doubles = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"veld {', '.join(doubles)} staat er meer dan eens")
    return obj


class ShapeError(ValueError):
    """A command whose shape is wrong: one Dutch message per wrong field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


_MESSAGES = {
    "missing": "ontbreekt",
    "json_invalid": "geen geldige JSON",
    "extra_forbidden": "onbekend veld (niet toegelaten; controleer de spelling)",
    "bool_type": "verwacht true of false",
    "int_type": "verwacht een geheel getal",
    "int_parsing": "verwacht een geheel getal",
    "int_from_float": "verwacht een geheel getal",
    "float_type": "verwacht een getal",
    "float_parsing": "verwacht een getal",
    "string_type": "verwacht tekst",
    "list_type": "verwacht een lijst",
    "dict_type": "verwacht een JSON-object",
    "model_type": "verwacht een JSON-object",
    "model_attributes_type": "verwacht een JSON-object",
    "string_too_short": "mag niet leeg zijn",
    "string_too_long": "is te lang",
    "timezone_aware": "verwacht een tijdstip met tijdzone, zoals 2025-01-06T10:15:00+01:00",
    "datetime_parsing": "verwacht een tijdstip als 2025-01-06T10:15:00+01:00",
    "datetime_type": "verwacht een tijdstip als 2025-01-06T10:15:00+01:00",
    "datetime_from_date_parsing": "verwacht een tijdstip als 2025-01-06T10:15:00+01:00",
    "finite_number": "verwacht een eindig getal",
    "string_unicode": "verwacht geldige tekst (UTF-8)",
    "date_parsing": "verwacht een bestaande datum als JJJJ-MM-DD",
    "date_from_datetime_parsing": "verwacht een bestaande datum als JJJJ-MM-DD",
    "date_type": "verwacht een datum als JJJJ-MM-DD",
    "bool_parsing": "verwacht true of false",
    "list_type_": "verwacht een lijst",
}
_PATTERNS = {
    "municipality": "verwacht een NIS-code van 5 cijfers, als tekst (bv. \"24062\")",
}
_REFERENCE_RULE = "verwacht letters, cijfers, '.', '_' of '-' (geen spaties of schuine strepen, hoogstens 64 tekens)"


def _message(e: Any, field: str) -> str:
    kind, ctx = e["type"], e.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(field.rsplit(".", 1)[-1], _REFERENCE_RULE)
    if kind == "literal_error" and "expected" in ctx:
        return f"niet toegelaten waarde; kies uit {str(ctx['expected']).replace(' or ', ' of ')}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"moet minstens {ctx.get('ge', ctx.get('gt'))} zijn"
    if kind in ("less_than_equal", "less_than"):
        return f"mag hoogstens {ctx.get('le', ctx.get('lt'))} zijn"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    return str(e.get("msg", "ongeldige waarde")).removeprefix("Value error, ")


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    return problems_of(error.errors())


def problems_of(errors: Sequence[Any], skip: tuple[str, ...] = (), root: str = "(regel)") -> list[tuple[str, str]]:
    """Pydantic errors as (field, Dutch message) pairs; `root` names the whole line or body."""
    problems = []
    for e in errors:
        loc = [str(p) for p in e["loc"] if not str(p).startswith(("function-", "constrained-"))]
        if loc and loc[0] in skip:
            loc = loc[1:]
        if e["type"] == "json_invalid":
            loc = []  # its location is a character offset, not a field
        field = ".".join(p if p != "from_" else "from" for p in loc) or root
        problems.append((field, _message(e, field)))
    return problems


def parse_payload(command_type: str, fields: dict[str, Any]) -> Strict:
    model = REQUEST_COMMANDS.get(command_type) or LOCATION_COMMANDS.get(command_type)
    if model is None:
        known = ", ".join([*REQUEST_COMMANDS, *LOCATION_COMMANDS])
        raise ShapeError([("type", f"onbekende opdracht '{command_type}'; kies uit {known}")])
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise ShapeError(_problems(error)) from None


class _Envelope(Strict):
    at: Annotated[AwareDatetime, BeforeValidator(_moment_string)]
    by: Text
    type: Text
    request: Reference | None = None
    location: Reference | None = None


def parse_line(obj: Any, source: str | None = None) -> Command:
    """A history line (already decoded JSON) as a command; raises ShapeError."""
    if not isinstance(obj, dict):
        raise ShapeError([("(regel)", "verwacht een JSON-object")])
    envelope_fields = {k: obj[k] for k in ("at", "by", "type") if k in obj}
    fields = {k: v for k, v in obj.items() if k not in ("at", "by", "type")}
    command_type = obj.get("type")
    if not isinstance(command_type, str):
        raise ShapeError([("type", "ontbreekt of is geen tekst; verwacht een opdracht zoals \"register\"")])
    target_key = "location" if command_type in LOCATION_COMMANDS else "request"
    if target_key in fields:
        envelope_fields[target_key] = fields.pop(target_key)
    problems: list[tuple[str, str]] = []
    try:
        envelope = _Envelope.model_validate(envelope_fields)
    except ValidationError as error:
        problems += _problems(error)
        envelope = None
    if envelope is not None and getattr(envelope, target_key) is None:
        problems.append((target_key, "ontbreekt"))
    try:
        payload = parse_payload(str(command_type), fields)
    except ShapeError as error:
        problems += error.problems
    if problems or envelope is None:
        raise ShapeError(problems)
    return Command(
        type=envelope.type,
        target=getattr(envelope, target_key),
        payload=payload,
        recorded_at=envelope.at,
        by=envelope.by,
        source=source,
    )
