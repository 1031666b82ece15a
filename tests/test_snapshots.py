"""The frozen reference photos under snapshots/ rebuild exactly, byte for byte, on every store."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from service.importer import import_history
from service.reports import photo_csv_bytes, photo_json, photo_workbook

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"


def test_the_reference_photos_rebuild_exactly(service) -> None:
    report = import_history(service, SNAPSHOTS / "reference-history.jsonl")
    assert report.ok, report.refused[:5]
    manifest = json.loads((SNAPSHOTS / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest) >= 3
    for entry in manifest:
        as_of = dt.datetime.fromisoformat(entry["as_of"]) if entry["as_of"] else None
        photo = service.photo(entry["year"], as_of)
        assert photo_json(photo) == (SNAPSHOTS / entry["json"]).read_text(encoding="utf-8"), entry["json"]
        assert hashlib.sha256(photo_workbook(photo)).hexdigest() == entry["xlsx_sha256"], entry["json"]
        assert hashlib.sha256(photo_csv_bytes(photo)).hexdigest() == entry["csv_sha256"], entry["json"]
