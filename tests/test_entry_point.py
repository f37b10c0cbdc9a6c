"""The real entry point, as a newcomer runs it: `python -m bot`."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.db import open_database
from storage.secrets import KeyBox
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    ours = ("TELEGRAM_", "MARKET_", "BOT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(extra)
    return env


def test_without_token_one_clear_line_and_nonzero_exit(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # no .env there
        env=_env(PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["env", "dotenv"])
def test_an_empty_token_is_not_set(tmp_path: Path, where: str) -> None:
    # An .env copied from .env.example and emptied, in the directory the bot starts from.
    extra = {"TELEGRAM_BOT_TOKEN": ""} if where == "env" else {}
    if where == "dotenv":
        (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=_env(PYTHONPATH=str(ROOT), **extra),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "market-dbs-bot: TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and run "
        "TELEGRAM_BOT_TOKEN=<token> python -m bot (or put it in .env in the current directory)"
    ]


def test_malformed_setting_names_the_variable_without_its_value(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=_env(
            PYTHONPATH=str(ROOT),
            TELEGRAM_BOT_TOKEN="123456:TEST-token-abcdefghijklmnopqrstuvwxyz",
            MARKET_PARALLEL_LIMIT="lots",
        ),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "MARKET_PARALLEL_LIMIT" in result.stderr
    assert "lots" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_start_answered_in_english_and_russian_then_clean_stop(tmp_path: Path) -> None:
    with FakeTelegram() as telegram, FakeMarket() as market:
        env = _env(
            PYTHONPATH=str(ROOT),
            TELEGRAM_BOT_TOKEN=telegram.token,
            TELEGRAM_API_BASE_URL=telegram.base_url,
            MARKET_API_BASE_URL=market.base_url,
            BOT_DB_PATH=str(tmp_path / "bot.sqlite3"),
            TELEGRAM_POLL_TIMEOUT="1",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            telegram.wait_for(lambda c: c.method == "getUpdates", 20)
            telegram.send_private(501, "/start", language_code="en")
            english = telegram.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 501)
            telegram.send_private(502, "/start", language_code="ru")
            russian = telegram.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 502)
            telegram.wait_for(lambda c: c.method == "setMyCommands", 10)
        finally:
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 0, stderr
        assert time.monotonic() - started < 10
        assert "Yandex Market" in str(english.params["text"])
        assert "/track" in str(english.params["text"])
        assert "Маркет" in str(russian.params["text"])
        assert "/move" in str(russian.params["text"])
        assert telegram.token not in stderr
        assert "Traceback" not in stderr
        assert (tmp_path / "bot.sqlite3").exists()
        assert oct((tmp_path / "bot.sqlite3").stat().st_mode & 0o777) == "0o600"


# --------------------------------------------------------------------------------------------
# One process per database, and a database path that cannot be used


def _bot_env(telegram: FakeTelegram, market: FakeMarket, db_path: Path) -> dict[str, str]:
    return _env(
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        MARKET_API_BASE_URL=market.base_url,
        BOT_DB_PATH=str(db_path),
        TELEGRAM_POLL_TIMEOUT="1",
    )


def _start(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    return stderr


def _refused(db_path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the bot on ``db_path`` where it must refuse to start: it exits within seconds."""
    with FakeTelegram() as telegram, FakeMarket() as market:
        result = subprocess.run(
            [sys.executable, "-m", "bot"],
            cwd=cwd,
            env=_bot_env(telegram, market, db_path),
            capture_output=True,
            text=True,
            timeout=30,
        )
        polled = telegram.calls_of("getUpdates")
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("market-dbs-bot: ")
    assert polled == []  # it stopped before doing any work
    return result


def test_second_bot_on_the_same_database_exits_with_one_line(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    with FakeTelegram() as telegram, FakeMarket() as market:
        env = _bot_env(telegram, market, db_path)
        first = _start(env, tmp_path)
        try:
            telegram.wait_for(lambda c: c.method == "getUpdates", 20)
            lock_file = Path(f"{db_path}.lock")
            assert lock_file.read_text().strip() == str(first.pid)
            assert oct(lock_file.stat().st_mode & 0o777) == "0o600"
            polls_before = len(telegram.calls_of("getUpdates"))
            second = subprocess.run(
                [sys.executable, "-m", "bot"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            # The first bot still works after the second gave up.
            telegram.send_private(501, "/start", language_code="en")
            telegram.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 501)
        finally:
            stderr = _stop(first)
        getme = [c for c in telegram.calls if c.method == "getMe"]
    assert second.returncode == 3
    assert second.stderr.strip().splitlines() == [
        f"market-dbs-bot: another bot is running on this database (pid {first.pid}); "
        f"one process per database ({db_path})"
    ]
    assert len(getme) == 1  # the second never reached Telegram
    assert len(telegram.calls_of("getUpdates")) >= polls_before
    assert "Traceback" not in stderr
    # Released on exit: the next start takes it again.
    assert Path(f"{db_path}.lock").read_text() == ""
    with FakeTelegram() as telegram, FakeMarket() as market:
        again = _start(_bot_env(telegram, market, db_path), tmp_path)
        try:
            telegram.wait_for(lambda c: c.method == "getUpdates", 20)
        finally:
            _stop(again)


def test_corrupt_database_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    junk = os.urandom(4096)
    db_path.write_bytes(junk)
    db_path.chmod(0o644)
    result = _refused(db_path, tmp_path)
    assert str(db_path) in result.stderr
    assert "is not a SQLite database, or is damaged" in result.stderr
    assert "restore it" in result.stderr
    assert db_path.read_bytes() == junk
    assert oct(db_path.stat().st_mode & 0o777) == "0o644"  # refused, so not touched at all


def test_directory_as_database_path_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    result = _refused(folder, tmp_path)
    assert f"{folder} is a directory, not a file" in result.stderr
    assert "set BOT_DB_PATH to a file's path" in result.stderr
    assert list(tmp_path.iterdir()) == [folder]  # no lock file left next to it


def test_missing_directory_is_named(tmp_path: Path) -> None:
    db_path = tmp_path / "nowhere" / "bot.sqlite3"
    result = _refused(db_path, tmp_path)
    assert f"the directory {db_path.parent} does not exist" in result.stderr
    assert "mkdir -p" in result.stderr
    assert not db_path.parent.exists()


def test_read_only_database_is_refused_and_its_mode_kept(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    sqlite3.connect(db_path).close()
    db_path.chmod(0o444)
    result = _refused(db_path, tmp_path)
    assert f"{db_path} is read-only (mode 0444)" in result.stderr
    assert "chmod 600" in result.stderr
    assert oct(db_path.stat().st_mode & 0o777) == "0o444"


def test_read_only_lock_file_is_refused_and_its_mode_kept(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    lock_file = Path(f"{db_path}.lock")
    lock_file.write_text("")
    lock_file.chmod(0o400)
    result = _refused(db_path, tmp_path)
    assert f"{lock_file} is read-only (mode 0400)" in result.stderr
    assert oct(lock_file.stat().st_mode & 0o777) == "0o400"
    assert not db_path.exists()  # nothing touched the database


def test_key_file_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    Path(f"{db_path}.key").mkdir()
    result = _refused(db_path, tmp_path)
    assert f"{db_path}.key is a directory, not a file: move it away" in result.stderr


def test_lost_key_file_is_not_replaced(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    database = open_database(db_path)
    KeyBox.load(None, db_path).verify(database)  # the database now holds data for that key
    database.close()
    key_file = Path(f"{db_path}.key")
    key_file.unlink()
    result = _refused(db_path, tmp_path)
    assert f"The key file {key_file} is missing" in result.stderr
    assert "restore the key file from the backup" in result.stderr
    assert not key_file.exists()


@contextlib.contextmanager
def _unwritable_directory(path: Path) -> Iterator[None]:
    """Make ``path`` a directory nobody may create files in, root included (for root, the
    immutable attribute; for anyone else, mode 0555)."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("running as root where chattr +i is not available")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_unwritable_directory_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    with _unwritable_directory(folder):
        db_path = folder / "bot.sqlite3"
        result = _refused(db_path, tmp_path)
        assert f"cannot write {db_path}.lock (permission denied)" in result.stderr
        assert f"run the bot as the owner of {folder}" in result.stderr
        assert list(folder.iterdir()) == []


def test_files_others_may_read_are_tightened_with_a_warning(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    open_database(db_path).close()
    KeyBox.load(None, db_path)
    files = [db_path, Path(f"{db_path}.key")]
    for file in files:
        file.chmod(0o644)
    with FakeTelegram() as telegram, FakeMarket() as market:
        proc = _start(_bot_env(telegram, market, db_path), tmp_path)
        try:
            telegram.wait_for(lambda c: c.method == "getUpdates", 20)
        finally:
            stderr = _stop(proc)
    warnings = [line for line in stderr.splitlines() if " WARNING storage.db: " in line]
    assert len(warnings) == 2, stderr
    for file, line in zip(files, warnings, strict=True):
        assert f"{file} was readable by other users (mode 0644); changed it to 0600" in line
        assert oct(file.stat().st_mode & 0o777) == "0o600"
