"""The loket's secrets: where they come from, and the development default.

Three secrets, each at least 32 random bytes, written in base64:

- ``kek``: key-encryption keys. Every request's personal-data key is stored wrapped
  (AES-GCM) under the newest; older ones are kept only until `loket rotate-keys` rewrapped
  everything under the newest.
- ``hash_key``: the key of the keyed hashes that make a child unique without storing its
  national number. It is tied to the store (a fingerprint is kept there) and is not rotated.
- ``session_key``: signs login tokens and session cookies; newest first, older ones still
  accepted until removed (removing one logs out whoever logged in under it).

They come from the environment (LOKET_KEK, LOKET_HASH_KEY, LOKET_SESSION_KEY) or from a JSON
file named by LOKET_SECRETS_FILE; the environment wins. With neither, a development file is
generated once, beside the SQLite store (``var/secrets.json`` for ``make run``) or in
``var/`` for PostgreSQL, with a warning: fine on a laptop, never in production.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from service.settings import Settings

logger = logging.getLogger("loket.secrets")

NAMES = ("kek", "hash_key", "session_key")
MIN_BYTES = 32
_warned: set[Path] = set()


class ConfigurationError(ValueError):
    """A secret is missing, malformed or does not belong to this store (Dutch message)."""


@dataclass(frozen=True)
class Secrets:
    keks: tuple[bytes, ...]
    hash_key: bytes
    session_keys: tuple[bytes, ...]
    development_file: Path | None = None

    @property
    def kek(self) -> bytes:
        return self.keks[0]


def kek_id(kek: bytes) -> str:
    """A short public name for a key-encryption key (never the key itself)."""
    return hashlib.sha256(b"loket-kek\x1f" + kek).hexdigest()[:16]


def new_secret() -> str:
    return base64.b64encode(os.urandom(MIN_BYTES)).decode()


def development_file(settings: Settings) -> Path:
    if settings.is_postgres:
        return Path(os.getcwd(), "var", "secrets.json")
    return settings.sqlite_path.parent / "secrets.json"


def _write_new(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"_": "Ontwikkelingsgeheimen, automatisch gemaakt. Nooit in productie gebruiken.",
               "kek": [new_secret()], "hash_key": new_secret(), "session_key": [new_secret()]}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "w") as handle:
        json.dump(content, handle, indent=2)
    _warned.add(path)
    logger.warning("Ontwikkelingsgeheimen aangemaakt in %s. Zet in productie LOKET_KEK, LOKET_HASH_KEY en "
                   "LOKET_SESSION_KEY (of LOKET_SECRETS_FILE): zie docs/security.md.", path)


def _decode(name: str, value: object) -> tuple[bytes, ...]:
    items = value if isinstance(value, list) else [p for p in str(value).split(",")]
    keys = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(f"geheim '{name}' is geen geldige base64-tekst") from None
        if len(raw) < MIN_BYTES:
            raise ConfigurationError(f"geheim '{name}' is te kort: minstens {MIN_BYTES} willekeurige bytes")
        keys.append(raw)
    return tuple(keys)


def load_secrets(settings: Settings) -> Secrets:
    given = {name: getattr(settings, name).get_secret_value() for name in NAMES}
    path = settings.secrets_file
    development = None
    if path is None and any(given.values()) and not all(given.values()):
        missing = ", ".join(f"LOKET_{n.upper()}" for n in NAMES if not given[n])
        raise ConfigurationError(f"er zijn geheimen gezet maar niet alle: {missing} ontbreekt (of zet LOKET_SECRETS_FILE)")
    if path is None and not all(given.values()):
        path = development = development_file(settings)
        if not path.exists():
            _write_new(path)
    from_file: dict[str, object] = {}
    if path is not None:
        if not path.exists():
            raise ConfigurationError(f"LOKET_SECRETS_FILE {path} bestaat niet")
        try:
            from_file = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ConfigurationError(f"het geheimenbestand {path} is onleesbaar ({type(error).__name__})") from None
        if not isinstance(from_file, dict):
            raise ConfigurationError(f"het geheimenbestand {path} moet een JSON-object zijn")
        if path.stat().st_mode & 0o077:
            logger.warning("Het geheimenbestand %s is leesbaar voor anderen; zet het op 0600.", path)
    values = {name: _decode(name, given[name] or from_file.get(name, "")) for name in NAMES}
    for name, keys in values.items():
        if not keys:
            raise ConfigurationError(f"geheim '{name}' ontbreekt: zet LOKET_{name.upper()} of vul het aan in {path}")
    if len(values["hash_key"]) != 1:
        raise ConfigurationError("geheim 'hash_key' is één sleutel (ze wordt niet geroteerd)")
    if development is not None and development not in _warned:
        _warned.add(development)  # once per process, not at every service built
        logger.warning("Ontwikkelingsgeheimen uit %s in gebruik; niet voor productie.", development)
    return Secrets(keks=values["kek"], hash_key=values["hash_key"][0], session_keys=values["session_key"],
                   development_file=development)
