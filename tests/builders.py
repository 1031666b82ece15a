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


PASSWORD = "een-lang-testwachtwoord"


def login(client, name: str = "anna", role: str = "worker", locations: tuple[str, ...] = ()):
    """Give `client` the bearer token of an account (made when missing) with this role."""
    accounts = client.app.state.service.accounts
    if accounts.get(name) is None:
        accounts.add(name, role, PASSWORD, tuple(locations))
    answer = client.post("/api/token", data={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return client
