"""Every route of the OpenAPI schema, fed by schemathesis with generated and broken input, logged in.

No answer is a 500, and every 4xx answer says in Dutch what is wrong ("melding"). The number
of examples per route is LOKET_SCHEMA_EXAMPLES (10 in make test, more in make soak).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from service.api.app import create_app
from service.importer import import_history
from service.settings import Settings
from tests.builders import CHILD_B, PASSWORD, line, register_line, write_history

EXAMPLES = int(os.environ.get("LOKET_SCHEMA_EXAMPLES", "10"))
T = "2025-03-{:02d}T10:00:00+01:00"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("schema")
    application = create_app(Settings(store=f"sqlite:///{folder}/loket.sqlite"))
    service = application.state.service
    history = write_history(folder / "h.jsonl", [
        {"at": T.format(1), "by": "anna", "type": "register_location", "location": "L1", "name": "Het Nest",
         "organizer": "vzw Nest", "municipality": "24062", "capacity": 18, "hours": []},
        register_line("R1", at=T.format(2)),
        register_line("R2", at=T.format(3), child={"national_number": CHILD_B}),
        line("propose", "R2", T.format(4), proposal="P1", location="L1", start="2025-09-01", days_per_week=4,
             on="2025-03-04"),
    ])
    assert import_history(service, history).ok
    service.accounts.add("adam", "admin", PASSWORD)
    service.accounts.add("uitlog", "worker", PASSWORD)  # logging out ends every session of its account
    yield application
    service.close()


@pytest.fixture(scope="module")
def api(app):
    schemathesis.experimental.OPEN_API_3_1.enable()  # FastAPI writes OpenAPI 3.1
    return schemathesis.from_asgi("/openapi.json", app)


schema = schemathesis.from_pytest_fixture("api")


def _bearer(app, name: str) -> dict[str, str]:
    accounts = app.state.service.accounts
    token, _ = accounts.issue(accounts.get(name), hours=1)
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_route_answers_500_and_every_refusal_says_what_is_wrong(app, case) -> None:
    who = "uitlog" if case.path == "/api/logout" else "adam"
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)  # no lifespan: the
    kwargs = case.as_transport_kwargs(base_url="https://testserver", headers=_bearer(app, who))  # service stays open
    kwargs.pop("base_url", None)
    url = kwargs.pop("url")
    response = client.request(kwargs.pop("method"), url, **{k: v for k, v in kwargs.items()
                                                             if k in ("headers", "params", "json", "content",
                                                                      "data", "files", "cookies")})
    assert response.status_code < 500, f"{case.method} {url}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("melding"), str) and len(body["melding"]) > 10, (case.method, url, body)
        assert body.get("fout"), body


def test_the_schema_covers_every_api_route(app) -> None:
    operations = {(m.upper(), p) for p, d in app.openapi()["paths"].items() for m in d}
    routes = {(m, r.path) for r in app.routes if r.path.startswith("/api/") for m in getattr(r, "methods", ()) if m != "HEAD"}
    assert routes <= operations, routes - operations


