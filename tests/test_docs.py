"""Docs that cannot drift: README, /help and the catalogs follow the command registry."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from handlers.parsing import parse_date
from handlers.registry import COMMANDS, help_text, menu
from handlers.texts import CATALOGS, placeholders

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda spec: spec.name)
def test_every_command_is_in_readme_with_an_example(spec: object) -> None:
    name = spec.name  # type: ignore[attr-defined]
    assert f"`/{name}" in README, f"/{name} is not documented in README"
    assert spec.example.split()[0] == f"/{name}"  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_help_lists_every_command(lang: str) -> None:
    text = help_text(lang)  # type: ignore[arg-type]
    for spec in COMMANDS:
        assert f"/{spec.name} " in text
        if spec.example != f"/{spec.name}":
            assert spec.example in text


def test_menus_hold_work_commands_in_both_chat_kinds() -> None:
    private = {c.command for c in menu("en", group=False)}
    group = {c.command for c in menu("ru", group=True)}
    assert {"track", "move", "help", "connect", "invite"} <= private
    assert {"track", "move", "bind", "grant"} <= group
    assert "connect" not in group
    assert all(len(c.description) <= 256 for c in menu("ru", group=False))


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    en, ru = CATALOGS["en"], CATALOGS["ru"]
    assert set(en) == set(ru)
    for key in en:
        assert placeholders(en[key]) == placeholders(ru[key]), key


def test_russian_texts_are_russian() -> None:
    for key in ("start.title", "deny.not_member", "result.track_ok", "connect.in_group"):
        assert any("а" <= ch <= "я" for ch in CATALOGS["ru"][key].lower()), key


def test_readme_lists_only_dates_the_bot_reads() -> None:
    bullet = README[README.index("- `/move <orderId>") :]
    dates = bullet[bullet.index("Dates:") : bullet.index("Reasons:")]
    listed = re.findall(r"`([^`]+)`", dates)
    today = date(2025, 6, 10)
    for text in listed:
        assert isinstance(parse_date(text, today), date), text
    for form in ("25 декабря", "25 dec", "пн", "monday", "+3", "через 3 дня", "25,12"):
        assert form in listed, form
    assert "a year" in dates


def test_readme_tells_how_to_see_every_command() -> None:
    assert "`/help all`" in README
    assert "pip install -e . && python -m bot" in README
    assert "pip install -e '.[test]' && pytest" in README
