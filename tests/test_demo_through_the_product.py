"""The generated histories, imported through the product, give what they were built to give."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from service import demo, municipalities
from service.importer import import_history


def test_the_flanders_year_reproduces_the_published_provincial_table_scaled_down(service, tmp_path: Path) -> None:
    path = tmp_path / "flanders.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        targets = demo.generate_flanders(handle, year=2024, scale=0.02, seed=5)
    report = import_history(service, path)
    assert report.refused == []
    photo = service.photo(2024)
    provinces: dict[str, dict[str, int]] = defaultdict(lambda: {"requests": 0, "unanswered": 0})
    for nis, figures in photo["municipalities"].items():
        for key in ("requests", "unanswered"):
            provinces[municipalities.province(nis)][key] += figures["all"][key]
    assert dict(provinces) == {p: {"requests": t["requests"], "unanswered": t["unanswered"]}
                               for p, t in targets["provinces"].items()}
    assert photo["total"]["all"]["requests"] == targets["total"]["requests"]


def test_the_loket_history_gives_its_expected_photos(service, tmp_path: Path) -> None:
    path = tmp_path / "loket.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        expected = demo.generate_loket(handle, seed=11, scale=0.1)
    assert import_history(service, path).refused == []
    for year, figures in expected["photos"].items():
        photo = service.photo(int(year))
        assert photo["total"]["all"] == figures["total"]
        for category, counts in figures["categories"].items():
            assert {k: photo["total"][category][k] for k in counts} == counts, category
        assert {n: f["all"] for n, f in photo["municipalities"].items()} == figures["municipalities"]
