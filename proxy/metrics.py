"""Prometheus metrics, kept in a registry owned by one application (no process-global state)."""

from __future__ import annotations

from typing import TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics import MetricWrapperBase

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5)
M = TypeVar("M", bound=MetricWrapperBase)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self._children: dict[tuple[object, ...], MetricWrapperBase] = {}
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cek_proxy_requests",
            "CEK requests by CEK request type and outcome",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.signature_failures = Counter(
            "cek_proxy_signature_failures",
            "Requests refused because SignatureCEK was missing, malformed or invalid",
            ["reason"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "cek_proxy_upstream_latency_seconds",
            "Time spent on calls to the chatbot, the passthrough backend and action backends",
            ["upstream", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.actions = Counter(
            "cek_proxy_action_requests",
            "Action relay calls by action and outcome",
            ["action", "outcome"],
            registry=self.registry,
        )

        self.replays = Counter(
            "cek_proxy_replays",
            "CEK requests answered again from the idempotency window (identical signed bodies)",
            registry=self.registry,
        )

    def child(self, metric: M, *labels: str) -> M:
        """`metric.labels(*labels)`, looked up once: every label set is bounded (see the call sites),
        and `labels()` checks its arguments and takes a lock on each call."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return cast(M, found)

    def render(self) -> bytes:
        return generate_latest(self.registry)
