"""The worker's in-memory queue: shops take turns, slots and holds are kept, time is respected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.queue import FairQueue, Job

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
BIG, SMALL, THIRD = 1, 2, 3


def job(op_id: int, campaign_id: int = BIG, kind: str = "track") -> Job:
    return Job(op_id, f"b{op_id}", campaign_id, kind, user_id=7)


def drain(queue: FairQueue, now: datetime = NOW) -> list[int]:
    """Pop everything that may run now, finishing each at once."""
    taken = []
    while (found := queue.pop(now)) is not None:
        taken.append(found.op_id)
        queue.done(found)
    return taken


def test_shops_take_turns_whatever_their_queue_length() -> None:
    queue = FairQueue(parallel_limit=4)
    for op_id in range(1, 101):
        queue.push(job(op_id, BIG), NOW - timedelta(seconds=op_id))  # long-waiting first
    queue.push(job(1000, SMALL), NOW)
    queue.push(job(2000, THIRD), NOW)
    first_three = [queue.pop(NOW) for _ in range(3)]
    assert {j.campaign_id for j in first_three if j} == {BIG, SMALL, THIRD}
    assert first_three[0] is not None and first_three[0].op_id == 100  # the oldest of BIG


def test_a_shop_never_has_more_than_its_slots_in_flight() -> None:
    queue = FairQueue(parallel_limit=2)
    for op_id in range(1, 6):
        queue.push(job(op_id), NOW)
    running = [queue.pop(NOW), queue.pop(NOW)]
    assert queue.pop(NOW) is None
    assert queue.running == 2 and len(queue) == 3
    queue.done(running[0])  # type: ignore[arg-type]
    assert queue.pop(NOW) is not None


def test_later_jobs_wait_for_their_time_and_say_when() -> None:
    queue = FairQueue(parallel_limit=4)
    queue.push(job(1), NOW + timedelta(seconds=30))
    assert queue.pop(NOW) is None
    assert queue.next_time(NOW) == NOW + timedelta(seconds=30)
    assert queue.waiting(NOW) == (0, 1)
    assert drain(queue, NOW + timedelta(seconds=30)) == [1]
    assert queue.next_time(NOW) is None


def test_a_hold_keeps_the_shops_jobs_of_that_kind_until_it_ends() -> None:
    queue = FairQueue(parallel_limit=4)
    until = NOW + timedelta(minutes=1)
    queue.push(job(1, kind="track"), NOW)
    queue.push(job(2, kind="move"), NOW)
    queue.push(job(3, SMALL, kind="track"), NOW)
    queue.hold(BIG, until, "track")
    assert sorted(drain(queue)) == [2, 3]
    assert queue.next_time(NOW) == until
    assert drain(queue, until) == [1]


def test_a_hold_of_every_kind_outlives_an_empty_queue() -> None:
    queue = FairQueue(parallel_limit=4)
    until = NOW + timedelta(minutes=1)
    queue.push(job(1), NOW)
    queue.hold(BIG, until)
    assert drain(queue) == []
    queue.push(job(2, kind="move"), NOW)
    assert drain(queue) == []
    assert sorted(drain(queue, until)) == [1, 2]


def test_idle_shops_are_forgotten() -> None:
    queue = FairQueue(parallel_limit=4)
    for campaign_id in range(100):
        queue.push(job(campaign_id, campaign_id), NOW)
    assert len(drain(queue)) == 100
    assert queue.pop(NOW) is None
    assert queue._turns == type(queue._turns)()  # nothing left to visit
