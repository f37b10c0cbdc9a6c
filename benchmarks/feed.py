"""Order feed benchmark: many connected shops, each with open orders, swept every interval.

Run from the repository root: ``python benchmarks/feed.py [--shops 10 1000] [--interval 60]``.

For each shop count the fake Telegram (flood limits on, as on Telegram) and the fake Market of
``tests/fakes`` run inside this process, and the real bot (``python -m bot``, its default
Telegram limiter) runs as a subprocess against them. Every shop is its own business with its
own key, ``--orders`` open orders (due today to four days ahead, half without a track code)
and a bound group; they are seeded straight into storage, as ``tests.conftest.seed_shop`` does.

One run:

1. start the bot and wait until every shop has been swept once (its first sweep posts one digest
   of its open orders to its group) and the first digests are out;
2. **idle interval**: for one interval nothing changes at Market; count getBusinessOrders
   requests per shop (the goal is 1), Telegram messages (the goal is 0), the bot's CPU time over
   the interval (its CPU share) and its resident memory (sampled; and the peak, VmHWM);
3. **new orders**: ``--new`` orders are placed in distinct shops, spread over one interval; each
   one's latency is from its creation at Market to the bot's sendMessage of its card.

The exit status is 0 when every shop was swept exactly once in the idle interval and every new
order got its card, 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from storage import bindings, campaigns, members  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.secrets import KeyBox  # noqa: E402
from tests.fakes.market import FakeItem, FakeMarket  # noqa: E402
from tests.fakes.telegram import Call, FakeTelegram  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The harness also gives the fake Telegram a listen backlog a busy bot does not overflow.
from _harness import cpu_seconds, percentile, proc_status_kb  # noqa: E402

FIRST_CAMPAIGN = 31_000_000
FIRST_BUSINESS = 810_000
FIRST_OWNER = 7_000_000
FIRST_GROUP = -1_001_000_000_000
READ = "getBusinessOrders"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


@dataclass
class RunResult:
    shops: int
    orders_per_shop: int
    interval_s: float
    ready_s: float | None = None  # start → every shop swept once and the digests out
    first_digests: int = 0
    idle_requests_per_shop: float | None = None
    idle_requests_min: int | None = None
    idle_requests_max: int | None = None
    idle_telegram_messages: int | None = None
    cpu_share: float | None = None  # of one core, over the idle interval
    rss_mb_mean: float | None = None
    rss_mb_max: float | None = None
    peak_rss_mb: float | None = None  # VmHWM at the end
    new_orders: int = 0
    cards_seen: int = 0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_max_s: float | None = None
    telegram_429: int = 0
    market_420: int = 0
    error: str | None = None
    stderr_tail: list[str] = field(default_factory=list)


def _campaign(i: int) -> int:
    return FIRST_CAMPAIGN + i


def _group(i: int) -> int:
    return FIRST_GROUP - i


def _key(i: int) -> str:
    return f"ACMA:bench-{i:06d}-0000000000:cccccccc"


def _order_id(i: int, j: int) -> int:
    return 900_000_000 + i * 1000 + j


def _market(shops: int, orders: int) -> FakeMarket:
    market = FakeMarket()
    today = market.today
    for i in range(shops):
        cid = _campaign(i)
        market.add_campaign(cid, _key(i), domain=f"shop{i}.example", business_id=FIRST_BUSINESS + i)
        for j in range(orders):
            market.create_order(
                cid,
                _order_id(i, j),
                delivery_date=today + timedelta(days=j % 5),
                items=[FakeItem(f"Товар {j}", 1 + j % 3, 990.0)],
                track_codes=[(f"RR{i}X{j}", 51)] if j % 2 else [],
            )
    return market


def _seed(db_path: Path, secret: str, shops: int) -> None:
    """Connect the shops, their owners and their groups straight in storage."""
    db = open_database(db_path)
    keybox = KeyBox.load(secret, db_path)
    keybox.verify(db)
    now = datetime.now(UTC)
    for i in range(shops):
        cid = _campaign(i)
        campaigns.save_campaign(
            db,
            campaign_id=cid,
            domain=f"shop{i}.example",
            business_id=FIRST_BUSINESS + i,
            business_name=f"Shop {i}",
            placement_type="DBS",
            api_key_cipher=keybox.encrypt(_key(i)),
            connected_by=FIRST_OWNER + i,
            now=now,
        )
        members.set_member(db, cid, FIRST_OWNER + i, "owner", FIRST_OWNER + i, now)
        bindings.bind_chat(db, _group(i), cid, FIRST_OWNER + i, now)
    db.close()


def _env(
    telegram: FakeTelegram, market: FakeMarket, db: Path, secret: str, interval: float
) -> dict[str, str]:
    ours = ("TELEGRAM_", "MARKET_", "BOT_", "ORDER_FEED_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(
        PYTHONPATH=str(ROOT),
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        MARKET_API_BASE_URL=market.base_url,
        BOT_DB_PATH=str(db),
        BOT_SECRET_KEY=secret,
        TELEGRAM_POLL_TIMEOUT="1",
        ORDER_FEED_INTERVAL_SECONDS=str(interval),
        LOG_LEVEL="WARNING",
    )
    return env


def _reads_by_business(
    market: FakeMarket, since: int, window: tuple[float, float] | None = None
) -> dict[int, int]:
    """getBusinessOrders requests per business (those started within ``window``, if given)."""
    counts: dict[int, int] = {}
    for record in market.records[since:]:
        inside = window is None or window[0] <= record.started < window[1]
        if record.operation == READ and inside:
            business = int(record.path.split("/")[3])
            counts[business] = counts.get(business, 0) + 1
    return counts


def _sent(telegram: FakeTelegram, since: int) -> list[Call]:
    return [c for c in telegram.calls[since:] if c.method == "sendMessage" and c.ok]


def _wait(check: Any, timeout: float, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise RuntimeError(f"the bot exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {timeout:.0f} s")
        time.sleep(0.2)


def _ready(
    telegram: FakeTelegram, market: FakeMarket, proc: subprocess.Popen[bytes], result: RunResult
) -> None:
    """Every shop swept twice (its first sweep, digest included, is over), Telegram quiet."""
    started = time.monotonic()
    shops, interval = result.shops, result.interval_s
    _wait(
        lambda: len([n for n in _reads_by_business(market, 0).values() if n >= 2]) == shops,
        3 * interval + 60 + shops / 10,
        proc,
        "second sweep of every shop",
    )

    def quiet() -> bool:
        recent = _sent(telegram, 0)
        return not recent or time.monotonic() - recent[-1].at > 2.0

    _wait(quiet, 120, proc, "the end of the first digests")
    result.ready_s = time.monotonic() - started
    result.first_digests = len(_sent(telegram, 0))


def _idle(
    telegram: FakeTelegram, market: FakeMarket, proc: subprocess.Popen[bytes], result: RunResult
) -> None:
    market_mark, telegram_mark = len(market.records), len(telegram.calls)
    cpu_before = cpu_seconds(proc.pid)
    rss: list[float] = []
    start = time.monotonic()
    end = start + result.interval_s
    while time.monotonic() < end:
        kb = proc_status_kb(proc.pid, "VmRSS")
        if kb is not None:
            rss.append(kb / 1024)
        time.sleep(0.5)
    cpu_after = cpu_seconds(proc.pid)
    reads = _reads_by_business(market, market_mark, (start, end))
    per_shop = [reads.get(FIRST_BUSINESS + i, 0) for i in range(result.shops)]
    result.idle_requests_per_shop = sum(per_shop) / result.shops
    result.idle_requests_min, result.idle_requests_max = min(per_shop), max(per_shop)
    result.idle_telegram_messages = len(_sent(telegram, telegram_mark))
    if cpu_before is not None and cpu_after is not None:
        result.cpu_share = (cpu_after - cpu_before) / result.interval_s
    if rss:
        result.rss_mb_mean, result.rss_mb_max = statistics.fmean(rss), max(rss)


def _new_orders(
    telegram: FakeTelegram,
    market: FakeMarket,
    proc: subprocess.Popen[bytes],
    result: RunResult,
    count: int,
) -> None:
    chosen = random.Random(7).sample(range(result.shops), min(count, result.shops))
    created: dict[int, tuple[int, float]] = {}  # order -> (group, created at)
    mark = len(telegram.calls)
    gap = result.interval_s / len(chosen)
    for n, i in enumerate(chosen):
        order_id = _order_id(i, 999)
        created[order_id] = (_group(i), time.monotonic())
        market.create_order(_campaign(i), order_id, delivery_date=market.today)
        if n + 1 < len(chosen):
            time.sleep(gap)
    seen: dict[int, float] = {}

    def all_seen() -> bool:
        for call in _sent(telegram, mark):
            for order_id, (group, _) in created.items():
                if (
                    order_id not in seen
                    and call.chat_id == group
                    and str(order_id) in (call.text or "")
                ):
                    seen[order_id] = call.at
        return len(seen) == len(created)

    with contextlib.suppress(RuntimeError):
        _wait(all_seen, 2 * result.interval_s + 30, proc, "every new order's card")
    latencies = [seen[o] - created[o][1] for o in seen]
    result.new_orders, result.cards_seen = len(created), len(seen)
    result.latency_p50_s = percentile(latencies, 50)
    result.latency_p95_s = percentile(latencies, 95)
    result.latency_max_s = max(latencies) if latencies else None


def run_once(shops: int, orders: int, interval: float, new: int) -> RunResult:
    result = RunResult(shops, orders, interval)
    secret = Fernet.generate_key().decode()
    with tempfile.TemporaryDirectory(prefix="feed-bench-") as tmp, FakeTelegram() as telegram:
        workdir = Path(tmp)
        market = _market(shops, orders)
        with market:
            _seed(workdir / "bot.sqlite3", secret, shops)
            stderr = workdir / "stderr.log"
            with stderr.open("wb") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "bot"],
                    cwd=ROOT,
                    env=_env(telegram, market, workdir / "bot.sqlite3", secret, interval),
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
                try:
                    _wait(
                        lambda: telegram.first_poll_at is not None,
                        START_TIMEOUT,
                        proc,
                        "first poll",
                    )
                    _ready(telegram, market, proc, result)
                    _idle(telegram, market, proc, result)
                    _new_orders(telegram, market, proc, result, new)
                    kb = proc_status_kb(proc.pid, "VmHWM")
                    result.peak_rss_mb = kb / 1024 if kb else None
                except RuntimeError as exc:
                    result.error = str(exc)
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=STOP_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            result.telegram_429 = telegram.flood_rejections
            result.market_420 = sum(1 for r in market.records if r.status == 420)
            lines = stderr.read_text(errors="replace").splitlines()
            result.stderr_tail = lines[-10:]
    return result


def _fmt(value: float | None, digits: int = 2, unit: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def render(results: list[RunResult]) -> str:
    rows = [
        (
            "Market requests per shop, idle interval (goal 1)",
            lambda r: (
                f"{_fmt(r.idle_requests_per_shop)} "
                f"(min {r.idle_requests_min}, max {r.idle_requests_max})"
            ),
        ),
        ("Telegram messages in the idle interval", lambda r: str(r.idle_telegram_messages)),
        (
            "order created → its card, p50 / p95",
            lambda r: f"{_fmt(r.latency_p50_s, 1, ' s')} / {_fmt(r.latency_p95_s, 1, ' s')}",
        ),
        ("new orders with a card", lambda r: f"{r.cards_seen} / {r.new_orders}"),
        (
            "bot CPU share while sweeping (one core)",
            lambda r: _fmt(None if r.cpu_share is None else 100 * r.cpu_share, 1, " %"),
        ),
        (
            "bot RSS while sweeping, mean / max",
            lambda r: f"{_fmt(r.rss_mb_mean, 1)} / {_fmt(r.rss_mb_max, 1)} MB",
        ),
        ("bot peak RSS (VmHWM)", lambda r: _fmt(r.peak_rss_mb, 1, " MB")),
        (
            "start → all shops swept, first digests out",
            lambda r: f"{_fmt(r.ready_s, 1, ' s')} ({r.first_digests} digests)",
        ),
        ("Telegram 429s / Market 420s", lambda r: f"{r.telegram_429} / {r.market_420}"),
    ]
    head = "| | " + " | ".join(f"{r.shops} shops" for r in results) + " |"
    lines = [
        f"Order feed: {results[0].orders_per_shop} open orders per shop, "
        f"interval {results[0].interval_s:.0f} s",
        "",
        head,
        "|---|" + "---|" * len(results),
    ]
    lines += [
        "| " + name + " | " + " | ".join(show(r) for r in results) + " |" for name, show in rows
    ]
    for r in results:
        if r.error:
            lines += ["", f"{r.shops} shops: {r.error}", *("  " + line for line in r.stderr_tail)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--shops", type=int, nargs="+", default=[10, 1000], help="shop counts (10 1000)"
    )
    parser.add_argument("--orders", type=int, default=20, help="open orders per shop (20)")
    parser.add_argument(
        "--interval", type=float, default=60.0, help="ORDER_FEED_INTERVAL_SECONDS (60)"
    )
    parser.add_argument("--new", type=int, default=50, help="new orders to time (50)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)
    if min(args.shops) < 1 or args.orders < 1 or args.new < 1 or not 1 <= args.interval <= 3600:
        parser.error("shops, orders and new must be ≥ 1; interval in [1, 3600]")
    results = [run_once(n, args.orders, args.interval, args.new) for n in args.shops]
    if args.json:
        print(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2))
    else:
        print(render(results), end="")
    passed = all(
        r.error is None
        and r.idle_requests_min == r.idle_requests_max == 1
        and r.cards_seen == r.new_orders
        for r in results
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
