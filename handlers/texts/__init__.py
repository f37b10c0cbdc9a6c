"""Every word the bot says, in Russian and English, looked up by key.

The sentences live in the ``*.toml`` catalogs beside this module, one file per subject, each
entry holding its ``en`` and ``ru`` side by side (a test checks that both exist with the same
``str.format`` placeholders). Texts are plain: replies are sent without a parse mode, so user
input echoed back can never turn into markup.
"""

from __future__ import annotations

import string
import tomllib
from datetime import date
from importlib import resources
from typing import Any, Literal

Lang = Literal["ru", "en"]
LANGS: tuple[Lang, ...] = ("en", "ru")
RUSSIAN_SPEAKING = frozenset({"ru", "uk", "be", "kk"})


def _load() -> dict[Lang, dict[str, str]]:
    catalogs: dict[Lang, dict[str, str]] = {"en": {}, "ru": {}}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        for key, texts in tomllib.loads(entry.read_text(encoding="utf-8")).items():
            if key in catalogs["en"]:
                raise ValueError(f"text {key!r} is defined twice ({entry.name})")
            for lang in LANGS:
                catalogs[lang][key] = str(texts[lang])
    return catalogs


CATALOGS: dict[Lang, dict[str, str]] = _load()


def language_for(language_code: str | None, preferred: str | None = None) -> Lang:
    """Russian for ru/uk/be/kk Telegram clients (or a stored preference), English otherwise."""
    if preferred in LANGS:
        return "ru" if preferred == "ru" else "en"
    base = (language_code or "").split("-")[0].lower()
    return "ru" if base in RUSSIAN_SPEAKING else "en"


def t(lang: Lang, key: str, **params: Any) -> str:
    """The text for ``key`` in ``lang`` with ``params`` filled in.

    A ``date`` value is written with its weekday (``format_day``). Raises KeyError for an
    unknown key (a test keeps the catalogs complete).
    """
    template = CATALOGS[lang][key]
    if not params:
        return template
    values = {
        name: format_day(value, lang) if type(value) is date else value
        for name, value in params.items()
    }
    return template.format(**values)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def format_day(day: date, lang: Lang) -> str:
    """``Wed 01.01.2025`` / ``ср 01.01.2025``: the weekday helps people catch a wrong date."""
    return f"{t(lang, f'weekday.{day.weekday()}')} {day:%d.%m.%Y}"
