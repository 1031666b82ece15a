"""Shared pytest fixtures.

Sections:
    1. Stores -- ``store_url``: every test that uses it runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

# ---------------------------------------------------------------------------
# 1. Stores
#
# ``store_url`` is parametrized as [sqlite] and [postgres]:
#   sqlite   -> sqlite:///<tmp_path>/loket.sqlite (file not created yet)
#   postgres -> a fresh, empty database t_<hex> on the server in LOKET_TEST_PG,
#               dropped after the test.
# ``make test`` (scripts/with-postgres) starts a throwaway server and sets
# LOKET_TEST_PG. Without it, set LOKET_TEST_STORES=sqlite to run on SQLite only.
# ---------------------------------------------------------------------------

# The loket's secrets for the whole test session (a test about the secrets sets its own).
for _name in ("LOKET_KEK", "LOKET_HASH_KEY", "LOKET_SESSION_KEY"):
    os.environ.setdefault(_name, base64.b64encode(secrets.token_bytes(32)).decode())

PG_ENV = "LOKET_TEST_PG"  # admin URL, e.g. postgresql://postgres@127.0.0.1:PORT/postgres
STORES_ENV = "LOKET_TEST_STORES"  # "sqlite", "postgres" or "sqlite,postgres" (default)
ALL_STORES = ("sqlite", "postgres")


def _selected_stores() -> list[str]:
    raw = os.environ.get(STORES_ENV, "").strip()
    if not raw:
        return list(ALL_STORES)
    chosen = [s.strip().lower() for s in raw.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(ALL_STORES))
    if unknown or not chosen:
        raise pytest.UsageError(
            f"{STORES_ENV}={raw!r}: expected a comma-separated subset of {', '.join(ALL_STORES)}"
        )
    return [s for s in ALL_STORES if s in chosen]


STORES = _selected_stores()


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of a database on the test server from which databases can be created."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        pytest.fail(
            f"{PG_ENV} is not set, so there is no PostgreSQL server to test against: "
            f"run through make test, or set {STORES_ENV}=sqlite to run only on SQLite",
            pytrace=False,
        )
    return url


def _with_dbname(url: str, dbname: str) -> str:
    return urlsplit(url)._replace(path="/" + dbname).geturl()


def _fresh_pg_database(admin_url: str) -> Iterator[str]:
    name = f"t_{secrets.token_hex(8)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_dbname(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=STORES, ids=STORES)
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a new, empty event store; see section 1 above."""
    if request.param == "sqlite":
        tmp_path = request.getfixturevalue("tmp_path")
        yield f"sqlite:///{tmp_path}/loket.sqlite"
    else:
        yield from _fresh_pg_database(request.getfixturevalue("pg_admin_url"))


# ---------------------------------------------------------------------------
# 2. The application on a store, and the shared acceptance cases
# ---------------------------------------------------------------------------

from pathlib import Path  # noqa: E402

from service.application import LoketService  # noqa: E402
from service.settings import Settings  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
CASES = SHARED / "cases"


def shared_dir() -> Path:
    """../shared beside the checkout (CI lays it there too)."""
    if not CASES.is_dir():
        pytest.fail(f"the shared acceptance cases are missing: expected them in {CASES}", pytrace=False)
    return SHARED


@pytest.fixture
def service(store_url: str) -> Iterator[LoketService]:
    svc = LoketService(Settings(store=store_url))
    yield svc
    svc.close()


@pytest.fixture
def make_service(store_url: str) -> Iterator:
    """Builds more services on the same store (as separate processes would)."""
    built: list[LoketService] = []

    def make(**overrides: str) -> LoketService:
        svc = LoketService(Settings(store=store_url, **overrides))
        built.append(svc)
        return svc

    yield make
    for svc in built:
        svc.close()


@pytest.fixture
def pg_or_sqlite_second(request: pytest.FixtureRequest, store_url: str) -> Iterator[str]:
    """A second empty store of the same kind as `store_url`."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{request.getfixturevalue('tmp_path')}/second.sqlite"
    else:
        yield from _fresh_pg_database(request.getfixturevalue("pg_admin_url"))
