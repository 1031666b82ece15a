"""Applying a history file (history-format.md): all or nothing for its shape, line by line for rules.

A line already recorded is recognised by the digest of its canonical form (and its
occurrence, should the same line appear twice), so importing again, or after a kill,
records nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from service.aggregates.errors import DomainError
from service.application import LoketService
from service.commands import Command, ShapeError, parse_line

MAX_PROBLEMS = 50


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


def _digest(canonical: str, occurrence: int) -> str:
    return hashlib.sha256(f"{canonical}\n#{occurrence}".encode()).hexdigest()[:32]


def read_history(path: Path) -> list[tuple[int, Command]]:
    """Every command of the file with its line number, or FileRefused naming each bad line."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise FileRefused([(0, f"het bestand kan niet gelezen worden: {error.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise FileRefused([(line, "geen geldige UTF-8-tekst")]) from None
    problems: list[tuple[int, str]] = []
    commands: list[tuple[int, Command]] = []
    seen: Counter[str] = Counter()
    previous = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append((number, f"geen geldige JSON ({error.msg}, kolom {error.colno})"))
            continue
        canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        seen[canonical] += 1
        try:
            command = parse_line(obj, _digest(canonical, seen[canonical]))
        except ShapeError as error:
            problems.append((number, str(error)))
            continue
        if previous is not None and command.recorded_at < previous:
            problems.append((number, f"'at' {command.recorded_at.isoformat()} ligt voor de vorige regel: "
                                     "regels staan in volgorde van registratie"))
        previous = command.recorded_at
        commands.append((number, command))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise FileRefused(problems)
    return commands


def _batches(items: list[tuple[int, Command]], size: int) -> Iterator[list[tuple[int, Command]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def import_history(
    service: LoketService, path: Path, on_progress: Callable[[int], None] | None = None
) -> ImportReport:
    commands = read_history(path)
    report = ImportReport(lines=len(commands))
    known = service.known_sources()
    todo = [(n, cmd) for n, cmd in commands if cmd.source not in known]
    report.already_recorded = len(commands) - len(todo)
    if on_progress:
        on_progress(report.already_recorded)
    for batch in _batches(todo, service.settings.import_batch):
        results = service.execute_batch([cmd for _, cmd in batch])
        for (number, _), result in zip(batch, results, strict=True):
            if isinstance(result, DomainError):
                report.refused.append((number, result.message))
            else:
                report.applied += 1
        if on_progress:
            on_progress(len(batch))
    return report
