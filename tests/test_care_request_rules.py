"""The care request's rules of succession: given these lines, when this command, then refused or recorded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from service.aggregates.categories import (
    is_priority_group,
    is_urgent,
    is_vulnerable_family,
    one_month_after,
)
from service.importer import FileRefused, import_history
from tests.builders import CHILD_B, line, register_line, write_history

T = "2025-03-{:02d}T10:00:00+01:00"


def _import(service, tmp_path: Path, lines):
    return import_history(service, write_history(tmp_path / "h.jsonl", lines))


@pytest.fixture
def sqlite_service(tmp_path):
    from service.application import LoketService
    from service.settings import Settings

    svc = LoketService(Settings(store=f"sqlite:///{tmp_path}/s.sqlite"))
    yield svc
    svc.close()


def test_accepting_a_refused_proposal_is_refused(sqlite_service, tmp_path) -> None:
    report = _import(sqlite_service, tmp_path, [
        register_line("R1"),
        line("propose", "R1", T.format(1), proposal="P1", location="Het Nest", start="2025-09-01", days_per_week=4, on="2025-03-01"),
        line("refuse", "R1", T.format(2), proposal="P1", on="2025-03-02"),
        line("accept", "R1", T.format(3), proposal="P1", on="2025-03-03"),
    ])
    assert [n for n, _ in report.refused] == [4]
    assert "geweigerd" in report.refused[0][1]


def test_a_second_acceptance_while_a_placement_is_in_force_is_refused(sqlite_service, tmp_path) -> None:
    report = _import(sqlite_service, tmp_path, [
        register_line("R1"),
        line("propose", "R1", T.format(1), proposal="P1", location="A", start="2025-09-01", days_per_week=4, on="2025-03-01"),
        line("accept", "R1", T.format(2), proposal="P1", on="2025-03-02"),
        line("propose", "R1", T.format(3), proposal="P2", location="B", start="2025-09-01", days_per_week=4, on="2025-03-03"),
        line("accept", "R1", T.format(4), proposal="P2", on="2025-03-04"),
        line("cancel_placement", "R1", T.format(5), on="2025-03-05", reason="verhuisd"),
        line("accept", "R1", T.format(6), proposal="P2", on="2025-03-06"),
    ])
    assert [n for n, _ in report.refused] == [5]
    assert "annuleer" in report.refused[0][1]


def test_a_voided_request_accepts_no_command_and_leaves_every_count(sqlite_service, tmp_path) -> None:
    report = _import(sqlite_service, tmp_path, [
        register_line("R1"),
        line("void", "R1", T.format(1), reason="test"),
        line("update_family", "R1", T.format(2), family={"single_parent": True}),
    ])
    assert [n for n, _ in report.refused] == [3]
    assert sqlite_service.photo(2025)["total"]["all"]["requests"] == 0


def test_a_voided_request_frees_the_child_for_a_new_registration(sqlite_service, tmp_path) -> None:
    report = _import(sqlite_service, tmp_path, [
        register_line("R1"),
        line("void", "R1", T.format(1), reason="dubbel"),
        register_line("R2", at=T.format(2)),
    ])
    assert report.refused == []


def test_reopening_requires_a_withdrawn_or_solved_request(sqlite_service, tmp_path) -> None:
    report = _import(sqlite_service, tmp_path, [
        register_line("R1"),
        line("reopen", "R1", T.format(1), on="2025-03-01", reason="x"),
        line("withdraw", "R1", T.format(2), on="2025-03-02", reason="geen antwoord"),
        line("propose", "R1", T.format(3), proposal="P1", location="A", start="2025-09-01", days_per_week=4, on="2025-03-03"),
        line("reopen", "R1", T.format(4), on="2025-03-04", reason="gezin belde terug"),
        line("propose", "R1", T.format(5), proposal="P1", location="A", start="2025-09-01", days_per_week=4, on="2025-03-05"),
    ])
    assert [n for n, _ in report.refused] == [2, 4]


def test_a_fact_dated_after_its_recording_is_refused(sqlite_service, tmp_path) -> None:
    report = _import(sqlite_service, tmp_path, [
        register_line("R1"),
        line("withdraw", "R1", T.format(1), on="2025-03-09", reason="x"),
    ])
    assert [n for n, _ in report.refused] == [2]
    assert "'on'" in report.refused[0][1]


def test_a_line_recorded_before_the_store_latest_is_refused(sqlite_service, tmp_path) -> None:
    _import(sqlite_service, tmp_path, [register_line("R1", at=T.format(5))])
    report = import_history(sqlite_service, write_history(tmp_path / "b.jsonl", [
        register_line("R2", at=T.format(1), child={"national_number": CHILD_B}),
    ]))
    assert [n for n, _ in report.refused] == [1]


def test_an_unknown_request_is_refused_with_its_line_number(sqlite_service, tmp_path) -> None:
    report = _import(sqlite_service, tmp_path, [register_line("R1"), line("withdraw", "R9", T.format(1), on="2025-03-01", reason="x")])
    assert report.refused[0][0] == 2 and "R9" in report.refused[0][1]


def test_a_wrong_national_number_is_refused_with_a_clear_message(sqlite_service, tmp_path) -> None:
    report = _import(sqlite_service, tmp_path, [register_line("R1", child={"national_number": "24120610146"})])
    assert report.refused[0][0] == 1 and "controlecijfers" in report.refused[0][1]


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ({"days_per_week": 4.3}, "days_per_week"),
        ({"hours": ["night"]}, "hours"),
        ({"municipality": 24062}, "municipality"),
        ({"desired_start": "01/09/2025"}, "desired_start"),
        ({"typo_field": 1}, "typo_field"),
        ({"special_care": "yes"}, "special_care"),
    ],
)
def test_a_malformed_line_refuses_the_whole_file_and_records_nothing(sqlite_service, tmp_path, bad, fragment) -> None:
    lines = [register_line("R1"), register_line("R2", at=T.format(1), child={"national_number": CHILD_B}, **bad)]
    with pytest.raises(FileRefused) as refused:
        _import(sqlite_service, tmp_path, lines)
    assert refused.value.problems[0][0] == 2 and fragment in refused.value.problems[0][1]
    assert not sqlite_service.events.recorder.max_notification_id()


def test_a_file_that_is_not_json_is_refused_with_the_line_number(sqlite_service, tmp_path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text('{"at": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(FileRefused) as refused:
        import_history(sqlite_service, path)
    assert [n for n, _ in refused.value.problems] == [1, 2]


def test_one_calendar_month_is_counted_on_the_calendar() -> None:
    assert one_month_after(dt.date(2025, 1, 31)) == dt.date(2025, 2, 28)
    assert one_month_after(dt.date(2024, 1, 31)) == dt.date(2024, 2, 29)
    assert is_urgent(dt.date(2023, 1, 31), dt.date(2023, 2, 28))
    assert not is_urgent(dt.date(2023, 1, 31), dt.date(2023, 3, 1))


def test_priority_group_in_brussels_also_needs_dutch() -> None:
    family = {"work_or_training": True, "low_income": True}
    assert is_priority_group(family, in_brussels=False)
    assert not is_priority_group(family, in_brussels=True)
    assert is_priority_group({**family, "dutch_speaking": True}, in_brussels=True)


def test_a_vulnerable_family_needs_one_of_income_health_or_education() -> None:
    assert not is_vulnerable_family({"work_or_training": True, "single_parent": True})
    assert is_vulnerable_family({"single_parent": True, "low_education": True})
    assert not is_vulnerable_family({"low_income": True, "dutch_speaking": None})


def test_the_domain_imports_no_framework() -> None:
    import ast

    for path in Path(__file__).resolve().parents[1].joinpath("service", "aggregates").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("fastapi", "psycopg", "openpyxl", "service.settings", "pydantic")), (path, name)
