"""One settings object, read from the environment (LOKET_*)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOKET_", extra="ignore")

    name: str = Field(default="Lokaal Loket Kinderopvang", max_length=200,
                      description="the loket's name, as other loketten and the regulator know it")
    store: str = Field(default="", description="sqlite:///ABSOLUTE/PATH.sqlite or postgresql://USER@HOST:PORT/DBNAME")
    service_area: str = Field(default="", description="comma-separated NIS codes; empty = Flanders and Brussels")
    secrets_file: Path | None = Field(
        default=None,
        description="JSON file with the secrets (kek, hash_key, session_key); empty = LOKET_KEK, LOKET_HASH_KEY, "
                    "LOKET_SESSION_KEY, or a development file generated beside the store",
    )
    kek: SecretStr = Field(default=SecretStr(""), description="key-encryption keys, base64, comma-separated, newest first")
    hash_key: SecretStr = Field(default=SecretStr(""), description="key of the keyed hashes (uniqueness), base64")
    session_key: SecretStr = Field(default=SecretStr(""), description="keys signing sessions, base64, comma-separated, newest first")
    session_hours: float = Field(default=8.0, gt=0, le=24, description="a login lasts at most this long")
    idle_minutes: int = Field(default=30, ge=1, le=480, description="a browser session ends after this long unused")
    cookie_secure: bool = Field(default=True, description="session cookies only over HTTPS (and http://127.0.0.1)")
    login_attempts: int = Field(default=5, ge=1, le=100, description="failed logins per name or address per window")
    login_window_minutes: int = Field(default=15, ge=1, le=1440)
    retention_years: int = Field(default=2, ge=0, le=100,
                                 description="personal data is erased this many years after a request closed")
    view_wait: float = Field(default=10.0, ge=0, le=600,
                             description="seconds a photo waits for the figures view before it replays the events")
    import_batch: int = Field(default=500, ge=1, le=10000, description="history lines per import transaction")

    @field_validator("secrets_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("store")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError(
                "LOKET_STORE moet beginnen met sqlite:/// (gevolgd door een absoluut pad) of postgresql://"
            )
        return value

    @field_validator("service_area")
    @classmethod
    def _known_municipalities(cls, value: str) -> str:
        from service.municipalities import flanders_and_brussels

        unknown = sorted({c.strip() for c in value.split(",") if c.strip()} - flanders_and_brussels())
        if unknown:
            raise ValueError(f"geen NIS-code van een gemeente in Vlaanderen of Brussel: {', '.join(unknown)}")
        return value

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{Path(os.getcwd(), 'var', 'loket.sqlite')}"

    @property
    def is_postgres(self) -> bool:
        return self.store_url.startswith(("postgresql://", "postgres://"))

    @property
    def sqlite_path(self) -> Path:
        return Path("/" + self.store_url.removeprefix("sqlite:///").lstrip("/"))

    @property
    def area(self) -> tuple[str, ...]:
        return tuple(sorted({c.strip() for c in self.service_area.split(",") if c.strip()}))

    def eventsourcing_env(self) -> dict[str, str]:
        if not self.is_postgres:
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(self.sqlite_path),
                    "SQLITE_LOCK_TIMEOUT": "30"}
        url = urlparse(self.store_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(url.path.lstrip("/")),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_PRE_PING": "y",  # a connection broken by a database restart is replaced, not handed out
        }

    def postgres_conninfo(self) -> str:
        env = self.eventsourcing_env()
        return (f"host={env['POSTGRES_HOST']} port={env['POSTGRES_PORT']} dbname={env['POSTGRES_DBNAME']} connect_timeout=5 "
                f"user={env['POSTGRES_USER']}" + (f" password={env['POSTGRES_PASSWORD']}" if env["POSTGRES_PASSWORD"] else ""))
