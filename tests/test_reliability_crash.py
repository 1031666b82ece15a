"""kill -9 of the server while it writes: after a restart every registration answered 201 is there, whole.

(kill -9 of the import at random points: tests/test_import_resume.py; the long variant with a
50,000-line history runs in `make soak`.)
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from pathlib import Path

import httpx

from service.application import LoketService
from service.ledger import Ledger
from service.settings import Settings
from tests.servers import Server, bearer, children, make_account, registration

REGISTERED = "service.aggregates.care_request:CareRequest.Registered"


def kill_during_writes(store: str, log: Path, seconds: float, threads: int = 6,
                       birth: dt.date = dt.date(2025, 3, 1)) -> tuple[list[dict], int]:
    """Register distinct children from `threads` clients; kill -9 the server after `seconds`.

    Returns the bodies answered 201 and how many requests were in flight at the kill."""
    numbers = children(threads * 150, birth)  # a `birth` 10 days apart for each round on one store
    created: list[dict] = []
    lock = threading.Lock()
    in_flight = 0
    server = Server(store, log).start()
    auth = bearer(server.url)

    def work(mine: list[str]) -> None:
        nonlocal in_flight
        with httpx.Client(base_url=server.url, headers=auth, timeout=30) as client:
            for number in mine:
                with lock:
                    in_flight += 1
                try:
                    answer = client.post("/api/requests", json=registration(number))
                except httpx.TransportError:
                    return  # the server is gone; this one may or may not be recorded
                with lock:
                    in_flight -= 1
                    if answer.status_code == 201:
                        created.append(answer.json())
                    else:
                        raise AssertionError(answer.text)

    workers = [threading.Thread(target=work, args=(numbers[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    time.sleep(seconds)
    server.kill()
    for w in workers:
        w.join(timeout=60)
    return created, in_flight


def check_whole_after_restart(store: str, log: Path, created: list[dict], in_flight: int, before: int = 0) -> int:
    """Restart, and check: every 201 is there with its personal data, the log chains, nothing half written."""
    server = Server(store, log).start()  # the start chains what the kill left unchained
    try:
        auth = bearer(server.url)
        with httpx.Client(base_url=server.url, headers=auth, timeout=30) as client:
            for body in created:
                state = client.get(f"/api/requests/{body['id']}")
                assert state.status_code == 200, state.text
                assert state.json()["personal_data"]["child"]["national_number"]
            # the child index was saved with its request: a second registration names the dossier
            for body in random.sample(created, min(10, len(created))):
                number = client.get(f"/api/requests/{body['id']}").json()["personal_data"]["child"]["national_number"]
                again = client.post("/api/requests", json=registration(number))
                assert again.status_code == 409 and again.json()["bestaand_dossier"] == body["reference"]
    finally:
        server.stop()
    ledger = Ledger(Settings(store=store))
    try:
        assert ledger.verify().ok
    finally:
        ledger.close()
    service = LoketService(Settings(store=store))
    try:
        registered = [event for _, event in service.recorded_events(topics=[REGISTERED])]
        for event in registered:  # whole: every recorded request opens with its personal data
            assert service.personal_data(service.get_request(event.reference)) is not None
    finally:
        service.close()
    # every answered one is there; at most the ones in flight at the kill are there unanswered
    assert len(created) <= len(registered) - before <= len(created) + in_flight
    return len(registered)


def test_a_server_killed_during_writes_keeps_every_registration_it_answered_201(store_url: str, tmp_path: Path) -> None:
    make_account(store_url)
    created, in_flight = kill_during_writes(store_url, tmp_path / "server.log", seconds=random.uniform(1.5, 3))
    assert len(created) > 20
    check_whole_after_restart(store_url, tmp_path / "server.log", created, in_flight)
