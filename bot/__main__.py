"""``python -m bot``: read settings, run until SIGTERM/SIGINT, exit with a clear line on errors.

Exit codes: 0 after a clean stop; 1 when Telegram cannot be reached; 2 for a setting, a file, a
key or a port that needs fixing; 3 when another bot already runs on the same database.
``python -m bot --check`` checks the configuration instead (``bot.check``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

# Opt in to python-telegram-bot's timedelta durations now, instead of a deprecation warning
# each time the rate limiter handles a 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram.error import InvalidToken, NetworkError

from bot.app import run
from bot.config import Settings, SettingsError, load_settings
from bot.logs import setup_logging
from bot.web import PortError
from storage.db import DatabaseInUseError, StorageFileError, lock_database
from storage.migrations import SchemaTooNewError
from storage.secrets import SecretKeyError


def _fail(message: str, code: int) -> int:
    print(f"market-dbs-bot: {message}", file=sys.stderr)
    return code


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop)


def main() -> int:
    if "--check" in sys.argv[1:]:
        from bot.check import main as check_main

        return check_main()
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _fail(str(exc), 2)
    setup_logging(settings.log_level, [settings.telegram_bot_token.get_secret_value()])
    try:
        # One process per database, decided before anything touches it; held until exit.
        with lock_database(settings.bot_db_path):
            asyncio.run(_main(settings))
    except DatabaseInUseError as exc:
        return _fail(str(exc), 3)
    except (StorageFileError, SchemaTooNewError, SecretKeyError, PortError) as exc:
        return _fail(str(exc), 2)
    except InvalidToken:
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather", 2)
    except NetworkError as exc:
        return _fail(f"cannot reach Telegram ({type(exc).__name__}); check the network", 1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
