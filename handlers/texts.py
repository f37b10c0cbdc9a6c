"""Every word the bot says, in Russian and English, looked up by key.

The general texts live here; input errors in ``texts_input`` and Market explanations in
``texts_errors``. All three catalogs have the same keys in both languages (a test checks), use
``str.format`` placeholders, and are plain text: replies are sent without a parse mode, so user
input echoed back can never turn into markup.
"""

from __future__ import annotations

import string
from datetime import date
from typing import Any, Literal

from handlers.texts_errors import ERRORS_EN, ERRORS_RU
from handlers.texts_input import INPUT_EN, INPUT_RU

Lang = Literal["ru", "en"]
RUSSIAN_SPEAKING = frozenset({"ru", "uk", "be", "kk"})

GENERAL_EN: dict[str, str] = {
    "start.title": "Hi! I update Yandex Market orders that your shop delivers itself (DBS).",
    "start.body": (
        "Send a parcel's track number:\n{track_example}\n"
        "Move a delivery date:\n{move_example}\n\n"
        "Owners connect a shop with /connect in this private chat, then invite couriers "
        "and managers with /invite. /help lists every command."
    ),
    "help.title": "Commands:",
    "help.example": "e.g. {example}",
    "help.footer": (
        "Several orders at once: put one command per line (up to 50), or a first line /track "
        "or /move and then just the arguments, one order per line."
    ),
    "cmd.start": "start, or accept an invite",
    "cmd.help": "list of commands",
    "cmd.track": "send an order's track number",
    "cmd.move": "move an order's delivery date",
    "cmd.connect": "connect a shop with its API key (private chat)",
    "cmd.invite": "invite a courier or manager (private chat)",
    "cmd.grant": "give a role to the author of the replied message (group)",
    "cmd.revoke": "take someone's access away",
    "cmd.members": "who has access to the shop",
    "cmd.bind": "make this group act on a shop (group)",
    "cmd.unbind": "stop this group acting on the shop (group)",
    "cmd.use": "choose your default shop (private chat)",
    "cmd.disconnect": "forget a shop, its key and its people",
    "cmd.log": "latest actions in the shop",
    "cmd.language": "answer in Russian or English",
    "error.internal": "Something went wrong on my side. Nothing was sent to Market. Please try again.",
    # --- access
    "deny.anonymous": (
        "You are writing as the group (anonymous admin), so I can't tell who you are. "
        "Turn off “Remain anonymous” in the group's admin settings, or write in private."
    ),
    "deny.bot_sender": "Commands from bots are not accepted.",
    "deny.unsupported_chat": "I only work in private chats and groups.",
    "deny.private_only": "This command works only in a private chat with me: {link}",
    "deny.group_only": "This command works only in the shop's group chat.",
    "deny.group_not_bound": (
        "This group is not linked to a shop yet. The shop's owner can link it with /bind."
    ),
    "deny.not_member": (
        "You don't have access to a shop here. Ask the shop's owner for an invite; "
        "tell them your id: {user_id}"
    ),
    "deny.role_too_low": (
        "Your role in this shop does not allow {command}. Ask the shop's owner. Your id: {user_id}"
    ),
    "deny.last_owner": "The last owner can't be removed. Add another owner first, or /disconnect.",
    "deny.target_not_member": "That person has no role in this shop.",
    "deny.unknown_command": "Unknown command. /help lists what I can do.",
    "deny.invite_unknown": "This invite code is not valid. Ask for a new invite.",
    "deny.invite_expired": "This invite has expired (invites are valid for 24 hours). Ask for a new one.",
    "deny.invite_used": "This invite has already been used. Ask for a new one.",
    "deny.already_member": "You already have this role (or a higher one) in {shop}.",
    "deny.group_short": "{name}, you have no access to this shop. Ask its owner; your id: {user_id}",
    "choose.campaign": "You have several shops. Which one?",
    "button.not_yours": "This button is for the person who sent the command.",
    "button.expired": "This button has expired. Send the command again.",
    # --- connect
    "connect.usage": (
        "Usage: /connect <campaignId> <apiKey>\n"
        "Example: /connect 21000000 ACMA:xxxx:yyyy\n"
        "The campaign id is in the seller cabinet: Settings → API and modules. "
        "Create an API key there with access to “Order processing”."
    ),
    "connect.bad_campaign": "“{value}” is not a campaign id: it is a number like 21000000.",
    "connect.deleted": "I deleted your message with the key so it does not stay in the chat.",
    "connect.not_deleted": "Please delete your message with the key yourself.",
    "connect.checking": "Checking the key with Market…",
    "connect.ok": "Connected: {shop}. You are its owner.",
    "connect.reconnected": "Key updated for {shop}.",
    "connect.not_dbs": (
        "Note: this campaign's placement is {placement}, not DBS. /track and /move work only for "
        "orders you deliver yourself (DBS)."
    ),
    "connect.next": "Next: /invite courier to bring in a courier, and /bind in the shop's group.",
    "connect.failed": "The key was not saved.",
    "connect.market_said": "Market said: {message}",
    "connect.unauthorized": (
        "Market does not accept this key: it is invalid. Copy the whole key (it starts with "
        "ACMA:) from the seller cabinet, Settings → API and modules."
    ),
    "connect.revoked": "This key has been revoked. Create a new key in the seller cabinet.",
    "connect.no_scope": (
        "The key lacks access to order processing. Create a key with the “Order processing” "
        "(inventory-and-order-processing) access and connect again."
    ),
    "connect.api_disabled": (
        "Market has disabled the API for this campaign. Turn it back on in the seller cabinet "
        "(Settings → API and modules), then connect again."
    ),
    "connect.access_denied": "This key does not give access to campaign {campaign_id}.",
    "connect.not_found": (
        "Market knows no campaign with this id. The campaign id is not the shop id: find it "
        "in the seller cabinet, Settings → API and modules."
    ),
    "connect.busy": "Market is not answering right now. Try /connect again in a minute.",
    "connect.refused": "Market refused to check the key.",
    "batch.reason_missing": "add the reason at the end of the line: user or partner",
    "connect.in_group": (
        "Never send an API key to a group: everyone here can see it. I did not use it. "
        "Revoke this key now in the seller cabinet (Settings → API and modules), create a new "
        "one and connect in a private chat with me: {link}"
    ),
    # --- invites and roles
    "role.owner": "owner",
    "role.manager": "manager",
    "role.courier": "courier",
    "invite.usage": "Usage: /invite <courier|manager> [campaignId]\nExample: /invite courier",
    "invite.created": (
        "Invite for a {role} of {shop}. Send this link to the person; it works once, "
        "for 24 hours (until {expires}):\n{link}"
    ),
    "invite.accepted": "Welcome! You are now a {role} of {shop}. {next}",
    "invite.accepted_next": "Try: /track 123456789 RR456 51",
    "invite.accepted_owner": "{name} (id {user_id}) accepted your invite and is now a {role} of {shop}.",
    "grant.usage": (
        "Usage: reply to a message of the person with /grant <courier|manager>\n"
        "Example: /grant courier"
    ),
    "grant.done": "{name} (id {user_id}) is now a {role} of {shop}.",
    "grant.not_a_person": "That message was not written by a person I can give a role to.",
    "revoke.usage": (
        "Usage: /revoke <userId>, or reply to the person's message with /revoke\n"
        "Example: /revoke 123456789"
    ),
    "revoke.done": "User {user_id} no longer has access to {shop}.",
    "revoke.notice": "Your access to {shop} was removed.",
    "members.title": "People of {shop}:",
    "members.line": "{role}: {user_id}{you}",
    "members.you": " (you)",
    "members.sent_private": "I sent the list to you in private.",
    "members.start_private": "I can't write to you in private yet. Open {link} and press Start.",
    # --- binding
    "bind.usage": "Usage: /bind [campaignId] in the shop's group\nExample: /bind 21000000",
    "bind.done": "This group now acts on {shop}. People with a role can use /track and /move here.",
    "unbind.done": "This group no longer acts on {shop}.",
    "unbind.not_bound": "This group is not linked to a shop.",
    "use.usage": "Usage: /use <campaignId>\nExample: /use 21000000",
    "use.done": "Your default shop is now {shop}.",
    # --- disconnect
    "disconnect.usage": "Usage: /disconnect <campaignId>\nExample: /disconnect 21000000",
    "disconnect.confirm": (
        "Forget {shop}? Its API key, its people and its group links will be deleted. "
        "The audit log stays."
    ),
    "disconnect.yes": "Yes, forget it",
    "disconnect.no": "No, keep it",
    "disconnect.done": "{shop} is disconnected: key, people and group links are gone.",
    "disconnect.cancelled": "Nothing changed: {shop} stays connected.",
    # --- log
    "log.usage": "Usage: /log [N] (1–100)\nExample: /log 20",
    "log.title": "Latest {count} actions in {shop}:",
    "log.empty": "No actions recorded for {shop} yet.",
    "log.line": "{at} · {user} · {command} → {outcome}",
    # --- language
    "language.usage": "Usage: /language <ru|en>\nExample: /language en",
    "language.done": "I'll answer you in English.",
    # --- work commands
    "reason.ask": "Why is the date of order {order_id} moving to {date}?",
    "reason.user": "The buyer asked",
    "reason.partner": "We can't make it",
    "reason.user_short": "the buyer asked",
    "reason.partner_short": "the shop can't make it",
    "service.ambiguous": "“{query}” matches several delivery services; use the id:\n{candidates}",
    "service.unknown": (
        "No delivery service matches “{query}”. Use the service's id, e.g. 51 for СДЭК."
    ),
    "service.unavailable": (
        "I couldn't fetch the list of delivery services from Market; use the service's id."
    ),
    "service.candidate": "{id} — {name}",
    "batch.line_prefix": "line {line}: {text}",
    "progress.sending": "⏳ Sending to Market…",
    "progress.batch": "⏳ Sending to Market: {done} of {total} done…",
    "progress.retrying": "⏳ Market is busy; I'll retry at {time}. The command is saved.",
    "progress.waiting_budget": (
        "⏳ The shop's hourly Market limit is used up; I'll send it at {time}. The command is saved."
    ),
    "result.track_ok": "✅ Order {order_id}: track number {track_code} ({service}) sent. {shop}",
    "result.move_ok": "✅ Order {order_id}: delivery date set to {date} ({reason}). {shop}",
    "result.failed": "❌ Order {order_id}: {explanation}",
    "result.invalid": "❌ {explanation}",
    "summary.title": "{icon} Done {done} of {total}. {shop}",
    "summary.failed_title": "Not done:",
    "summary.line": "line {line}: {text}",
    "weekday.0": "Mon",
    "weekday.1": "Tue",
    "weekday.2": "Wed",
    "weekday.3": "Thu",
    "weekday.4": "Fri",
    "weekday.5": "Sat",
    "weekday.6": "Sun",
}

GENERAL_RU: dict[str, str] = {
    "start.title": "Привет! Я обновляю заказы Яндекс Маркета, которые магазин доставляет сам (DBS).",
    "start.body": (
        "Передать трек-номер посылки:\n{track_example}\n"
        "Перенести дату доставки:\n{move_example}\n\n"
        "Владелец подключает магазин командой /connect в этом личном чате, затем приглашает "
        "курьеров и менеджеров через /invite. Все команды — /help."
    ),
    "help.title": "Команды:",
    "help.example": "например, {example}",
    "help.footer": (
        "Несколько заказов сразу: по одной команде на строку (до 50) или первая строка /track "
        "или /move, а дальше только аргументы, по заказу на строку."
    ),
    "cmd.start": "начать или принять приглашение",
    "cmd.help": "список команд",
    "cmd.track": "передать трек-номер заказа",
    "cmd.move": "перенести дату доставки заказа",
    "cmd.connect": "подключить магазин по API-ключу (в личке)",
    "cmd.invite": "пригласить курьера или менеджера (в личке)",
    "cmd.grant": "дать роль автору сообщения, на которое отвечаете (в группе)",
    "cmd.revoke": "забрать доступ",
    "cmd.members": "у кого есть доступ к магазину",
    "cmd.bind": "привязать эту группу к магазину (в группе)",
    "cmd.unbind": "отвязать группу от магазина (в группе)",
    "cmd.use": "выбрать магазин по умолчанию (в личке)",
    "cmd.disconnect": "отключить магазин: ключ, люди, группы",
    "cmd.log": "последние действия в магазине",
    "cmd.language": "отвечать по-русски или по-английски",
    "error.internal": "У меня что-то сломалось. В Маркет ничего не отправлено. Попробуйте ещё раз.",
    "deny.anonymous": (
        "Вы пишете от имени группы (анонимный админ), и я не знаю, кто вы. Отключите "
        "«Анонимность» в правах администратора или напишите мне в личку."
    ),
    "deny.bot_sender": "Команды от ботов не принимаются.",
    "deny.unsupported_chat": "Я работаю только в личных чатах и группах.",
    "deny.private_only": "Эта команда работает только в личном чате со мной: {link}",
    "deny.group_only": "Эта команда работает только в группе магазина.",
    "deny.group_not_bound": (
        "Эта группа ещё не привязана к магазину. Владелец магазина может привязать её командой /bind."
    ),
    "deny.not_member": (
        "У вас нет доступа к магазину. Попросите у владельца магазина приглашение; "
        "ваш id: {user_id}"
    ),
    "deny.role_too_low": (
        "Ваша роль в этом магазине не позволяет {command}. Обратитесь к владельцу. Ваш id: {user_id}"
    ),
    "deny.last_owner": (
        "Нельзя убрать последнего владельца. Сначала добавьте другого владельца или /disconnect."
    ),
    "deny.target_not_member": "У этого человека нет роли в магазине.",
    "deny.unknown_command": "Неизвестная команда. Что я умею — /help.",
    "deny.invite_unknown": "Код приглашения недействителен. Попросите новое приглашение.",
    "deny.invite_expired": ("Приглашение истекло (оно действует 24 часа). Попросите новое."),
    "deny.invite_used": "Это приглашение уже использовано. Попросите новое.",
    "deny.already_member": "У вас уже есть эта роль (или выше) в {shop}.",
    "deny.group_short": "{name}, у вас нет доступа к этому магазину. Спросите владельца; ваш id: {user_id}",
    "choose.campaign": "У вас несколько магазинов. Какой?",
    "button.not_yours": "Эта кнопка для того, кто отправил команду.",
    "button.expired": "Кнопка устарела. Отправьте команду ещё раз.",
    "connect.usage": (
        "Как: /connect <campaignId> <apiKey>\n"
        "Пример: /connect 21000000 ACMA:xxxx:yyyy\n"
        "Идентификатор кампании — в кабинете продавца: Настройки → API и модули. "
        "Там же создайте API-ключ с доступом «Обработка заказов»."
    ),
    "connect.bad_campaign": "«{value}» — не идентификатор кампании: это число вроде 21000000.",
    "connect.deleted": "Я удалил ваше сообщение с ключом, чтобы он не остался в чате.",
    "connect.not_deleted": "Пожалуйста, удалите сообщение с ключом сами.",
    "connect.checking": "Проверяю ключ в Маркете…",
    "connect.ok": "Подключено: {shop}. Вы — владелец.",
    "connect.reconnected": "Ключ для {shop} обновлён.",
    "connect.not_dbs": (
        "Внимание: модель размещения этой кампании — {placement}, а не DBS. /track и /move "
        "работают только для заказов, которые вы доставляете сами (DBS)."
    ),
    "connect.next": "Дальше: /invite courier — пригласить курьера, /bind — в группе магазина.",
    "connect.failed": "Ключ не сохранён.",
    "connect.market_said": "Ответ Маркета: {message}",
    "connect.unauthorized": (
        "Маркет не принимает этот ключ: он недействителен. Скопируйте ключ целиком (он "
        "начинается с ACMA:) в кабинете продавца: Настройки → API и модули."
    ),
    "connect.revoked": "Этот ключ отозван. Создайте новый ключ в кабинете продавца.",
    "connect.no_scope": (
        "У ключа нет доступа к обработке заказов. Создайте ключ с доступом «Обработка заказов» "
        "(inventory-and-order-processing) и подключитесь снова."
    ),
    "connect.api_disabled": (
        "Маркет отключил API для этой кампании. Включите его в кабинете продавца "
        "(Настройки → API и модули) и подключитесь снова."
    ),
    "connect.access_denied": "Этот ключ не даёт доступа к кампании {campaign_id}.",
    "connect.not_found": (
        "Маркет не знает кампании с таким id. Идентификатор кампании — не id магазина: он в "
        "кабинете продавца, Настройки → API и модули."
    ),
    "connect.busy": "Маркет сейчас не отвечает. Повторите /connect через минуту.",
    "connect.refused": "Маркет отказался проверить ключ.",
    "batch.reason_missing": "добавьте в конец строки причину: user или partner",
    "connect.in_group": (
        "Никогда не отправляйте API-ключ в группу: его видят все. Я его не использовал. "
        "Отзовите этот ключ в кабинете продавца (Настройки → API и модули), создайте новый "
        "и подключитесь в личном чате со мной: {link}"
    ),
    "role.owner": "владелец",
    "role.manager": "менеджер",
    "role.courier": "курьер",
    "invite.usage": "Как: /invite <courier|manager> [campaignId]\nПример: /invite courier",
    "invite.created": (
        "Приглашение для роли «{role}» в {shop}. Отправьте ссылку человеку; она сработает "
        "один раз, в течение 24 часов (до {expires}):\n{link}"
    ),
    "invite.accepted": "Добро пожаловать! Теперь вы — {role} в {shop}. {next}",
    "invite.accepted_next": "Попробуйте: /track 123456789 RR456 51",
    "invite.accepted_owner": "{name} (id {user_id}) принял(а) приглашение: теперь {role} в {shop}.",
    "grant.usage": (
        "Как: ответьте на сообщение человека командой /grant <courier|manager>\n"
        "Пример: /grant courier"
    ),
    "grant.done": "{name} (id {user_id}) теперь {role} в {shop}.",
    "grant.not_a_person": "Это сообщение написал не человек, которому можно дать роль.",
    "revoke.usage": (
        "Как: /revoke <userId> или ответьте на сообщение человека командой /revoke\n"
        "Пример: /revoke 123456789"
    ),
    "revoke.done": "У пользователя {user_id} больше нет доступа к {shop}.",
    "revoke.notice": "Ваш доступ к {shop} отозван.",
    "members.title": "Люди магазина {shop}:",
    "members.line": "{role}: {user_id}{you}",
    "members.you": " (вы)",
    "members.sent_private": "Отправил список вам в личку.",
    "members.start_private": "Я пока не могу написать вам в личку. Откройте {link} и нажмите «Старт».",
    "bind.usage": "Как: /bind [campaignId] в группе магазина\nПример: /bind 21000000",
    "bind.done": "Эта группа теперь работает с {shop}. Люди с ролью могут писать здесь /track и /move.",
    "unbind.done": "Эта группа больше не работает с {shop}.",
    "unbind.not_bound": "Эта группа не привязана к магазину.",
    "use.usage": "Как: /use <campaignId>\nПример: /use 21000000",
    "use.done": "Магазин по умолчанию: {shop}.",
    "disconnect.usage": "Как: /disconnect <campaignId>\nПример: /disconnect 21000000",
    "disconnect.confirm": (
        "Отключить {shop}? Будут удалены API-ключ, люди и привязки групп. Журнал действий останется."
    ),
    "disconnect.yes": "Да, отключить",
    "disconnect.no": "Нет, оставить",
    "disconnect.done": "{shop} отключён: ключ, люди и привязки групп удалены.",
    "disconnect.cancelled": "Ничего не изменилось: {shop} остаётся подключённым.",
    "log.usage": "Как: /log [N] (1–100)\nПример: /log 20",
    "log.title": "Последние {count} действий в {shop}:",
    "log.empty": "В {shop} пока нет записанных действий.",
    "log.line": "{at} · {user} · {command} → {outcome}",
    "language.usage": "Как: /language <ru|en>\nПример: /language ru",
    "language.done": "Буду отвечать вам по-русски.",
    "reason.ask": "Почему дата заказа {order_id} переносится на {date}?",
    "reason.user": "Попросил покупатель",
    "reason.partner": "Мы не успеваем",
    "reason.user_short": "попросил покупатель",
    "reason.partner_short": "магазин не успевает",
    "service.ambiguous": "«{query}» подходит к нескольким службам доставки; укажите id:\n{candidates}",
    "service.unknown": "Нет службы доставки «{query}». Укажите id службы, например 51 для СДЭК.",
    "service.unavailable": "Не удалось получить список служб доставки из Маркета; укажите id службы.",
    "service.candidate": "{id} — {name}",
    "batch.line_prefix": "строка {line}: {text}",
    "progress.sending": "⏳ Отправляю в Маркет…",
    "progress.batch": "⏳ Отправляю в Маркет: готово {done} из {total}…",
    "progress.retrying": "⏳ Маркет занят; повторю в {time}. Команда сохранена.",
    "progress.waiting_budget": (
        "⏳ Часовой лимит запросов магазина к Маркету исчерпан; отправлю в {time}. Команда сохранена."
    ),
    "result.track_ok": "✅ Заказ {order_id}: трек-номер {track_code} ({service}) передан. {shop}",
    "result.move_ok": "✅ Заказ {order_id}: дата доставки — {date} ({reason}). {shop}",
    "result.failed": "❌ Заказ {order_id}: {explanation}",
    "result.invalid": "❌ {explanation}",
    "summary.title": "{icon} Готово {done} из {total}. {shop}",
    "summary.failed_title": "Не выполнено:",
    "summary.line": "строка {line}: {text}",
    "weekday.0": "пн",
    "weekday.1": "вт",
    "weekday.2": "ср",
    "weekday.3": "чт",
    "weekday.4": "пт",
    "weekday.5": "сб",
    "weekday.6": "вс",
}

CATALOGS: dict[Lang, dict[str, str]] = {
    "en": {**GENERAL_EN, **INPUT_EN, **ERRORS_EN},
    "ru": {**GENERAL_RU, **INPUT_RU, **ERRORS_RU},
}


def language_for(language_code: str | None, preferred: str | None = None) -> Lang:
    """Russian for ru/uk/be/kk Telegram clients (or a stored preference), English otherwise."""
    if preferred in ("ru", "en"):
        return "ru" if preferred == "ru" else "en"
    base = (language_code or "").split("-")[0].lower()
    return "ru" if base in RUSSIAN_SPEAKING else "en"


def t(lang: Lang, key: str, **params: Any) -> str:
    """The text for ``key`` in ``lang`` with ``params`` filled in.

    Raises KeyError for an unknown key (a test keeps the catalogs complete).
    """
    template = CATALOGS[lang][key]
    return template.format(**params) if params else template


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def format_day(day: date, lang: Lang) -> str:
    """``Wed 01.01.2025`` / ``ср 01.01.2025``: the weekday helps people catch a wrong date."""
    return f"{t(lang, f'weekday.{day.weekday()}')} {day:%d.%m.%Y}"
