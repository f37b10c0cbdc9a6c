"""Opening the bot's SQLite database.

The file holds encrypted Market API keys and who may act on which shop, so it and its WAL side
files are readable by the owner only (0600). Every connection runs with WAL (readers never
block the writer), a busy timeout, and foreign keys enforced; migrations run on open.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlite_utils import Database

from storage._common import transaction
from storage.migrations import apply_migrations

__all__ = ["open_database", "open_memory_database", "transaction"]

_FILE_MODE = stat.S_IRUSR | stat.S_IWUSR


def _ensure_private_file(path: Path) -> None:
    """Create the file with mode 0600 if missing, or tighten an existing one to 0600."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE)
    except FileExistsError:
        os.chmod(path, _FILE_MODE)
    else:
        os.close(fd)


def _configure(db: Database) -> None:
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA foreign_keys=ON")


def open_database(path: str | os.PathLike[str]) -> Database:
    """Open (creating if needed) the database file at ``path`` and bring its schema up to date.

    Raises OSError when the file cannot be created or its mode cannot be set, and
    storage.migrations.SchemaTooNewError when the file was written by a newer program.
    """
    file = Path(path)
    _ensure_private_file(file)
    # SQLite creates the -wal and -shm files itself; the umask keeps them private too. The umask
    # is process-wide, so it is restored as soon as the files exist.
    previous_umask = os.umask(0o077)
    try:
        db = Database(file)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            _configure(db)
            apply_migrations(db)
        except BaseException:
            db.close()
            raise
    finally:
        os.umask(previous_umask)
    return db


def open_memory_database() -> Database:
    """A fresh in-memory database with the full schema, for tests and throw-away runs."""
    db = Database(memory=True)
    _configure(db)
    apply_migrations(db)
    return db
