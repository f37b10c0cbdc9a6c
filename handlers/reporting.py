"""The runner's answers in Telegram: a short progress note while Market is slow, then the result.

``TelegramReporter`` implements ``bot.answers.Reporter``: it turns stored operations into text
(a success as its operation kind summarises it; a failure explained by ``explain``). The result
always comes as a new message replying to the command, so the phone rings; the progress note,
if there was one, is then deleted. A note is edited only when its text changes.
"""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from typing import Any

from sqlite_utils import Database
from telegram import Bot
from telegram.error import TelegramError

from bot.answers import Delivery
from bot.market.errors import MarketError, MarketTimeoutError, error_from_record
from bot.market.writes import OperationKind, Words, kind_named
from handlers.explain import explain
from handlers.messaging import delete, edit_text, send, send_text, will_never_arrive
from handlers.shopnames import shop_names
from handlers.texts import Lang, language_for, t
from storage import members, operations, prefs
from storage.operations import BatchRow, OperationRow

# Owners hear about a refused key at most this often per shop (seconds).
KEY_ALERT_EVERY = 3600.0


def _lang(batch: BatchRow) -> Lang:
    return "ru" if batch.language == "ru" else "en"


class TelegramReporter:
    def __init__(self, bot: Bot, db: Database, tz: tzinfo) -> None:
        self.bot = bot
        self.db = db
        self.tz = tz
        # The text each progress note shows now, so that an edit never repeats it.
        self._shown: dict[str, str] = {}
        # When each shop's owners were last told that Market refused the key.
        self._alerted: dict[int, float] = {}

    async def progress(self, batch: BatchRow, ops: list[OperationRow]) -> None:
        text = progress_text(batch, ops, self.tz)
        if self._shown.get(batch.id) == text:
            return
        if batch.progress_message_id is not None:
            if await edit_text(self.bot, batch.chat_id, batch.progress_message_id, text):
                self._shown[batch.id] = text
            return
        sent = await send_text(
            self.bot, batch.chat_id, text, reply_to=batch.message_id, thread_id=batch.thread_id
        )
        if sent is not None:
            self._shown[batch.id] = text
            operations.set_progress_message(self.db, batch.id, sent.message_id)

    async def final(self, batch: BatchRow, ops: list[OperationRow]) -> Delivery:
        text = final_text(batch, ops, self.db, self.tz)
        try:
            await send(
                self.bot, batch.chat_id, text, reply_to=batch.message_id, thread_id=batch.thread_id
            )
        except TelegramError as exc:
            return Delivery.GONE if will_never_arrive(exc) else Delivery.RETRY
        self._shown.pop(batch.id, None)
        if batch.progress_message_id is not None:
            await delete(self.bot, batch.chat_id, batch.progress_message_id)
        return Delivery.SENT

    async def key_refused(self, campaign_id: int, error: dict[str, Any]) -> None:
        """Tell the shop's owners, in private, at most once an hour per shop."""
        now = time.monotonic()
        last = self._alerted.get(campaign_id)
        if last is not None and now - last < KEY_ALERT_EVERY:
            return
        self._alerted[campaign_id] = now
        shop = shop_names(self.db, [campaign_id])[campaign_id]
        said = "; ".join(str(e.get("message", "")) for e in error.get("errors") or ())
        for owner in members.members_of(self.db, campaign_id):
            if owner.role != "owner":
                continue
            lang = language_for(None, prefs.get_prefs(self.db, owner.user_id).language)
            text = t(lang, "key.refused", shop=shop, status=error.get("status"), message=said)
            await send_text(self.bot, owner.user_id, text)


def progress_text(batch: BatchRow, ops: list[OperationRow], tz: tzinfo) -> str:
    lang = _lang(batch)
    waiting = [o for o in ops if o.status == "retrying"]
    if waiting:
        when = min(o.next_attempt_at for o in waiting).astimezone(tz).strftime("%H:%M")
        budget = any((o.error or {}).get("type") == "HourlyBudgetExhausted" for o in waiting)
        return t(lang, "progress.waiting_budget" if budget else "progress.retrying", time=when)
    if len(ops) > 1:
        done = sum(1 for o in ops if o.status in operations.TERMINAL)
        return t(lang, "progress.batch", done=done, total=len(ops))
    return t(lang, "progress.sending")


def _error(op: OperationRow) -> MarketError:
    record = op.error or {}
    return error_from_record(record) if record.get("type") else MarketTimeoutError("unknown")


def _success(kind: OperationKind[Any], op: OperationRow, lang: Lang, shop: str) -> str:
    summary = kind.summary(kind.payload(op.payload))
    values = {
        name: t(lang, value.key) if isinstance(value, Words) else value
        for name, value in summary.values.items()
    }
    return t(lang, summary.key, shop=shop, **values)


def operation_text(op: OperationRow, lang: Lang, tz: tzinfo, shop: str) -> str:
    """One operation's outcome: what was set, or why not and what to do."""
    payload: dict[str, Any] = op.payload
    kind = kind_named(op.kind)
    if kind is None:
        return t(lang, "result.invalid", explanation=payload.get("text", ""))
    if op.status == "done":
        return _success(kind, op, lang, shop)
    record = op.error or {}
    if record.get("type") == "access_revoked":
        explanation = t(lang, "result.access_revoked")
    elif record.get("type") in ("no_campaign", "internal", "invalid"):
        explanation = t(lang, "error.internal")
    else:
        explanation = explain(
            kind,
            _error(op),
            lang,
            tz=tz,
            order_id=int(payload["order_id"]),
            campaign_id=op.campaign_id,
            final=op.status == "failed",
            unsure=bool(record.get("uncertain")),
            retry_at=(
                datetime.fromisoformat(record["retry_at"]) if record.get("retry_at") else None
            ),
        )
    return t(lang, "result.failed", order_id=payload["order_id"], explanation=explanation)


def final_text(batch: BatchRow, ops: list[OperationRow], db: Database, tz: tzinfo) -> str:
    lang = _lang(batch)
    names = shop_names(db, sorted({o.campaign_id for o in ops}))
    shop = ", ".join(names.values())
    if len(ops) == 1:
        return operation_text(ops[0], lang, tz, shop)
    done = [o for o in ops if o.status == "done"]
    failed = [o for o in ops if o.status != "done"]
    icon = "✅" if not failed else ("⚠️" if done else "❌")
    lines = [t(lang, "summary.title", icon=icon, done=len(done), total=len(ops), shop=shop)]
    if failed:
        lines.append(t(lang, "summary.failed_title"))
        for op in failed:
            # The explanation on the line itself; Market's own words, when any, on the next.
            *body, last = operation_text(op, lang, tz, "").strip().split("\n")
            if body:
                lines.append(t(lang, "summary.line", line=op.line_no, text=" ".join(body)))
                lines.append("   " + last)
            else:
                lines.append(t(lang, "summary.line", line=op.line_no, text=last))
    return "\n".join(lines)
