"""The long reliability runs (`make soak`), on SQLite and on PostgreSQL; figures into docs/reliability.md.

1. kill -9 of `loket import` at five random points of a ~50,000-line history, then the import
   again: the store must equal one uninterrupted import (same events, same photo digest).
2. kill -9 of the server during writes, several rounds: every registration answered 201 is
   there after the restart, whole.
3. 100 registrations of one child at once through two server processes: one 201, 99 409.
4. The long pytest variants: schemathesis with more examples per route, a 500 MB history line,
   the PostgreSQL restart and the full disk.

Run through scripts/with-postgres (make soak does). Options: --lines N, --kills N, --rounds N,
--stores sqlite,postgres, --no-pytest, --no-write (print the figures, leave the doc alone).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from service import demo  # noqa: E402
from tests.test_import_resume import _content, _count  # noqa: E402
from tests.test_reliability_crash import check_whole_after_restart, kill_during_writes  # noqa: E402

DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"


def _store(kind: str, folder: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder}/{name}.sqlite"
    admin = os.environ["LOKET_TEST_PG"]
    db = f"soak_{name}_{random.randrange(16**8):08x}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    return admin.rsplit("/", 1)[0] + "/" + db


def _import(store: str, path: Path) -> subprocess.Popen:
    env = {**os.environ, "LOKET_STORE": store}
    return subprocess.Popen([sys.executable, "-m", "service.cli", "import", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _digest(photo: dict) -> str:
    return hashlib.sha256(json.dumps(photo, sort_keys=True, default=str).encode()).hexdigest()[:16]


def import_kills(kind: str, folder: Path, history: Path, lines: int, kills: int) -> list[str]:
    reference, store = _store(kind, folder, "whole"), _store(kind, folder, "killed")
    t0 = time.monotonic()
    whole = _import(reference, history)
    _, err = whole.communicate()
    assert whole.returncode == 0, err.decode()
    whole_s = time.monotonic() - t0
    total = _count(reference)
    points = sorted(random.uniform(0.05, 0.95) for _ in range(kills))
    killed_at: list[int] = []
    for fraction in points:
        before = _count(store)
        proc = _import(store, history)
        while proc.poll() is None and _count(store) < max(fraction * total, before + 1):  # killed while it writes
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_at.append(_count(store))
        proc.wait()
    t0 = time.monotonic()
    final = _import(store, history)
    out, err = final.communicate()
    assert final.returncode == 0, err.decode()
    resume_s = time.monotonic() - t0
    events_a, photo_a = _content(store)
    events_b, photo_b = _content(reference)
    same = events_a == events_b and photo_a == photo_b
    assert same, "the store after the kills differs from one uninterrupted import"
    summary = out.decode().strip().splitlines()[-1]
    return [f"| {kind} | {lines:,} lines, {total:,} events | {len(killed_at)} kills at events "
            f"{', '.join(f'{n:,}' for n in killed_at)} | {whole_s:.1f} s whole; {resume_s:.1f} s for the last run "
            f"({summary}) | identical: {len(events_a):,} events, photo 2024 digest {_digest(photo_a)} |"]


def server_kills(kind: str, folder: Path, rounds: int) -> list[str]:
    from tests.servers import make_account

    store = _store(kind, folder, "server")
    make_account(store)
    answered, flights, registered = 0, 0, 0
    for i in range(rounds):
        created, in_flight = kill_during_writes(store, folder / f"server-{kind}.log", seconds=random.uniform(1, 4),
                                                birth=dt.date(2025, 3, 1) - dt.timedelta(days=10 * i))
        before = registered
        registered = check_whole_after_restart(store, folder / f"server-{kind}.log", created, in_flight, before)
        answered += len(created)
        flights += in_flight
        print(f"  {kind} round {i + 1}: {len(created)} answered 201, {in_flight} in flight at the kill", flush=True)
    return [f"| {kind} | {rounds} kill -9 during writes (6 clients) | {answered:,} answered 201, all there whole | "
            f"{registered - answered} recorded of the {flights} in flight at the kills (answer lost, recorded once) |"]


def pytest_long(folder: Path) -> list[str]:
    env = {**os.environ, "LOKET_SCHEMA_EXAMPLES": "150", "LOKET_HUGE_LINE_MB": "500"}
    tests = ["tests/test_reliability_schema.py", "tests/test_reliability_files.py", "tests/test_reliability_faults.py",
             "tests/test_reliability_load.py", "tests/test_photo_properties.py"]
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    last = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    assert done.returncode == 0, done.stdout[-3000:]
    return [f"| pytest, long settings (150 examples per route, a 500 MB line) | {last[-1] if last else '?'} | "
            f"{time.monotonic() - t0:.0f} s |"]


def main() -> int:
    import base64

    for name in ("LOKET_KEK", "LOKET_HASH_KEY", "LOKET_SESSION_KEY"):  # the run's own secrets, as the tests have
        os.environ.setdefault(name, base64.b64encode(os.urandom(32)).decode())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--no-pytest", action="store_true", help="leave out the long pytest variants")
    args = parser.parse_args()
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="loket-soak.") as tmp:
        folder = Path(tmp)
        history = folder / "history.jsonl"
        with history.open("w", encoding="utf-8") as handle:
            demo.generate_loket(handle, years=(2024, 2025), seed=11, scale=args.lines / 17_900)
        lines = sum(1 for _ in history.open(encoding="utf-8"))
        imports, servers = [], []
        for kind in stores:
            print(f"import kills on {kind} ({lines:,} lines) ...", flush=True)
            imports += import_kills(kind, folder, history, lines, args.kills)
            print(f"server kills on {kind} ...", flush=True)
            servers += server_kills(kind, folder, args.rounds)
        print("long pytest variants ...", flush=True)
        long = [] if args.no_pytest else pytest_long(folder)
    minutes = (time.monotonic() - started) / 60
    text = "\n".join([
        BEGIN,
        f"Measured by `make soak` on {dt.date.today().isoformat()} (2-core machine, {minutes:.0f} min in all).",
        "",
        "| store | history | kill -9 of the import | time | after the import again |",
        "|---|---|---|---|---|",
        *imports,
        "",
        "| store | what | answered | in flight |",
        "|---|---|---|---|",
        *servers,
        "",
        "| run | result | time |",
        "|---|---|---|",
        *long,
        END,
    ])
    print(text)
    if not args.no_write:
        doc = DOC.read_text(encoding="utf-8")
        DOC.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: text, doc, flags=re.S),
                       encoding="utf-8")
        print(f"written to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
