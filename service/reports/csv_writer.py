"""The photo as CSV for Excel and LibreOffice with Belgian settings.

One row per (municipality or total, category); ";" separates the fields, lines end in CRLF.
`photo_csv` returns text without a byte-order mark: encode it with `CSV_ENCODING`
("utf-8-sig", UTF-8 with BOM, so Excel reads the accents right), or use `photo_csv_bytes`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from service import municipalities
from service.reports import layout

CSV_ENCODING = "utf-8-sig"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
DELIMITER = ";"
TOTAL_NIS = "totaal"
HEADER = ["Jaar", "Toestand op (Brusselse tijd)", "Telregels", "NIS-code", "Gemeente", "Categorie"] + [
    label for _, label in layout.COLUMNS
]


def photo_csv(photo: Mapping[str, Any]) -> str:
    """The photo as CSV text, without BOM (encode with CSV_ENCODING): total first, then by code."""
    year = photo["year"]
    fixed = [str(year), layout.moment_text(layout.photo_moment(photo)), photo["rules"]]
    rows = layout.categories(photo["total"])
    places = [(TOTAL_NIS, layout.ALL_MUNICIPALITIES, photo["total"])] + [
        (nis, municipalities.name(nis, year), photo["municipalities"][nis])
        for nis in sorted(photo["municipalities"])
    ]
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(HEADER)
    for nis, place, figures in places:
        for key, label in rows:
            text = [layout.neutralized(t) for t in fixed + [nis, place, label]]
            writer.writerow(text + layout.counts(figures, key))
    return out.getvalue()


def photo_csv_bytes(photo: Mapping[str, Any]) -> bytes:
    """The photo as a CSV file's bytes: UTF-8 with BOM."""
    return photo_csv(photo).encode(CSV_ENCODING)
