"""Applying a history file (history-format.md): all or nothing for its shape, line by line for rules.

A line already recorded is recognised by the digest of its canonical form (and its
occurrence, should the same line appear twice), so importing again, or after a kill,
records nothing twice.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.aggregates.errors import DomainError
from service.application import LoketService
from service.commands import Command, ShapeError, no_duplicate_keys, parse_line

MAX_PROBLEMS = 50
MAX_LINE_BYTES = 1 << 20  # a register line with long notes is a few kB


class FileRefused(Exception):
    """The file is refused whole: nothing was recorded."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} regel(s) met een fout")


@dataclass
class ImportReport:
    lines: int = 0
    applied: int = 0
    already_recorded: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused


def _digest(key: bytes, canonical: str, occurrence: int) -> str:
    """A keyed digest: the line's content can never be guessed back from it (it may hold a national number)."""
    return hmac.new(key, f"{canonical}\n#{occurrence}".encode(), hashlib.sha256).hexdigest()[:32]


def _normalized(value: Any) -> Any:
    """The same value however it was written: 3 and 3.0 are one number."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value





def _check_line_lengths(path: Path) -> None:
    """Refuse a line longer than MAX_LINE_BYTES before the file is read whole: memory stays small."""
    number, length = 1, 0  # the line being read, and its length so far
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            pieces = chunk.split(b"\n")
            for piece in pieces[:-1]:
                if length + len(piece) > MAX_LINE_BYTES:
                    break
                number, length = number + 1, 0
            else:
                length += len(pieces[-1])
                if length <= MAX_LINE_BYTES:
                    continue
            raise FileRefused([(number, f"de regel is langer dan {MAX_LINE_BYTES // 2**20} MB; een opdracht "
                                        "past op één regel van hoogstens enkele kB")])


def _read_text(path: Path) -> str:
    try:
        _check_line_lengths(path)
        raw = path.read_bytes()
    except OSError as error:
        reason = {errno.ENOENT: "het bestaat niet", errno.EACCES: "geen toegang", errno.EISDIR: "het is een map"}
        raise FileRefused([(0, f"het bestand kan niet gelezen worden: {reason.get(error.errno, error.strerror)}")]) from None
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused([(1, "het bestand is UTF-16 of UTF-32; bewaar het als UTF-8")])
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark at the start is allowed (RFC 8259), nowhere else
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise FileRefused([(line, "geen geldige UTF-8-tekst (bv. Windows-1252 of Latin-1); bewaar het als UTF-8")]) from None


def _parse(text: str, key: bytes) -> Iterator[tuple[int, Command | str]]:
    """(line number, command) for each line, or (line number, what is wrong with it)."""
    seen: Counter[str] = Counter()
    previous = None
    for number, line in enumerate(text.split("\n"), start=1):  # only \n ends a line, not U+2028
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        if "\ufeff" in line:
            yield number, ("bevat een byte-order mark (BOM, U+FEFF): die mag alleen vooraan in het bestand staan "
                           "(twee bestanden aan elkaar gehangen?)")
            continue
        try:
            obj = json.loads(line, object_pairs_hook=no_duplicate_keys)
        except json.JSONDecodeError as error:
            yield number, f"geen geldige JSON ({error.msg}, kolom {error.colno})"
            continue
        except ValueError as error:
            yield number, str(error)
            continue
        canonical = json.dumps(_normalized(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        try:
            canonical.encode("utf-8")
        except UnicodeEncodeError:
            yield number, "bevat een ongeldig teken (een losse \\ud800-\\udfff escape)"
            continue
        seen[canonical] += 1
        try:
            command = parse_line(obj, _digest(key, canonical, seen[canonical]))
        except ShapeError as error:
            yield number, str(error)
            continue
        if previous is not None and command.recorded_at < previous:
            yield number, (f"'at' {command.recorded_at.isoformat()} ligt voor de vorige regel: "
                           "regels staan in volgorde van registratie")
        previous = command.recorded_at
        yield number, command


def read_history(path: Path, key: bytes) -> tuple[str, list[str]]:
    """The file's text and the digest of each line, or FileRefused naming each bad line.

    Only digests are kept: the commands are parsed again, a batch at a time, when applied.
    """
    text = _read_text(path)
    problems: list[tuple[int, str]] = []
    digests: list[str] = []
    registered: dict[tuple[str, str], int] = {}  # (kind, reference) -> the line that registers it
    for number, item in _parse(text, key):
        if isinstance(item, str):
            problems.append((number, item))
        else:
            if item.type in ("register", "register_location") and item.target:
                first = registered.setdefault((item.type, item.target), number)
                if first != number:  # a reference is unique: the second registration can never apply
                    what = "locatie" if item.type == "register_location" else "dossier"
                    problems.append((number, f"{what} '{item.target}' wordt al geregistreerd op regel {first}; "
                                             "een referentie is uniek binnen het loket"))
            if item.source is not None:
                digests.append(item.source)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise FileRefused(problems)
    if not digests:
        raise FileRefused([(0, "het bestand bevat geen enkele opdracht")])
    return text, digests


def import_history(
    service: LoketService, path: Path, on_progress: Callable[[int], None] | None = None
) -> ImportReport:
    key = service.vault.hash_secret
    text, digests = read_history(path, key)
    report = ImportReport(lines=len(digests))
    known = service.known_sources()
    report.already_recorded = sum(1 for d in digests if d in known and known[d] is None)
    if on_progress:
        on_progress(report.already_recorded)
    batch: list[tuple[int, Command]] = []
    for number, item in _parse(text, key):
        if isinstance(item, str):  # cannot happen: the same text was checked whole above
            raise FileRefused([(number, item)])
        if item.source in known:
            earlier = known[item.source]
            if earlier is not None:
                report.refused.append((number, earlier.message))
            continue
        batch.append((number, item))
        if len(batch) >= service.settings.import_batch:
            _apply(service, batch, report, on_progress)
            batch = []
    if batch:
        _apply(service, batch, report, on_progress)
    return report


def _apply(
    service: LoketService, batch: list[tuple[int, Command]], report: ImportReport,
    on_progress: Callable[[int], None] | None,
) -> None:
    results = service.execute_batch([cmd for _, cmd in batch])
    for (number, _), result in zip(batch, results, strict=True):
        if isinstance(result, DomainError):
            report.refused.append((number, result.message))
        else:
            report.applied += 1
    if on_progress:
        on_progress(len(batch))
