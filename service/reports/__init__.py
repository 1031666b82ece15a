"""Writers of a photo: the regulator's workbook, CSV and JSON.

Each writer takes the photo dict (the product's photo JSON) and returns text or bytes:

    {"year": 2025, "as_of": "2026-03-01T00:00:00+01:00", "position": 1234,
     "rules": "regels-2024", "total": FIGURES, "municipalities": {"24062": FIGURES, ...}}
    FIGURES = {"all": C, "urgent": C, "extended_hours": C,
               "priority_group": C (only for years before 2024),
               "vulnerable_family": C, "special_care": C}
    C = {"requests": n, "unanswered": n, "no_proposal": n, "not_accepted": n, "deviating": n}

The regulator's layout (labels, order, sheet names) lives in `layout`.
"""

from service.reports.csv_writer import CSV_ENCODING, CSV_MEDIA_TYPE, photo_csv, photo_csv_bytes
from service.reports.json_writer import canonical_json, photo_json
from service.reports.xlsx import photo_workbook

__all__ = [
    "CSV_MEDIA_TYPE",
    "CSV_ENCODING",
    "canonical_json",
    "photo_csv",
    "photo_csv_bytes",
    "photo_json",
    "photo_workbook",
]
