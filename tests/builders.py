"""Small builders for history lines and commands, so tests read as the domain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Synthetic, valid national numbers (check digits computed, no real person behind them).
CHILD_A = "24120610145"
CHILD_B = "24120610244"
PARENT = "90051704512"


def register_line(ref: str, at: str = "2025-01-06T10:00:00+01:00", **fields: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "at": at, "by": "anna", "type": "register", "request": ref,
        "request_date": at[:10], "desired_start": "2025-09-01", "days_per_week": 4, "hours": [],
        "municipality": "24062", "child": {"national_number": CHILD_A}, "family": {},
        "special_care": False, "consent": True, "contact": {"name": f"Ouder {ref}", "phone": "0470 00 00 00"},
    }
    line.update(fields)
    return line


def line(type_: str, ref: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"at": at, "by": "anna", "type": type_, "request": ref, **fields}


def write_history(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path
