"""The text catalogs (handlers/texts/*.toml): complete in both languages, plain, in the right
script; order statuses in words; and how ``t`` fills values in."""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.market.writes import KINDS
from handlers.explain import status_words, substatus_words
from handlers.texts import CATALOGS, LANGS, Lang, format_day, language_for, placeholders, t

TEXTS_DIR = Path(__file__).resolve().parent.parent / "handlers" / "texts"
CYRILLIC = re.compile("[А-Яа-яЁё]")
LATIN = re.compile("[A-Za-z]")
# Replies go out without a parse mode; still, nothing in a text may look like Telegram markup
# (tags, entities, Markdown emphasis or code).
MARKUP = re.compile(
    r"</?(b|strong|i|em|u|ins|s|strike|del|a|code|pre|span|tg-[a-z]+|blockquote)\b"
    r"|&[a-z]+;|&#\d+;|[*`]|__|\]\("
)
# Cyrillic that English texts may show: Market's own names of delivery services.
NAMES_IN_CYRILLIC = ("СДЭК", "Почта России")

ORDER_STATUSES = (
    "PLACING",
    "RESERVED",
    "UNPAID",
    "PROCESSING",
    "DELIVERY",
    "PICKUP",
    "DELIVERED",
    "CANCELLED",
    "PENDING",
    "PARTIALLY_RETURNED",
    "RETURNED",
    "UNKNOWN",
)
# The PROCESSING stages and CANCELLED reasons Market describes for getBusinessOrders.
DESCRIBED_SUBSTATUSES = (
    "STARTED",
    "READY_TO_SHIP",
    "RESERVATION_EXPIRED",
    "USER_NOT_PAID",
    "USER_UNREACHABLE",
    "USER_CHANGED_MIND",
    "USER_REFUSED_DELIVERY",
    "USER_REFUSED_PRODUCT",
    "SHOP_FAILED",
    "USER_REFUSED_QUALITY",
    "USER_IDENTIFICATION_MISMATCH",
    "PURCHASE_GROUP_THRESHOLD_NOT_REACHED_CANCELLED",
    "REPLACING_ORDER",
    "PROCESSING_EXPIRED",
    "PICKUP_EXPIRED",
    "TOO_MANY_DELIVERY_DATE_CHANGES",
    "TOO_LONG_DELIVERY",
    "INCORRECT_PERSONAL_DATA",
    "TECHNICAL_ERROR",
    "SHIPPED",
)


def catalog_files() -> list[Path]:
    return sorted(TEXTS_DIR.glob("*.toml"))


def without_placeholders(text: str) -> str:
    return re.sub(r"\{[^{}]*\}", "", text)


# --- the catalogs ------------------------------------------------------------------------------


def test_every_catalog_file_is_loaded() -> None:
    names = {path.stem for path in catalog_files()}
    assert {"general", "market", "orders", "shops"} <= names
    loaded = 0
    for path in catalog_files():
        entries = tomllib.loads(path.read_text(encoding="utf-8"))
        assert entries, path.name
        assert all(key in CATALOGS["en"] for key in entries), path.name
        loaded += len(entries)
    assert loaded == len(CATALOGS["en"])  # no key is defined in two files


@pytest.mark.parametrize("path", catalog_files(), ids=lambda path: path.name)
def test_every_entry_has_exactly_english_and_russian(path: Path) -> None:
    for key, entry in tomllib.loads(path.read_text(encoding="utf-8")).items():
        assert set(entry) == {"en", "ru"}, key
        for lang in LANGS:
            assert isinstance(entry[lang], str), key
            assert entry[lang].strip(), key
            assert CATALOGS[lang][key] == entry[lang]


def test_same_keys_and_placeholders_in_both_languages() -> None:
    assert CATALOGS["en"].keys() == CATALOGS["ru"].keys()
    for key, english in CATALOGS["en"].items():
        assert placeholders(english) == placeholders(CATALOGS["ru"][key]), key


@pytest.mark.parametrize("lang", LANGS)
def test_texts_are_plain(lang: Lang) -> None:
    for key, text in CATALOGS[lang].items():
        assert not MARKUP.search(text), key
        assert all(ch.isprintable() or ch == "\n" for ch in text), key
        assert "\n\n\n" not in text, key


def test_english_texts_have_no_cyrillic_but_service_names() -> None:
    for key, text in CATALOGS["en"].items():
        for name in NAMES_IN_CYRILLIC:
            text = text.replace(name, "")
        assert not CYRILLIC.search(text), key


def test_russian_texts_with_words_are_in_cyrillic() -> None:
    for key, text in CATALOGS["ru"].items():
        words = without_placeholders(text)
        if any(ch.isalpha() for ch in words):
            assert CYRILLIC.search(words), key


def test_status_texts_are_single_phrases_in_russian() -> None:
    keys = [key for key in CATALOGS["ru"] if key.startswith(("status.", "substatus."))]
    assert len(keys) >= 50
    for key in keys:
        assert CYRILLIC.search(CATALOGS["ru"][key]), key
        assert LATIN.search(CATALOGS["en"][key]), key
        assert "\n" not in CATALOGS["en"][key] + CATALOGS["ru"][key], key


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_operation_kind_has_its_phrases(name: str) -> None:
    for lang in LANGS:
        for part in ("action", "fields"):
            assert CATALOGS[lang][f"kind.{name}.{part}"], (lang, name, part)


# --- statuses in words -------------------------------------------------------------------------


def test_status_words_are_complete_in_both_languages() -> None:
    for lang in LANGS:
        statuses = [key for key in CATALOGS[lang] if key.startswith("status.")]
        substatuses = [key for key in CATALOGS[lang] if key.startswith("substatus.")]
        assert len(statuses) == len(ORDER_STATUSES)
        assert len(substatuses) >= 40


@pytest.mark.parametrize("lang", LANGS)
def test_every_order_status_and_described_substatus_has_words(lang: Lang) -> None:
    for status in ORDER_STATUSES:
        assert status_words(status, lang) == CATALOGS[lang][f"status.{status}"] != status
    for substatus in DESCRIBED_SUBSTATUSES:
        assert substatus_words(substatus, lang) != substatus


@pytest.mark.parametrize(
    ("code", "lang", "expected"),
    [
        ("PROCESSING", "en", "being processed"),
        ("PROCESSING", "ru", "в обработке"),
        ("processing", "en", "being processed"),
        ("ARCHIVED", "ru", "ARCHIVED"),
    ],
)
def test_status_words(code: str, lang: Lang, expected: str) -> None:
    assert status_words(code, lang) == expected


@pytest.mark.parametrize(
    ("code", "lang", "expected"),
    [
        ("USER_CHANGED_MIND", "en", "the buyer changed their mind"),
        ("READY_TO_SHIP", "ru", "собран и готов к отправке"),
        ("user_changed_mind", "ru", "покупатель передумал"),
        ("SOMETHING_NEW", "en", "SOMETHING_NEW"),
    ],
)
def test_substatus_words(code: str, lang: Lang, expected: str) -> None:
    assert substatus_words(code, lang) == expected


# --- t, format_day, language_for ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "lang", "expected"),
    [
        (date(2025, 1, 1), "en", "Wed 01.01.2025"),
        (date(2025, 1, 1), "ru", "ср 01.01.2025"),
        (date(2025, 12, 28), "en", "Sun 28.12.2025"),
        (date(2025, 12, 29), "ru", "пн 29.12.2025"),
    ],
)
def test_format_day_writes_the_weekday(day: date, lang: Lang, expected: str) -> None:
    assert format_day(day, lang) == expected


def test_t_fills_values_and_writes_dates_with_their_weekday() -> None:
    asked = t("en", "reason.ask", order_id=123, date=date(2025, 12, 25))
    assert asked == "Why is the date of order 123 moving to Thu 25.12.2025?"
    assert t("ru", "reason.ask", order_id=7, date=date(2025, 12, 25)).endswith(" на чт 25.12.2025?")
    assert t("en", "market.busy") == CATALOGS["en"]["market.busy"]
    # A datetime is not a day: it is left to str.format as it is.
    moment = datetime(2025, 1, 1, 12, 0)
    assert (
        t("en", "market.failing", status=moment) == f"Market is failing right now (HTTP {moment})."
    )


def test_t_refuses_an_unknown_key() -> None:
    with pytest.raises(KeyError):
        t("en", "no.such.text")


@pytest.mark.parametrize(
    ("code", "preferred", "expected"),
    [
        ("ru", None, "ru"),
        ("uk-UA", None, "ru"),
        ("BE", None, "ru"),
        ("kk", None, "ru"),
        ("en-GB", None, "en"),
        ("de", None, "en"),
        (None, None, "en"),
        ("", None, "en"),
        ("ru", "en", "en"),
        ("de", "ru", "ru"),
        ("ru", "fr", "ru"),  # an unknown preference is ignored
    ],
)
def test_language_for(code: str | None, preferred: str | None, expected: Lang) -> None:
    assert language_for(code, preferred) == expected


@pytest.mark.parametrize("lang", LANGS)
def test_every_text_fits_a_phone_screen(lang: Lang) -> None:
    # Values as long as a shop's name with its id: no text of one command's answer grows past
    # 600 characters (the lists of a bulk message's lines are put together from short ones).
    for key, text in CATALOGS[lang].items():
        filled = re.sub(r"\{[^{}]*\}", "x" * 40, text)
        assert len(filled) <= 600, (key, len(filled))
