"""`python -m bot --check`: one line per check, exit 0 only when all pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from bot.config import Settings
from tests.conftest import API_KEY, CAMPAIGN, OWNER, seed_shop
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import FakeTelegram
from tests.test_entry_point import ROOT, _env


def run_check(
    tmp_path: Path, telegram: FakeTelegram, market: FakeMarket, **extra: str
) -> tuple[int, list[str], str]:
    env = _env(
        PYTHONPATH=str(ROOT),
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        MARKET_API_BASE_URL=market.base_url,
        BOT_DB_PATH=str(tmp_path / "bot.sqlite3"),
        **extra,
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout.strip().splitlines(), result.stderr


def seeded(tmp_path: Path, telegram: FakeTelegram) -> None:
    settings = Settings(
        telegram_bot_token=telegram.token,
        bot_db_path=tmp_path / "bot.sqlite3",
        _env_file=None,  # type: ignore[call-arg]
    )
    seed_shop(settings, (OWNER, "owner"))


def test_a_good_configuration_passes_every_check(tmp_path: Path) -> None:
    with FakeTelegram() as telegram, FakeMarket() as market:
        market.add_campaign(CAMPAIGN, API_KEY, business_id=700)
        seeded(tmp_path, telegram)
        code, lines, stderr = run_check(tmp_path, telegram, market)
    assert code == 0, lines
    assert all(line.startswith("ok") for line in lines), lines
    assert any("@DbsTestBot" in line for line in lines)
    assert any(f"shop {CAMPAIGN}" in line for line in lines)
    assert API_KEY not in "\n".join(lines) + stderr and telegram.token not in stderr


def test_a_key_file_that_does_not_fit_fails_with_one_line(tmp_path: Path) -> None:
    with FakeTelegram() as telegram, FakeMarket() as market:
        market.add_campaign(CAMPAIGN, API_KEY, business_id=700)
        seeded(tmp_path, telegram)
        (tmp_path / "bot.sqlite3.key").write_bytes(Fernet.generate_key())
        code, lines, _ = run_check(tmp_path, telegram, market)
    assert code == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 1 and "secret key" in failed[0], lines


def test_a_read_only_shop_key_fails(tmp_path: Path) -> None:
    with FakeTelegram() as telegram, FakeMarket() as market:
        market.add_campaign(CAMPAIGN, API_KEY, business_id=700, scopes=("all-methods:read-only",))
        seeded(tmp_path, telegram)
        code, lines, _ = run_check(tmp_path, telegram, market)
    assert code == 1
    assert [line for line in lines if line.startswith("FAIL")] == [
        f"FAIL  shop {CAMPAIGN}: key scopes ALL_METHODS_READ_ONLY"
    ]


def test_a_fresh_machine_passes_before_the_first_start(tmp_path: Path) -> None:
    with FakeTelegram() as telegram, FakeMarket() as market:
        code, lines, _ = run_check(tmp_path, telegram, market)
    assert code == 0, lines
    assert not (tmp_path / "bot.sqlite3").exists()  # a check creates nothing


def test_a_bad_setting_is_one_line(tmp_path: Path) -> None:
    with FakeTelegram() as telegram, FakeMarket() as market:
        code, lines, _ = run_check(tmp_path, telegram, market, MARKET_PARALLEL_LIMIT="lots")
    assert code == 2 and len(lines) == 1 and "MARKET_PARALLEL_LIMIT" in lines[0]
