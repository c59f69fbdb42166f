"""A checklist's findings, and what the checks are told about the deployment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from bot.bridge.watch import subscribed_kinds
from bot.config import BridgeConfig, Kind

__all__ = ["CALL_KINDS", "Checklist", "Deployment", "Finding"]

CALL_KINDS: frozenset[Kind] = frozenset({"missed_call", "answered_call", "call"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One line: whether `subject` works, and `detail` — what was found, or what is wrong
    and what to do about it."""

    ok: bool
    subject: str
    detail: str


@dataclass
class Checklist:
    """Findings as they come; each is also told to `report` (the terminal) at once."""

    report: Callable[[Finding], None] = lambda finding: None
    findings: list[Finding] = field(default_factory=list)

    def ok(self, subject: str, detail: str) -> None:
        self._add(Finding(True, subject, detail))

    def bad(self, subject: str, detail: str) -> None:
        self._add(Finding(False, subject, detail))

    @property
    def passed(self) -> bool:
        return all(finding.ok for finding in self.findings)

    def _add(self, finding: Finding) -> None:
        self.findings.append(finding)
        self.report(finding)


@dataclass(frozen=True)
class Deployment:
    """What the checks need of the configuration, as plain values."""

    bridge: BridgeConfig
    default_channel: str | None
    webhook_address: str | None  # PUBLIC_URL + /ringcentral/webhook, or None
    # RINGCENTRAL_EVENTS as it applies; None: its default (webhook with PUBLIC_URL)
    events: Literal["webhook", "websocket"] | None = None

    @property
    def websocket(self) -> bool:
        """RingCentral's events come over its WebSocket (DESIGN §3.11)."""
        if self.events is not None:
            return self.events == "websocket"
        return self.webhook_address is None

    @property
    def kinds(self) -> frozenset[Kind]:
        """The notification kinds some route (or DEFAULT_CHANNEL) takes."""
        return subscribed_kinds(self.bridge, self.default_channel)

    @property
    def notifications(self) -> bool:
        return bool(self.kinds)

    def channels(self) -> list[tuple[str, str]]:
        """(channel as written, where it is written) of every routed channel and the admin
        channel, once each."""
        found: dict[str, str] = {}
        for index, route in enumerate(self.bridge.routes, start=1):
            if route.channel:  # a `dm = "owner"` route has none
                found.setdefault(route.channel, f"routes[{index}]")
        if self.default_channel:
            found.setdefault(self.default_channel, "DEFAULT_CHANNEL")
        if self.bridge.admin.channel:
            found.setdefault(self.bridge.admin.channel, "[admin] channel")
        return list(found.items())
