"""Domain errors: each names the field, the value and the rule, in Dutch for the user."""

from __future__ import annotations


class DomainError(Exception):
    """A command refused by a rule of the domain."""

    code = "regel"
    lasting = True  # the same command will be refused again (an import remembers the refusal)

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class RuleViolation(DomainError):
    """The command does not fit the request's current state."""

    code = "niet_toegelaten"


class InvalidValue(DomainError):
    """A value breaks a rule of its own (a date in the future, a wrong national number)."""

    code = "ongeldige_waarde"


class DuplicateChild(DomainError):
    """A second request for a child that already has one (open, or in the same year)."""

    code = "dubbele_aanvraag"

    def __init__(self, message: str, existing_reference: str) -> None:
        super().__init__(message, field="child")
        self.existing_reference = existing_reference


class UnknownRequest(DomainError):
    code = "onbekend_dossier"


class ReferenceTaken(DomainError):
    code = "referentie_bestaat"


class RecordedTooEarly(DomainError):
    """History is only ever appended: a recorded time before the store's latest is refused."""

    code = "tijd_te_vroeg"


class RecordedInFuture(DomainError):
    """A recording time ahead of the clock: refused now, acceptable later (not remembered)."""

    code = "tijd_in_toekomst"
    lasting = False


class Forbidden(DomainError):
    """The logged-in person's role may not do this to this request (HTTP 403)."""

    code = "geen_toegang"
