"""Burst benchmark: many /track commands at once, answered within Telegram's flood limits.

Run from the repository root: ``python benchmarks/burst.py`` (every scenario, 3 runs each; about
40 minutes) or ``--scenario 300 fair`` for some. The fake Telegram (with Telegram's flood
limits: 30 messages a second for the bot, 20 a minute per group, 429 beyond) and the fake Market
of ``tests/fakes`` run in this process; the bot (``python -m bot`` with its default settings,
limiter included) and the minimal baseline bot (``baseline_bot.py``: no storage, no checks, no
limiter) run as subprocesses. Scenarios:

* ``300``, ``3000``, ``10000``: N commands from M couriers (private chats) of one shop at once,
  Market without limits: wall time against Telegram's ceiling (N / 30 s), CPU and Telegram
  calls per command, time to the first 10% of answers, peak memory.
* ``fair``: 50 shops; one sends 1,000 commands, then each of the other 49 sends one: how soon
  the small shops hear back while the big shop's answers are queued.
* ``market4``: N = 300 with Market's 4-parallel limit and 200 ms per write: how close to the
  ideal, max(N × 0.2 / 4, N / 30) s.

See ``benchmarks/README.md`` for the targets and how to read the output. Exit status: 0 when
every target is met, 1 when one is missed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    FIRST_ORDER,
    Plan,
    Sample,
    machine,
    make_shops,
    percentile,
    run_once,
    track_commands,
    warm_up,
)

TELEGRAM_PER_SECOND = 30  # Telegram's ceiling for one bot
WALL_VS_CEILING = 1.10
CALLS_PER_COMMAND = 1.10
CPU_10000_VS_300 = 1.20
MAX_RSS_MB = 120.0
SMALL_SHOPS_P95_S = 2.0
MARKET4_EFFICIENCY = 0.95
IDLE_S = 30.0  # no answer for this long: the rest are lost (the baseline's 429s)


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    plan: Plan
    baseline: bool  # the baseline knows one shop only

    @property
    def n(self) -> int:
        return len(self.plan.commands)


def burst(n: int, m: int) -> Scenario:
    shops = make_shops(1, [m])
    plan = Plan(shops, tuple(track_commands(shops[0].couriers, n, FIRST_ORDER, "all")))
    title = f"{n:,} × /track from {m} couriers of one shop, Market without limits"
    return Scenario(str(n), title, plan, baseline=True)


def fair(m: int, after: str, big: int = 1000, small_shops: int = 49) -> Scenario:
    """``after``: when the small shops send: "stored" (the big shop's commands are queued in
    the bot), "written" (they are at Market; their answers are queued), "sent" (at once)."""
    shops = make_shops(1 + small_shops, [m] + [1] * small_shops)
    commands = track_commands(shops[0].couriers, big, FIRST_ORDER, "big")
    for i, shop in enumerate(shops[1:], start=1):
        commands += track_commands(shop.couriers, 1, FIRST_ORDER + i * 1_000_000, "small")
    plan = Plan(
        shops,
        tuple(commands),
        wait_tags=frozenset({"small"}),
        hold=None if after == "sent" else ("small", after),
    )
    title = (
        f"{1 + small_shops} shops: {big:,} × /track from {m} couriers of one, then "
        + FAIR_WHEN[after]
        + f", one /track from each of the other {small_shops}"
    )
    return Scenario("fair" if after == "written" else f"fair-{after}", title, plan, baseline=False)


FAIR_WHEN = {
    "stored": "once the bot has stored them",
    "written": "once they are written to Market (their answers queued)",
    "sent": "at once",
}


def market4(m: int, n: int = 300) -> Scenario:
    shops = make_shops(1, [m])
    commands = tuple(track_commands(shops[0].couriers, n, FIRST_ORDER, "all"))
    plan = Plan(shops, commands, market_parallel_limit=4, market_latency=0.2)
    title = f"{n} × /track from {m} couriers, Market's 4-parallel limit and 200 ms per write"
    return Scenario("market4", title, plan, baseline=True)


def ideal_market4(scenario: Scenario) -> float:
    plan = scenario.plan
    assert plan.market_parallel_limit is not None
    market = scenario.n * plan.market_latency / plan.market_parallel_limit
    return max(market, scenario.n / TELEGRAM_PER_SECOND)


# --- figures ------------------------------------------------------------------------------

Getter = Callable[[Sample], float | None]


def _all(sample: Sample) -> list[float]:
    return [x for values in sample.latencies.values() for x in values]


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


ROWS: list[tuple[str, Getter, int]] = [
    ("wall: injection → last final answer, s", lambda s: s.wall_s, 2),
    ("wall / Telegram ceiling (N / 30 s)", lambda s: _ratio(s.wall_s, s.commands / 30), 3),
    ("first 10% of the answers, s", lambda s: s.first_tenth_s, 2),
    ("small shops sent after, s", lambda s: s.held_s, 2),
    ("CPU per command (burst CPU / N), ms", lambda s: _ms(s.per_command(s.cpu_s)), 2),
    ("Telegram calls per command", lambda s: s.per_command(s.telegram_calls), 3),
    ("Telegram 429s", lambda s: s.flood_429, 0),
    ("answered ✅", lambda s: s.done, 0),
    ("answered ❌", lambda s: s.failed, 0),
    ("unanswered", lambda s: s.unanswered, 0),
    ("progress notes (⏳)", lambda s: s.progress_notes, 0),
    ("latency p50, s", lambda s: percentile(_all(s), 50), 2),
    ("latency p95, s", lambda s: percentile(_all(s), 95), 2),
    ("small shops: first answer p95, s", lambda s: percentile(s.latencies.get("small", []), 95), 2),
    ("small shops: first answer max, s", lambda s: max(s.latencies.get("small") or [None]), 2),
    ("peak RSS (VmHWM), MB", lambda s: s.peak_rss_mb, 1),
    ("CPU total incl. start-up, s", lambda s: s.cpu_total_s, 2),
    ("start-up: spawn → first getUpdates, s", lambda s: s.startup_s, 2),
    ("Market: most writes in flight", lambda s: s.market_max_in_flight, 0),
    ("Market: parallel-limit 420s", lambda s: s.market_420, 0),
    ("host TCP listen overflows", lambda s: s.listen_overflows, 0),
]


def _ratio(value: float | None, of: float) -> float | None:
    return None if value is None else value / of


def spread(samples: list[Sample], get: Getter) -> tuple[float, float, float] | None:
    values = [v for v in (get(s) for s in samples) if v is not None]
    if len(values) != len(samples) or not values:
        return None
    return min(values), statistics.median(values), max(values)


def _show(figures: tuple[float, float, float] | None, digits: int) -> str:
    if figures is None:
        return "—"
    low, mid, high = (f"{v:.{digits}f}" for v in figures)
    return mid if low == high else f"{mid} ({low}–{high})"


# --- targets ------------------------------------------------------------------------------


@dataclass
class Target:
    scenario: str
    name: str
    value: str
    passed: bool


def targets(
    results: dict[str, dict[str, list[Sample]]], scenarios: dict[str, Scenario]
) -> list[Target]:
    """Every target of the scenarios that ran (only the bot's runs are judged)."""
    found: list[Target] = []
    for key, runs in results.items():
        bots = runs["bot"]
        if key == "fair-sent":
            pass  # no target: the bot's intake of the big shop's commands comes first
        elif key.startswith("fair"):
            found += _fair_targets(key, bots)
        elif key == "market4":
            found += _market4_targets(bots, ideal_market4(scenarios[key]))
        else:
            found += _burst_targets(key, bots, scenarios[key].n / TELEGRAM_PER_SECOND)
        found.append(
            _every(key, "every command answered ✅", bots, _all_done, lambda v: v > 0, "{:.0f}")
        )
        found.append(
            _every(key, "zero Telegram 429s", bots, lambda s: s.flood_429, lambda v: v == 0, "{}")
        )
    if "10000" in results:
        rss = _every(
            "10000",
            f"peak RSS ≤ {MAX_RSS_MB:.0f} MB",
            results["10000"]["bot"],
            lambda s: s.peak_rss_mb,
            lambda v: v <= MAX_RSS_MB,
            "{:.1f} MB",
        )
        found.append(rss)
    if "10000" in results and "300" in results:
        found.append(_cpu_ratio(results["300"]["bot"], results["10000"]["bot"]))
    return found


def _all_done(sample: Sample) -> float | None:
    return sample.done if not sample.unanswered and not sample.failed else None


def _burst_targets(key: str, bots: list[Sample], ceiling: float) -> list[Target]:
    limit = WALL_VS_CEILING * ceiling
    return [
        _every(
            key,
            f"wall ≤ {WALL_VS_CEILING} × N/30 s = {limit:.1f} s",
            bots,
            lambda s: s.wall_s,
            lambda v: v <= limit,
        ),
        _every(
            key,
            f"≤ {CALLS_PER_COMMAND} Telegram calls per command",
            bots,
            lambda s: s.per_command(s.telegram_calls),
            lambda v: v <= CALLS_PER_COMMAND,
            "{:.3f}",
        ),
    ]


def _fair_targets(key: str, bots: list[Sample]) -> list[Target]:
    return [
        _every(
            key,
            f"small shops' first answer p95 ≤ {SMALL_SHOPS_P95_S} s",
            bots,
            lambda s: percentile(s.latencies.get("small", []), 95),
            lambda v: v <= SMALL_SHOPS_P95_S,
        )
    ]


def _market4_targets(bots: list[Sample], ideal: float) -> list[Target]:
    return [
        _every(
            "market4",
            f"≥ {MARKET4_EFFICIENCY:.0%} of the ideal {ideal:.1f} s "
            f"(wall ≤ {ideal / MARKET4_EFFICIENCY:.2f} s) in every run",
            bots,
            lambda s: None if s.wall_s is None else ideal / s.wall_s,
            lambda v: v >= MARKET4_EFFICIENCY,
            "{:.1%}",
        ),
        _every("market4", "zero Market 420s", bots, lambda s: s.market_420, lambda v: v == 0, "{}"),
    ]


def _every(
    scenario: str,
    name: str,
    samples: list[Sample],
    get: Getter,
    ok: Callable[[float], bool],
    fmt: str = "{:.2f}",
) -> Target:
    """Met when every run meets it; the value shows each run's figure."""
    values = [get(s) for s in samples]
    shown = ", ".join("—" if v is None else fmt.format(v) for v in values)
    passed = bool(values) and all(v is not None and ok(v) for v in values)
    return Target(scenario, name, shown, passed)


def _cpu_ratio(small: list[Sample], large: list[Sample]) -> Target:
    low = spread(small, lambda s: s.per_command(s.cpu_s))
    high = spread(large, lambda s: s.per_command(s.cpu_s))
    name = f"CPU per command at 10,000 ≤ {CPU_10000_VS_300} × at 300 (medians)"
    if low is None or high is None:
        return Target("10000", name, "—", False)
    ratio = high[1] / low[1]
    value = f"{high[1] * 1000:.2f} ms vs {low[1] * 1000:.2f} ms = {ratio:.2f} ×"
    return Target("10000", name, value, ratio <= CPU_10000_VS_300)


# --- output -------------------------------------------------------------------------------


def render(
    scenarios: dict[str, Scenario],
    results: dict[str, dict[str, list[Sample]]],
    found: list[Target],
    host: dict[str, str],
) -> str:
    out = io.StringIO()
    print(
        f"Machine: {host['nproc']} CPUs ({host['cpu']}), Python {host['python']}, "
        f"load average at the start {host['load_average']}.",
        file=out,
    )
    print(
        "Bot: python -m bot with its default settings (Telegram limiter included) but the "
        "fakes' URLs and TELEGRAM_POLL_TIMEOUT=1. Fake Telegram with Telegram's flood limits "
        "(30/s per bot, 20/min per group, 429 beyond). Figures: median (min–max) of the runs.",
        file=out,
    )
    for key, runs in results.items():
        scenario = scenarios[key]
        kinds = list(runs)
        print(f"\n[{key}] {scenario.title}; runs: {len(runs['bot'])}", file=out)
        width = max(len(label) for label, _, _ in ROWS)
        print(f"  {'':<{width}} | " + " | ".join(f"{k:>24}" for k in kinds), file=out)
        for label, get, digits in ROWS:
            cells = [_show(spread(runs[k], get), digits) for k in kinds]
            if all(cell == "—" for cell in cells):
                continue
            print(f"  {label:<{width}} | " + " | ".join(f"{c:>24}" for c in cells), file=out)
        for kind in kinds:
            for i, sample in enumerate(runs[kind], start=1):
                if sample.error or (sample.stderr_tail and kind == "bot"):
                    print(f"  {kind} run {i}: {sample.error or 'see its stderr'}", file=out)
                    for line in sample.stderr_tail:
                        print(f"    {line}", file=out)
    print("\nTargets (met when every run meets them):", file=out)
    for target in found:
        verdict = "PASS" if target.passed else "FAIL"
        print(f"  [{verdict}] [{target.scenario}] {target.name}: {target.value}", file=out)
    every = all(t.passed for t in found)
    print(f"\nOverall: {'PASS' if every else 'FAIL'}", file=out)
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


def _document(
    scenarios: dict[str, Scenario],
    results: dict[str, dict[str, list[Sample]]],
    found: list[Target],
    host: dict[str, str],
    profiled: bool,
) -> dict[str, Any]:
    return {
        "machine": host,
        "profiled": profiled,
        "scenarios": {
            key: {
                "title": scenarios[key].title,
                "commands": scenarios[key].n,
                "runs": {kind: [asdict(s) for s in samples] for kind, samples in runs.items()},
                "figures": {
                    kind: {label: spread(samples, get) for label, get, _ in ROWS}
                    for kind, samples in runs.items()
                },
            }
            for key, runs in results.items()
        },
        "targets": [asdict(t) for t in found],
        "pass": all(t.passed for t in found),
    }


ORDER = ("300", "3000", "10000", "fair", "fair-stored", "market4")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scenario", nargs="+", choices=(*ORDER, "all"), default=["all"])
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (3)")
    parser.add_argument("--m", type=int, default=60, help="couriers of the (big) shop (60)")
    parser.add_argument("--no-baseline", action="store_true", help="run only the bot")
    parser.add_argument(
        "--fair-at-once",
        action="store_true",
        help="also run fair-sent: the small shops send right behind the big shop (then the "
        "bot's intake of the 1,000 comes first; no target)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--save", type=Path, metavar="FILE", help="also write the JSON to FILE")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="run the bot under cProfile, keep DIR/*.prof"
    )
    parser.add_argument("--profile-top", type=int, default=30, help="lines of the profile (30)")
    parser.add_argument(
        "--bot-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the bot, for experiments (its figures are then not the default bot's)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.m < 1:
        parser.error("--runs and --m must be at least 1")
    keys = ORDER if "all" in args.scenario else tuple(k for k in ORDER if k in args.scenario)
    if args.fair_at_once:
        keys += ("fair-sent",)
    scenarios = {
        "300": burst(300, args.m),
        "3000": burst(3000, args.m),
        "10000": burst(10_000, args.m),
        "fair": fair(args.m, "written"),
        "fair-stored": fair(args.m, "stored"),
        "market4": market4(args.m),
        "fair-sent": fair(args.m, "sent"),
    }
    host = machine()
    warm_up()
    results: dict[str, dict[str, list[Sample]]] = {}
    profiles: list[tuple[str, Path]] = []
    for key in keys:
        results[key] = _run_scenario(scenarios[key], args, profiles)
    found = targets(results, scenarios)
    document = _document(scenarios, results, found, host, args.profile is not None)
    if args.save is not None:
        args.save.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    if args.json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(render(scenarios, results, found, host), end="")
        if profiles:
            print("\n" + profile_summary(profiles, args.profile_top), end="")
    return 0 if all(t.passed for t in found) else 1


def _run_scenario(
    scenario: Scenario, args: argparse.Namespace, profiles: list[tuple[str, Path]]
) -> dict[str, list[Sample]]:
    # Generous: twice Telegram's ceiling and a minute; a run without answers stops sooner.
    timeout = 2 * scenario.n / TELEGRAM_PER_SECOND + 60
    kinds = ("bot",) if args.no_baseline or not scenario.baseline else ("bot", "baseline")
    runs: dict[str, list[Sample]] = {kind: [] for kind in kinds}
    for i in range(1, args.runs + 1):
        for kind in kinds:
            profile = None
            if args.profile is not None and kind == "bot":
                args.profile.mkdir(parents=True, exist_ok=True)
                profile = args.profile.resolve() / f"bot-{scenario.key}-{i}.prof"
                profiles.append((f"the bot, scenario {scenario.key}, run {i}", profile))
            env = dict(item.split("=", 1) for item in args.bot_env)
            sample = run_once(
                kind, scenario.plan, timeout=timeout, idle=IDLE_S, profile=profile, bot_env=env
            )
            runs[kind].append(sample)
            print(
                f"[{scenario.key}] {kind} run {i}: wall {sample.wall_s}, 429s {sample.flood_429}, "
                f"unanswered {sample.unanswered}",
                file=sys.stderr,
            )
    return runs


if __name__ == "__main__":
    sys.exit(main())
