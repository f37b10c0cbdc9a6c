"""The runner's answers in Telegram: a short progress note while Market is slow, then the result.

``TelegramReporter`` implements ``bot.answers.Reporter``: it turns stored operations into text
(a success as its operation kind summarises it; a failure explained by ``explain``). The result
always comes as a new message replying to the command, so the phone rings; the progress note,
if there was one, is then deleted. A note is edited only when its text changes. The answer to
an edited command says that it follows the edit. ``audit_outcome`` tells /log, in the same
words, what finally became of each command.
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
from handlers.texts import CATALOGS, Lang, language_for, t
from storage import members, operations, prefs
from storage.audit import AuditRow
from storage.operations import BatchRow, OperationRow

# Owners hear about a refused key at most this often per shop (seconds).
KEY_ALERT_EVERY = 3600.0
# A failure's reason in a /log line is cut to this many characters.
LOG_REASON_LIMIT = 160


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
        if ops and all((o.error or {}).get("type") == "superseded" for o in ops):
            return Delivery.GONE  # wholly replaced by an edit: its answer says it all
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
    explanation = _explanation(op, kind, lang, tz)
    return t(lang, "result.failed", order_id=payload["order_id"], explanation=explanation)


def _explanation(op: OperationRow, kind: OperationKind[Any], lang: Lang, tz: tzinfo) -> str:
    """Why an operation did not succeed (yet), and what to do; Market's words last."""
    record = op.error or {}
    if record.get("type") == "access_revoked":
        return t(lang, "result.access_revoked")
    if record.get("type") == "superseded":
        return t(lang, "result.superseded")
    if record.get("type") in ("no_campaign", "internal", "invalid"):
        return t(lang, "error.internal")
    return explain(
        kind,
        _error(op),
        lang,
        tz=tz,
        order_id=int(op.payload["order_id"]),
        campaign_id=op.campaign_id,
        final=op.status == "failed",
        unsure=bool(record.get("uncertain")),
        retry_at=datetime.fromisoformat(record["retry_at"]) if record.get("retry_at") else None,
    )


def final_text(batch: BatchRow, ops: list[OperationRow], db: Database, tz: tzinfo) -> str:
    """The answer to a message of commands; an edit's answer says that it follows the edit."""
    text = _final_text(batch, ops, db, tz)
    edited = batch.revision is not None and batch.revision.startswith(("e", "qe"))
    return t(_lang(batch), "edit.answer", answer=text) if edited else text


def _final_text(batch: BatchRow, ops: list[OperationRow], db: Database, tz: tzinfo) -> str:
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


# --- /log: what finally became of each command --------------------------------------------


def audit_outcome(db: Database, row: AuditRow, lang: Lang, tz: tzinfo) -> str:
    """How an audited command ended, in ``lang``: for an accepted write, what its operations
    came to (done, failed and why, waiting for the next try); otherwise the recorded outcome
    and its reason in words, with Market's own words when it gave any."""
    if row.batch_id is not None:
        ops = operations.batch_operations(db, row.batch_id)
        if ops:
            return batch_outcome(ops, lang, tz)
    result, _, detail = row.outcome.partition(":")
    catalog = CATALOGS[lang]
    text = catalog.get(f"log.outcome.{result}", result)
    reason = catalog.get(f"log.detail.{detail}") if detail else None
    if reason is not None:
        text = t(lang, "log.with_detail", outcome=text, detail=reason)
    if row.market_error:
        text = t(lang, "log.market_said", outcome=text, message=row.market_error[:80])
    return text


def batch_outcome(ops: list[OperationRow], lang: Lang, tz: tzinfo) -> str:
    """One line for a message of commands: its one operation's state, or how many are done
    and the state of each line that is not."""
    if len(ops) == 1:
        return _state(ops[0], lang, tz)
    done = sum(1 for op in ops if op.status == "done")
    parts = [t(lang, "log.outcome.done_some", done=done, total=len(ops))]
    parts += [
        t(lang, "summary.line", line=op.line_no, text=_state(op, lang, tz))
        for op in ops
        if op.status != "done"
    ]
    return "; ".join(parts)


def _state(op: OperationRow, lang: Lang, tz: tzinfo) -> str:
    if op.status == "done":
        return t(lang, "log.outcome.done")
    if op.status == "retrying":
        time_ = op.next_attempt_at.astimezone(tz).strftime("%H:%M")
        return t(lang, "log.outcome.retrying", time=time_)
    if op.status != "failed":
        return t(lang, "log.outcome.sending")
    kind = kind_named(op.kind)
    if kind is None:
        reason = str(op.payload.get("text", ""))
    else:
        # The plain-words line of the explanation; Market's verbatim words stay in the answer.
        reason = _explanation(op, kind, lang, tz).split("\n", 1)[0]
    if len(reason) > LOG_REASON_LIMIT:
        reason = reason[: LOG_REASON_LIMIT - 1] + "…"
    return t(lang, "log.outcome.failed_because", reason=reason)
