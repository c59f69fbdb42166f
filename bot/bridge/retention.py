"""Retention (`[retention] days`, DESIGN §3.10): delivered inbox rows, audit rows, the
texts sent (their receipts followed), the auto replies done and the reminders posted older
than that are deleted (a reminder not before its items can be reminded of again), dead
letters after 90 days (or when replayed). A periodic task of the leading process (the
subscription's leader lock): one process deletes, the others need not (the deletes are
harmless twice, but each is a scan of a big table). The admin desk's loop runs the rounds
(`bot.bridge.admin`), on real time: a fake clock's sleep would jump an hour."""

from __future__ import annotations

import logging
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta

from bot.clock import Clock
from bot.store.deadletters import DeadLetters, Purged

from .subscriptions import Leadership

__all__ = ["RETENTION_EVERY", "Retention"]

log = logging.getLogger("bot.bridge.retention")

RETENTION_EVERY = 3600.0  # seconds between rounds
START_DELAY = 60.0  # the first round: by then the leader is known


@dataclass
class Retention:
    dead_letters: DeadLetters
    clock: Clock
    days: int
    leadership: Leadership | None = None
    # Reminders are kept at least this long (`bot.bridge.reminders.reminders_needed`).
    reminders_needed: timedelta = timedelta(0)

    async def run_once(self) -> Purged | None:
        """One round, if this process leads (None otherwise)."""
        if self.leadership is not None and not self.leadership.leading:
            return None
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        purged = await self.dead_letters.purge(
            now=now, days=self.days, reminders_needed=self.reminders_needed
        )
        if any(astuple(purged)):
            log.info(
                "retention: deleted %d delivered inbox rows, %d audit rows, %d texts sent, "
                "%d auto replies and %d reminders older than %d days, %d dead letters older "
                "than 90 days",
                purged.deliveries, purged.audit, purged.texts, purged.auto_replies,
                purged.reminders, self.days, purged.dead,
            )  # fmt: skip
        return purged
