"""The ``store_url`` fixture from conftest.py hands out fresh, empty stores."""

from pathlib import Path
from urllib.parse import urlsplit

import psycopg


def test_store_url_is_a_fresh_empty_store(store_url: str, tmp_path: Path) -> None:
    if store_url.startswith("sqlite:///"):
        path = Path(store_url.removeprefix("sqlite:///"))
        assert path.is_absolute()
        assert path.parent == tmp_path
        assert not path.exists()
        return

    assert store_url.startswith("postgresql://postgres@127.0.0.1:")
    dbname = urlsplit(store_url).path.removeprefix("/")
    assert dbname.startswith("t_")
    with psycopg.connect(store_url, connect_timeout=10) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (dbname,)
        user_relations = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg_toast%'"
        ).fetchone()
        assert user_relations == (0,)
        conn.execute("CREATE TABLE probe (id int)")  # writable by the test
