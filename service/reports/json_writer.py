"""The photo as JSON, in the product's photo shape with a stable key order; and canonical JSON.

The key order is the photo shape's (regulators rely on it), not the workbook layout's:
a change to the regulator's template does not change this file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

HEAD_KEYS = ("year", "as_of", "position", "rules")
TAIL_KEYS = ("total", "municipalities")
CATEGORY_KEYS = (
    "all",
    "urgent",
    "extended_hours",
    "priority_group",
    "vulnerable_family",
    "special_care",
)
COUNT_KEYS = ("requests", "unanswered", "no_proposal", "not_accepted", "deviating")


def photo_json(photo: Mapping[str, Any]) -> str:
    """Year, as_of, position, rules, other keys (sorted), total, municipalities (by code)."""
    head = [k for k in HEAD_KEYS if k in photo]
    extra = sorted(k for k in photo if k not in HEAD_KEYS and k not in TAIL_KEYS)
    ordered: dict[str, Any] = {k: photo[k] for k in head + extra}
    if "total" in photo:
        ordered["total"] = _figures(photo["total"])
    if "municipalities" in photo:
        ordered["municipalities"] = {
            nis: _figures(photo["municipalities"][nis]) for nis in sorted(photo["municipalities"])
        }
    return json.dumps(ordered, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def canonical_json(obj: Any) -> bytes:
    """Canonical UTF-8 JSON (sorted keys, no blanks) for digests."""
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _figures(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _in_order(figures[k], COUNT_KEYS) for k in _keys(figures, CATEGORY_KEYS)}


def _in_order(mapping: Mapping[str, Any], known: Sequence[str]) -> dict[str, Any]:
    return {k: mapping[k] for k in _keys(mapping, known)}


def _keys(mapping: Mapping[str, Any], known: Sequence[str]) -> list[str]:
    """The known keys in their order, then any others sorted: nothing is dropped."""
    return [k for k in known if k in mapping] + sorted(k for k in mapping if k not in known)
