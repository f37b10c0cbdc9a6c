"""The real entry point, as a newcomer runs it: `python -m bot`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
