"""Personal RingCentral accounts (DESIGN §3.9 "Connected"): connecting one (authorization
code + PKCE), holding one whose email is not the person's until they confirm it, the
session kept and refreshed per person, disconnecting, and — for every other piece of the
bridge — `PersonalAccounts.acting(team, user)`: the RingCentral client acting for that
Slack person (their own session when they are connected, else the shared one).

Each person's client is built by the composition root (`client_for(identity)`): their
session sealed in the database under `person:<team>:<user>` and refreshed single-flight
across processes (the shared-token machinery), their own rate limits and penalties, and
the app's one token-endpoint window. No Settings are read here.

Order of things on a connection (the callback): the `state` is used up first (a forged,
expired or replayed one is refused before any token request); the code is exchanged with
the verifier stored for that `state` (at once: a code lives 60 s), into a pending session
of its own; an account other than the service user's is revoked at once and refused,
leaving a connection the person had as it was; otherwise the new session replaces theirs
and the old one is revoked (RingCentral keeps about five per user and app and ends the
oldest); an extension whose email is not the person's Slack email is held until they
confirm it.
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.ringcentral import AuthError, RingCentralClient, RingCentralError, make_pkce
from bot.slack import render
from bot.slack.render.personal import confirm_connection, connected, session_ended
from bot.store import Connection, Connections, ConnectStates, person_identity
from bot.store.outbound import SERVICE
from bot.tasks import Tasks

__all__ = [
    "CONNECT_TTL",
    "REFRESH_AHEAD",
    "Acting",
    "CallbackPage",
    "PersonalAccounts",
    "SessionEnded",
]

log = logging.getLogger("bot.slack.personal")

CONNECT_TTL = 600.0  # a Connect link works for 10 minutes (DESIGN §3.9)
REFRESH_AHEAD = 48 * 3600.0  # refresh a session whose refresh token has less left
REFRESH_EVERY = 1800.0  # how often the background refresh looks


class SessionEnded(RingCentralError):
    """RingCentral refused a connected person's session; they are disconnected and told
    (once). The command that met it is not sent on the shared session."""

    def __init__(self) -> None:
        super().__init__(
            "Your RingCentral connection has ended, so this was not sent. Type "
            "`/ringcentral connect` to connect again."
        )


@dataclass(frozen=True, slots=True)
class Acting:
    """Who acts for a Slack person: their own session (`connection` set) or the shared one."""

    rc: RingCentralClient
    connection: Connection | None = None

    @property
    def personal(self) -> bool:
        return self.connection is not None

    @property
    def identity(self) -> str:
        """Whose session this is, as the texts it sends are recorded (`outbound.identity`):
        "service", or the person's (`person_identity`)."""
        if self.connection is None:
            return SERVICE
        return person_identity(self.connection.team_id, self.connection.user_id)


@dataclass(frozen=True, slots=True)
class CallbackPage:
    """The callback's answer: an HTTP status and a small HTML page (all text escaped)."""

    status: int
    title: str
    message: str

    def html(self) -> str:
        title, message = html.escape(self.title), html.escape(self.message)
        return (
            '<!doctype html><html><head><meta charset="utf-8">'
            f"<title>{title}</title></head><body><h1>{title}</h1><p>{message}</p>"
            "<p>You can close this page and go back to Slack.</p></body></html>"
        )


class PersonalAccounts:
    """See the module docstring. `off` (a sentence for the person) when personal
    connections cannot work here: no RINGBRIDGE_SECRET_KEY, or no redirect URI."""

    def __init__(
        self,
        *,
        shared: RingCentralClient,
        clock: Clock,
        redirect_url: str | None = None,
        client_for: Callable[[str], RingCentralClient] | None = None,
        connections: Connections | None = None,
        states: ConnectStates | None = None,
        slack: AsyncWebClient | None = None,
        off: str | None = None,
        tasks: Tasks | None = None,
    ) -> None:
        self.shared = shared
        self._clock = clock
        self.redirect_url = redirect_url
        self._client_for = client_for
        self.connections = connections
        self._states = states
        self.slack = slack
        self.off = off
        self._tasks = tasks
        self._clients: dict[str, RingCentralClient] = {}

    def __repr__(self) -> str:
        return f"PersonalAccounts(off={self.off is not None})"

    @property
    def enabled(self) -> bool:
        return self.off is None and self._client_for is not None and self._states is not None

    def client(self, team_id: str, user_id: str) -> RingCentralClient:
        """The person's own client (their session, whether or not one is stored)."""
        found = self.client_of(person_identity(team_id, user_id))
        assert found is not None, "personal connections are off"
        return found

    def client_of(self, identity: str) -> RingCentralClient | None:
        """The client of a session by its identity: the shared one for "service", else
        the person's (a text is followed with the session that sent it); None when no
        personal session can be opened here (no RINGBRIDGE_SECRET_KEY)."""
        if identity == SERVICE:
            return self.shared
        if self._client_for is None:
            return None
        found = self._clients.get(identity)
        if found is None:
            found = self._clients[identity] = self._client_for(identity)
        return found

    # -- acting ----------------------------------------------------------------------------

    async def acting(self, team_id: str | None, user_id: str) -> Acting:
        """The RingCentral client acting for this Slack person: their own session when they
        are connected, else the shared one. SessionEnded when RingCentral has just refused
        their session (they are disconnected and told once)."""
        if self.connections is None or self._client_for is None or not team_id:
            return Acting(self.shared)
        connection = await self.connections.get(team_id, user_id)
        if connection is None or connection.state != "connected":
            return Acting(self.shared)
        client = self.client(team_id, user_id)
        try:
            await client.auth.session()
        except AuthError:
            await self.session_ended(connection)
            raise SessionEnded() from None
        return Acting(client, connection)

    async def texting_from(self, team_id: str | None, user_id: str, number: str) -> Acting:
        """Who texts from `number` for this person (DESIGN §3.9): their own session when
        they are connected and `number` is one of their SmsSender numbers, else the shared
        one. SessionEnded when RingCentral refuses their session on the way (they are
        disconnected and told once): the text is then not sent on the shared one."""
        acting = await self.acting(team_id, user_id)
        if acting.connection is None:
            return acting
        try:
            own = await acting.rc.account.numbers_with_feature("SmsSender")
        except AuthError:
            await self.session_ended(acting.connection)
            raise SessionEnded() from None
        if number in {n.phone_number for n in own}:
            return acting
        return Acting(self.shared)

    async def session_ended(self, connection: Connection) -> None:
        """RingCentral refused this person's session: disconnected here, told once (a DM;
        whichever process gets here first tells them)."""
        assert self.connections is not None
        now = self._clock.now()
        team, user = connection.team_id, connection.user_id
        await self.connections.set_state(
            team, user, "disconnected", now=now, reason="refused", expect="connected"
        )
        await self.client(team, user).auth.forget()
        if await self.connections.mark_told(team, user, now=now):
            log.warning("the RingCentral session of %s was refused; told them", user)
            await self._dm(user, session_ended())

    # -- connecting ------------------------------------------------------------------------

    async def start(self, team_id: str, user_id: str) -> str:
        """A new authorize URL for this person (its `state` bound to them, once, 10 min)."""
        assert self._states is not None and self.redirect_url is not None
        verifier, challenge = make_pkce()
        state = secrets.token_urlsafe(32)
        await self._states.add(
            state, team_id, user_id, verifier, now=self._clock.now(), ttl=CONNECT_TTL
        )
        return self.shared.authorize_url(self.redirect_url, state, challenge)

    async def finish(self, query: dict[str, str]) -> CallbackPage:
        """The callback: `query` as RingCentral redirected the browser with it."""
        if not self.enabled or self.connections is None or self._states is None:
            return CallbackPage(404, "Not available", self.off or "Personal connections are off.")
        state = query.get("state", "")
        if not state:
            return CallbackPage(400, "Not connected", "The link is incomplete (no state).")
        check = await self._states.take(state, now=self._clock.now())
        if check.outcome != "ok":
            why = {
                "unknown": "This link was not made by RingBridge.",
                "used": "This link was already used.",
                "expired": "This link has expired.",
            }[check.outcome]
            log.warning("connect callback refused: state %s", check.outcome)
            return CallbackPage(
                400, "Not connected", f"{why} Type /ringcentral connect in Slack for a new one."
            )
        if "error" in query or not query.get("code"):
            said = query.get("error_description") or query.get("error") or "no code was given"
            return CallbackPage(400, "Not connected", f"RingCentral said: {said}")
        team, user = check.team_id, check.user_id
        assert self.redirect_url is not None and self._client_for is not None
        # The new session is checked apart (its own sealed row) before it replaces a
        # session the person has: a refused sign-in leaves their connection as it was.
        pending = self._client_for(person_identity(team, user)[:56] + ":pending")
        try:
            # At once: a code lives 60 s, and the app's token-endpoint window is shared.
            tokens = await pending.exchange_code(query["code"], self.redirect_url, check.verifier)
            info = await pending.account.extension()
            ours = (await self.shared.account.extension()).account
        except AuthError as err:
            log.warning("connect: the code exchange was refused: %s %s", err.error,
                        err.error_code)  # fmt: skip
            await pending.auth.forget()
            return CallbackPage(400, "Not connected", "RingCentral refused the sign-in.")
        except RingCentralError as err:
            log.warning("connect: RingCentral failed: %s", type(err).__name__)
            await pending.auth.revoke()
            return CallbackPage(502, "Not connected", "RingCentral could not be reached.")
        theirs = info.account.id if info.account is not None else None
        if ours is None or theirs is None or str(theirs) != str(ours.id):
            await pending.auth.revoke()
            log.warning("connect refused: %s signed in to another RingCentral account", user)
            return CallbackPage(
                403,
                "Not connected",
                "That RingCentral user belongs to another company's account; sign in with "
                "your account at this company.",
            )
        client = self.client(team, user)
        old = await client.auth.stored()
        await client.auth.adopt(tokens)
        await pending.auth.forget()
        if old is not None and old.session_id != tokens.session_id:
            # Re-connecting ends the old session; after the page is answered, as the revoke
            # may wait its turn in the app's token-endpoint window.
            self._later(client.auth.revoke_session(old), "revoke the old session")
        extension_name = info.name or " ".join(
            p for p in ((info.contact.first_name, info.contact.last_name) if info.contact
                        else ()) if p
        ) or "your extension"  # fmt: skip
        email = info.contact.email if info.contact is not None else None
        held = not await self._same_email(user, email)
        connection = Connection(
            team_id=team,
            user_id=user,
            state="held" if held else "connected",
            extension_id=str(info.id),
            extension_number=info.extension_number,
            extension_name=extension_name,
        )
        await self.connections.put(connection, now=self._clock.now())
        who = extension_name + (f", ext. {info.extension_number}" if info.extension_number else "")
        if held:
            await self._dm(user, confirm_connection(extension_name, info.extension_number))
            return CallbackPage(
                200, "Almost connected", f"You signed in as {who}. Confirm it in Slack to finish."
            )
        await self._dm(user, connected(extension_name, info.extension_number))
        return CallbackPage(200, "Connected", f"RingBridge now acts as {who}.")

    async def confirm(self, team_id: str, user_id: str) -> Connection | None:
        """The person confirmed a held connection: it is theirs from now on."""
        if self.connections is None:
            return None
        now = self._clock.now()
        if await self.connections.set_state(team_id, user_id, "connected", now=now, expect="held"):
            return await self.connections.get(team_id, user_id)
        return None

    async def disconnect(self, team_id: str, user_id: str) -> bool:
        """Revoke the person's session at RingCentral and forget it here; whether there
        was a connection."""
        if self.connections is None or self._client_for is None:
            return False
        had = await self.connections.get(team_id, user_id) is not None
        await self._forget(team_id, user_id)
        return had

    async def deactivated(self, user_id: str) -> None:
        """A Slack account was deactivated (`user_change` with `deleted`): disconnected."""
        if self.connections is None:
            return
        for connection in await self.connections.of_user(user_id):
            await self._forget(connection.team_id, connection.user_id)
            log.info("disconnected %s: their Slack account was deactivated", user_id)

    async def _forget(self, team_id: str, user_id: str) -> None:
        client = self.client(team_id, user_id)
        if await client.auth.has_session():
            await client.auth.revoke()
        assert self.connections is not None
        await self.connections.remove(team_id, user_id)

    # -- in the background -----------------------------------------------------------------

    async def refresh_due(self) -> int:
        """Refresh every connected session whose refresh token has less than two days left
        (RingCentral's last about seven): a person who texts once a week stays connected.
        Answers how many were refreshed."""
        if self.connections is None or self._client_for is None:
            return 0
        refreshed = 0
        for connection in await self.connections.all("connected"):
            client = self.client(connection.team_id, connection.user_id)
            try:
                tokens = await client.auth.session()
                left = (tokens.refresh_expires_at or float("inf")) - self._clock.now()
                if left < REFRESH_AHEAD:
                    await client.auth.after_unauthorized(tokens.access_token.get_secret_value())
                    refreshed += 1
            except AuthError:
                await self.session_ended(connection)
            except RingCentralError as err:  # tried again at the next round
                log.warning("refresh of %s failed: %s", connection.user_id, type(err).__name__)
        return refreshed

    async def run(self, stop: asyncio.Event) -> None:
        """`refresh_due` every REFRESH_EVERY seconds (spread: each process starts at its
        own moment), until `stop`."""
        delay = float(secrets.randbelow(int(REFRESH_EVERY)))
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            try:
                await self.refresh_due()
            except Exception:  # a database hiccup: the next round tries again
                log.exception("the background refresh of personal sessions failed")
            delay = REFRESH_EVERY

    def _later(self, work: Coroutine[Any, Any, None], name: str) -> None:
        if self._tasks is None:
            asyncio.ensure_future(work)  # noqa: RUF006 - a test's; serve passes its Tasks
        else:
            self._tasks.spawn(work, name=name)

    # -- Slack -----------------------------------------------------------------------------

    async def _same_email(self, user_id: str, email: str | None) -> bool:
        """Whether the person's Slack email is the extension's (ignoring case). Unknown
        (no email, or Slack would not say: `users:read.email` missing) counts as not."""
        if not email or self.slack is None:
            return False
        try:
            response = await self.slack.users_info(user=user_id)
        except SlackApiError as err:
            log.warning("users.info for %s failed: %s", user_id, err.response.get("error"))
            return False
        profile: dict[str, Any] = (response.get("user") or {}).get("profile") or {}
        theirs = profile.get("email")
        return isinstance(theirs, str) and theirs.strip().lower() == email.strip().lower()

    async def _dm(self, user_id: str, reply: render.Reply) -> None:
        if self.slack is None:
            return
        try:
            opened = await self.slack.conversations_open(users=user_id)
            channel = str((opened.get("channel") or {}).get("id"))
            await self.slack.chat_postMessage(channel=channel, text=reply.text,
                                              blocks=reply.blocks)  # fmt: skip
        except SlackApiError as err:
            log.warning("DM to %s failed: %s", user_id, err.response.get("error"))
