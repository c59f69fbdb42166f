"""Tables (DESIGN §4). Times are UTC, timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone: it is put back here)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: give the bridge aware UTC times")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class Audit(Base):
    """Every SMS sent and call placed from Slack: who, when, from, to, result."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    slack_user: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(16))  # "sms", "mms", "ringout"
    from_number: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(32))
    ringcentral_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(32))  # "sent", "queued", "refused", …
    error: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """The inbox: every authentic RingCentral delivery, stored before the 200.

    `state`: pending → done, or dead (unparseable, or failing past its maximum age).
    A dispatcher claims a row by setting `claimed_until` (a lease): a process that dies
    holding it simply lets the lease run out and another takes the row over.
    """

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    # What the event is about (a message id; a call's session, party and sequence), for
    # events that can reach the bridge twice under different uuids: while two WebSocket
    # connections overlap, each subscription delivers the same event (DESIGN §3.11).
    content_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    received_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Post(Base):
    """One Slack message to post (or posted): a notification in one channel.

    (kind, item, channel) is unique: a voicemail reaching the bridge by two filters, or a
    delivery processed twice, yields one post. `state`: pending → sending → done, or dead.
    `sending` is the ambiguous state after a crash: Slack may or may not have the message,
    so it is reconciled by its metadata before anything is posted again (DESIGN §3.7).
    """

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("kind", "item", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rc_uuid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    item: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32), index=True)
    thread_key: Mapped[str | None] = mapped_column(String(64))  # sms: company|other party
    notice: Mapped[str] = mapped_column(Text)  # the notice as JSON, re-rendered on update
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None]
    ts: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[str | None] = mapped_column(String(32))
    handled_at: Mapped[datetime | None]
    taken_by: Mapped[str | None] = mapped_column(String(32))  # "Take it" (DESIGN §3.12)
    taken_at: Mapped[datetime | None]


class Upload(Base):
    """A file to upload into a post's thread (voicemail audio, fax PDF, MMS image): its own
    recorded step after its message (DESIGN §3.7)."""

    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("post_id", "uri"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    uri: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(128))
    filename: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class ChannelPace(Base):
    """When a channel may next be posted to (Slack: about one message a second per channel,
    and a 429's Retry-After), shared by every process: a process takes the channel's slot
    in the transaction that marks its post `sending` (DESIGN §6, issue #10)."""

    __tablename__ = "channel_pace"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_slot: Mapped[datetime]


class Thread(Base):
    """An SMS conversation's Slack thread: one per (company number, other party, channel)."""

    __tablename__ = "threads"

    company_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    other_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent_post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    thread_ts: Mapped[str | None] = mapped_column(String(32), index=True)


class CallState(Base):
    """What the bridge knows of one telephony session (bot.bridge.calls.SessionState)."""

    __tablename__ = "call_state"

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(index=True)
    open: Mapped[bool] = mapped_column(default=True, index=True)


class Followup(Base):
    """A voicemail whose transcript is not there yet: fetched again until it is (then the
    row is deleted), claimed like other work; `state` pending, or dead with its `error`."""

    __tablename__ = "followups"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    extension_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    error: Mapped[str | None] = mapped_column(Text)


class Update(Base):
    """A posted message to show again (its transcript arrived, it was handled): one row
    per post, claimed and retried like a post (DESIGN §3.7). `revision` grows with each
    change asked for, so a change made while an update was in flight is shown too.
    `state`: pending → done, or dead with its `error`."""

    __tablename__ = "updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Subscription(Base):
    """The webhook subscription(s) this bridge made, with the token deliveries must carry."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(Text)
    verification_token: Mapped[str] = mapped_column(String(128))
    filters: Mapped[str] = mapped_column(Text)  # JSON list, as created
    expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class WsSession(Base):
    """The RingCentral WebSocket session of this bridge (DESIGN §3.11): its `wsc` token, so
    a process that takes over recovers the session, and the holder's last word on the
    connection, which every process's /healthz reads (`seen_at` goes stale when the holder
    dies)."""

    __tablename__ = "ws_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    wsc_token: Mapped[str | None] = mapped_column(Text)
    sequence: Mapped[int | None] = mapped_column(Integer)
    subscription_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime]
    seen_at: Mapped[datetime]


class Token(Base):
    """The RingCentral session of one identity (the service user), shared by every process
    so that all of them use one session and refresh it once (RELIABILITY §3)."""

    __tablename__ = "tokens"

    identity: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[str | None] = mapped_column(Text)  # TokenSet as JSON; None when cleared
    updated_at: Mapped[datetime]


class Penalty(Base):
    """A RingCentral rate-limit penalty: nothing goes to `group` for `identity` until
    `until`, from any process (every request during a penalty restarts it)."""

    __tablename__ = "penalties"

    identity: Mapped[str] = mapped_column(String(64), primary_key=True)
    group: Mapped[str] = mapped_column(String(32), primary_key=True)
    until: Mapped[datetime]


class Cursor(Base):
    """Where catch-up goes on reading one RingCentral source (DESIGN §3.10): a watched
    extension's messages (`messages:<id>`), or the call log (`calls:account`,
    `calls:<id>`). `token` continues the source's sync frame, `frame` says what that frame
    was made for, `synced_at` is when the last successful sync began (our clock), and
    `floors` (JSON, kind -> ISO time) is when each kind began to be watched here: nothing
    that happened before it is ever posted, so a fresh install posts no history."""

    __tablename__ = "cursors"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str | None] = mapped_column(Text)
    frame: Mapped[str | None] = mapped_column(String(64))
    synced_at: Mapped[datetime]
    floors: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class TokenClaim(Base):
    """Who is renewing an identity's RingCentral session right now, and until when: a
    lease kept alive by its holder, so no database transaction is held across the token
    request and a holder that died is replaced when its lease runs out."""

    __tablename__ = "token_claims"

    identity: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(32))
    until: Mapped[datetime]


class TokenRequest(Base):
    """A request sent to RingCentral's token endpoint (token, revoke, wstoken): the app's
    shared window, so every identity and process of one app stays under its Auth limit."""

    __tablename__ = "token_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app: Mapped[str] = mapped_column(String(64), index=True)
    identity: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)


class AdminReport(Base):
    """One problem the admin channel tells of (DESIGN §3.10), keyed by its kind and subject
    (`signin`, `subscription`, `channel:C…`, `scope:reactions:write`, `deadletters`…), so a
    restart or another process updates the same Slack message instead of repeating it.

    `version` grows at every change of what the message must say; `shown` is the version
    Slack shows (0: not posted yet). A row whose `shown` lags is work, claimed with a lease
    (`claimed_until`) like the other queues, so the Slack call is made outside any
    transaction and its write-back checks the lease is still ours."""

    __tablename__ = "admin_reports"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8), index=True)  # open | resolved
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    shown: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class LoginRefusal(Base):
    """RingCentral refused an identity's login (its JWT): remembered for every process, so
    that they make one attempt per interval between them (RELIABILITY R7). RingCentral's
    codes only, never its text."""

    __tablename__ = "login_refusals"

    identity: Mapped[str] = mapped_column(String(64), primary_key=True)
    error: Mapped[str] = mapped_column(String(64))
    error_code: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]


class SlackEvent(Base):
    """A person's reply in an SMS conversation's thread (DESIGN §3.8), stored before Slack
    gets its ack, then judged and texted (or kept in the team) by the dispatcher.

    Unique on Slack's `event_id` and on the message's `client_msg_id`: a retried event, in
    this process or another, stores nothing new. `state`: pending → sending → done, or
    dead. `sending` is set before RingCentral is asked: a row found `sending` after its
    lease ran out may have been texted, and is checked in the message store before any
    second send. `outcome` says what became of it (`texted`, `internal:<why>`, `empty`,
    `refused`…); `told` marks the row whose author was told why a reply stayed internal
    (once per person per thread).
    """

    __tablename__ = "slack_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_msg_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)  # the message event as Slack sent it (JSON)
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    told: Mapped[bool] = mapped_column(default=False)
    ringcentral_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_slack_events_message", "channel", "ts"),)


class Outbound(Base):
    """A text the bridge sent (DESIGN §3.8), recorded before the send: (from, to, text hash)
    tell its own texts from those sent outside Slack; the status RingCentral reports is
    followed (`state` pending, read again at `next_attempt_at`, claimed with a lease) until
    it ends, and the receipt Slack shows (`shown`) is brought in step with it."""

    __tablename__ = "outbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    identity: Mapped[str] = mapped_column(String(64))  # whose RingCentral session sent it
    extension_id: Mapped[str | None] = mapped_column(String(64), index=True)  # its mailbox
    from_number: Mapped[str] = mapped_column(String(32))
    to_numbers: Mapped[str] = mapped_column(Text)  # E.164, comma-separated
    text_hash: Mapped[str] = mapped_column(String(64), index=True)
    origin: Mapped[str] = mapped_column(String(16))  # reply, sms, text_back, auto_reply
    slack_user: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))  # the message receipts mark
    thread_ts: Mapped[str | None] = mapped_column(String(32))  # where a failure is explained
    response_url: Mapped[str | None] = mapped_column(Text)  # /sms: its reply is updated
    message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # sending, Queued … SendingFailed, refused
    error_code: Mapped[str | None] = mapped_column(String(64))
    shown: Mapped[str | None] = mapped_column(String(24))  # the receipt Slack shows
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None]


class UserLink(Base):
    """Who is whom (DESIGN §3.9, §4): one row per extension the link refresh looked at, and
    the Slack person it is (`slack_user`), or why nobody is (`how` "conflict": an email
    several extensions share, or a member who may not be linked). Replaced as a whole by
    each refresh; `dm_channel` is the person's DM with the bot, opened for DM routes."""

    __tablename__ = "user_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    extension_id: Mapped[str] = mapped_column(String(32), index=True)
    extension_number: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(255))
    direct_number: Mapped[str | None] = mapped_column(String(32))
    slack_user: Mapped[str | None] = mapped_column(String(32), index=True)
    how: Mapped[str] = mapped_column(String(16))  # email | config | conflict | unmatched
    detail: Mapped[str | None] = mapped_column(Text)
    dm_channel: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime]


# -- personal connections (issue #12) -----------------------------------------------------------


class PersonalConnection(Base):
    """A Slack person's own RingCentral account (DESIGN §3.9 "Connected"): which extension,
    and whether it is in use (`connected`), waiting for the person to confirm it in Slack
    (`held`: its email differs from theirs), or ended (`disconnected`, with the reason and
    when they were told). The session itself is in `tokens` (identity `person:T:U`),
    encrypted."""

    __tablename__ = "personal_connections"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    extension_id: Mapped[str] = mapped_column(String(32))
    extension_number: Mapped[str | None] = mapped_column(String(16))
    extension_name: Mapped[str] = mapped_column(String(128))
    ringout_from: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    told_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ConnectState(Base):
    """An authorize request in flight: the `state` (kept as its SHA-256, never in clear),
    the Slack person and team it is bound to, the PKCE verifier (encrypted), and until when
    it may be used, once (`used_at`)."""

    __tablename__ = "connect_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    verifier: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


# -- reminders (issue #14, DESIGN §3.12) --------------------------------------------------------


class ReminderChannel(Base):
    """A channel's reminder pace: when its last reminder was planned (`last_at`: at most one
    per interval) and when it last carried `<!here>` (`here_at`: once per hours-window).
    Locked (FOR UPDATE) while a reminder is planned, so two processes never plan two."""

    __tablename__ = "reminder_channels"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_at: Mapped[datetime | None]
    here_at: Mapped[datetime | None]


class Reminder(Base):
    """One reminder message to post (or posted) in a channel, planned with its items in one
    transaction, then claimed and posted like a post: `state` pending → sending → done (or
    dead); a row found `sending` is looked for in the channel by its metadata first."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime]
    here: Mapped[bool] = mapped_column(default=False)  # planned with `<!here>`
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None]
    ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)


class ReminderItem(Base):
    """A post listed in a reminder, and which of its three reminders (`step` 1, 2, 3: at
    remind_after, twice and four times it after its post) that listing was."""

    __tablename__ = "reminder_items"

    reminder_id: Mapped[int] = mapped_column(ForeignKey("reminders.id"), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), primary_key=True, index=True)
    step: Mapped[int] = mapped_column(Integer)


# -- auto reply (issue 14, DESIGN §3.12) --------------------------------------------------------


class AutoReply(Base):
    """A live missed call that a route with `auto_reply` may answer with a text: stored in
    the transaction that stores its post, judged and sent by the auto-reply step
    (bot/bridge/auto_reply.py), claimed with a lease like other work.

    `day` (the call's date in the account's time zone) is set only in the transaction that
    creates the send, and (caller, day) is unique: one text per caller per day across every
    route and process. `state`: pending → sending → done; `outcome` says what became of it
    (`sent`, `refused`, or why not: `extension`, `opted_out`, …); a row found `sending`
    after its lease ran out is never sent again (it may have gone)."""

    __tablename__ = "auto_replies"
    __table_args__ = (UniqueConstraint("caller", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item: Mapped[str] = mapped_column(String(128), unique=True)  # the missed call's
    caller: Mapped[str | None] = mapped_column(String(32))
    caller_extension: Mapped[str | None] = mapped_column(String(16))
    called: Mapped[str | None] = mapped_column(String(32))  # our number it called
    called_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(32))  # the route's post: its thread
    day: Mapped[str | None] = mapped_column(String(10))
    outbound_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Untextable(Base):
    """A number texts must not go to, remembered from what RingCentral reported (DESIGN
    §3.12): an earlier text failed as a landline or an invalid number (`landline`), or the
    person opted out (`opted_out`: a failure saying so, or their STOP; their START forgets
    it). Automated texts skip these numbers; people may still try."""

    __tablename__ = "untextable"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    why: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
