"""The admin channel (`[admin] channel`, DESIGN §3.10): the bridge tells its admin what is
wrong, once per problem, and when it is resolved.

Whoever finds a problem calls `AdminDesk.problem(key, title, detail)`, and `resolved(key,
detail)` when the next check of that thing passes. Keys are the problem's kind and subject
(`signin`, `subscription`, `subscription:filters`, `channel:C…`, `scope:reactions:write`,
`deadletters`, `catchup`, `slack_socket`). The report is kept in the database
(`bot.store.admin`), so a restart or a second process updates the same Slack message
rather than posting another; the message is posted or updated by `post_due()`, which
claims reports with a lease and calls Slack outside any transaction. Without a channel the
reports are still kept (and counted by `/healthz`) and logged.

What the desk finds itself, in `run()`: the sign-in (RELIABILITY R7: a refused refresh
leads to one JWT login and no report; a refused JWT is a report; while it is open the desk
makes the next JWT attempt every `SIGNIN_RETRY`, which resolves it when it passes),
dead letters (their count and the newest reason, never what anyone wrote), the channels
posts could not reach and the Slack scopes the token lacks; and it runs retention's
rounds (`retention`, set once the notification side is built).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.slack.render.admin import admin_report
from bot.slack.scopes import SCOPE_FEATURES, missing_scopes
from bot.store.admin import AdminReports, ReportRecord
from bot.store.deadletters import DeadLetters, DeadSummary

from .catchup import PassReport
from .retention import RETENTION_EVERY, START_DELAY, Retention
from .slack_errors import read_failure

__all__ = ["SIGNIN", "AdminDesk"]

log = logging.getLogger("bot.bridge.admin")

SIGNIN = "signin"
DEADLETTERS = "deadletters"
LEASE = timedelta(seconds=60)
TICK = 5.0  # seconds between the desk's looks (posting what lags; the sign-in)
DEAD_LETTER_EVERY = 60.0  # seconds between counts of the dead letters
SIGNIN_RETRY = 300.0  # RELIABILITY R7: at most one JWT attempt per 5 minutes
RETRY_MAX = 600.0
# Posts refused for good because of their channel: a problem of that channel (DESIGN §3.10,
# "a routed channel the bot cannot post to").
CHANNEL_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action",
     "cannot_join", "method_not_supported_for_channel_type"}
)  # fmt: skip
# OAuth outcomes of a token request that are not a refusal of the credentials.
_NOT_REFUSED = frozenset(
    {"ok", "rate_limited", "server_error", "transport_error", "invalid_response"}
)


class AdminDesk:
    def __init__(
        self,
        reports: AdminReports,
        dead_letters: DeadLetters,
        clock: Clock,
        *,
        channel: str | None,
        slack: AsyncWebClient | None,
        sign_in: Callable[[], Awaitable[object]] | None = None,
        signin_retry: float = SIGNIN_RETRY,
    ) -> None:
        """`channel`: `[admin] channel` (an id or `#name`, looked up at the first post);
        `slack`: the dispatcher's client (retries go through the database here too);
        `sign_in`: one RingCentral request as the service user (a JWT login when the
        session is gone)."""
        self.reports = reports
        self._dead = dead_letters
        self._clock = clock
        self._channel = channel
        self._channel_id = channel if channel and not channel.startswith("#") else None
        self._slack = slack
        self._sign_in = sign_in
        self._signin_retry = signin_retry
        self._signin_tried = -signin_retry
        self._signin_open = False
        self._dead_checked = -DEAD_LETTER_EVERY
        # Set by the composition root once the notification side is built (its leader).
        self.retention: Retention | None = None
        self._retain_at = clock.monotonic() + START_DELAY
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    # -- problems -------------------------------------------------------------------------

    async def problem(self, key: str, title: str, detail: str) -> None:
        if await self.reports.open(key, title, detail, now=self._now()):
            log.warning("admin: %s: %s", title, detail)
            self._wake.set()

    async def resolved(self, key: str, detail: str) -> None:
        if await self.reports.resolve(key, detail, now=self._now()):
            log.info("admin: resolved %s: %s", key, detail)
            self._wake.set()

    def later(self, step: Awaitable[None]) -> None:
        """Run `step` in the background (for observers that may not block); its failure
        is logged."""

        async def guarded() -> None:
            try:
                await step
            except Exception:
                log.exception("admin report failed")

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the reports handed to `later()` (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    # -- the sign-in (RELIABILITY R7) -----------------------------------------------------

    def token_grant(self, grant: str, outcome: str) -> None:
        """`TokenManager.on_grant`: a refused JWT login is a problem; any grant that works
        resolves it. A refused refresh is no problem: a JWT login follows at once."""
        if outcome == "ok":
            if self._signin_open:
                self._signin_open = False
                self.later(self._signin_works())
            return
        if grant != "jwt" or outcome in _NOT_REFUSED:
            return
        self._signin_open = True
        self._signin_tried = self._clock.monotonic()
        title = "RingCentral refused the bridge's sign-in (its JWT)"
        detail = (
            f"RingCentral answered `{outcome}` to the JWT login of the service user "
            "(needs_reauth). Deliveries are still stored, and are posted once the sign-in "
            "works; until then no notification is posted and commands on the shared session "
            "fail. Create a new JWT credential for the service user in the RingCentral "
            "developer console, set RINGCENTRAL_JWT to it and restart RingBridge. The bridge "
            "tries the JWT again every 5 minutes."
        )
        self.later(self.problem(SIGNIN, title, detail))

    async def _signin_works(self) -> None:
        await self.resolved(SIGNIN, "The RingCentral sign-in works again.")

    async def _retry_signin(self) -> None:
        """While the sign-in is refused, its next check: one JWT attempt every
        `signin_retry` seconds (the token manager refuses to try more often)."""
        if self._sign_in is None:
            return
        if not self._signin_open:
            report = await self.reports.get(SIGNIN)
            if report is None or not report.is_open:
                return
            self._signin_open = True  # opened by an earlier run, or another process
        if self._clock.monotonic() - self._signin_tried < self._signin_retry:
            return
        self._signin_tried = self._clock.monotonic()
        try:
            await self._sign_in()
        except Exception as exc:
            log.info("admin: the RingCentral sign-in still fails (%s)", type(exc).__name__)
            return
        self._signin_open = False
        await self._signin_works()

    # -- what others found ----------------------------------------------------------------

    async def catchup_report(self, report: PassReport) -> None:
        """Catch-up's `on_report`: what a pass recovered (the newest pass's words)."""
        if report.skipped or not report.recovered:
            return
        kinds: dict[str, int] = {}
        for notice in report.recovered:
            kinds[notice.kind] = kinds.get(notice.kind, 0) + 1
        what = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in kinds.items())
        count = len(report.recovered)
        title = (
            f"Catch-up recovered {count} item{'s' if count != 1 else ''} RingCentral had not sent"
        )
        detail = (
            f"After {report.reason}, the bridge read back from RingCentral what its events had "
            f"not brought: {what}. They are posted, marked late. Nothing was lost; this message "
            "is for knowing the events were interrupted."
        )
        await self.problem("catchup", title, detail)
        # Nothing to fix: told, and resolved at once.
        await self.resolved("catchup", detail)

    async def socket_report(self, subject: str, text: str) -> None:
        """`SlackSocket`'s `report=`: Socket Mode stopped (`link_disabled`, a refused app
        token). Resolved by a restart that connects (`socket_connected`)."""
        await self.problem(subject, "Slack's Socket Mode connection stopped", text)

    async def socket_connected(self) -> None:
        await self.resolved("slack_socket", "Socket Mode is connected again.")

    async def check_scopes(self) -> None:
        """The bot token's scopes against the manifest's: each missing one is a problem
        (it turns off only its feature), resolved when a later start finds it."""
        if self._slack is None:
            return
        try:
            answer = await self._slack.auth_test()
        except Exception as exc:
            log.warning("admin: auth.test failed: %s", _reason(exc))
            return
        header = answer.headers.get("x-oauth-scopes") or answer.headers.get("X-OAuth-Scopes")
        if header is None:
            return  # Slack did not say: no guess
        granted = {scope.strip() for scope in str(header).split(",") if scope.strip()}
        missing = set(missing_scopes(granted))
        for scope, feature in SCOPE_FEATURES.items():
            key = f"scope:{scope}"
            if scope in missing:
                await self.problem(
                    key,
                    f"The Slack app lacks the {scope} scope",
                    f"Without it, {feature}: off. Add {scope} to the app's Bot Token Scopes "
                    "(OAuth & Permissions) and reinstall the app.",
                )
            else:
                await self.resolved(key, f"The app has the {scope} scope.")

    # -- dead letters ---------------------------------------------------------------------

    async def check_dead_letters(self) -> None:
        summary = await self._dead.summary()
        await self._channels(summary)
        if summary.count == 0 or summary.newest is None:
            await self.resolved(DEADLETTERS, "No dead letters are left.")
            return
        newest = summary.newest
        where = f" to {newest.where}" if newest.where else ""
        title = f"{summary.count} item{'s' if summary.count != 1 else ''} could not be delivered"
        detail = (
            f"The newest, {newest.id} ({newest.what}{where}), failed: {newest.reason[:200]}. "
            "`python -m bot deadletters list` shows them all; once the cause is fixed, "
            "`python -m bot deadletters replay ID…` (or `--all`) tries them again."
        )
        await self.problem(DEADLETTERS, title, detail)

    async def _channels(self, summary: DeadSummary) -> None:
        """A channel posts died in for a reason of the channel's is a problem of its own,
        resolved when no such dead letter is left (replayed, or kept past retention)."""
        failing: dict[str, str] = {}
        for letter in await self._dead.newest():
            reason = letter.reason.split(":", 1)[0].strip()
            if letter.where and reason in CHANNEL_ERRORS:
                failing.setdefault(letter.where, reason)
        for channel, reason in failing.items():
            await self.problem(
                f"channel:{channel}",
                f"The bot cannot post to {channel}",
                f"Slack refused posts to {channel} ({reason}): its notifications are dead "
                "letters. Invite the bot to the channel (or unarchive it, or fix bridge.toml), "
                "then `python -m bot deadletters replay --all`.",
            )
        for report in await self.reports.all(open_only=True):
            if report.key.startswith("channel:") and report.key[8:] not in failing:
                await self.resolved(report.key, f"Nothing waits for {report.key[8:]} any more.")
        del summary

    # -- Slack ----------------------------------------------------------------------------

    async def post_due(self) -> int:
        """Post or update the messages that lag their report; how many were handled."""
        if self._slack is None or self._channel is None:
            return 0
        now = self._now()
        claimed = await self.reports.claim(now=now, lease=LEASE)
        for report in claimed:
            await self._show(report)
        return len(claimed)

    async def _show(self, report: ReportRecord) -> None:
        assert self._slack is not None
        message = admin_report(
            report.title, report.detail, resolved=not report.is_open,
            opened_at=report.opened_at, updated_at=report.updated_at,
        )  # fmt: skip
        try:
            channel = report.channel or await self._admin_channel()
            if report.ts is not None:
                answer = await self._slack.chat_update(
                    channel=channel, ts=report.ts, text=message.text, blocks=message.blocks
                )
            else:
                answer = await self._slack.chat_postMessage(
                    channel=channel, text=message.text, blocks=message.blocks,
                    unfurl_links=False, unfurl_media=False,
                )  # fmt: skip
        except Exception as exc:
            reason = _reason(exc)
            if report.ts is not None and reason == "message_not_found":
                # The admin deleted it: post a new one.
                await self.reports.failed(report, error=reason, retry_at=self._now())
                await self.reports.forget_message(report.key)
                return
            wait = min(RETRY_MAX, 5.0 * 2 ** min(report.attempts, 8))
            log.warning("admin channel: %s not shown (%s); again in %.0f s", report.key,
                        reason, wait)  # fmt: skip
            retry_at = self._now() + timedelta(seconds=wait)
            await self.reports.failed(report, error=reason, retry_at=retry_at)
            return
        await self.reports.shown(report, channel=str(answer["channel"]), ts=str(answer["ts"]))

    async def _admin_channel(self) -> str:
        if self._channel_id is not None:
            return self._channel_id
        assert self._slack is not None and self._channel is not None
        wanted = self._channel.removeprefix("#")
        cursor: str | None = None
        for _ in range(50):
            page = await self._slack.conversations_list(
                types="public_channel,private_channel", limit=1000, cursor=cursor,
                exclude_archived=True,
            )  # fmt: skip
            for found in page.get("channels") or []:
                if found.get("name") == wanted:
                    self._channel_id = str(found["id"])
                    return self._channel_id
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        raise LookupError(f"no Slack channel named {self._channel} that the bot can see")

    # -- the loop -------------------------------------------------------------------------

    async def run_once(self) -> None:
        """One look: the sign-in, retention (every RETENTION_EVERY), the dead letters
        (every DEAD_LETTER_EVERY), then post."""
        await self._retry_signin()
        if self.retention is not None and self._clock.monotonic() >= self._retain_at:
            self._retain_at = self._clock.monotonic() + RETENTION_EVERY
            await self.retention.run_once()
        if self._clock.monotonic() - self._dead_checked >= DEAD_LETTER_EVERY:
            self._dead_checked = self._clock.monotonic()
            await self.check_dead_letters()
        while await self.post_due():
            pass

    async def run(self, stop: asyncio.Event, *, scopes: bool = True) -> None:
        """Until `stop`: the scopes once, then a look every TICK seconds (at once when a
        problem is reported). A failed look is logged; the next one tries again."""
        if scopes:
            with contextlib.suppress(SlackApiError):
                await self.check_scopes()
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("admin desk: a look failed")
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, timeout=TICK,
                                   return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            finally:
                waiter.cancel()
                stopper.cancel()
        await self.settle()


def _reason(exc: Exception) -> str:
    """Slack's error code, or the exception's type (its text could quote a token)."""
    if isinstance(exc, LookupError):
        return str(exc)
    try:
        return read_failure(exc).reason
    except Exception:
        return type(exc).__name__
