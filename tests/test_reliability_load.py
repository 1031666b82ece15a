"""Many workers saving at once, through real HTTP servers, on every store.

Two server processes share one store (as two instances behind a proxy would), so races are
real races between processes, not only between threads under one lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import Server, bearer, children, make_account, registration, today

CONFLICT = "op hetzelfde moment"  # the message of a conflict that is safe to send again


@pytest.fixture
def servers(store_url: str, tmp_path: Path):
    make_account(store_url)
    pair = [Server(store_url, tmp_path / f"server-{i}.log") for i in range(2)]
    try:
        for server in pair:
            server.start()
        yield pair
    finally:
        for server in pair:
            server.stop()


def _at_once(count: int, call) -> list[Any]:
    """Run call(i) in `count` threads released together; the answers in order."""
    barrier = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return answers


def test_a_hundred_registrations_of_one_child_at_once_give_one_201_and_99_409_naming_it(servers) -> None:
    auth = bearer(servers[0].url)
    child = children(1)[0]

    def register(i: int) -> httpx.Response:
        with httpx.Client(base_url=servers[i % 2].url, headers=auth, timeout=120) as client:
            return client.post("/api/requests", json=registration(child))

    answers = _at_once(100, register)
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 409: 99}, statuses
    created = next(a.json() for a in answers if a.status_code == 201)
    for refused in (a.json() for a in answers if a.status_code == 409):
        assert refused["fout"] == "dubbele_aanvraag", refused
        assert refused["bestaand_dossier"] == created["reference"]
        assert created["reference"] in refused["melding"]
    with httpx.Client(base_url=servers[1].url, headers=auth) as client:
        open_requests = client.get("/api/open-requests").json()
    assert [r["reference"] for r in open_requests] == [created["reference"]]


def test_fifty_follow_ups_on_one_request_at_once_are_each_applied_once(servers) -> None:
    auth = bearer(servers[0].url)
    day = today().isoformat()
    with httpx.Client(base_url=servers[0].url, headers=auth) as client:
        created = client.post("/api/requests", json=registration(children(1)[0]))
        assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    start = registration("x")["desired_start"]

    def propose(i: int) -> tuple[int, dict[str, Any]]:
        body = {"proposal": f"P{i:02d}", "location": "Kinderdagverblijf Het Nest", "start": start,
                "days_per_week": 4, "on": day}
        with httpx.Client(base_url=servers[i % 2].url, headers=auth, timeout=120) as client:
            for _ in range(5):  # a conflict recorded nothing, so sending it again is safe
                answer = client.post(f"/api/requests/{reference}/propose", json=body)
                if not (answer.status_code == 409 and CONFLICT in answer.json()["melding"]):
                    break
            return answer.status_code, answer.json()

    answers = _at_once(50, propose)
    assert Counter(status for status, _ in answers) == {200: 50}, answers
    positions = [body["position"] for _, body in answers]
    assert len(set(positions)) == 50  # fifty different events

    with httpx.Client(base_url=servers[1].url, headers=auth) as client:
        history = client.get(f"/api/requests/{reference}/history").json()
    made = [h["fields"]["proposal"] for h in history if h["what"] == "ProposalMade"]
    assert sorted(made) == [f"P{i:02d}" for i in range(50)]  # each once, none lost
    assert [h["version"] for h in history] == list(range(1, 52))  # no gap, no fork

    # Twenty acceptances of different proposals at once: one placement, nineteen clear refusals.
    def accept(i: int) -> tuple[int, dict[str, Any]]:
        with httpx.Client(base_url=servers[i % 2].url, headers=auth, timeout=120) as client:
            for _ in range(5):
                answer = client.post(f"/api/requests/{reference}/accept", json={"proposal": f"P{i:02d}", "on": day})
                if not (answer.status_code == 409 and CONFLICT in answer.json()["melding"]):
                    break
            return answer.status_code, answer.json()

    accepted = _at_once(20, accept)
    assert Counter(status for status, _ in accepted) == {200: 1, 409: 19}, accepted
    for status, body in accepted:
        if status == 409:
            assert "annuleer" in body["melding"].lower() and body["fout"], body
    with httpx.Client(base_url=servers[0].url, headers=auth) as client:
        state = client.get(f"/api/requests/{reference}").json()
        history = client.get(f"/api/requests/{reference}/history").json()
    assert state["placement"] is not None
    assert [h["what"] for h in history].count("PlacementAccepted") == 1
    assert [h["version"] for h in history] == list(range(1, 53))
