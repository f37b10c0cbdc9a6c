"""No secret in any log line, at DEBUG, whatever its shape and whichever path logs it.

The real bot runs with logging set up as ``python -m bot`` does it, at DEBUG, where
python-telegram-bot prints every incoming update (as a Python repr: a newline is the two
characters ``\\n``). Keys arrive by /connect in private, in group messages (after a newline,
in a caption, edited in), and go through ``log.exception``, ``%`` arguments and ``extra``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.logs import setup_logging
from tests.conftest import CAMPAIGN, GROUP, OWNER, RunningBot, running_bot, seed_shop
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import FakeTelegram

NEW_CAMPAIGN = 21000077
# A real key of an unusual shape: lower case and digits, no prefix, no colon. Only the fact
# that the bot handled it can tell it is a secret.
ODD_KEY = "k3yw1thn0shape0fanykn0wnk1nd"
# Shapes the bot never handles but recognises, each after a newline in its message.
MARKET_KEY = "ACMA:Lg5Hn7Jp9Kq2Wr4Et6Yu8Io1:3e5f7a9b"
LOWER_KEY = "acmx:zq8wx7ce6vr5bt4:a1b2"
OAUTH_TOKEN = "y0_abcdefghijklmnop1234"
CAPTION_KEY = "ACMA:Cp1Tn2Kx3Ey4Zq5Wv6Bm7Ls8:0c0ffee0"
EDITED_KEY = "ACMS:Ed9It8Ed7In6Af5Te4Rw3Ds2:deadbeef"
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SECRETS = (ODD_KEY, MARKET_KEY, LOWER_KEY, OAUTH_TOKEN, CAPTION_KEY, EDITED_KEY)
# Telltale pieces: found even when a key is cut at a colon, or encoded.
PIECES = (
    *SECRETS,
    "Lg5Hn7Jp9Kq2Wr4Et6Yu8Io1",
    "zq8wx7ce6vr5bt4",
    "abcdefghijklmnop1234",
    "Cp1Tn2Kx3Ey4Zq5Wv6Bm7Ls8",
    "Ed9It8Ed7In6Af5Te4Rw3Ds2",
    *(base64.b64encode(s.encode()).decode() for s in SECRETS),
)


class _ExtrasFormatter(logging.Formatter):
    """Prints every ``extra`` value too, as JSON log formatters do."""

    standard = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in vars(record).items() if k not in self.standard}
        return f"{super().format(record)} extras={extras!r}"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Let the test set logging up the way ``python -m bot`` does, and undo it after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "apscheduler")}
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in noisy.items():
            logging.getLogger(name).setLevel(level)


def _log_like_the_bot() -> io.StringIO:
    """Logging as ``python -m bot`` sets it up (at DEBUG, to stderr), plus a handler that
    prints extras, added before the bot starts as an operator's own handler would be; returns
    that handler's stream."""
    setup_logging("DEBUG")
    extras = io.StringIO()
    handler = logging.StreamHandler(extras)
    handler.setFormatter(_ExtrasFormatter("%(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    return extras


async def _in_group(bot: RunningBot, text: str) -> str:
    mark = bot.mark()
    bot.telegram.send_group(GROUP, OWNER, text)
    return (await bot.reply(GROUP, mark)).text or ""


async def _feed_every_path(bot: RunningBot) -> None:
    """Send keys through every way they reach a log line."""
    mark = bot.mark()
    bot.telegram.send_private(OWNER, f"/connect {NEW_CAMPAIGN} {ODD_KEY}")
    assert "Connected" in ((await bot.final(OWNER, mark)).text or "")
    for key in (MARKET_KEY, LOWER_KEY, OAUTH_TOKEN):
        assert "Never send an API key" in await _in_group(bot, f"/connect\n{CAMPAIGN} {key}")
    mark = bot.mark()
    bot.telegram.send_photo(GROUP, OWNER, PHOTO, caption=f"label\n{CAPTION_KEY}")
    assert "Never send an API key" in ((await bot.reply(GROUP, mark)).text or "")
    message_id = bot.telegram.send_group(GROUP, OWNER, "the key is")
    await asyncio.sleep(0.3)
    mark = bot.mark()
    bot.telegram.edit_user_message(GROUP, message_id, f"the key is\n{EDITED_KEY}")
    assert "Never send an API key" in ((await bot.reply(GROUP, mark)).text or "")

    # The product's own loggers, every way a value reaches a record.
    log = logging.getLogger("handlers.connect")
    try:
        raise ValueError(f"Market refused key {ODD_KEY}")
    except ValueError:
        log.exception("connect failed for %s", ODD_KEY)
    log.info("checking %s and %r", ODD_KEY, {"key": MARKET_KEY})
    log.warning("key rejected", extra={"api_key": ODD_KEY, "update": {"text": f"x\n{LOWER_KEY}"}})
    log.error("bad format %d", ODD_KEY)  # arguments that do not fit are not printed raw
    log.debug("stack", stack_info=True, extra={"token": OAUTH_TOKEN})


async def test_no_key_in_any_log_line_at_debug(
    settings: Settings,
    fake_telegram: FakeTelegram,
    fake_market: FakeMarket,
    restore_logging: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    extras_log = _log_like_the_bot()
    fake_market.add_campaign(NEW_CAMPAIGN, ODD_KEY, domain="odd.example", business_id=777)
    seed_shop(settings, (OWNER, "owner"))
    async with running_bot(settings, fake_telegram, fake_market) as bot:
        await _feed_every_path(bot)
    stderr = capsys.readouterr().err
    extras = extras_log.getvalue()

    # The lines the checks below look at are really there: the updates at DEBUG, the
    # exception, the extras, and the markers where the secrets were.
    assert "DEBUG telegram.ext.Application: Processing update Update(" in stderr
    assert "ERROR handlers.connect: connect failed for [redacted]" in stderr
    assert "ValueError: Market refused key [redacted]" in stderr
    assert "bad format %d [unprintable log arguments]" in stderr
    assert "extras={'api_key': '[redacted]', 'update': \"{'text': 'x\\\\n[redacted]'}\"}" in extras
    assert "extras={'token': '[redacted]'}" in extras
    assert stderr.count("[redacted]") >= 12
    for where, text in (("the log on stderr", stderr), ("the handler printing extras", extras)):
        for piece in PIECES:
            assert piece not in text, f"a piece of a key leaked into {where}"
        assert fake_telegram.token not in text
        assert fake_telegram.token.split(":", 1)[1] not in text
