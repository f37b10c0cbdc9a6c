"""Figures for operators, as Prometheus text at ``/metrics`` (webhook mode).

Commands by name and outcome, the worker's queue (due, waiting, running, the oldest's age, answers
to send), Market's latency by method with its answers by status (420 and 5xx among them), and
Telegram sends that failed. Labels are command and method names, outcomes and HTTP statuses:
never a key, a token, an id or anything a user typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _Queue(Collector):
    def __init__(self, health: Callable[[], dict[str, Any]]) -> None:
        self.health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = self.health()
        operations = GaugeMetricFamily(
            "bot_queue_operations", "Operations in the worker's queue", labels=["state"]
        )
        for state in ("due", "waiting", "running"):
            operations.add_metric([state], float(figures.get(state, 0)))
        yield operations
        yield GaugeMetricFamily(
            "bot_queue_oldest_seconds",
            "Age of the oldest operation not finished",
            value=float(figures.get("oldest_seconds", 0.0)),
        )
        yield GaugeMetricFamily(
            "bot_answers_pending",
            "Final answers not yet delivered to Telegram",
            value=float(figures.get("answers_pending", 0)),
        )


class Metrics:
    """One registry per bot; the recording methods are what the other parts are handed."""

    def __init__(self, health: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "bot_commands", "Commands handled", ["command", "outcome"], registry=self.registry
        )
        self.market_seconds = Histogram(
            "market_request_seconds",
            "Market request latency",
            ["method"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
        self.market_answers = Counter(
            "market_responses",
            "Market answers by status",
            ["method", "status"],
            registry=self.registry,
        )
        self.telegram_failures = Counter(
            "telegram_send_failures",
            "Telegram calls that failed",
            ["reason"],
            registry=self.registry,
        )
        self.registry.register(_Queue(health))

    def command(self, command: str, outcome: str) -> None:
        self.commands.labels(command, outcome.split(":", 1)[0]).inc()

    def market(self, method: str, status: int | None, seconds: float) -> None:
        self.market_seconds.labels(method).observe(seconds)
        self.market_answers.labels(method, str(status) if status else "no_answer").inc()

    def telegram_failed(self, reason: str) -> None:
        self.telegram_failures.labels(reason).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)
