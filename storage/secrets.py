"""Encryption at rest for Market API keys.

The Fernet key comes from the ``BOT_SECRET_KEY`` setting or, when that is unset, from a file
next to the database (``<database>.key``, mode 0600) generated on first start. ``KeyBox.verify``
stores an encrypted canary in the database so that starting with a different key fails at once
with a clear message instead of later, on the first API call.

Key material never appears in exception messages or ``repr``. ``redact`` is the one place that
knows what a secret looks like; logs and the audit log both pass their text through it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlite_utils import Database

from storage._common import transaction

_FILE_MODE = stat.S_IRUSR | stat.S_IWUSR
_CANARY_KEY = "secret_key_canary"
_CANARY_TEXT = "market-dbs-bot secret key check"
_GENERATE_HINT = (
    "generate one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


REDACTED = "[redacted]"

_KEYLIKE_CHARS = r"[A-Za-z0-9_:=+/-]"
# Market Api-Key tokens: ACMA:<random>:<checksum> (and other AC?? prefixes).
_MARKET_KEY = re.compile(rf"AC[A-Z]{{2}}:{_KEYLIKE_CHARS}{{8,}}")
# Yandex OAuth tokens (y0_AgAAAA…) and Telegram bot tokens (123456:AA…).
_OAUTH_TOKEN = re.compile(r"\by\d_[A-Za-z0-9_-]{8,}")
_BOT_TOKEN = re.compile(r"\b\d{5,20}:[A-Za-z0-9_-]{30,100}\b")
_MIN_RUN = 24
_LONG_RUN = re.compile(rf"{_KEYLIKE_CHARS}{{{_MIN_RUN},}}")
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?")


def _looks_secret(run: str) -> bool:
    if _ISO_TIMESTAMP.fullmatch(run):
        return False
    if ":" in run:
        return True
    # Random base64 of this length almost surely mixes cases and digits; identifiers such as
    # Market's error codes (ORDER_STATUS_NOT_ALLOWED) or URL paths do not.
    return (
        any(c.isupper() for c in run)
        and any(c.islower() for c in run)
        and any(c.isdigit() for c in run)
    )


def _redact_run(match: re.Match[str]) -> str:
    run = match.group(0)
    # Colons at the edges are punctuation ("ORDER_NOT_FOUND: …"), not part of a token.
    core = run.strip(":")
    if len(core) < _MIN_RUN or not _looks_secret(core):
        return run
    start = run.index(core)
    return run[:start] + REDACTED + run[start + len(core) :]


def redact(text: str) -> str:
    """``text`` with everything that looks like an API key, token or other secret replaced."""
    for pattern in (_MARKET_KEY, _OAUTH_TOKEN, _BOT_TOKEN):
        text = pattern.sub(REDACTED, text)
    return _LONG_RUN.sub(_redact_run, text)


def contains_secret(text: str) -> bool:
    """True when ``text`` holds something shaped like an API key or token."""
    return redact(text) != text


class SecretKeyError(Exception):
    """The secret key is missing, malformed, or not the one the stored data was encrypted with."""


def _fernet_or_none(key: bytes) -> Fernet | None:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        return None


def _key_file_for(db_path: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(db_path)}.key")


def _read_or_create_key_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(path, _FILE_MODE)
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as file:
        file.write(key + b"\n")
    return key


class KeyBox:
    """Encrypts and decrypts API keys with one Fernet key."""

    __slots__ = ("_fernet",)

    def __init__(self, fernet_key: bytes) -> None:
        """Raises SecretKeyError when ``fernet_key`` is not a valid Fernet key."""
        fernet = _fernet_or_none(fernet_key)
        if fernet is None:
            raise SecretKeyError(f"The secret key is not a valid key: {_GENERATE_HINT}")
        self._fernet = fernet

    @classmethod
    def load(cls, secret: str | None, db_path: str | os.PathLike[str] | None) -> KeyBox:
        """The key box for this run.

        With ``secret`` (the BOT_SECRET_KEY setting; blank counts as unset) that key is used;
        otherwise the key is read from ``<db_path>.key``, generated there (mode 0600) on first
        use; with neither, or an in-memory database, a throw-away key is generated. Raises
        SecretKeyError when the key given or found is not a valid Fernet key, and OSError when
        the key file cannot be read or written.
        """
        if secret is not None and secret.strip():
            key = secret.strip().encode()
            if _fernet_or_none(key) is None:
                raise SecretKeyError(f"BOT_SECRET_KEY is not a valid key: {_GENERATE_HINT}")
            return cls(key)
        if db_path is None or os.fspath(db_path) == ":memory:":
            return cls(Fernet.generate_key())
        key_file = _key_file_for(db_path)
        stored = _read_or_create_key_file(key_file)
        if _fernet_or_none(stored) is None:
            raise SecretKeyError(
                f"The key file {key_file} does not hold a valid key: restore it from a backup, "
                f"or set BOT_SECRET_KEY ({_GENERATE_HINT})"
            )
        return cls(stored)

    def __repr__(self) -> str:
        return "KeyBox(<hidden>)"

    def encrypt(self, api_key: str) -> bytes:
        """The Fernet token for ``api_key``; a fresh one on every call."""
        return self._fernet.encrypt(api_key.encode())

    def decrypt(self, token: bytes) -> str:
        """Raises SecretKeyError when ``token`` was not made with this key or was altered."""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise SecretKeyError(
                "A stored API key cannot be decrypted with the current secret key"
            ) from None

    def verify(self, db: Database) -> None:
        """Check that this key is the one the database was encrypted with.

        The first call on a database stores an encrypted canary; later calls decrypt it.
        Raises SecretKeyError when it does not decrypt.
        """
        with transaction(db):
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                (_CANARY_KEY, self.encrypt(_CANARY_TEXT)),
            )
            row = db.execute("SELECT value FROM meta WHERE key = ?", (_CANARY_KEY,)).fetchone()
        try:
            matches = self._fernet.decrypt(bytes(row[0])).decode() == _CANARY_TEXT
        except InvalidToken:
            matches = False
        if not matches:
            raise SecretKeyError(
                "The secret key does not match the one this database was encrypted with "
                f"(BOT_SECRET_KEY or {_key_file_name(db)})"
            )


def _key_file_name(db: Database) -> str:
    for _seq, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return str(_key_file_for(file))
    return "<database file>.key"
