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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.aggregates.errors import DomainError
from service.application import AggregateCache, LoketService
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





def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, read from disk as it is used (memory does not grow with the file,
    nor with a line: one longer than MAX_LINE_BYTES refuses the file before it is read whole).

    Only a newline ends a line (a U+2028 inside a name is text); the file must be UTF-8 (a byte-order mark at
    the start is allowed, RFC 8259; nowhere else)."""
    try:
        handle = path.open("rb")
    except OSError as error:
        reason = {errno.ENOENT: "het bestaat niet", errno.EACCES: "geen toegang", errno.EISDIR: "het is een map"}
        raise FileRefused([(0, f"het bestand kan niet gelezen worden: {reason.get(error.errno, error.strerror)}")]) from None
    with handle:
        try:
            number = 0
            while raw := handle.readline(MAX_LINE_BYTES + 2):  # binary lines end at b"\n" only
                number += 1
                if len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
                    raise FileRefused([(number, f"de regel is langer dan {MAX_LINE_BYTES // 2**20} MB; een opdracht "
                                                "past op één regel van hoogstens enkele kB")])
                if number == 1:
                    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
                                       codecs.BOM_UTF16_BE)):
                        raise FileRefused([(1, "het bestand is UTF-16 of UTF-32; bewaar het als UTF-8")])
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise FileRefused([(number, "geen geldige UTF-8-tekst (bv. Windows-1252 of Latin-1); bewaar het "
                                                "als UTF-8")]) from None
                yield number, text.removesuffix("\n").removesuffix("\r")
        except IsADirectoryError:
            raise FileRefused([(0, "het bestand kan niet gelezen worden: het is een map")]) from None


def _parse(lines: Iterable[tuple[int, str]], key: bytes,
           digests: Iterator[str] | None = None) -> Iterator[tuple[int, Command | str]]:
    """(line number, command) for each line, or (line number, what is wrong with it).

    With `digests` (of a first pass over the same file), each command takes the next one
    instead of computing it again."""
    seen: Counter[bytes] = Counter()  # by a hash of the canonical form: memory grows by a few bytes a line
    previous = None
    for number, line in lines:
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
        if digests is not None:
            source = next(digests)
        else:
            canonical = json.dumps(_normalized(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            try:
                encoded = canonical.encode("utf-8")
            except UnicodeEncodeError:
                yield number, "bevat een ongeldig teken (een losse \\ud800-\\udfff escape)"
                continue
            short = hashlib.blake2b(encoded, digest_size=16).digest()
            seen[short] += 1
            source = _digest(key, canonical, seen[short])
        try:
            command = parse_line(obj, source)
        except ShapeError as error:
            yield number, str(error)
            continue
        if previous is not None and command.recorded_at < previous:
            yield number, (f"'at' {command.recorded_at.isoformat()} ligt voor de vorige regel: "
                           "regels staan in volgorde van registratie")
        previous = command.recorded_at
        yield number, command


def read_history(path: Path, key: bytes) -> list[str]:
    """The digest of each line, or FileRefused naming each bad line (nothing is recorded then).

    Only digests are kept: the file is read and parsed again, a batch at a time, when applied.
    """
    problems: list[tuple[int, str]] = []
    digests: list[str] = []
    registered: dict[tuple[str, str], int] = {}  # (kind, reference) -> the line that registers it
    try:
        for number, item in _parse(_lines(path), key):
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
    except FileRefused as unreadable:  # the rest cannot be read: what was wrong before it, and that
        problems += unreadable.problems
    if problems:
        raise FileRefused(problems)
    if not digests:
        raise FileRefused([(0, "het bestand bevat geen enkele opdracht")])
    return digests


def import_history(
    service: LoketService, path: Path, on_progress: Callable[[int], None] | None = None
) -> ImportReport:
    key = service.vault.hash_secret
    digests = read_history(path, key)
    report = ImportReport(lines=len(digests))
    known = service.known_sources()
    report.already_recorded = sum(1 for d in digests if d in known and known[d] is None)
    if on_progress:
        on_progress(report.already_recorded)
    batch: list[tuple[int, Command]] = []
    cache = AggregateCache()  # the aggregates of one batch stay known to the next: one read less per line
    for number, item in _parse(_lines(path), key, iter(digests)):
        if isinstance(item, str):  # cannot happen: the same file was checked whole above
            raise FileRefused([(number, item)])
        if item.source in known:
            earlier = known[item.source]
            if earlier is not None:
                report.refused.append((number, earlier.message))
            continue
        batch.append((number, item))
        if len(batch) >= service.settings.import_batch:
            _apply(service, batch, report, on_progress, cache)
            batch = []
    if batch:
        _apply(service, batch, report, on_progress, cache)
    return report


def _apply(
    service: LoketService, batch: list[tuple[int, Command]], report: ImportReport,
    on_progress: Callable[[int], None] | None, cache: AggregateCache,
) -> None:
    results = service.execute_batch([cmd for _, cmd in batch], cache)
    for (number, _), result in zip(batch, results, strict=True):
        if isinstance(result, DomainError):
            report.refused.append((number, result.message))
        else:
            report.applied += 1
    if on_progress:
        on_progress(len(batch))
