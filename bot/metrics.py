"""Prometheus metrics, one registry per server (tests build several servers in a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.slack_requests = Counter(
            "ringbridge_slack_requests",
            "Requests from Slack, by kind (command, action, event) and HTTP status.",
            ["kind", "status"],
            registry=self.registry,
        )
        self.slack_ack_seconds = Histogram(
            "ringbridge_slack_ack_seconds",
            "Time from a Slack request's arrival to our answer (Slack allows 3 s).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3),
            registry=self.registry,
        )

        self.deliveries = Counter(
            "ringbridge_ringcentral_deliveries",
            "RingCentral webhook requests by outcome: stored, duplicate, rejected (bad "
            "token), dead_letter (authentic but unreadable), handshake.",
            ["outcome"],
            registry=self.registry,
        )
        self.slack_posts = Counter(
            "ringbridge_slack_posts",
            "Notification posts to Slack by outcome (ok, retry, dead, reconciled).",
            ["outcome"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
