"""Synthetic Belgian national register numbers for demo and benchmark data.

A national number is YYMMDD + a 3-digit day serial + 2 check digits. The check digits are
97 - (the first 9 digits mod 97) for births before 2000, and
97 - ((2000000000 + the first 9 digits) mod 97) for births from 2000 on.

The numbers made here are synthetic: a birth date picked by the demo generator and a serial
from a high range (601-997 by default), handed out in order so that no number is made twice.
They are meant for test and demo files only; no number refers to a known person, but any
well-formed number could in principle exist, so never use them outside demo data.
"""

from __future__ import annotations

import datetime as dt

SERIAL_FIRST = 601
SERIAL_LAST = 997


def check_digits(first9: str, birth_year: int) -> str:
    """The two check digits for the first nine digits of a number of someone born in birth_year."""
    if len(first9) != 9 or not first9.isdigit():
        raise ValueError("expected the first 9 digits of a national number")
    base = int(first9) + (2_000_000_000 if birth_year >= 2000 else 0)
    return f"{97 - base % 97:02d}"


def make_number(birth: dt.date, serial: int) -> str:
    """The national number of someone born on `birth` with day serial `serial` (1..997)."""
    if not 1 <= serial <= 997:
        raise ValueError("serial must be 1..997")
    if not 1900 <= birth.year <= 2099:
        raise ValueError("birth year out of range")
    first9 = f"{birth:%y%m%d}{serial:03d}"
    return first9 + check_digits(first9, birth.year)


def is_valid(number: str) -> bool:
    """Check a plain 11-digit national number (both centuries), without stdnum."""
    if len(number) != 11 or not number.isdigit():
        return False
    first9, check = number[:9], int(number[9:])
    return 97 - int(first9) % 97 == check or 97 - (2_000_000_000 + int(first9)) % 97 == check


class NationalNumbers:
    """Hands out unique synthetic numbers: per birth date the serials in order.

    Deterministic (no randomness of its own): the same calls give the same numbers.
    When a date's serials run out the next earlier date is used.
    """

    def __init__(self, serial_first: int = SERIAL_FIRST, serial_last: int = SERIAL_LAST) -> None:
        self._first = serial_first
        self._last = serial_last
        self._next: dict[dt.date, int] = {}
        self.issued: set[str] = set()

    def new(self, birth: dt.date) -> str:
        day = birth
        while True:
            serial = self._next.get(day, self._first)
            if serial <= self._last:
                self._next[day] = serial + 1
                number = make_number(day, serial)
                self.issued.add(number)
                return number
            day -= dt.timedelta(days=1)

    def twins(self, birth: dt.date, count: int = 2) -> list[str]:
        return [self.new(birth) for _ in range(count)]
