"""Parsing of the values people type on a phone: order ids, track codes, delivery services,
dates (their forms are read in ``handlers.dates``) and reasons. The command lines made of them
are parsed in ``handlers.lines``.

Every function here is pure: it takes the text the user typed (and, for dates, ``today`` already
resolved in the bot's timezone) and returns either the parsed value or an :class:`InputError`.
Nothing is raised for bad input. An ``InputError`` carries a text key (its words live in
``handlers/texts``) and the parameters to format into that text; every parameter that echoes
user input has been passed through :func:`sanitize`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.market.writes import INT64_MAX, MoveReason
from handlers.dates import read_date

MAX_TRACK_CODE_LEN = 64
MIN_SERVICE_QUERY_LEN = 2
MAX_SERVICE_QUERY_LEN = 64
MAX_DAYS_AHEAD = 366
MAX_BATCH_LINES = 50

# Reason words shown to users, in the order they are listed in the "unknown reason" text.
USER_REASON_WORDS: tuple[str, ...] = ("user", "buyer", "customer", "client", "клиент", "покупатель")
PARTNER_REASON_WORDS: tuple[str, ...] = (
    "partner",
    "shop",
    "seller",
    "store",
    "магазин",
    "продавец",
)


@dataclass(frozen=True)
class InputError:
    """What was wrong with the input: a text key and the (sanitized) values for its text."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryServiceChoice:
    """A delivery service that matched a typed name."""

    id: int
    name: str


def sanitize(value: str, limit: int = 40) -> str:
    """Make user input safe to echo in a plain-text reply.

    Drops control, format (zero-width, bidi overrides), private-use and unassigned characters,
    turns every kind of whitespace into one space, trims, and cuts the result to ``limit``
    characters (``limit`` ≥ 1), the last of which is then "…".
    """
    kept: list[str] = []
    for ch in value:
        if ch.isspace():
            kept.append(" ")
        elif unicodedata.category(ch)[0] != "C":
            kept.append(ch)
    text = " ".join("".join(kept).split())
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def _invisible_char(text: str) -> str | None:
    """The first control/format/unassigned character of ``text`` as "U+XXXX", or None."""
    for ch in text:
        if unicodedata.category(ch)[0] == "C":
            return f"U+{ord(ch):04X}"
    return None


def _invisible_error(text: str) -> InputError | None:
    char = _invisible_char(text)
    if char is None:
        return None
    return InputError("input.invisible_char", {"value": sanitize(text), "char": char})


_ASCII_DIGITS = re.compile(r"[0-9]+")
_SIGNED_ASCII = re.compile(r"[+-][0-9]+")


def _parse_id(text: str, field_name: str, shown: str | None = None) -> int | InputError:
    """Parse a positive int64 written in ASCII digits; errors are keyed "input.<field_name>.*"
    and echo ``shown`` (default: ``text``).

    ``text`` is stripped, non-empty and free of invisible characters.
    """
    params = {"value": sanitize(text if shown is None else shown)}
    if _ASCII_DIGITS.fullmatch(text):
        significant = text.lstrip("0")
        if not significant:
            return InputError(f"input.{field_name}.not_positive", params)
        # Length first: int() of a huge digit string is slow and, past 4300 digits, refused.
        if len(significant) > len(str(INT64_MAX)) or int(significant) > INT64_MAX:
            return InputError(f"input.{field_name}.too_big", params)
        return int(significant)
    if _SIGNED_ASCII.fullmatch(text) and text.startswith("-"):
        return InputError(f"input.{field_name}.not_positive", params)
    # str.isdigit() accepts Arabic-Indic, full-width and other digits that int() would take;
    # an order number typed with them is almost surely a keyboard-layout accident.
    if text.isdigit():
        return InputError(f"input.{field_name}.non_ascii_digits", params)
    return InputError(f"input.{field_name}.not_number", params)


# What phones put around a number: "#124", "№124", "124," (a list typed with commas).
_NUMBER_SIGNS = ("#", "№")
_TRAILING_PUNCTUATION = ".,;:"


def parse_order_id(text: str) -> int | InputError:
    """Parse a Market order id: 1..2**63-1 in ASCII digits, surrounding whitespace ignored,
    as are one leading ``#`` or ``№`` and trailing ``.,;:``."""
    text = text.strip()
    if not text:
        return InputError("input.missing.order_id")
    invisible = _invisible_error(text)
    if invisible is not None:
        return invisible
    number = text.rstrip(_TRAILING_PUNCTUATION)
    if number.startswith(_NUMBER_SIGNS):
        number = number[1:]
    return _parse_id(number, "order_id", shown=text)


MIN_TRACK_CODE_LEN = 4
# Cyrillic letters that look like Latin ones, as a Russian keyboard types them into a code;
# both cases become the upper-case Latin letter. Other Cyrillic letters (Ё included) are refused.
_LOOKALIKES = str.maketrans("АВЕКМНОРСТУХавекмнорстух", "ABEKMHOPCTYX" * 2)
_TRACK_CODE_CHARS = re.compile(r"[A-Za-z0-9-]")


def parse_track_code(text: str) -> str | InputError:
    """Parse a track code into the form Market expects: Latin letters (upper case), digits, ``-``.

    Cyrillic look-alikes (А В Е К М Н О Р С Т У Х, either case) become their Latin letters,
    every letter is upper-cased. A code with spaces (only a quoted one can have them,
    ``"RA 1234-5678 RU"``) loses its spaces and dashes: they group the digits on labels.
    Refused, with the reason: other Cyrillic letters, any other character, fewer than
    :data:`MIN_TRACK_CODE_LEN` or more than :data:`MAX_TRACK_CODE_LEN` characters.
    """
    text = text.strip()
    if not text:
        return InputError("input.missing.track_code")
    code = text
    if any(ch.isspace() for ch in code):
        code = "".join(ch for ch in code if not ch.isspace() and ch != "-")
    invisible = _invisible_error(code)
    if invisible is not None:
        return invisible
    params = {"value": sanitize(text)}
    code = code.translate(_LOOKALIKES)
    wrong = [ch for ch in code if not _TRACK_CODE_CHARS.fullmatch(ch)]
    cyrillic = [ch for ch in wrong if "CYRILLIC" in unicodedata.name(ch, "")]
    if cyrillic:
        letters = ", ".join(dict.fromkeys(cyrillic))
        return InputError("input.track_code.cyrillic", {**params, "letters": sanitize(letters)})
    if wrong:
        return InputError("input.track_code.bad_char", {**params, "char": sanitize(wrong[0])})
    params["length"] = str(len(code))
    if len(code) < MIN_TRACK_CODE_LEN:
        return InputError("input.track_code.too_short", {**params, "min": str(MIN_TRACK_CODE_LEN)})
    if len(code) > MAX_TRACK_CODE_LEN:
        return InputError("input.track_code.too_long", {**params, "max": str(MAX_TRACK_CODE_LEN)})
    return code.upper()


# Punctuation found in delivery service names ("Яндекс.Доставка", "Деловые-Линии", "DHL_Express").
_SERVICE_NAME_PUNCTUATION = frozenset("-._&'+()")


def parse_service(text: str) -> int | str | InputError:
    """Parse a delivery service: a numeric id (positive int64, ASCII digits) or a name query.

    A name query is one word of at least 2 characters with at least one letter, made of letters,
    digits and the punctuation found in service names; it is returned as typed, for
    :func:`match_services`.
    """
    text = text.strip()
    if not text:
        return InputError("input.missing.service")
    invisible = _invisible_error(text)
    if invisible is not None:
        return invisible
    params = {"value": sanitize(text)}
    if not any(ch.isalpha() for ch in text):
        if text.isdigit() or _SIGNED_ASCII.fullmatch(text):
            return _parse_id(text, "service")
        return InputError("input.service.bad_name", params)
    if len(text) < MIN_SERVICE_QUERY_LEN:
        return InputError("input.service.too_short", params)
    if len(text) > MAX_SERVICE_QUERY_LEN:
        return InputError("input.service.too_long", params)
    if not all(ch.isalnum() or ch in _SERVICE_NAME_PUNCTUATION for ch in text):
        return InputError("input.service.bad_name", params)
    return text


def _format_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def parse_date(text: str, today: date) -> date | InputError:
    """Parse a new delivery date as typed on a phone; ``today`` is in the bot's timezone.

    Accepted (any case, ё read as е, a trailing ``.,;`` after a word ignored): ``2025-12-25``
    (also with / or .), ``25.12.2025``, ``25.12.25`` (20xx), ``1.1.2025``, ``25/12/2025``,
    ``25-12-2025``, ``25,12``; ``25.12`` (the next 25.12 on or after today; 29.02 → the next leap
    year's); a month by name, Russian or English, full or short: ``25 декабря``, ``25 dec``,
    ``dec 25``, ``25 december 2025``; today/tomorrow/сегодня/завтра/послезавтра; ``+3``,
    ``+3 дня``, ``через день``, ``через 3 дня``, ``через неделю``, ``in 3 days``, ``in a week``;
    a weekday (``пн``, ``понедельник``, ``в пн``, ``mon``, ``monday``): the next one, never
    today. Day comes before month in numbers. The date must exist, not be before ``today`` and
    be at most :data:`MAX_DAYS_AHEAD` days after it.
    """
    text = text.strip()
    if not text:
        return InputError("input.missing.date")
    invisible = _invisible_error(text)
    if invisible is not None:
        return invisible
    params = {"value": sanitize(text)}
    words = [w.rstrip(".,;") for w in text.casefold().replace("ё", "е").split()]
    words = [w for w in words if w]
    result = read_date(words, today) if words else None
    if result is None:
        return InputError("input.date.bad_format", params)
    if isinstance(result, str):
        return InputError(result, params)
    if result < today:
        return InputError("input.date.past", {**params, "date": _format_date(result)})
    if (result - today).days > MAX_DAYS_AHEAD:
        return InputError("input.date.too_far", {**params, "date": _format_date(result)})
    return result


def _reason_word(text: str) -> str:
    return text.casefold().replace("ё", "е")


_REASONS: dict[str, MoveReason] = {
    **{_reason_word(w): "USER_MOVED_DELIVERY_DATES" for w in USER_REASON_WORDS},
    **{_reason_word(w): "PARTNER_MOVED_DELIVERY_DATES" for w in PARTNER_REASON_WORDS},
    "user_moved_delivery_dates": "USER_MOVED_DELIVERY_DATES",
    "partner_moved_delivery_dates": "PARTNER_MOVED_DELIVERY_DATES",
}


def parse_reason(text: str) -> MoveReason | InputError:
    """Parse the reason for moving a date: user/partner, their aliases (ru/en), or the enum."""
    text = text.strip()
    if not text:
        return InputError("input.missing.reason")
    invisible = _invisible_error(text)
    if invisible is not None:
        return invisible
    reason = _REASONS.get(_reason_word(text))
    if reason is not None:
        return reason
    return InputError(
        "input.reason.unknown",
        {
            "value": sanitize(text),
            "user_words": ", ".join(USER_REASON_WORDS),
            "partner_words": ", ".join(PARTNER_REASON_WORDS),
        },
    )


def _normalize_name(text: str) -> str:
    """Casefolded letters and digits only, ё read as е: "Яндекс.Доставка" → "яндексдоставка"."""
    return "".join(ch for ch in text.casefold().replace("ё", "е") if ch.isalnum())


# Latin spellings (and common misspellings) of services whose Market names are in Cyrillic, and
# back. Keys and fragments are already normalized (see _normalize_name).
_SERVICE_ALIASES: dict[str, tuple[str, ...]] = {
    "cdek": ("сдэк",),
    "sdek": ("сдэк",),
    "сдек": ("сдэк",),
    "pochta": ("почтароссии",),
    "pochtarossii": ("почтароссии",),
    "russianpost": ("почтароссии",),
    "boxberry": ("boxberry", "боксберри"),
    "боксберри": ("boxberry",),
    "dpd": ("dpd", "дпд"),
    "дпд": ("dpd",),
    "yandex": ("яндекс",),
    "яндекс": ("yandex",),
}


def match_services(query: str, services: Sequence[tuple[int, str]]) -> list[DeliveryServiceChoice]:
    """Delivery services whose names match ``query``, in the order of ``services``.

    Matching ignores case, spaces, dashes and punctuation and reads ё as е; a few Latin names
    also find their Cyrillic services (cdek → СДЭК, pochta/russian post → Почта России, …).
    If some names equal the query exactly, only those are returned; otherwise every name that
    contains it. An empty list means nothing matched.
    """
    wanted = _normalize_name(query)
    if not wanted:
        return []
    fragments = (wanted, *_SERVICE_ALIASES.get(wanted, ()))
    normalized = [(service_id, name, _normalize_name(name)) for service_id, name in services]
    exact = [
        DeliveryServiceChoice(service_id, name)
        for service_id, name, norm in normalized
        if norm in fragments
    ]
    if exact:
        return exact
    return [
        DeliveryServiceChoice(service_id, name)
        for service_id, name, norm in normalized
        if any(fragment in norm for fragment in fragments)
    ]
