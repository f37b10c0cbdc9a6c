"""Encryption at rest for Market API keys.

The Fernet key comes from the ``BOT_SECRET_KEY`` setting or, when that is unset, from a file
next to the database (``<database>.key``, mode 0600) generated on first start. ``KeyBox.verify``
stores an encrypted canary in the database so that starting with a different key fails at once
with a clear message instead of later, on the first API call.

Key material never appears in exception messages or ``repr``. ``redact`` is the one place that
knows what a secret looks like; logs, the audit log and the group key guard all pass their text
through it. It knows secrets two ways: by value (every API key the bot receives, encrypts or
decrypts, the Fernet key and the bot token are remembered, ``remember_secret``, and replaced
verbatim) and by shape (Market keys, other prefix:random:check tokens, OAuth and bot tokens,
long random runs, and whatever follows ``/connect``), also inside quoted text where a newline is
the two characters ``\n``.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlite_utils import Database

from storage._common import transaction
from storage.db import ensure_private_file, file_problem

_CANARY_KEY = "secret_key_canary"
_CANARY_TEXT = "market-dbs-bot secret key check"
_GENERATE_HINT = (
    "generate one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


REDACTED = "[redacted]"

# --- known secrets ---------------------------------------------------------------------------
# Every API key the bot handles (received by /connect, encrypted, decrypted) and the bot token
# are remembered for the life of the process and replaced verbatim, whatever their shape.
# Shorter values are ordinary words, and remembering them would hide words in every log line.
_KNOWN_MIN = 12
_KNOWN_MAX = 4096
_known_lock = threading.Lock()
_known: dict[str, None] = {}  # insertion-ordered: the oldest is dropped first
_known_longest_first: tuple[str, ...] = ()


def remember_secret(value: str) -> None:
    """Redact ``value`` verbatim from now on wherever ``redact`` runs (logs, audit, key guard).

    The long pieces of a key (between colons) are remembered too, so that a key cut at a colon
    still does not show. Values under 12 characters, or with spaces, are ignored.
    """
    global _known_longest_first
    value = value.strip()
    if len(value) < _KNOWN_MIN or any(c.isspace() for c in value):
        return
    pieces = [value, *(p for p in value.split(":") if len(p) >= _KNOWN_MIN)]
    with _known_lock:
        if all(piece in _known for piece in pieces):
            return
        for piece in pieces:
            _known[piece] = None
        while len(_known) > _KNOWN_MAX:
            del _known[next(iter(_known))]
        # The whole key before its pieces, so that a key is replaced by one marker.
        _known_longest_first = tuple(sorted(_known, key=len, reverse=True))


# --- secret shapes ---------------------------------------------------------------------------
# Log lines quote text as Python reprs and JSON, where a newline is the two characters "\n":
# a secret may follow a letter that is really an escape, so "no letter before" also accepts a
# backslash escape right before.
_START = r"(?:(?<=\\[ntr])|(?<![A-Za-z0-9_\\]))"
_KEYLIKE_CHARS = r"[A-Za-z0-9_:=+/-]"
# Market Api-Key tokens: ACMA:<random>:<checksum> (and other AC?? prefixes).
_MARKET_KEY = re.compile(rf"AC[A-Z]{{2}}:{_KEYLIKE_CHARS}{{8,}}")
# Any other <prefix>:<random>:<check> token (unusual or lower-case prefixes); only when it
# holds a digit, so that words joined by colons ("refused:key_in_group:x") stay.
_PREFIXED_KEY = re.compile(
    rf"{_START}[A-Za-z][A-Za-z0-9]{{1,7}}:[A-Za-z0-9_+/=-]{{8,}}:[A-Za-z0-9_+/=-]{{2,}}"
)
# Yandex OAuth tokens (y0_AgAAAA…) and Telegram bot tokens (123456:AA…).
_OAUTH_TOKEN = re.compile(rf"{_START}y\d_[A-Za-z0-9_-]{{16,}}")
_BOT_TOKEN = re.compile(r"(?<![0-9])\d{5,20}:[A-Za-z0-9_-]{30,}")
_MIN_RUN = 24
_LONG_RUN = re.compile(rf"{_KEYLIKE_CHARS}{{{_MIN_RUN},}}")
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?")


# Whatever follows /connect is a key by its position, whatever its shape: its first sighting
# (python-telegram-bot logs each update at DEBUG before any handler sees it) comes before the
# bot could remember it. Up to three words after the command, on its line or the next (in a
# quoted text a newline is "\n"); campaign ids (digits), placeholders and log fields stay.
_CONNECT = re.compile(r"/connect(?:@\w+)?(?=\s|\\[ntr])")
_CONNECT_WORD = re.compile(r"(?:\s|\\[ntr])+([^\s'\"\\,]+)")
_CONNECT_WORDS = 3
# A placeholder (<apiKey>) or a log line's field (user=1001) where a key would be.
_NOT_A_KEY = re.compile(r"<|[a-z_]+=")


def _redact_connect_args(text: str) -> str:
    parts: list[str] = []
    done = 0
    for command in _CONNECT.finditer(text):
        if command.start() < done:
            continue
        at = command.end()
        for _ in range(_CONNECT_WORDS):
            word = _CONNECT_WORD.match(text, at)
            if word is None:
                break
            value = word.group(1)
            if len(value) >= 8 and not value.isdigit() and not _NOT_A_KEY.match(value):
                parts += [text[done : word.start(1)], REDACTED]
                done = word.end(1)
            at = word.end(1)
    return "".join(parts) + text[done:] if parts else text


def _redact_prefixed(match: re.Match[str]) -> str:
    token = match.group(0)
    rest = token.split(":", 1)[1]
    if _ISO_TIMESTAMP.match(rest) or not any(c.isdigit() for c in rest):
        return token
    return REDACTED


def _looks_secret(run: str) -> bool:
    if _ISO_TIMESTAMP.fullmatch(run):
        return False
    upper = any(c.isupper() for c in run)
    lower = any(c.islower() for c in run)
    digit = any(c.isdigit() for c in run)
    if ":" in run:
        # prefix:random tokens; words joined by colons ("refused:key_in_group") are not.
        return digit or (upper and lower)
    # Random base64 of this length almost surely mixes cases and digits; identifiers such as
    # Market's error codes (ORDER_STATUS_NOT_ALLOWED) or URL paths do not.
    return upper and lower and digit


def _redact_run(match: re.Match[str]) -> str:
    run = match.group(0)
    escape = ""
    if match.start() > 0 and match.string[match.start() - 1] == "\\" and run[0] in "ntr":
        # After a backslash, "n" is half of a quoted newline, not the token's first letter.
        escape, run = run[0], run[1:]
    # Colons at the edges are punctuation ("ORDER_NOT_FOUND: …"), not part of a token.
    core = run.strip(":")
    if len(core) < _MIN_RUN or not _looks_secret(core):
        return escape + run
    start = run.index(core)
    return escape + run[:start] + REDACTED + run[start + len(core) :]


def redact(text: str) -> str:
    """``text`` with every known secret, and everything shaped like an API key, token or other
    secret, replaced by ``[redacted]``."""
    for secret in _known_longest_first:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _redact_connect_args(text)
    for pattern in (_MARKET_KEY, _OAUTH_TOKEN, _BOT_TOKEN):
        text = pattern.sub(REDACTED, text)
    text = _PREFIXED_KEY.sub(_redact_prefixed, text)
    return _LONG_RUN.sub(_redact_run, text)


def contains_secret(text: str) -> bool:
    """True when ``text`` holds a known secret or something shaped like an API key or token."""
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


def _read_or_create_key_file(path: Path, *, may_create: bool) -> bytes:
    """The key in ``path``, generated there (mode 0600) when the file is missing.

    Raises SecretKeyError when the file is missing and ``may_create`` is false, and
    StorageFileError when it cannot be created or read.
    """
    if not may_create and not path.exists():
        raise SecretKeyError(
            f"The key file {path} is missing, but the database next to it was set up with it "
            "(its API keys are encrypted with that key): restore the key file from the backup "
            "taken with the database, or set BOT_SECRET_KEY to the key it held (without it, "
            "start on a new database and /connect the shops again)"
        )
    if ensure_private_file(path, writable=False):
        key = Fernet.generate_key()
        try:
            with path.open("wb") as file:
                file.write(key + b"\n")
        except OSError as exc:
            path.unlink(missing_ok=True)  # no half-written key for the next start to trip on
            raise file_problem(path, exc) from None
        return key
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise file_problem(path, exc) from None


def _holds_keys(db: Database | None) -> bool:
    if db is None:
        return False
    row = db.execute("SELECT 1 FROM meta WHERE key = ?", (_CANARY_KEY,)).fetchone()
    return row is not None


class KeyBox:
    """Encrypts and decrypts API keys with one Fernet key."""

    __slots__ = ("_fernet",)

    def __init__(self, fernet_key: bytes) -> None:
        """Raises SecretKeyError when ``fernet_key`` is not a valid Fernet key."""
        fernet = _fernet_or_none(fernet_key)
        if fernet is None:
            raise SecretKeyError(f"The secret key is not a valid key: {_GENERATE_HINT}")
        remember_secret(fernet_key.decode("ascii", "replace"))
        self._fernet = fernet

    @classmethod
    def load(
        cls,
        secret: str | None,
        db_path: str | os.PathLike[str] | None,
        *,
        db: Database | None = None,
    ) -> KeyBox:
        """The key box for this run.

        With ``secret`` (the BOT_SECRET_KEY setting; blank counts as unset) that key is used;
        otherwise the key is read from ``<db_path>.key``, generated there (mode 0600) on first
        use; with neither, or an in-memory database, a throw-away key is generated. Given the
        open database ``db``, a missing key file is not replaced when the database already
        holds keys. Raises SecretKeyError when the key given or found is not a valid Fernet
        key or the key file is lost, and storage.db.StorageFileError when the key file cannot
        be read or written.
        """
        if secret is not None and secret.strip():
            key = secret.strip().encode()
            if _fernet_or_none(key) is None:
                raise SecretKeyError(f"BOT_SECRET_KEY is not a valid key: {_GENERATE_HINT}")
            return cls(key)
        if db_path is None or os.fspath(db_path) == ":memory:":
            return cls(Fernet.generate_key())
        key_file = _key_file_for(db_path)
        stored = _read_or_create_key_file(key_file, may_create=not _holds_keys(db))
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
        remember_secret(api_key)
        return self._fernet.encrypt(api_key.encode())

    def decrypt(self, token: bytes) -> str:
        """Raises SecretKeyError when ``token`` was not made with this key or was altered."""
        try:
            api_key = self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise SecretKeyError(
                "A stored API key cannot be decrypted with the current secret key"
            ) from None
        remember_secret(api_key)
        return api_key

    def verify(self, db: Database) -> None:
        """Check that this key is the one the database was encrypted with.

        The first call on a database stores an encrypted canary; later calls decrypt it.
        Raises SecretKeyError when it does not decrypt.
        """
        with transaction(db):
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                (_CANARY_KEY, self._fernet.encrypt(_CANARY_TEXT.encode())),
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
