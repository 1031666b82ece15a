"""Malformed and hostile history files: a clear refusal naming the line, and nothing recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.importer import FileRefused, import_history
from tests.builders import CHILD_B, line, register_line

T = "2025-03-{:02d}T10:00:00+01:00"


def _text(*lines: dict) -> str:
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)


def _good() -> str:
    return _text(register_line("R1", at=T.format(1)), register_line("R2", at=T.format(2), child={"national_number": CHILD_B}),
                 line("withdraw", "R1", T.format(3), on="2025-03-03", reason="geen opvang meer nodig"))


def _refused(service, path: Path) -> list[tuple[int, str]]:
    with pytest.raises(FileRefused) as refused:
        import_history(service, path)
    assert service.events.recorder.max_notification_id() in (None, 0), "something was recorded"
    return refused.value.problems


def test_a_truncated_last_line_refuses_the_file_naming_it(service, tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(_good()[:-40], encoding="utf-8")  # cut in the middle of the last line, no newline
    problems = _refused(service, path)
    assert problems[0][0] == 3 and "geen geldige JSON" in problems[0][1]


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_a_file_in_another_encoding_refuses_the_file_naming_the_line(service, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "h.jsonl"
    text = _good() + _text(line("correct_registration", "R2", T.format(4), notes="crèche", reason="typfout"))
    path.write_bytes(text.encode(encoding))
    problems = _refused(service, path)
    assert problems == [(4, problems[0][1])] and "UTF-8" in problems[0][1]


def test_a_utf16_file_is_refused_saying_to_save_it_as_utf8(service, tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(_good().encode("utf-16"))
    assert "UTF-16" in _refused(service, path)[0][1]


def test_a_byte_order_mark_at_the_start_is_read_as_utf8(service, tmp_path: Path) -> None:
    """RFC 8259 lets a reader ignore it; Windows Notepad writes it (docs/reliability.md)."""
    path = tmp_path / "h.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _good().encode())
    assert import_history(service, path).applied == 3


def test_a_byte_order_mark_inside_the_file_refuses_it_naming_the_line(service, tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    lines = _good().splitlines(keepends=True)
    path.write_bytes("".join(lines[:2]).encode() + b"\xef\xbb\xbf" + lines[2].encode())  # two files glued together
    problems = _refused(service, path)
    assert problems[0][0] == 3 and "byte-order mark" in problems[0][1]


def test_a_reference_registered_twice_in_one_file_refuses_it_naming_both_lines(service, tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(_good() + _text(register_line("R2", at=T.format(5), child={"national_number": "24120610343"})),
                    encoding="utf-8")
    problems = _refused(service, path)
    assert problems[0][0] == 4 and "'R2'" in problems[0][1] and "regel 2" in problems[0][1]


def test_times_going_backwards_refuse_the_file(service, tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(_good() + _text(line("reopen", "R1", T.format(2), on="2025-03-02", reason="toch nodig")), encoding="utf-8")
    problems = _refused(service, path)
    assert problems[0][0] == 4 and "ligt voor de vorige regel" in problems[0][1]


def test_a_line_of_hundreds_of_megabytes_is_refused_without_reading_it_into_memory(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path}/store.sqlite"  # the file is refused before any store is touched
    path = tmp_path / "huge.jsonl"
    megabytes = int(os.environ.get("LOKET_HUGE_LINE_MB", "200"))
    with path.open("wb") as handle:
        handle.write(_good().encode())
        handle.write(b'{"at": "2025-03-04T10:00:00+01:00", "by": "anna", "type": "withdraw", "request": "R2", "reason": "')
        block = b"x" * (1 << 20)
        for _ in range(megabytes):
            handle.write(block)
        handle.write(b'", "on": "2025-03-04"}\n')
    measure = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "print(done.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "print(done.stderr, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "service.cli", "import", str(path)],
                          env={**os.environ, "LOKET_STORE": store_url}, capture_output=True, text=True, timeout=300)
    status, peak_kib = (int(x) for x in done.stdout.split())
    path.unlink()
    assert status == 1, done.stderr
    assert "regel 4: de regel is langer dan 1 MB" in done.stderr and "niets geregistreerd" in done.stderr
    assert peak_kib < 200 * 1024, f"peak memory {peak_kib // 1024} MiB for a {megabytes} MB line"


# ---------------------------------------------------------------- hostile workbooks to verify


def _photo_workbook() -> bytes:
    from service.reports import photo_workbook
    from tests.test_verify_workbook import snapshot

    return photo_workbook(snapshot())


def _parts(data: bytes) -> dict[str, bytes]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as source:
        return {name: source.read(name) for name in source.namelist()}


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    import io
    import zipfile

    from tests.test_verify_workbook import refusal

    parts = _parts(_photo_workbook())
    parts["xl/media/bom.bin"] = bytes(60 * 1024 * 1024)  # 60 MB of zeros, some 60 kB packed
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in parts.items():
            target.writestr(name, content)
    data = out.getvalue()
    assert len(data) < 1024 * 1024
    assert "MB" in refusal(data)


def test_an_external_link_is_refused_and_never_followed() -> None:
    from tests.test_verify_workbook import edited, refusal, urgent_unanswered

    data = edited(_photo_workbook(), lambda wb: setattr(urgent_unanswered(wb), "value",
                                                        "='file:///etc/[passwd.xlsx]Blad1'!A1"))
    message = refusal(data)
    assert "formule" in message


def test_a_sheet_claiming_a_million_rows_is_read_only_as_far_as_the_limit() -> None:
    import time

    from openpyxl.utils import get_column_letter

    from service.reports import read_xlsx
    from tests.test_verify_workbook import edited

    def far(wb) -> None:
        sheet = wb["Totaal"]
        sheet.cell(1_048_576, 16_384, "ver weg")  # XFD1048576: the sheet claims the whole grid
        assert get_column_letter(16_384) == "XFD"

    data = edited(_photo_workbook(), far)
    started = time.monotonic()
    read_xlsx.read_workbook(data)  # only MAX_ROWS rows and MAX_COLUMNS columns are looked at
    assert time.monotonic() - started < 10
