"""Derived categories of a request: computed from the answers, never typed in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from dateutil.relativedelta import relativedelta

FAMILY_KEYS = (
    "work_or_training",
    "single_parent",
    "low_income",
    "foster_family",
    "health_or_care",
    "low_education",
    "dutch_speaking",
)
HOURS = ("early", "late", "weekend", "holiday")

_PRIORITY_KEYS = ("work_or_training", "single_parent", "low_income", "foster_family")
_VULNERABLE_KEYS = ("work_or_training", "single_parent", "low_income", "health_or_care", "low_education")
_VULNERABLE_CORE = ("low_income", "health_or_care", "low_education")


def one_month_after(day: dt.date) -> dt.date:
    """Same day number next month, or that month's last day when it is shorter."""
    return day + relativedelta(months=1)


def is_urgent(request_date: dt.date, desired_start: dt.date) -> bool:
    return desired_start <= one_month_after(request_date)


def wants_extended_hours(hours: tuple[str, ...] | list[str]) -> bool:
    return any(h in HOURS for h in hours)


def _yes(family: Mapping[str, bool | None], key: str) -> bool:
    return family.get(key) is True  # unknown counts as no


def is_priority_group(family: Mapping[str, bool | None], in_brussels: bool) -> bool:
    """At least two of 1-4; in the Brussels-Capital Region also a parent speaks Dutch."""
    if sum(_yes(family, k) for k in _PRIORITY_KEYS) < 2:
        return False
    return _yes(family, "dutch_speaking") if in_brussels else True


def is_vulnerable_family(family: Mapping[str, bool | None]) -> bool:
    """At least two of {1, 2, 3, 5, 6}, of which at least one of {3, 5, 6}."""
    return sum(_yes(family, k) for k in _VULNERABLE_KEYS) >= 2 and any(
        _yes(family, k) for k in _VULNERABLE_CORE
    )


def deviates(desired_start: dt.date, days: float, start: dt.date, placed_days: float) -> bool:
    """A placement starting a calendar month or more late, or with fewer days, deviates."""
    return start >= one_month_after(desired_start) or placed_days < days


HOURS_NL = {"early": "vroeg (voor 7 u)", "late": "laat (na 18 u)", "weekend": "weekend", "holiday": "feestdagen"}


def hours_nl(hours: Iterable[str]) -> str:
    """Extended hours as a loket worker reads them."""
    return ", ".join(HOURS_NL[h] for h in sorted(hours)) or "geen"


def derived_categories(request_date: dt.date, desired_start: dt.date, hours: tuple[str, ...] | list[str],
                       family: Mapping[str, bool | None], special_care: bool, in_brussels: bool) -> dict[str, bool]:
    """The categories a request counts in, from its answers: the one place they are put together."""
    return {
        "urgent": is_urgent(request_date, desired_start),
        "extended_hours": wants_extended_hours(hours),
        "priority_group": is_priority_group(family, in_brussels),
        "vulnerable_family": is_vulnerable_family(family),
        "special_care": special_care,
    }
