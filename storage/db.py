"""Opening the bot's SQLite database, and the files that live next to it.

The file holds encrypted Market API keys and who may act on which shop, so it and its WAL side
files are readable by the owner only (0600). Every connection runs with WAL (readers never
block the writer), a busy timeout, and foreign keys enforced; migrations run on open.

One process per database: ``lock_database`` holds an exclusive lock on ``<database>.lock``
(which names the holder's pid) for the life of the process, so that a second bot started on
the same file stops at once instead of running the same commands a second time.

A file that cannot be used raises ``StorageFileError`` with one line that names the path,
what is wrong and what to do; a file's mode is never changed without a WARNING saying so.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import sqlite3
import stat
import time
from pathlib import Path
from types import TracebackType

from sqlite_utils import Database

from storage._common import transaction
from storage.migrations import apply_migrations

__all__ = [
    "DatabaseInUseError",
    "DatabaseLock",
    "StorageFileError",
    "ensure_private_file",
    "file_problem",
    "lock_database",
    "open_database",
    "open_memory_database",
    "transaction",
]

log = logging.getLogger(__name__)

_FILE_MODE = stat.S_IRUSR | stat.S_IWUSR
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


class StorageFileError(Exception):
    """The database, its key file or its lock file cannot be used.

    The message is one line: the path, what is wrong with it, and what to do.
    """


class DatabaseInUseError(StorageFileError):
    """Another process holds the database's lock: one process per database."""


def file_problem(path: Path, exc: OSError) -> StorageFileError:
    """The one-line error for ``exc``, met while creating, opening or reading ``path``."""
    folder = path.parent
    if isinstance(exc, FileNotFoundError) and not folder.is_dir():
        return StorageFileError(
            f"the directory {folder} does not exist: create it (mkdir -p {folder}) or set "
            "BOT_DB_PATH to a file in an existing directory"
        )
    if isinstance(exc, NotADirectoryError):
        return StorageFileError(
            f"{folder} is not a directory: set BOT_DB_PATH to a file in a directory"
        )
    if isinstance(exc, IsADirectoryError):
        return StorageFileError(f"{path} is a directory: set BOT_DB_PATH to a file's path")
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        return StorageFileError(
            f"cannot write {path} (permission denied): run the bot as the owner of {folder} "
            "and its files, or set BOT_DB_PATH to a file in a directory the bot may write to"
        )
    if exc.errno == errno.ENOSPC:
        return StorageFileError(f"cannot write {path}: the disk is full; free some space")
    reason = exc.strerror or type(exc).__name__
    return StorageFileError(f"cannot use {path}: {reason}; check the file and its directory")


def ensure_private_file(path: Path, *, writable: bool = True, tighten: bool = True) -> bool:
    """Create ``path`` with mode 0600 when it is missing and return True; else return False.

    An existing file that others may read is tightened to owner-only (unless ``tighten`` is
    false), with a WARNING saying so. An existing file the owner may not write is refused when
    ``writable`` (it is left as it is). Raises StorageFileError when the file cannot be
    created, checked or tightened.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE)
    except FileExistsError:
        pass
    except OSError as exc:
        raise file_problem(path, exc) from None
    else:
        os.close(fd)
        return True
    try:
        info = path.stat()
    except OSError as exc:
        raise file_problem(path, exc) from None
    _require_regular(path, info.st_mode)
    mode = stat.S_IMODE(info.st_mode)
    if writable and not mode & stat.S_IWUSR:
        raise StorageFileError(
            f"{path} is read-only (mode {mode:04o}) and the bot must write to it: make it "
            f"writable by its owner only (chmod 600 {path}), or set BOT_DB_PATH to another file"
        )
    if tighten:
        tighten_private_file(path, mode)
    return False


def _require_regular(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise StorageFileError(
            f"{path} is a directory, not a file: move it away, or set BOT_DB_PATH to a file's path"
        )
    if not stat.S_ISREG(mode):
        raise StorageFileError(f"{path} is not a regular file: move it away or set BOT_DB_PATH")


def tighten_private_file(path: Path, mode: int | None = None) -> None:
    """Take away the group's and others' access to an existing ``path``, with a WARNING.

    Raises StorageFileError when the mode cannot be changed (the file is someone else's).
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if mode is None else mode
        if not mode & _OTHERS:
            return
        os.chmod(path, mode & ~_OTHERS)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise file_problem(path, exc) from None
    log.warning(
        "%s was readable by other users (mode %04o); changed it to %04o: the files of the "
        "bot's database are for its owner only",
        path,
        mode,
        mode & ~_OTHERS,
    )


class DatabaseLock:
    """The exclusive lock on ``<database>.lock``; released by ``release`` or on exit."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        """Give the lock up (the file stays, empty). Safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass  # closing below releases the lock anyway
        os.close(fd)

    def __enter__(self) -> DatabaseLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _holder_pid(fd: int) -> int | None:
    # The holder writes its pid right after taking the lock; give it a moment to do so.
    for _ in range(10):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return int(text)
        time.sleep(0.05)
    return None


def lock_database(path: str | os.PathLike[str]) -> DatabaseLock:
    """Hold the database at ``path`` for this process: take ``<path>.lock`` and write our pid.

    Take it before anything else touches the database, and keep it for the life of the
    process. Raises DatabaseInUseError when another process holds it, and StorageFileError
    when the lock file cannot be created or used.
    """
    with contextlib.suppress(OSError):  # a database that is not there yet is fine
        _require_regular(Path(path), os.stat(path).st_mode)
    lock_path = Path(f"{os.fspath(path)}.lock")
    ensure_private_file(lock_path)
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except OSError as exc:
        raise file_problem(lock_path, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder_pid(fd)
        os.close(fd)
        holder = f" (pid {pid})" if pid is not None else ""
        raise DatabaseInUseError(
            f"another bot is running on this database{holder}; one process per database "
            f"({os.fspath(path)})"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise file_problem(lock_path, exc) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return DatabaseLock(lock_path, fd)


# What SQLite says about a file it cannot use; any other error is a bug, and stays one.
_FILE_ERRORS = (
    "SQLITE_NOTADB",
    "SQLITE_CORRUPT",
    "SQLITE_READONLY",
    "SQLITE_CANTOPEN",
    "SQLITE_BUSY",
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_PERM",
)


def _sqlite_problem(path: Path, name: str) -> StorageFileError:
    """The one-line error for SQLite's error ``name`` (one of ``_FILE_ERRORS``) on ``path``."""
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        what = "is not a SQLite database, or is damaged"
        todo = "restore it (with its .key file) from a backup, or set BOT_DB_PATH to a new file"
    elif name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        what = "cannot be written (read-only file, directory or file system)"
        todo = f"let the bot's user write {path} and {path.parent}, or set BOT_DB_PATH"
    elif name.startswith("SQLITE_BUSY"):
        what = "is locked by another program"
        todo = "close the program that holds it, then start the bot again"
    elif name == "SQLITE_FULL":
        what = "cannot grow: the disk is full"
        todo = "free some space"
    else:
        what = f"cannot be read or written ({name})"
        todo = "check the disk and the file, or restore it from a backup"
    return StorageFileError(f"the database {path} {what}: {todo}")


_HEADER = b"SQLite format 3\x00"


def _check_header(path: Path) -> None:
    """Refuse a file that is not an SQLite database before anything about it changes."""
    try:
        with path.open("rb") as file:
            head = file.read(len(_HEADER))
    except OSError as exc:
        raise file_problem(path, exc) from None
    if head and head != _HEADER:
        raise _sqlite_problem(path, "SQLITE_NOTADB")


BUSY_TIMEOUT_MS = 5000


def _configure(db: Database) -> None:
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys=ON")


def open_database(path: str | os.PathLike[str]) -> Database:
    """Open (creating if needed) the database file at ``path`` and bring its schema up to date.

    Raises StorageFileError (one line) when the file or its directory cannot be used or the
    file is not a database, and storage.migrations.SchemaTooNewError when the file was written
    by a newer program.
    """
    file = Path(path)
    ensure_private_file(file, tighten=False)
    _check_header(file)
    # SQLite creates the side files with the database's mode: tighten it first.
    for private in (file, Path(f"{file}-wal"), Path(f"{file}-shm")):
        tighten_private_file(private)
    # SQLite creates the -wal and -shm files itself; the umask keeps them private too. The umask
    # is process-wide, so it is restored as soon as the files exist.
    previous_umask = os.umask(0o077)
    try:
        db = Database(file)
        try:
            _configure(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            apply_migrations(db)
        except BaseException:
            db.close()
            raise
    except sqlite3.Error as exc:
        name = getattr(exc, "sqlite_errorname", "") or ""
        if not name.startswith(_FILE_ERRORS):
            raise
        raise _sqlite_problem(file, name) from None
    finally:
        os.umask(previous_umask)
    return db


def open_memory_database() -> Database:
    """A fresh in-memory database with the full schema, for tests and throw-away runs."""
    db = Database(memory=True)
    _configure(db)
    apply_migrations(db)
    return db


def storage_alive(db: Database, wait_ms: int = 200) -> bool:
    """Whether the database takes a write now: its write lock within ``wait_ms`` (health checks;
    a locked or broken database is not alive)."""
    conn = db.conn
    if conn.in_transaction:
        return True  # the one connection is writing right now
    try:
        conn.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        return False
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return True
