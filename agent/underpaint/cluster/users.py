"""A studio agent's named users: each with their own token, an admin flag and optional limits.

The store is an SQLite file in the agent's data folder (stdlib sqlite3 in WAL
mode, like the history): `underpaint users ...` writes it from its own process
while the agent runs, and the agent reads it on every handshake and HTTP
request, so a new, removed or rotated user counts at once without a restart.
SQLite rather than a watched file: a write is atomic (no half-written file for
the agent to read), names are unique by constraint, and `PRAGMA data_version`
tells the agent cheaply that another process changed something.

Tokens are never stored, only their SHA-256 digest. A token is 256 random
bits, so its digest cannot be reversed or guessed; a slow password hash
(bcrypt, argon2) guards low-entropy passwords and would only cost every
request time. This is how GitHub and others keep API tokens. Lookups compare
the digest with every user's in constant time, so timing says nothing of
which digests exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from underpaint.jobs.history import open_database
from underpaint.jobs.queue import UserLimits

TOKEN_PREFIX = "upu_"
"""Marks a user token (`upu_` + 43 characters), so a leaked one is recognisable in logs and scanners."""
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# How often the agent records a user's last sign-in at most: a busy plugin must not write on every request.
_SEEN_EVERY_SECONDS = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    token_sha256 TEXT NOT NULL UNIQUE,
    admin INTEGER NOT NULL DEFAULT 0,
    max_queued INTEGER,
    max_running INTEGER,
    created_at REAL NOT NULL,
    last_seen REAL
);
"""
_COLUMNS = "name, token_sha256, admin, max_queued, max_running, created_at, last_seen"


class UserError(Exception):
    """A users command or store that cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class User:
    name: str
    admin: bool
    limits: UserLimits
    created_at: float
    last_seen: float | None
    token_digest: str = field(repr=False)


@dataclass(frozen=True)
class Caller:
    """Who sent a token: a named user, or the agent's owner with the pairing token (`user` None)."""

    user: User | None
    admin: bool

    @property
    def sees_whole_agent(self) -> bool:
        """The agent's owner (the pairing token) or an admin user: who may see all of the agent, its page
        included, with or without users."""
        return self.user is None or self.admin

    def viewer(self, client: str | None) -> tuple[str | None, str | None]:
        """The (client, user) whose jobs this caller sees (jobs/manager.py `visible`), on a connection
        that said `client` in its hello (None on HTTP): an admin every job (None, None), a user their
        own, the pairing token without users the client's (on HTTP, where no client is named, all)."""
        if self.admin:
            return None, None
        return (client, None) if self.user is None else (client, self.user.name)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(f"{name!r} is not a user name: use {NAME_RULE}.")
    return name


def _check_limit(what: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise UserError(f"{what} must be at least 1 (leave it out for no limit), not {value}.")
    return value


class UserStore:
    """One connection, used from one thread (the agent's event loop, or a CLI command)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writes = 0  # this connection's own changes, which `data_version` does not count
        self._seen: dict[str, float] = {}
        try:
            if not path.exists():
                # Made readable by the agent's account alone before SQLite writes the first digest into it.
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(0o600)
            self._db = open_database(path, _SCHEMA)
            self._db.execute(f"SELECT {_COLUMNS} FROM users LIMIT 1").fetchall()
        except (OSError, sqlite3.DatabaseError) as exc:
            # Nothing is written over it: the users and their digests may still be recovered from the file.
            raise UserError(f"The user store {path} is unreadable ({exc}). It was left as it is: restore it "
                            "from a backup, or move it away to start with no users.") from None

    def close(self) -> None:
        self._db.close()

    def add(self, name: str, *, admin: bool = False, max_queued: int | None = None,
            max_running: int | None = None) -> str:
        """The new user's token, the only time it exists outside the user's hands."""
        check_name(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            self._db.execute(
                f"INSERT INTO users ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (name, token_digest(token), int(admin), _check_limit("--max-queued", max_queued),
                 _check_limit("--max-running", max_running), time.time()))
        except sqlite3.IntegrityError:
            raise UserError(f"There already is a user {name!r} (names ignore case); pick another name, or "
                            f"`underpaint users rotate {name}` for a new token.") from None
        self._writes += 1
        return token

    def remove(self, name: str) -> None:
        self._change(name, "DELETE FROM users WHERE name=?", (name,))

    def rotate(self, name: str) -> str:
        """A new token for `name`; the old one is refused from now on."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._change(name, "UPDATE users SET token_sha256=? WHERE name=?", (token_digest(token), name))
        return token

    def _change(self, name: str, statement: str, args: tuple[object, ...]) -> None:
        if self._db.execute(statement, args).rowcount == 0:
            known = ", ".join(user.name for user in self.users()) or "none yet"
            raise UserError(f"No user {name!r} (users: {known}).")
        self._writes += 1

    def users(self) -> list[User]:
        return [_user(row) for row in self._db.execute(f"SELECT {_COLUMNS} FROM users ORDER BY name")]

    def get(self, name: str) -> User | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM users WHERE name=?", (name,)).fetchone()
        return None if row is None else _user(row)

    def any(self) -> bool:
        return self._db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def find(self, token: str) -> User | None:
        """The user whose token this is, None for any other string; records when they were last seen."""
        digest = token_digest(token)
        found = None
        for user in self.users():
            if hmac.compare_digest(user.token_digest, digest):
                found = user
        if found is not None:
            self._saw(found.name)
        return found

    def digests(self) -> set[str]:
        """Every valid token's digest: what an open connection's token must still be."""
        return {row["token_sha256"] for row in self._db.execute("SELECT token_sha256 FROM users")}

    def version(self) -> tuple[int, int]:
        """Changes whenever the users change, whoever changed them."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0]), self._writes

    def _saw(self, name: str) -> None:
        now = time.time()
        if now - self._seen.get(name, 0.0) >= _SEEN_EVERY_SECONDS:
            self._seen[name] = now
            self._db.execute("UPDATE users SET last_seen=? WHERE name=?", (now, name))


def _user(row: sqlite3.Row) -> User:
    return User(name=row["name"], admin=bool(row["admin"]),
                limits=UserLimits(max_queued=row["max_queued"], max_running=row["max_running"]),
                created_at=row["created_at"], last_seen=row["last_seen"], token_digest=row["token_sha256"])
