"""The container recipe and the compose example read as intended (Docker itself is exercised by
.ci/container where an engine is present)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_the_image_runs_as_a_user_with_its_data_on_a_volume() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.1[1-9]-slim", text, re.M)
    assert re.search(r"^USER bot$", text, re.M)
    assert 'VOLUME ["/data"]' in text and "BOT_DB_PATH=/data/bot.sqlite3" in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'CMD ["python", "-m", "bot"]' in text
    for folder in ("bot", "handlers", "storage"):
        assert f"COPY {folder} ./{folder}" in text


def test_compose_puts_caddy_in_front_of_webhook_mode() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    bot, caddy = compose["services"]["bot"], compose["services"]["caddy"]
    assert bot["build"] == "." and "bot-data:/data" in bot["volumes"]
    assert bot["env_file"] == ".env" and bot["environment"]["PORT"] == "8080"
    assert "443:443" in caddy["ports"] and "80:80" in caddy["ports"]
    assert caddy["depends_on"] == ["bot"]
    caddyfile = compose["configs"]["caddyfile"]["content"]
    assert "{$$BOT_DOMAIN}" in caddyfile  # $$: Caddy, not compose, reads the variable
    for route in ("/telegram", "/market/notification"):
        block = caddyfile.split(f"handle {route} {{", 1)[1].split("}", 1)[0]
        assert "reverse_proxy bot:8080" in block
    assert "/healthz" not in caddyfile and "/metrics" not in caddyfile
    assert {"bot-data", "caddy-data"} <= set(compose["volumes"])


def test_the_build_context_leaves_secrets_and_databases_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", "*.sqlite3*", ".git"} <= set(ignored)
