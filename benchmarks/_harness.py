"""The machinery of ``burst.py``: fakes, seeding, one measured run of a bot process.

A run starts a fresh fake Telegram (flood limits on, as on Telegram) and a fresh fake Market in
this process, seeds a fresh database, spawns the bot (``python -m bot``, default settings but
the fakes' URLs, a 1 s poll timeout and its own database) or the baseline bot as a subprocess,
waits for its first ``getUpdates``, injects every command at once, waits for the final answers
it was told to wait for, reads what it measures, and stops the process with SIGTERM.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from storage import campaigns, members  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.secrets import KeyBox  # noqa: E402
from tests.fakes import telegram as fake_telegram_module  # noqa: E402
from tests.fakes.market import FakeMarket  # noqa: E402
from tests.fakes.telegram import Call, FakeTelegram  # noqa: E402

# The fake Telegram's server keeps socketserver's listen backlog of 5. A burst opens many
# connections at once; the kernel would drop the overflow and TCP retry it a second later. Real
# Telegram has no such backlog, so the fake gets the fake Market's 128.
FAKE_TELEGRAM_BACKLOG = 128
if fake_telegram_module._Server.request_queue_size < FAKE_TELEGRAM_BACKLOG:
    fake_telegram_module._Server.request_queue_size = FAKE_TELEGRAM_BACKLOG

SERVICE_ID = 51
FIRST_CAMPAIGN = 21_000_001
FIRST_BUSINESS = 700
FIRST_COURIER = 5_000_001
FIRST_ORDER = 300_001
OWNER = 1001
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

Command = tuple[int, int]  # (chat id, message id)


@dataclass(frozen=True)
class Shop:
    campaign_id: int
    api_key: str
    couriers: tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    """What one run sends: the shops, and (courier, text, tag) per command, in order."""

    shops: tuple[Shop, ...]
    commands: tuple[tuple[int, str, str], ...]
    market_parallel_limit: int | None = None
    market_latency: float = 0.0
    wait_tags: frozenset[str] | None = None  # None: wait for every command's answer
    # Commands tagged ``hold[0]`` are sent once every command before them is ``hold[1]``:
    # "stored" by the bot (queued for Market), or "written" to Market (its answer queued).
    hold: tuple[str, str] | None = None


@dataclass
class Sample:
    """What one run of one process measured; None where nothing could be measured."""

    kind: str
    commands: int
    startup_s: float | None = None
    wall_s: float | None = None  # injection → last final answer (every command answered)
    first_tenth_s: float | None = None  # injection → 10% of the commands answered
    held_s: float | None = None  # injection → the commands before ``Plan.hold`` got that far
    latencies: dict[str, list[float]] = field(default_factory=dict)  # per tag
    done: int = 0
    failed: int = 0
    unanswered: int = 0
    progress_notes: int = 0
    other_replies: int = 0
    telegram_calls: int = 0  # every Bot API call but getUpdates, start-up included
    flood_429: int = 0
    peak_rss_mb: float | None = None
    cpu_s: float | None = None  # process CPU from the injection to the end
    cpu_total_s: float | None = None  # start-up included
    market_max_in_flight: int = 0
    market_420: int = 0
    listen_overflows: int | None = None
    exit_code: int | None = None
    error: str | None = None
    stderr_tail: list[str] = field(default_factory=list)

    def per_command(self, value: float | int | None) -> float | None:
        return None if value is None else value / self.commands


def make_shops(count: int, couriers_each: list[int]) -> tuple[Shop, ...]:
    shops = []
    first = FIRST_COURIER
    for i in range(count):
        couriers = tuple(range(first, first + couriers_each[i]))
        first += couriers_each[i]
        shops.append(Shop(FIRST_CAMPAIGN + i, f"ACMA:bench-key-{i:04d}:{i:08d}", couriers))
    return tuple(shops)


def track_commands(
    couriers: tuple[int, ...], n: int, first_order: int, tag: str
) -> list[tuple[int, str, str]]:
    """``n`` /track commands, round-robin over the couriers (everyone talks at once)."""
    return [
        (couriers[i % len(couriers)], f"/track {first_order + i} RR{i:06d} {SERVICE_ID}", tag)
        for i in range(n)
    ]


def new_market(plan: Plan) -> FakeMarket:
    market = FakeMarket(parallel_limit=plan.market_parallel_limit, latency=plan.market_latency)
    for i, shop in enumerate(plan.shops):
        market.add_campaign(
            shop.campaign_id,
            shop.api_key,
            domain=f"shop{i}.example",
            business_id=FIRST_BUSINESS + i,
        )
    for _, text, _ in plan.commands:
        order_id = int(text.split()[1])
        market.add_order(_campaign_of(plan, order_id), order_id)
    return market


def _campaign_of(plan: Plan, order_id: int) -> int:
    # Orders are numbered per shop from FIRST_ORDER + shop index × 1,000,000.
    return plan.shops[(order_id - FIRST_ORDER) // 1_000_000].campaign_id


def seed(db_path: Path, secret: str, shops: tuple[Shop, ...]) -> None:
    """Connect the shops and their couriers straight in storage."""
    db = open_database(db_path)
    keybox = KeyBox.load(secret, db_path)
    keybox.verify(db)
    now = datetime.now(UTC)
    for i, shop in enumerate(shops):
        campaigns.save_campaign(
            db,
            campaign_id=shop.campaign_id,
            domain=f"shop{i}.example",
            business_id=FIRST_BUSINESS + i,
            business_name=f"Shop {i}",
            placement_type="DBS",
            api_key_cipher=keybox.encrypt(shop.api_key),
            connected_by=OWNER,
            now=now,
        )
        for courier in shop.couriers:
            members.set_member(db, shop.campaign_id, courier, "courier", OWNER, now)
    db.close()


def clean_env(**extra: str) -> dict[str, str]:
    ours = ("TELEGRAM_", "MARKET_", "BOT_", "ORDER_FEED_", "LOG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def bot_launch(
    workdir: Path, telegram: FakeTelegram, market: FakeMarket, plan: Plan
) -> tuple[list[str], dict[str, str]]:
    secret = Fernet.generate_key().decode()
    db_path = workdir / "bot.sqlite3"
    seed(db_path, secret, plan.shops)
    env = clean_env(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        MARKET_API_BASE_URL=market.base_url,
        BOT_DB_PATH=str(db_path),
        BOT_SECRET_KEY=secret,
        TELEGRAM_POLL_TIMEOUT="1",
    )
    return ["-m", "bot"], env


def baseline_launch(
    telegram: FakeTelegram, market: FakeMarket, plan: Plan
) -> tuple[list[str], dict[str, str]]:
    shop = plan.shops[0]
    env = clean_env(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        MARKET_API_BASE_URL=market.base_url,
        MARKET_API_KEY=shop.api_key,
        MARKET_CAMPAIGN_ID=str(shop.campaign_id),
        TELEGRAM_POLL_TIMEOUT="1",
    )
    return [str(ROOT / "benchmarks" / "baseline_bot.py")], env


class Answers:
    """Matches the calls the fake recorded to the injected commands.

    A final answer is a successful sendMessage replying to the command, or a successful
    editMessageText of the "⏳" note that replied to it, whose text starts with "✅" or "❌".
    ``see`` is given every recorded call once, in order, and says whether every awaited command
    is answered.
    """

    def __init__(self, injected: dict[Command, tuple[float, str]], wait: set[Command]) -> None:
        self.injected = injected
        self.wait = wait
        self.index = 0
        self.progress_of: dict[Command, Command] = {}
        self.finals: dict[Command, tuple[float, bool]] = {}
        self.waited = 0
        self.progress_notes = 0
        self.other_replies = 0
        self.last_at = time.monotonic()

    def see(self, call: Call) -> bool:
        self.index += 1
        if call.ok and call.chat_id is not None:
            if call.method == "sendMessage":
                self._sent(call, call.chat_id)
            elif call.method == "editMessageText":
                self._edited(call, call.chat_id)
        return self.waited == len(self.wait)

    def _sent(self, call: Call, chat_id: int) -> None:
        reply = call.params.get("reply_parameters")
        if not isinstance(reply, dict) or reply.get("message_id") is None:
            return
        command = (chat_id, int(reply["message_id"]))
        if command not in self.injected:
            return
        if (call.text or "").startswith("⏳"):
            self.progress_notes += 1
            if isinstance(call.result, dict) and "message_id" in call.result:
                self.progress_of[(chat_id, int(call.result["message_id"]))] = command
        else:
            self._final(command, call)

    def _edited(self, call: Call, chat_id: int) -> None:
        message_id = call.params.get("message_id")
        command = None if message_id is None else self.progress_of.get((chat_id, int(message_id)))
        if command is not None and not (call.text or "").startswith("⏳"):
            self._final(command, call)

    def _final(self, command: Command, call: Call) -> None:
        text = call.text or ""
        if command in self.finals:
            return
        if text.startswith(("✅", "❌")):
            self.finals[command] = (call.at, text.startswith("✅"))
            self.last_at = time.monotonic()
            self.waited += command in self.wait
        else:
            self.other_replies += 1


# --- the process --------------------------------------------------------------------------


def proc_status_kb(pid: int, name: str) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float | None:
    try:
        # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def listen_overflows() -> int | None:
    """The host's TcpExt ListenOverflows counter: connections dropped for a full backlog."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table["ListenOverflows"]) if "ListenOverflows" in table else None
    return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)


def _first_poll(telegram: FakeTelegram, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while telegram.first_poll_at is None:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before polling")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no getUpdates within {START_TIMEOUT:.0f} s")
        with contextlib.suppress(AssertionError):
            telegram.wait_for(lambda c: c.method == "getUpdates", 0.2)


def _await_answers(
    telegram: FakeTelegram,
    answers: Answers,
    proc: subprocess.Popen[bytes],
    timeout: float,
    idle: float,
) -> None:
    """Until every awaited command is answered, the process dies, ``timeout`` passes, or no
    answer came for ``idle`` seconds (answers lost for good: the baseline's 429s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if time.monotonic() - answers.last_at > idle:
            break
        try:
            wait = min(1.0, deadline - time.monotonic())
            telegram.wait_for(answers.see, wait, since=answers.index)
            return
        except AssertionError:
            continue
    with contextlib.suppress(AssertionError):
        telegram.wait_for(answers.see, 0, since=answers.index)


def run_once(
    kind: str,
    plan: Plan,
    *,
    timeout: float,
    idle: float,
    profile: Path | None = None,
    bot_env: dict[str, str] | None = None,
) -> Sample:
    """One run of ``kind`` ("bot" or "baseline") with a fresh pair of fakes and database."""
    sample = Sample(kind=kind, commands=len(plan.commands))
    with (
        tempfile.TemporaryDirectory(prefix="burst-") as tmp,
        FakeTelegram() as telegram,
        new_market(plan) as market,
    ):
        workdir = Path(tmp)
        if kind == "bot":
            target, env = bot_launch(workdir, telegram, market, plan)
            env.update(bot_env or {})
        else:
            target, env = baseline_launch(telegram, market, plan)
        # Under cProfile the process writes its profile when it exits after SIGTERM.
        profiling = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        stderr_path = workdir / "stderr.log"
        with stderr_path.open("wb") as stderr:
            spawned = time.monotonic()
            # The working directory holds no .env: only the variables above configure it.
            proc = subprocess.Popen(
                [sys.executable, *profiling, *target],
                cwd=workdir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                _measure(sample, plan, telegram, market, proc, (workdir, spawned), timeout, idle)
            except RuntimeError as exc:
                sample.error = str(exc)
            finally:
                _stop(proc)
        sample.exit_code = proc.returncode
        if sample.error or sample.unanswered or proc.returncode not in (0, None):
            with contextlib.suppress(OSError):
                sample.stderr_tail = stderr_path.read_text(errors="replace").splitlines()[-15:]
    return sample


def _measure(
    sample: Sample,
    plan: Plan,
    telegram: FakeTelegram,
    market: FakeMarket,
    proc: subprocess.Popen[bytes],
    where: tuple[Path, float],
    timeout: float,
    idle: float,
) -> None:
    workdir, spawned = where
    _first_poll(telegram, proc)
    assert telegram.first_poll_at is not None
    sample.startup_s = telegram.first_poll_at - spawned
    cpu_before = cpu_seconds(proc.pid)
    overflows = listen_overflows()

    injected: dict[Command, tuple[float, str]] = {}
    started = time.monotonic()
    for courier, text, tag in plan.commands:
        if plan.hold is not None and tag == plan.hold[0] and sample.held_s is None:
            _hold(plan.hold[1], len(injected), workdir / "bot.sqlite3", market, proc)
            sample.held_s = time.monotonic() - started
        message_id = telegram.send_private(courier, text, language_code="en")
        injected[(courier, message_id)] = (time.monotonic(), tag)
    tags = plan.wait_tags
    wait = {c for c, (_, tag) in injected.items() if tags is None or tag in tags}
    answers = Answers(injected, wait)
    _await_answers(telegram, answers, proc, timeout, idle)

    after = listen_overflows()
    if overflows is not None and after is not None:
        sample.listen_overflows = after - overflows
    sample.peak_rss_mb = _mb(proc_status_kb(proc.pid, "VmHWM"))
    cpu_after = cpu_seconds(proc.pid)
    sample.cpu_total_s = cpu_after
    if cpu_after is not None and cpu_before is not None:
        sample.cpu_s = cpu_after - cpu_before
    if proc.poll() is not None:
        sample.error = f"exited with {proc.returncode} during the burst"
    _tally(sample, injected, answers, started)
    sample.telegram_calls = sum(1 for c in list(telegram.calls) if c.method != "getUpdates")
    sample.flood_429 = telegram.flood_rejections
    sample.market_max_in_flight = max(market.max_in_flight.values(), default=0)
    sample.market_420 = market.parallel_rejections


def _hold(
    until: str, count: int, db_path: Path, market: FakeMarket, proc: subprocess.Popen[bytes]
) -> None:
    """Wait until the bot has stored ``count`` messages of commands (read beside it,
    read-only), or until Market has received ``count`` track writes."""
    deadline = time.monotonic() + 2 * START_TIMEOUT
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        while True:
            if until == "stored":
                done = db.execute("SELECT count(*) FROM batches").fetchone()[0]
            else:
                done = len(market.requests_for("setOrderDeliveryTrackCode"))
            if done >= count:
                return
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the first {count} commands were not {until} in time")
            time.sleep(0.01)


def _tally(
    sample: Sample, injected: dict[Command, tuple[float, str]], answers: Answers, started: float
) -> None:
    for command, (at, ok) in answers.finals.items():
        sent_at, tag = injected[command]
        sample.latencies.setdefault(tag, []).append(at - sent_at)
        sample.done += ok
        sample.failed += not ok
    sample.unanswered = len(answers.wait) - sum(1 for c in answers.wait if c in answers.finals)
    sample.progress_notes = answers.progress_notes
    sample.other_replies = answers.other_replies
    times = sorted(at for at, _ in answers.finals.values())
    tenth = math.ceil(len(injected) / 10)
    if len(times) >= tenth:
        sample.first_tenth_s = times[tenth - 1] - started
    if times and not sample.unanswered and len(times) == len(injected):
        sample.wall_s = times[-1] - started


def _mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024


def percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def machine() -> dict[str, str]:
    """What the figures were taken on."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": str(cpus),
        "cpu": model,
        "python": platform.python_version(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def warm_up() -> None:
    """Import the bot once so that byte-compiling after a change does not count as start-up."""
    subprocess.run(
        [sys.executable, "-c", "import bot.app, telegram.ext"],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=START_TIMEOUT,
        check=False,
    )
