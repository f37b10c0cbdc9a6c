"""Burst benchmark: N /track commands from M couriers of one shop arrive at once.

Run from the repository root: ``python benchmarks/burst.py [--n 300] [--m 30] [--scenario both]``.

The fake Telegram and the fake Market of ``tests/fakes`` run inside this process on 127.0.0.1.
The bot under test (``python -m bot``) and a minimal baseline bot (``benchmarks/baseline_bot.py``)
each run as a subprocess against them, one after the other, with a fresh pair of fakes each.
After the bot's first ``getUpdates`` every courier's commands are injected at once; the script
then waits for one final answer per command ("✅…" or "❌…", sent as a reply to the command or
edited into the progress note that replied to it) and reports wall time, throughput, latency,
peak memory and start-up time of the bot, and what the fake Market saw (parallelism, 420s).

Scenarios: (a) Market without limits and without latency; (b) Market with its 4-parallel limit
and 200 ms per write. See ``benchmarks/README.md`` for the targets and how to read the output.
The exit status is 0 when every target is met, 1 when one is missed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from bot.config import Settings  # noqa: E402
from tests.conftest import API_KEY, CAMPAIGN, seed_shop  # noqa: E402
from tests.fakes import telegram as fake_telegram_module  # noqa: E402
from tests.fakes.market import FakeMarket  # noqa: E402
from tests.fakes.telegram import Call, FakeTelegram  # noqa: E402

# The fake Telegram's server keeps socketserver's listen backlog of 5. A burst of replies opens
# dozens of connections at once; the kernel drops the overflow and TCP retries the SYN a second
# later, which would add 1 s to random answers of whichever bot opens connections fastest (and
# trip python-telegram-bot's 1 s pool timeout). Real Telegram has no such backlog, so the
# benchmark gives the fake the backlog the fake Market already has.
FAKE_TELEGRAM_BACKLOG = 128
if fake_telegram_module._Server.request_queue_size < FAKE_TELEGRAM_BACKLOG:
    fake_telegram_module._Server.request_queue_size = FAKE_TELEGRAM_BACKLOG

# Telegram allows about 30 messages a second; the fake has no flood limit, so the bot's own
# limiter is opened wide to measure the bot rather than a limit the fake does not have.
TELEGRAM_RATE = 1000
SERVICE_ID = 51
FIRST_ORDER_ID = 300_001
FIRST_COURIER_ID = 5_000_001
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

# Targets (see README.md).
WALL_VS_BASELINE = 1.25
IDEAL_TOLERANCE = 0.10
MAX_RSS_MB = 120.0
MAX_STARTUP_S = 1.5


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    parallel_limit: int | None
    latency: float


SCENARIOS = {
    "a": Scenario("a", "fake Market unlimited (no parallel limit, no latency)", None, 0.0),
    "b": Scenario("b", "fake Market with its 4-parallel limit and 200 ms per write", 4, 0.2),
}


@dataclass
class RunResult:
    """What one run (one bot, one scenario) measured; None where nothing could be measured."""

    kind: str
    commands: int = 0
    startup_s: float | None = None
    injection_spread_s: float | None = None
    wall_s: float | None = None
    commands_per_s: float | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_max_s: float | None = None
    done: int = 0
    failed: int = 0
    unanswered: int = 0
    other_replies: int = 0
    progress_notes: int = 0
    peak_rss_mb: float | None = None
    cpu_s: float | None = None
    market_max_in_flight: int = 0
    market_parallel_420: int = 0
    market_writes: int = 0
    listen_overflows: int | None = None
    exit_code: int | None = None
    error: str | None = None
    stderr_tail: list[str] = field(default_factory=list)


class Answers:
    """Matches the answers in the fake's call log to the injected commands.

    A final answer is a successful sendMessage replying to the command, or a successful
    editMessageText of the progress note that replied to it, whose text starts with "✅" or "❌".
    ``see`` is given every recorded call once, in order, and says whether all commands are
    answered.
    """

    def __init__(self, injected: dict[tuple[int, int], float]) -> None:
        self.injected = injected
        self.index = 0
        self.progress_of: dict[tuple[int, int], tuple[int, int]] = {}
        self.finals: dict[tuple[int, int], tuple[float, bool]] = {}
        self.progress_notes = 0
        self.other_replies = 0

    def see(self, call: Call) -> bool:
        self.index += 1
        if call.ok and call.chat_id is not None:
            if call.method == "sendMessage":
                self._sent(call, call.chat_id)
            elif call.method == "editMessageText":
                self._edited(call, call.chat_id)
        return len(self.finals) == len(self.injected)

    def _sent(self, call: Call, chat_id: int) -> None:
        reply = call.params.get("reply_parameters")
        if not isinstance(reply, dict) or reply.get("message_id") is None:
            return
        command = (chat_id, int(reply["message_id"]))
        if command not in self.injected:
            return
        text = call.text or ""
        if text.startswith("⏳"):
            self.progress_notes += 1
            if isinstance(call.result, dict) and "message_id" in call.result:
                self.progress_of[(chat_id, int(call.result["message_id"]))] = command
        else:
            self._final(command, call)

    def _edited(self, call: Call, chat_id: int) -> None:
        message_id = call.params.get("message_id")
        if message_id is None:
            return
        command = self.progress_of.get((chat_id, int(message_id)))
        if command is not None and not (call.text or "").startswith("⏳"):
            self._final(command, call)

    def _final(self, command: tuple[int, int], call: Call) -> None:
        text = call.text or ""
        if command in self.finals:
            return
        if text.startswith(("✅", "❌")):
            self.finals[command] = (call.at, text.startswith("✅"))
        else:
            self.other_replies += 1


def _clean_env(**extra: str) -> dict[str, str]:
    ours = ("TELEGRAM_", "MARKET_", "BOT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _proc_status_kb(pid: int, name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cpu_seconds(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _listen_overflows() -> int | None:
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


def _tail(path: Path, lines: int = 15) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _new_market(scenario: Scenario, n: int) -> FakeMarket:
    market = FakeMarket(parallel_limit=scenario.parallel_limit, latency=scenario.latency)
    market.add_campaign(CAMPAIGN, API_KEY, domain="flowers.example", business_id=700)
    for i in range(n):
        market.add_order(CAMPAIGN, FIRST_ORDER_ID + i)
    return market


def _couriers(m: int) -> list[int]:
    return [FIRST_COURIER_ID + j for j in range(m)]


def _commands(n: int, m: int) -> list[tuple[int, str]]:
    """(courier, text) for every command, round-robin over couriers: all talk at the same time."""
    per_courier: list[list[str]] = [[] for _ in range(m)]
    for i in range(n):
        per_courier[i % m].append(f"/track {FIRST_ORDER_ID + i} RR{i} {SERVICE_ID}")
    couriers = _couriers(m)
    ordered: list[tuple[int, str]] = []
    for k in range(max(len(texts) for texts in per_courier)):
        ordered.extend(
            (couriers[j], texts[k]) for j, texts in enumerate(per_courier) if k < len(texts)
        )
    return ordered


def _bot_launch(
    workdir: Path, telegram: FakeTelegram, market: FakeMarket, m: int
) -> tuple[list[str], dict[str, str]]:
    secret = Fernet.generate_key().decode()
    db_path = workdir / "bot.sqlite3"
    settings = Settings(
        telegram_bot_token=telegram.token,
        bot_db_path=db_path,
        bot_secret_key=secret,
        _env_file=None,
    )
    seed_shop(settings, *((courier, "courier") for courier in _couriers(m)))
    env = _clean_env(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        MARKET_API_BASE_URL=market.base_url,
        BOT_DB_PATH=str(db_path),
        BOT_SECRET_KEY=secret,
        TELEGRAM_POLL_TIMEOUT="1",
        TELEGRAM_MAX_MESSAGES_PER_SECOND=str(TELEGRAM_RATE),
    )
    return ["-m", "bot"], env


def _baseline_launch(
    telegram: FakeTelegram, market: FakeMarket
) -> tuple[list[str], dict[str, str]]:
    env = _clean_env(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        MARKET_API_BASE_URL=market.base_url,
        MARKET_API_KEY=API_KEY,
        MARKET_CAMPAIGN_ID=str(CAMPAIGN),
        TELEGRAM_POLL_TIMEOUT="1",
    )
    return [str(ROOT / "benchmarks" / "baseline_bot.py")], env


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
    telegram: FakeTelegram, answers: Answers, proc: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            telegram.wait_for(
                answers.see, min(1.0, deadline - time.monotonic()), since=answers.index
            )
            return
        except AssertionError:
            continue
    # The process died or time ran out: still count the answers that did arrive.
    with contextlib.suppress(AssertionError):
        telegram.wait_for(answers.see, 0, since=answers.index)


def run_once(
    kind: str,
    scenario: Scenario,
    n: int,
    m: int,
    timeout: float,
    profile: Path | None = None,
) -> RunResult:
    """Run one burst against ``kind`` ("bot" or "baseline") with a fresh pair of fakes."""
    result = RunResult(kind=kind, commands=n)
    with (
        tempfile.TemporaryDirectory(prefix="burst-") as tmp,
        FakeTelegram(flood_limits=False) as telegram,
        _new_market(scenario, n) as market,
    ):
        workdir = Path(tmp)
        if kind == "bot":
            target, env = _bot_launch(workdir, telegram, market, m)
        else:
            target, env = _baseline_launch(telegram, market)
        # Under cProfile the process writes its profile when it exits after SIGTERM.
        profiling = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        argv = [sys.executable, *profiling, *target]
        stderr_path = workdir / "stderr.log"
        with stderr_path.open("wb") as stderr:
            spawned = time.monotonic()
            # The working directory holds no .env, so only the variables above configure it.
            proc = subprocess.Popen(
                argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=stderr
            )
            try:
                _measure(result, telegram, market, proc, spawned, n, m, timeout)
            except RuntimeError as exc:
                result.error = str(exc)
            finally:
                _stop(proc)
        result.exit_code = proc.returncode
        if result.error is not None or result.unanswered or proc.returncode not in (0, None):
            result.stderr_tail = _tail(stderr_path)
    return result


def _measure(
    result: RunResult,
    telegram: FakeTelegram,
    market: FakeMarket,
    proc: subprocess.Popen[bytes],
    spawned: float,
    n: int,
    m: int,
    timeout: float,
) -> None:
    _first_poll(telegram, proc)
    assert telegram.first_poll_at is not None
    result.startup_s = telegram.first_poll_at - spawned

    injected: dict[tuple[int, int], float] = {}
    started = time.monotonic()
    for courier, text in _commands(n, m):
        message_id = telegram.send_private(courier, text, language_code="en")
        injected[(courier, message_id)] = time.monotonic()
    result.injection_spread_s = time.monotonic() - started

    answers = Answers(injected)
    overflows = _listen_overflows()
    _await_answers(telegram, answers, proc, timeout)
    after = _listen_overflows()
    if overflows is not None and after is not None:
        result.listen_overflows = after - overflows

    result.peak_rss_mb = _kb_to_mb(_proc_status_kb(proc.pid, "VmHWM"))
    result.cpu_s = _cpu_seconds(proc.pid)
    if proc.poll() is not None:
        result.error = f"exited with {proc.returncode} during the burst"

    latencies = [at - injected[command] for command, (at, _) in answers.finals.items()]
    result.done = sum(1 for _, ok in answers.finals.values() if ok)
    result.failed = len(answers.finals) - result.done
    result.unanswered = n - len(answers.finals)
    result.other_replies = answers.other_replies
    result.progress_notes = answers.progress_notes
    if answers.finals and not result.unanswered:
        last = max(at for at, _ in answers.finals.values())
        result.wall_s = last - started
        result.commands_per_s = n / result.wall_s if result.wall_s > 0 else None
    result.latency_p50_s = _percentile(latencies, 50)
    result.latency_p95_s = _percentile(latencies, 95)
    result.latency_max_s = max(latencies) if latencies else None
    result.market_max_in_flight = market.max_in_flight.get(CAMPAIGN, 0)
    result.market_parallel_420 = market.parallel_rejections
    result.market_writes = len(market.requests_for("setOrderDeliveryTrackCode"))


def _kb_to_mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024


# --- targets and output ---------------------------------------------------------------------


@dataclass
class Target:
    name: str
    value: str
    passed: bool


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def targets_for(scenario: Scenario, bot: RunResult, baseline: RunResult | None) -> list[Target]:
    found: list[Target] = []
    if scenario.key == "a":
        limit = None
        if baseline is not None and baseline.wall_s is not None:
            limit = WALL_VS_BASELINE * baseline.wall_s
        found.append(
            Target(
                f"bot wall ≤ {WALL_VS_BASELINE} × baseline wall (≤ {_fmt(limit)} s)",
                f"{_fmt(bot.wall_s)} s",
                bot.wall_s is not None and limit is not None and bot.wall_s <= limit,
            )
        )
    else:
        assert scenario.parallel_limit is not None
        ideal = bot.commands * scenario.latency / scenario.parallel_limit
        found.append(
            Target(
                f"bot: all {bot.commands} done",
                f"{bot.done} done, {bot.failed} failed, {bot.unanswered} unanswered",
                bot.done == bot.commands,
            )
        )
        found.append(
            Target(
                "bot: zero parallel 420s",
                str(bot.market_parallel_420),
                bot.market_parallel_420 == 0,
            )
        )
        found.append(
            Target(
                f"bot wall within {IDEAL_TOLERANCE:.0%} of ideal {bot.commands} × "
                f"{scenario.latency} / {scenario.parallel_limit} = {ideal:.1f} s "
                f"(≤ {ideal * (1 + IDEAL_TOLERANCE):.1f} s)",
                f"{_fmt(bot.wall_s)} s",
                bot.wall_s is not None and bot.wall_s <= ideal * (1 + IDEAL_TOLERANCE),
            )
        )
    found.append(
        Target(
            f"bot peak RSS ≤ {MAX_RSS_MB:.0f} MB",
            f"{_fmt(bot.peak_rss_mb, 1)} MB",
            bot.peak_rss_mb is not None and bot.peak_rss_mb <= MAX_RSS_MB,
        )
    )
    found.append(
        Target(
            f"bot start-up to first poll ≤ {MAX_STARTUP_S} s",
            f"{_fmt(bot.startup_s)} s",
            bot.startup_s is not None and bot.startup_s <= MAX_STARTUP_S,
        )
    )
    return found


ROWS: list[tuple[str, Callable[[RunResult], str]]] = [
    ("start-up: spawn → first getUpdates, s", lambda r: _fmt(r.startup_s)),
    ("injection of all commands took, s", lambda r: _fmt(r.injection_spread_s, 3)),
    ("wall: injection → last final answer, s", lambda r: _fmt(r.wall_s)),
    ("commands/s", lambda r: _fmt(r.commands_per_s, 1)),
    ("latency p50, s", lambda r: _fmt(r.latency_p50_s)),
    ("latency p95, s", lambda r: _fmt(r.latency_p95_s)),
    ("latency max, s", lambda r: _fmt(r.latency_max_s)),
    ("done (✅)", lambda r: str(r.done)),
    ("failed (❌)", lambda r: str(r.failed)),
    ("unanswered", lambda r: str(r.unanswered)),
    ("progress notes (⏳)", lambda r: str(r.progress_notes)),
    ("other replies to the commands", lambda r: str(r.other_replies)),
    ("peak RSS (VmHWM), MB", lambda r: _fmt(r.peak_rss_mb, 1)),
    ("CPU time (user+sys) at the end, s", lambda r: _fmt(r.cpu_s)),
    ("Market max in flight (campaign)", lambda r: str(r.market_max_in_flight)),
    ("Market 420 parallel rejections", lambda r: str(r.market_parallel_420)),
    ("Market track writes received", lambda r: str(r.market_writes)),
    ("host TCP listen overflows during burst", lambda r: str(r.listen_overflows)),
    ("exit code after SIGTERM", lambda r: str(r.exit_code)),
]


def render(n: int, m: int, reports: list[dict[str, Any]], profile_text: str | None) -> str:
    out = io.StringIO()
    print(
        f"Burst: {n} × /track from {m} couriers of one shop (campaign {CAMPAIGN}), "
        "each in a private chat, all injected after the bot's first poll.",
        file=out,
    )
    print(
        f"Bot under test: python -m bot with TELEGRAM_POLL_TIMEOUT=1 and "
        f"TELEGRAM_MAX_MESSAGES_PER_SECOND={TELEGRAM_RATE} (the fake Telegram has no flood "
        "limit; real Telegram allows ~30/s, which would pace answers instead).",
        file=out,
    )
    print(
        "Baseline: benchmarks/baseline_bot.py (no storage, checks, limiter or retries).", file=out
    )
    for report in reports:
        scenario: Scenario = report["scenario"]
        bot: RunResult = report["bot"]
        baseline: RunResult | None = report["baseline"]
        print(f"\nScenario ({scenario.key}): {scenario.title}", file=out)
        width = max(len(label) for label, _ in ROWS)
        print(f"  {'metric':<{width}} | {'bot':>10} | {'baseline':>10}", file=out)
        print(f"  {'-' * width}-+-{'-' * 10}-+-{'-' * 10}", file=out)
        for label, get in ROWS:
            other = get(baseline) if baseline is not None else "—"
            print(f"  {label:<{width}} | {get(bot):>10} | {other:>10}", file=out)
        for result in (bot, baseline):
            if result is not None and result.error:
                print(f"  {result.kind} error: {result.error}", file=out)
            if result is not None and result.stderr_tail:
                print(f"  {result.kind} stderr (last lines):", file=out)
                for line in result.stderr_tail:
                    print(f"    {line}", file=out)
        print("  Targets:", file=out)
        for target in report["targets"]:
            verdict = "PASS" if target.passed else "FAIL"
            print(f"    [{verdict}] {target.name}: {target.value}", file=out)
    every = all(t.passed for report in reports for t in report["targets"])
    print(f"\nOverall: {'PASS' if every else 'FAIL'}", file=out)
    if profile_text:
        print("\n" + profile_text, file=out)
    return out.getvalue()


def profile_summary(paths: list[tuple[str, Path]], top: int) -> str:
    out = io.StringIO()
    for label, path in paths:
        if not path.exists():
            print(f"cProfile of {label}: no profile written", file=out)
            continue
        print(f"cProfile of {label} (main thread only; it slows the figures above)", file=out)
        stats = pstats.Stats(str(path), stream=out)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def _warm_up() -> None:
    """Import the bot once so that byte-compiling after a code change does not count as start-up."""
    subprocess.run(
        [sys.executable, "-c", "import bot.app, telegram.ext"],
        cwd=ROOT,
        env=_clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=START_TIMEOUT,
        check=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=300, help="commands in the burst (default 300)")
    parser.add_argument("--m", type=int, default=30, help="couriers sending them (default 30)")
    parser.add_argument("--scenario", choices=("a", "b", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for all answers (120)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="run only the bot (targets needing it fail)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run both under cProfile, keep <bot|baseline>-<scenario>.prof in DIR, print the top",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="lines of the profile (25)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.m < 1 or args.m > args.n:
        parser.error("need 1 ≤ m ≤ n")
    if not 0 < args.timeout <= 600:
        parser.error("--timeout must be in (0, 600]")

    keys = ("a", "b") if args.scenario == "both" else (args.scenario,)
    _warm_up()
    reports: list[dict[str, Any]] = []
    profiles: list[tuple[str, Path]] = []
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    for key in keys:
        scenario = SCENARIOS[key]
        runs: dict[str, RunResult] = {}
        for kind in ("bot",) if args.no_baseline else ("bot", "baseline"):
            profile = None
            if args.profile is not None:
                profile = args.profile.resolve() / f"{kind}-{key}.prof"
                profiles.append((f"the {kind}, scenario {key}", profile))
            runs[kind] = run_once(kind, scenario, args.n, args.m, args.timeout, profile)
        bot, baseline = runs["bot"], runs.get("baseline")
        reports.append(
            {
                "scenario": scenario,
                "bot": bot,
                "baseline": baseline,
                "targets": targets_for(scenario, bot, baseline),
            }
        )
    passed = all(t.passed for report in reports for t in report["targets"])

    if args.json:
        document = {
            "n": args.n,
            "m": args.m,
            "telegram_max_messages_per_second": TELEGRAM_RATE,
            "profiled": args.profile is not None,
            "scenarios": {
                report["scenario"].key: {
                    "title": report["scenario"].title,
                    "market_parallel_limit": report["scenario"].parallel_limit,
                    "market_latency_s": report["scenario"].latency,
                    "bot": asdict(report["bot"]),
                    "baseline": asdict(report["baseline"]) if report["baseline"] else None,
                    "targets": [asdict(t) for t in report["targets"]],
                }
                for report in reports
            },
            "pass": passed,
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        text = None
        if profiles:
            text = profile_summary(profiles, args.profile_top)
        print(render(args.n, args.m, reports, text), end="")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
