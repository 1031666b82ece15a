"""Accounts of the people who use the loket, their roles, and the tokens they log in with.

Passwords are hashed with Argon2id (argon2-cffi). A token is a JWT signed with the session
key; every request checks the account again, so disabling an account, changing its role or
its password ends its open sessions at once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from service.keyring import Secrets
from service.sidedb import SideDB

WORKER, ADMIN, ORGANIZER, REGULATOR = "worker", "admin", "organizer", "regulator"
ROLES = (WORKER, ADMIN, ORGANIZER, REGULATOR)
ROLE_NL = {WORKER: "loketmedewerker", ADMIN: "beheerder", ORGANIZER: "organisator", REGULATOR: "Opgroeien"}
MIN_PASSWORD = 12
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # unknown names cost as much time as known ones


class AccountError(ValueError):
    """A refused account operation, with the field it is about (Dutch message)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    locations: tuple[str, ...] = ()
    active: bool = True
    created_at: str = ""
    valid_after: float = 0.0


@dataclass(frozen=True)
class Login:
    """Who is asking: an account, or nobody (the public)."""

    name: str
    role: str
    locations: tuple[str, ...] = ()
    session: str = ""
    browser: bool = False
    session_end: float = 0.0
    issued: float = 0.0
    active_at: float = 0.0

    @property
    def public(self) -> bool:
        return self.role == "public"


PUBLIC = Login(name="", role="public")


def check_password(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"het wachtwoord is te kort: minstens {MIN_PASSWORD} tekens", "password")
    if name.lower() in password.lower():
        raise AccountError("het wachtwoord mag de gebruikersnaam niet bevatten", "password")
    if len(set(password)) < 5:
        raise AccountError("het wachtwoord heeft te weinig verschillende tekens", "password")


def generated_password() -> str:
    return secrets.token_urlsafe(15)


class Accounts:
    def __init__(self, db: SideDB, secrets_: Secrets) -> None:
        self._db = db
        self._session_keys = secrets_.session_keys
        db.create("CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
                  "locations TEXT NOT NULL, password_hash TEXT NOT NULL, active INTEGER NOT NULL, "
                  "created_at TEXT NOT NULL, valid_after DOUBLE PRECISION NOT NULL)")

    # ------------------------------------------------------------ management

    def add(self, name: str, role: str, password: str, locations: tuple[str, ...] = ()) -> Account:
        if not NAME.match(name):
            raise AccountError("gebruikersnaam: 2 tot 64 kleine letters, cijfers, punt, streep of liggend streepje", "name")
        if role not in ROLES:
            raise AccountError(f"onbekende rol '{role}'; kies uit {', '.join(ROLES)}", "role")
        if role == ORGANIZER and not locations:
            raise AccountError("een organisator hoort bij minstens één eigen opvanglocatie (--location)", "locations")
        if role != ORGANIZER and locations:
            raise AccountError("alleen een organisator hoort bij opvanglocaties", "locations")
        check_password(name, password)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        changed = self._db.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (name) DO NOTHING",
            (name, role, json.dumps(sorted(set(locations))), _hasher.hash(password), now, time.time()))
        if not changed:
            raise AccountError(f"gebruiker '{name}' bestaat al", "name")
        return self.get(name)  # type: ignore[return-value]

    def get(self, name: str) -> Account | None:
        rows = self._db.rows("SELECT name, role, locations, active, created_at, valid_after FROM accounts "
                             "WHERE name = ?", (name,))
        if not rows:
            return None
        n, role, locations, active, created, valid_after = rows[0]
        return Account(n, role, tuple(json.loads(locations)), bool(active), created, float(valid_after))

    def all(self) -> list[Account]:
        return [a for a in (self.get(row[0]) for row in self._db.rows("SELECT name FROM accounts ORDER BY name"))
                if a is not None]

    def any(self) -> bool:
        return bool(self._db.rows("SELECT 1 FROM accounts LIMIT 1"))

    def _update(self, name: str, sql: str, params: tuple[Any, ...]) -> Account:
        """Change an account; every token issued before now stops working."""
        if not self._db.execute(f"UPDATE accounts SET {sql}, valid_after = ? WHERE name = ?",
                                (*params, time.time(), name)):
            raise AccountError(f"gebruiker '{name}' bestaat niet", "name")
        return self.get(name)  # type: ignore[return-value]

    def set_password(self, name: str, password: str) -> Account:
        check_password(name, password)
        return self._update(name, "password_hash = ?", (_hasher.hash(password),))

    def set_active(self, name: str, active: bool) -> Account:
        return self._update(name, "active = ?", (int(active),))

    def end_sessions(self, name: str) -> None:
        self._db.execute("UPDATE accounts SET valid_after = ? WHERE name = ?", (time.time(), name))

    def set_role(self, name: str, role: str, locations: tuple[str, ...] = ()) -> Account:
        if role not in ROLES:
            raise AccountError(f"onbekende rol '{role}'; kies uit {', '.join(ROLES)}", "role")
        if (role == ORGANIZER) != bool(locations):
            raise AccountError("een organisator hoort bij eigen opvanglocaties, een andere rol bij geen", "locations")
        return self._update(name, "role = ?, locations = ?", (role, json.dumps(sorted(set(locations)))))

    # ----------------------------------------------------------------- login

    def authenticate(self, name: str, password: str) -> Account | None:
        rows = self._db.rows("SELECT password_hash, active FROM accounts WHERE name = ?", (name,))
        stored, active = rows[0] if rows else (_DUMMY_HASH, 0)
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if not active:
            return None
        if _hasher.check_needs_rehash(stored):
            self._db.execute("UPDATE accounts SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name))
        return self.get(name)

    def issue(self, account: Account, hours: float, browser: bool = False) -> tuple[str, Login]:
        now = time.time()
        login = Login(account.name, account.role, account.locations, secrets.token_urlsafe(12), browser,
                      now + hours * 3600, now, now)
        return self.token(login), login

    def token(self, login: Login, active_at: float | None = None) -> str:
        """The signed token of a login; a browser's carries when it was last used (for the idle limit)."""
        claims = {"sub": login.name, "role": login.role, "t": login.issued, "iat": int(login.issued),
                  "exp": int(login.session_end), "sid": login.session, "web": login.browser,
                  "act": active_at if active_at is not None else login.active_at}
        return jwt.encode(claims, self._session_keys[0], algorithm="HS256")

    def login_of(self, token: str) -> Login | None:
        """The login a token proves, or None: forged, expired, or its account changed since."""
        claims = None
        for key in self._session_keys:
            try:
                claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp", "sub", "t"]})
                break
            except jwt.InvalidTokenError:
                continue
        if claims is None:
            return None
        account = self.get(str(claims["sub"]))
        if (account is None or not account.active or account.role != claims.get("role")
                or float(claims["t"]) < account.valid_after):
            return None
        return Login(account.name, account.role, account.locations, str(claims.get("sid", "")),
                     bool(claims.get("web")), float(claims["exp"]), float(claims["t"]), float(claims.get("act", 0)))


@dataclass
class LoginThrottle:
    """Failed logins per name and per address; too many in the window → wait (HTTP 429)."""

    attempts: int
    window_seconds: float
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_seconds(self, *keys: str) -> int:
        """Seconds to wait before trying again (0: go ahead). An address (an office, a proxy) is
        shared by many people, so it may fail four times as often as one name."""
        now = time.monotonic()
        with self._lock:
            wait = 0.0
            for key in keys:
                limit = self.attempts * (4 if key.startswith("adres:") else 1)
                q = self._failures.get(key)
                while q and q[0] <= now - self.window_seconds:
                    q.popleft()
                if q and len(q) >= limit:
                    wait = max(wait, q[-limit] + self.window_seconds - now)
            return int(wait) + 1 if wait else 0

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque(maxlen=self.attempts * 4)).append(now)

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._failures.pop(name_key, None)
