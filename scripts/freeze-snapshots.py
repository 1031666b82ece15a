"""Freeze the reference photos under snapshots/ (run once; the test rebuilds them exactly).

    python scripts/freeze-snapshots.py
Writes snapshots/reference-history.jsonl (if absent) and, for each photo of MANIFEST,
its JSON and the sha256 of its workbook and CSV bytes into snapshots/manifest.json.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service import demo  # noqa: E402
from service.application import LoketService  # noqa: E402
from service.importer import import_history  # noqa: E402
from service.reports import photo_csv_bytes, photo_json, photo_workbook  # noqa: E402
from service.settings import Settings  # noqa: E402

SNAPSHOTS = ROOT / "snapshots"
PHOTOS = [(2024, None), (2025, None), (2025, "2026-02-25T12:00:00+01:00")]


def photo_name(year: int, as_of: str | None) -> str:
    return f"photo-{year}" + (f"-as-of-{as_of[:10]}" if as_of else "") + ".json"


def main() -> int:
    history = SNAPSHOTS / "reference-history.jsonl"
    if not history.exists():
        with history.open("w", encoding="utf-8", newline="\n") as handle:
            demo.generate_loket(handle, seed=1, scale=0.1)
    with tempfile.TemporaryDirectory() as tmp:
        service = LoketService(Settings(store=f"sqlite:///{tmp}/s.sqlite"))
        report = import_history(service, history)
        assert report.ok, report.refused
        manifest = []
        for year, as_of in PHOTOS:
            photo = service.photo(year, dt.datetime.fromisoformat(as_of) if as_of else None)
            name = photo_name(year, as_of)
            (SNAPSHOTS / name).write_text(photo_json(photo), encoding="utf-8")
            manifest.append({
                "year": year, "as_of": as_of, "json": name,
                "xlsx_sha256": hashlib.sha256(photo_workbook(photo)).hexdigest(),
                "csv_sha256": hashlib.sha256(photo_csv_bytes(photo)).hexdigest(),
            })
        service.close()
    (SNAPSHOTS / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
