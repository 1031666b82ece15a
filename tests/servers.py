"""A real HTTP server of the product (`loket serve` in a process of its own), for load and crash tests.

Tests that need real concurrency, a kill -9 or a database restart cannot use TestClient: it
runs the app in the test's own process. `Server` starts `python -m service.cli serve` on a free
127.0.0.1 port against a store, waits until it answers, and can be killed like any process.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from service.natnum_gen import NationalNumbers

BRUSSELS = ZoneInfo("Europe/Brussels")
PASSWORD = "een-lang-testwachtwoord"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`loket serve` on 127.0.0.1 in a child process."""

    def __init__(self, store: str, log: Path, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.store = store
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {**os.environ, "LOKET_STORE": store, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Server:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "serve", "--port", str(self.port)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server stopped at start:\n{self.log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.url + "/api/public/photos", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server did not answer in {timeout} s")

    def kill(self) -> None:
        """kill -9: no clean shutdown, no flush, nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def make_account(store: str, name: str = "anna", role: str = "worker") -> None:
    """An account on the store (created when missing), before any server starts."""
    from service.application import LoketService
    from service.settings import Settings

    service = LoketService(Settings(store=store))
    try:
        if service.accounts.get(name) is None:
            service.accounts.add(name, role, PASSWORD)
    finally:
        service.close()


def bearer(url: str, name: str = "anna") -> dict[str, str]:
    answer = httpx.post(url + "/api/token", data={"username": name, "password": PASSWORD}, timeout=30)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def today() -> dt.date:
    return dt.datetime.now(BRUSSELS).date()


def registration(national_number: str, **fields: Any) -> dict[str, Any]:
    """A registration body for today, for a born child."""
    day = today()
    body: dict[str, Any] = {
        "request_date": day.isoformat(), "desired_start": (day + dt.timedelta(days=200)).isoformat(),
        "days_per_week": 4, "hours": [], "municipality": "24062", "child": {"national_number": national_number},
        "family": {"work_or_training": True}, "special_care": False, "consent": True,
        "contact": {"name": "Ouder Test", "phone": "0470 00 00 00"},
    }
    body.update(fields)
    return body


def children(count: int, birth: dt.date = dt.date(2025, 3, 1)) -> list[str]:
    """`count` synthetic national numbers (no real person behind them)."""
    numbers = NationalNumbers()
    return [numbers.new(birth) for _ in range(count)]
