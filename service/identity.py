"""National numbers (rijksregisternummer) and BIS numbers: validation and keyed hashing.

Never derive a birth date or sex from the number; only check it.
"""

from __future__ import annotations

import hashlib
import hmac

from stdnum.be import bis, nn

from service.aggregates.errors import InvalidValue


def normalize_national_number(value: str, field: str) -> str:
    """The 11 digits of a valid national or BIS number, or a clear refusal naming the field."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) != 11 or any(ch not in "0123456789 .-" for ch in value):
        raise InvalidValue(
            f"'{field}' moet een rijksregisternummer of BIS-nummer van 11 cijfers zijn "
            f"(punten, streepjes en spaties mogen; er zijn er nu {len(digits)}).",
            field=field,
        )
    if not (nn.is_valid(digits) or bis.is_valid(digits)):
        raise InvalidValue(
            f"'{field}' is geen geldig rijksregisternummer of BIS-nummer (controlecijfers kloppen niet).",
            field=field,
        )
    return digits


def keyed_hash(secret: bytes, *parts: str) -> str:
    """A keyed hash (HMAC-SHA256): identifies a person for uniqueness without storing the number."""
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()
