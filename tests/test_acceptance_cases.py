"""Every case of ../shared/cases gives exactly its expected figures and refused lines, on every store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from service.importer import import_history
from tests.conftest import CASES, shared_dir

CASE_NAMES = sorted(p.name.removesuffix(".jsonl") for p in CASES.glob("*.jsonl"))


def test_the_shared_cases_are_there() -> None:
    shared_dir()
    assert len(CASE_NAMES) >= 7


@pytest.mark.parametrize("case", CASE_NAMES)
def test_the_case_gives_its_expected_photos(case: str, service) -> None:
    expected = json.loads((CASES / f"{case}.expected.json").read_text(encoding="utf-8"))
    report = import_history(service, CASES / f"{case}.jsonl")

    refused = sorted(number for number, _ in report.refused)
    for photo in expected:
        assert refused == sorted(line for line, _ in photo["refused_lines"]), report.refused
        as_of = dt.datetime.fromisoformat(photo["as_of"]) if photo["as_of"] else None
        actual = service.photo(photo["year"], as_of)
        assert actual["total"] == photo["total"], (case, photo["year"], photo["as_of"])
        assert actual["municipalities"] == photo["municipalities"], (case, photo["year"], photo["as_of"])


def test_a_refused_duplicate_names_the_existing_request(service) -> None:
    report = import_history(service, CASES / "uniqueness.jsonl")
    reasons = dict(report.refused)
    assert "F1" in reasons[3] and "F4" in reasons[5] and "F8" in reasons[12]


def test_importing_a_case_twice_records_nothing_new(service) -> None:
    path: Path = CASES / "outcomes.jsonl"
    first = import_history(service, path)
    position = service.events.recorder.max_notification_id()
    photo = service.photo(2025)
    second = import_history(service, path)
    assert first.applied == first.lines and second.applied == 0
    assert second.already_recorded == second.lines
    assert service.events.recorder.max_notification_id() == position
    assert service.photo(2025) == photo
