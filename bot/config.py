"""Settings, read once from the environment (and an optional ``.env``) in ``bot.__main__``.

Tests build ``Settings(...)`` directly. Secrets are ``SecretStr`` so that a settings object never
prints them; ``SettingsError`` messages name the variable and what is wrong with it, never its
value.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# BotFather tokens look like "123456789:AA…" (digits, a colon, 30+ URL-safe characters).
_TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one plain line naming the variable."""


class Settings(BaseSettings):
    """Everything the bot can be configured with; each field is an environment variable."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    telegram_bot_token: SecretStr
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    market_api_base_url: str = "https://api.partner.market.yandex.ru"
    bot_db_path: Path = Path("bot.sqlite3")
    bot_secret_key: SecretStr | None = None
    bot_timezone: str = "Europe/Moscow"
    market_parallel_limit: int = Field(default=4, ge=1, le=64)
    market_hourly_limit: int = Field(default=10_000, ge=1)
    market_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    operation_deadline_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    telegram_max_messages_per_second: float = Field(default=30.0, gt=0)
    telegram_poll_timeout: int = Field(default=10, ge=0, le=50)
    retry_base_seconds: float = Field(default=2.0, gt=0, le=600)
    retention_days: int = Field(default=90, ge=1, le=3650)
    order_feed_interval_seconds: float = Field(default=60.0, ge=0, le=3600)
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    # Webhook mode (long polling when the URL is unset): Telegram and Market post to one port.
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    port: int = Field(default=8080, ge=1, le=65535)
    host: str = "0.0.0.0"  # noqa: S104 (a container's server listens on every interface)
    market_notify_allowed_networks: str = "5.45.207.0/25,141.8.142.0/25,5.255.253.0/25"
    trusted_proxies: str = ""
    log_level: str = "INFO"

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN_RE.match(value.get_secret_value().strip()):
            raise ValueError("does not look like a BotFather token (digits:letters)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.match(r"^https://[^\s/]+(/\S*)?/telegram$", value):
            raise ValueError("must be the public https URL of the bot ending in /telegram")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value.get_secret_value().strip()):
            raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, _ and -")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("market_notify_allowed_networks", "trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError("must be IP networks separated by commas") from None
        return value

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> Settings:
        if self.telegram_webhook_url and self.telegram_webhook_secret is None:
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET must be set when TELEGRAM_WEBHOOK_URL is (webhook mode)"
            )
        return self

    @field_validator("telegram_api_base_url", "market_api_base_url", "telegram_file_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("bot_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known time zone (e.g. Europe/Moscow)") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        upper = value.strip().upper()
        if upper not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return upper

    @property
    def webhook_mode(self) -> bool:
        """Telegram posts updates to us (``TELEGRAM_WEBHOOK_URL``) instead of long polling."""
        return self.telegram_webhook_url is not None

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.bot_timezone)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and ``.env``.

    Raises SettingsError with one line naming the first bad variable (never its value).
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        name = str(error["loc"][0]).upper() if error["loc"] else "a setting"
        # "TELEGRAM_BOT_TOKEN=" (an .env copied and not filled in) is as good as not set.
        blank = isinstance(error.get("input"), str) and not str(error.get("input")).strip()
        if error["type"] == "missing" or (name == "TELEGRAM_BOT_TOKEN" and blank):
            if name == "TELEGRAM_BOT_TOKEN":
                parts.append(
                    "TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and run "
                    "TELEGRAM_BOT_TOKEN=<token> python -m bot (or put it in .env in the "
                    "current directory)"
                )
            else:
                parts.append(f"{name} is not set")
            continue
        reason = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        parts.append(f"{name} {reason}" if error["loc"] else reason)
    return "; ".join(parts) or "invalid settings"
