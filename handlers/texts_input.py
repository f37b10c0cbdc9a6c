"""Words for the input errors of ``handlers.parsing`` and the usage lines of /track and /move.

One dict per language with identical keys; placeholders are ``str.format`` fields named like the
``InputError.params`` they are filled from. Texts are plain text (no HTML/Markdown): send them
without a parse mode. The caller appends the command's usage line ("usage.track"/"usage.move")
after an error, so the error texts do not repeat it.
"""

from __future__ import annotations

INPUT_EN: dict[str, str] = {
    "usage.track": (
        "Usage: /track <order> <track number> <delivery service number or name>\n"
        "Example: /track 123456789 RR456 51"
    ),
    "usage.move": (
        "Usage: /move <order> <date> <reason>\n"
        "Date: 25.12, 25.12.2025, 2025-12-25, today, tomorrow.\n"
        "Reason: user (the buyer asked) or partner (we can't make it). "
        "Leave it out and I will ask.\n"
        "Example: /move 123456789 25.12 buyer"
    ),
    "input.missing.order_id": "The order number is missing.",
    "input.missing.track_code": "The track number is missing.",
    "input.missing.service": (
        "The delivery service is missing: type its number or a word of its name."
    ),
    "input.missing.date": "The new delivery date is missing.",
    "input.missing.reason": "The reason is missing.",
    "input.track.missing_all": ("The order number, track number and delivery service are missing."),
    "input.track.missing_track_code_and_service": (
        "The track number and delivery service are missing."
    ),
    "input.track.service_one_word": (
        "Type the delivery service as one word (e.g. pochta for Почта России) or as its number. "
        "“{value}” is several words."
    ),
    "input.move.missing_all": "The order number and new delivery date are missing.",
    "input.invisible_char": (
        "“{value}” contains an invisible character ({char}), often left over from copy and "
        "paste. Please type it by hand."
    ),
    "input.order_id.not_number": (
        "Order number “{value}” is not a number. It is the number from the Market order page, "
        "e.g. 123456789."
    ),
    "input.order_id.non_ascii_digits": (
        "Order number “{value}” is written with unusual digits. Please type it with 0–9."
    ),
    "input.order_id.not_positive": "Order number “{value}” must be greater than zero.",
    "input.order_id.too_big": "Order number “{value}” is too long for a Market order.",
    "input.service.not_number": (
        "Delivery service “{value}” is neither a number nor a name. Type its number, e.g. 51, "
        "or a word of its name."
    ),
    "input.service.non_ascii_digits": (
        "Delivery service number “{value}” is written with unusual digits. Please type it with 0–9."
    ),
    "input.service.not_positive": ("Delivery service number “{value}” must be greater than zero."),
    "input.service.too_big": "Delivery service number “{value}” is too long.",
    "input.service.too_short": (
        "Delivery service “{value}” is too short: type at least 2 letters of its name, "
        "or its number."
    ),
    "input.service.too_long": (
        "Delivery service “{value}” is too long: type one word of its name, or its number."
    ),
    "input.service.bad_name": (
        "“{value}” does not look like a delivery service. Type its number or a word of its "
        "name, e.g. 51 or cdek."
    ),
    "input.track_code.has_space": (
        "Track number “{value}” contains a space. Please type it without spaces."
    ),
    "input.track_code.too_long": (
        "Track number “{value}” is too long: {length} characters, at most {max}."
    ),
    "input.date.bad_format": "“{value}” is not a date I can read.",
    "input.date.no_such_date": "There is no such date: “{value}”.",
    "input.date.past": "The date {date} is in the past. Pick today or a later day.",
    "input.date.too_far": "The date {date} is more than a year ahead.",
    "input.reason.unknown": (
        "Reason “{value}” is unknown. If the buyer asked: {user_words}. "
        "If the shop can't make it: {partner_words}."
    ),
    "input.too_many_args": "Too many words: “{extra}” is extra.",
    "input.batch.no_command": "The message must start with /track or /move.",
    "input.batch.unknown_command": (
        "Line {line}: {command} cannot be used in a list. Use /track or /move."
    ),
    "input.batch.other_bot": "Line {line}: this command is for @{name}, not for me.",
    "input.batch.too_many": ("Too many lines: {count}. Please send at most {max} in one message."),
}

INPUT_RU: dict[str, str] = {
    "usage.track": (
        "Как писать: /track <номер заказа> <трек-номер> <служба доставки: номер или название>\n"
        "Пример: /track 123456789 RR456 51"
    ),
    "usage.move": (
        "Как писать: /move <номер заказа> <дата> <причина>\n"
        "Дата: 25.12, 25.12.2025, 2025-12-25, сегодня, завтра, послезавтра.\n"
        "Причина: покупатель (попросил покупатель) или магазин (мы не успеваем). "
        "Если не указать, я спрошу.\n"
        "Пример: /move 123456789 25.12 покупатель"
    ),
    "input.missing.order_id": "Не указан номер заказа.",
    "input.missing.track_code": "Не указан трек-номер.",
    "input.missing.service": "Не указана служба доставки: её номер или слово из названия.",
    "input.missing.date": "Не указана новая дата доставки.",
    "input.missing.reason": "Не указана причина.",
    "input.track.missing_all": "Не указаны номер заказа, трек-номер и служба доставки.",
    "input.track.missing_track_code_and_service": "Не указаны трек-номер и служба доставки.",
    "input.track.service_one_word": (
        "Службу доставки напишите одним словом (например, «почта» для Почты России) "
        "или номером. «{value}» — это несколько слов."
    ),
    "input.move.missing_all": "Не указаны номер заказа и новая дата доставки.",
    "input.invisible_char": (
        "В «{value}» есть невидимый символ ({char}) — так бывает при копировании. Наберите вручную."
    ),
    "input.order_id.not_number": (
        "Номер заказа «{value}» — не число. Это номер со страницы заказа в Маркете, "
        "например 123456789."
    ),
    "input.order_id.non_ascii_digits": (
        "В номере заказа «{value}» необычные цифры. Наберите его цифрами 0–9."
    ),
    "input.order_id.not_positive": "Номер заказа «{value}» должен быть больше нуля.",
    "input.order_id.too_big": "Номер заказа «{value}» слишком длинный для заказа Маркета.",
    "input.service.not_number": (
        "Служба доставки «{value}» — не номер и не название. Напишите её номер, например 51, "
        "или слово из названия."
    ),
    "input.service.non_ascii_digits": (
        "В номере службы доставки «{value}» необычные цифры. Наберите его цифрами 0–9."
    ),
    "input.service.not_positive": "Номер службы доставки «{value}» должен быть больше нуля.",
    "input.service.too_big": "Номер службы доставки «{value}» слишком длинный.",
    "input.service.too_short": (
        "«{value}» — слишком коротко: напишите хотя бы 2 буквы названия службы доставки "
        "или её номер."
    ),
    "input.service.too_long": (
        "Название службы доставки «{value}» слишком длинное: напишите одно слово из названия "
        "или номер."
    ),
    "input.service.bad_name": (
        "«{value}» не похоже на службу доставки. Напишите её номер или слово из названия, "
        "например 51 или сдэк."
    ),
    "input.track_code.has_space": (
        "В трек-номере «{value}» есть пробел. Напишите его без пробелов."
    ),
    "input.track_code.too_long": (
        "Трек-номер «{value}» слишком длинный: длина {length}, максимум — {max}."
    ),
    "input.date.bad_format": "Не понимаю дату «{value}».",
    "input.date.no_such_date": "Такой даты нет: «{value}».",
    "input.date.past": "Дата {date} уже прошла. Выберите сегодня или позже.",
    "input.date.too_far": "Дата {date} — больше чем через год.",
    "input.reason.unknown": (
        "Непонятная причина «{value}». Если попросил покупатель: {user_words}. "
        "Если не успевает магазин: {partner_words}."
    ),
    "input.too_many_args": "Лишние слова: «{extra}».",
    "input.batch.no_command": "Сообщение должно начинаться с /track или /move.",
    "input.batch.unknown_command": (
        "Строка {line}: {command} нельзя использовать в списке. Используйте /track или /move."
    ),
    "input.batch.other_bot": "Строка {line}: эта команда для @{name}, а не для меня.",
    "input.batch.too_many": (
        "Слишком много строк: {count}. В одном сообщении можно не больше {max}."
    ),
}
