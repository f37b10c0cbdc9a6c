"""Forgetting old history: audit entries, finished batches with their operations, and
questions nobody can answer any more.

What goes: audit entries made before the cut-off; batches whose final answer was sent
(``reported``) and whose operations all ended (done or failed) before it, with those
operations; and questions asked before their own cut-off (a question is deleted when its
button is pressed, so what is left is expired). Anything still running, retrying or not yet
reported stays, however old.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from storage._common import transaction, ts_to_text


@dataclass(frozen=True)
class Pruned:
    """How many rows of each kind one ``prune`` removed."""

    audit: int = 0
    batches: int = 0
    operations: int = 0
    questions: int = 0

    @property
    def total(self) -> int:
        return self.audit + self.batches + self.operations + self.questions


# A batch is finished for good when it was reported and none of its operations is open or
# changed after the cut-off. (Operations and batches are history: no key, no foreign key to
# campaigns, so a forgotten campaign's batches go by age like any other.)
_OLD_FINISHED_BATCHES = """
    SELECT b.id FROM batches AS b
    WHERE b.reported = 1 AND b.created_at < :before
      AND NOT EXISTS (
        SELECT 1 FROM operations AS o
        WHERE o.batch_id = b.id
          AND (o.status NOT IN ('done', 'failed') OR o.updated_at >= :before)
      )
    LIMIT :limit
"""
# Audit ids grow with time, so scanning in id order meets the old entries first and stops
# after ``limit`` of them, without an index on ``at``.
_DELETE_OLD_AUDIT = (
    "DELETE FROM audit WHERE id IN "
    "(SELECT id FROM audit WHERE at < :before ORDER BY id LIMIT :limit)"
)
_DELETE_OLD_QUESTIONS = (
    "DELETE FROM pending WHERE id IN "
    "(SELECT id FROM pending WHERE created_at < :before LIMIT :limit)"
)


def prune(
    db: Database, *, before: datetime, questions_before: datetime, limit: int = 1000
) -> Pruned:
    """Delete up to ``limit`` audit entries, batches (with their operations) and questions
    that are past their cut-off (``before`` for history, ``questions_before`` for questions)
    in one short transaction; return how many rows of each kind went.

    Call again until it returns a ``total`` of 0 to prune everything; each call holds the
    write lock only briefly. Raises ValueError for a naive datetime or a limit below 1.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    history = {"before": ts_to_text(before), "limit": limit}
    questions = {"before": ts_to_text(questions_before), "limit": limit}
    # Several tables change together and the counts must match what went: raw SQL inside
    # one transaction.
    with transaction(db):
        audit = db.execute(_DELETE_OLD_AUDIT, history).rowcount
        batch_ids = [row[0] for row in db.execute(_OLD_FINISHED_BATCHES, history).fetchall()]
        listed = json.dumps(batch_ids)
        operations = db.execute(
            "DELETE FROM operations WHERE batch_id IN (SELECT value FROM json_each(?))",
            (listed,),
        ).rowcount
        batches = db.execute(
            "DELETE FROM batches WHERE id IN (SELECT value FROM json_each(?))", (listed,)
        ).rowcount
        asked = db.execute(_DELETE_OLD_QUESTIONS, questions).rowcount
    return Pruned(audit=audit, batches=batches, operations=operations, questions=asked)


def prune_records(db: Database, *, before: datetime, now: datetime) -> int:
    """Delete what outlived its use: the feed's closed orders (delivered or cancelled, last seen
    before ``before``) with their cards, old digests, approvals decided or expired and invites
    used or expired before ``before``, and the names of people who no longer have any role.
    Returns how many rows went."""
    cut, at = ts_to_text(before), ts_to_text(now)
    gone: int
    # Several tables, one short transaction: raw SQL.
    with transaction(db):
        gone = db.execute(
            "DELETE FROM cards WHERE (campaign_id, order_id) IN (SELECT campaign_id, order_id "
            "FROM feed_orders WHERE status IN ('DELIVERED', 'CANCELLED') AND seen_at < ?)",
            (cut,),
        ).rowcount
        gone += db.execute(
            "DELETE FROM feed_orders WHERE status IN ('DELIVERED', 'CANCELLED') AND seen_at < ?",
            (cut,),
        ).rowcount
        gone += db.execute("DELETE FROM digests WHERE created_at < ?", (cut,)).rowcount
        gone += db.execute(
            "DELETE FROM approvals WHERE expires_at < ? "
            "OR (decided_at IS NOT NULL AND decided_at < ?)",
            (at, cut),
        ).rowcount
        gone += db.execute(
            "DELETE FROM invites WHERE expires_at < ? OR (used_at IS NOT NULL AND used_at < ?)",
            (cut, cut),
        ).rowcount
        gone += db.execute(
            "DELETE FROM people WHERE user_id NOT IN (SELECT user_id FROM members)"
        ).rowcount
    return gone
