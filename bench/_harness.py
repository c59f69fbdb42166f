"""The bridge on loopback for benchmarks: both simulators, the real server, a Slack client.

Three parts, each usable alone by future benchmarks:

- `Simulators`: the RingCentral and Slack simulators, served in a *child process* of their
  own (wall clock, RingCentral rate limits raised, no OpenAPI validation), so that the work
  they do for the bridge does not sit in the same event loop as the client that measures.
  The parent talks to the child over a pipe: it gets the URLs and credentials, asks for
  response_urls, and reads counts (requests made, replies received); tests also drive
  faults and events through it (Slack failures, "store then fail", an incoming SMS) and
  read what the simulators hold (subscriptions, Slack calls and messages).
- `ServerProcess` (`python -m bot serve` with env vars pointing at the simulators, as a
  deployment runs it) and `InProcessServer` (`create_app` in this process's event loop):
  both expose `url`, `start()`, `close()` and `metrics_text()`.
- `SlashClient`: sends signed slash commands as Slack does and times each one from the
  moment the request is sent until the whole response is read.

Everything listens on 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import aiohttp

HOST = "127.0.0.1"
CHANNEL = "C0GENERAL"
USER = "U0ALICE"
READY_TIMEOUT = 20.0  # seconds for a server to answer /healthz
PIPE_TIMEOUT = 30.0  # seconds for the simulator process to answer a request
STOP_TIMEOUT = 10.0  # seconds for a server to exit after SIGTERM (RELIABILITY R17)

# Per minute; high enough that nothing in a benchmark is ever throttled by the simulator.
RAISED_LIMITS: Mapping[str, int] = {
    "Light": 1_000_000,
    "Medium": 1_000_000,
    "Heavy": 1_000_000,
    "Auth": 10_000,
    "sms": 1_000_000,
}


# -- the simulators, in a child process -----------------------------------------------------


@dataclass(frozen=True)
class SimOptions:
    latency: float = 0.0  # seconds the RingCentral simulator adds to every request
    ringout_caller_after: float = 0.2  # seconds until a simulated RingOut's first leg answers
    ringout_callee_after: float = 0.2  # then until the second leg answers
    limits: Mapping[str, int] = field(default_factory=lambda: dict(RAISED_LIMITS))


@dataclass(frozen=True)
class SimInfo:
    """What a server needs to reach the simulators (simulator credentials only)."""

    rc_server_url: str
    rc_media_url: str
    rc_client_id: str
    rc_client_secret: str
    rc_jwt: str
    slack_api_url: str
    slack_bot_token: str
    slack_signing_secret: str

    def server_env(self) -> dict[str, str]:
        return {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "SLACK_API_URL": self.slack_api_url,
            "RINGCENTRAL_SERVER_URL": self.rc_server_url,
            "RINGCENTRAL_MEDIA_URL": self.rc_media_url,
            "RINGCENTRAL_CLIENT_ID": self.rc_client_id,
            "RINGCENTRAL_CLIENT_SECRET": self.rc_client_secret,
            "RINGCENTRAL_JWT": self.rc_jwt,
        }


@dataclass(frozen=True)
class SimStats:
    rc_requests: int
    rc_statuses: dict[int, int]
    rc_endpoints: dict[str, int]
    slack_api_calls: int
    response_posts: dict[str, int]  # response_url -> posts received

    @property
    def replies(self) -> int:
        return sum(self.response_posts.values())


_ID = re.compile(r"/(?!v1\.0/)(?=[^/]*\d)[^/]+")


def endpoint(method: str, path: str) -> str:
    """`GET /restapi/v1.0/account/~/extension/~/call-log` with ids folded to `{id}`."""
    return f"{method} {_ID.sub('/{id}', path)}"


def _sim_process(conn: Connection, options: SimOptions) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    asyncio.run(_sim_main(conn, options))


async def _sim_main(conn: Connection, options: SimOptions) -> None:
    from bot.sim.ringcentral import RingCentralSimulator
    from bot.sim.slack import SlackSimulator

    rc = RingCentralSimulator(latency=options.latency)  # wall clock; no openapi_path
    for group, limit in options.limits.items():
        rc.set_limit(group, limit)
    script = rc.ringout_script()
    script.caller_after = options.ringout_caller_after
    script.callee_after = options.ringout_callee_after
    slack = _faulty_slack(SlackSimulator)()
    slack.add_channel(CHANNEL, "general", member=True)
    slack.add_user(USER, "alice", real_name="Alice Example", display_name="Alice")
    loop = asyncio.get_running_loop()
    async with rc.serve(HOST), slack.serve():
        conn.send(
            SimInfo(
                rc_server_url=rc.server_url,
                rc_media_url=rc.media_url,
                rc_client_id=rc.client_id,
                rc_client_secret=rc.client_secret,
                rc_jwt=rc.jwt,
                slack_api_url=slack.api_url,
                slack_bot_token=slack.tokens[0],
                slack_signing_secret=slack.signing_secret,
            )
        )
        allocated: list[str] = []
        while True:
            try:
                op, arg = await loop.run_in_executor(None, conn.recv)
            except EOFError:
                return  # the parent is gone
            if op == "urls":
                urls = [slack.response_url(channel_id=CHANNEL, user_id=USER) for _ in range(arg)]
                allocated.extend(urls)
                conn.send(urls)
            elif op == "stats":
                requests = list(rc.requests)
                conn.send(
                    SimStats(
                        rc_requests=len(requests),
                        rc_statuses=dict(Counter(r.status for r in requests)),
                        rc_endpoints=dict(Counter(endpoint(r.method, r.path) for r in requests)),
                        slack_api_calls=len(slack.calls()),
                        response_posts={u: len(slack.responses(u)) for u in allocated},
                    )
                )
            elif op in _TEST_OPS:
                try:
                    conn.send(await _test_op(op, arg, rc, slack))
                except Exception as exc:  # the parent raises it; the child keeps serving
                    conn.send(SimFailure(f"{op}: {type(exc).__name__}: {exc}"))
            else:
                conn.send(None)
                return


@dataclass(frozen=True)
class SimFailure:
    """A test operation the simulator process could not do (raised in the parent)."""

    message: str


@dataclass(frozen=True)
class SlackCall:
    method: str
    status: int  # HTTP status answered
    ok: bool  # the answer's "ok"


# Operations for benchmarks (bench/rc_economy.py): real account events, answered by the child.
_BENCH_OPS = frozenset({"rc_event", "slack_post_log"})
_RC_EVENTS = frozenset({"incoming_sms", "incoming_voicemail", "incoming_fax", "call"})

# Operations for tests, answered by the child; anything else (e.g. "stop") ends it.
_TEST_OPS = frozenset(
    {
        "slack_fail",
        "slack_store_then_fail",
        "slack_clear_faults",
        "slack_calls",
        "slack_messages",
        "rc_subscriptions",
        "rc_incoming_sms",
        # soak tests (tests/soak/)
        "slack_add_channels",
        "slack_call_log",
        "slack_posts",
        "rc_expire_tokens",
        "rc_throttle",
        "rc_request_log",
        "rc_secrets",
    }
)
_TEST_OPS = _TEST_OPS | _BENCH_OPS


def _faulty_slack(base: type[Any]) -> type[Any]:
    """`base` (the SlackSimulator) with one more fault: "store then fail" — the method does
    its work (a chat.postMessage is stored in the channel) and the answer is a 5xx anyway,
    as when Slack acts and its answer is lost (RELIABILITY R2: the post→commit window)."""

    class FaultySlack(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.after_faults: list[list[Any]] = []  # [method, status, remaining or -1]

        def _dispatch(self, method: str, request: Any, params: Any) -> Any:
            from aiohttp import web

            response = super()._dispatch(method, request, params)
            for fault in self.after_faults:
                if fault[0] not in (method, "*") or response.status != 200:
                    continue
                if json.loads(response.text or "{}").get("ok") is not True:
                    continue
                if fault[2] > 0:
                    fault[2] -= 1
                    if fault[2] == 0:
                        self.after_faults.remove(fault)
                return web.json_response({"ok": False, "error": "internal_error"}, status=fault[1])
            return response

        def clear_faults(self) -> None:
            super().clear_faults()
            self.after_faults.clear()

    return FaultySlack


async def _test_op(op: str, arg: Any, rc: Any, slack: Any) -> Any:
    """One test operation, in the simulator process (see `Simulators`' methods)."""
    if op in _BENCH_OPS:
        return await _bench_op(op, arg, rc, slack)
    if op == "slack_fail":
        slack.fail(**arg)
        return None
    if op == "slack_store_then_fail":
        method, status, times = arg
        slack.after_faults.append([method, status, -1 if times is None else times])
        return None
    if op == "slack_clear_faults":
        slack.clear_faults()
        return None
    if op == "slack_calls":
        return [SlackCall(c.method, c.status, bool(c.response.get("ok"))) for c in slack.calls(arg)]
    if op == "slack_messages":
        return slack.messages(arg)
    if op == "rc_subscriptions":
        return [
            {
                "id": sub.id,
                "status": sub.status,
                "address": sub.address,
                "event_filters": list(sub.event_filters),
                "verification_token": sub.verification_token,
            }
            for sub in rc.subscriptions.values()
        ]
    if op == "rc_incoming_sms":
        message = await rc.incoming_sms(arg["extension_id"] or rc.extension_id, **arg["sms"])
        return {"id": message.id, "extension_id": message.extension_id}
    return _soak_op(op, arg, rc, slack)


def _soak_op(op: str, arg: Any, rc: Any, slack: Any) -> Any:
    """The operations the soak tests add (tests/soak/): more channels, timed call logs of
    both simulators, every post in every channel, token expiry, throttling, secrets."""
    if op == "slack_add_channels":
        for channel_id in arg:
            slack.add_channel(channel_id, channel_id.lower(), member=True)
        return None
    if op == "slack_call_log":
        return [
            {
                "method": c.method,
                "time": c.time,
                "status": c.status,
                "ok": c.ok,
                "channel": str(c.params.get("channel") or ""),
            }
            for c in slack.calls(arg)
        ]
    if op == "slack_posts":
        posts = []
        for channel in slack.workspace.channels.values():
            for m in channel.messages:  # top-level messages and thread replies
                posts.append(
                    {
                        "channel": channel.id,
                        "ts": m.get("ts"),
                        "thread_ts": m.get("thread_ts"),
                        "text": m.get("text"),
                        "blocks": m.get("blocks"),
                        "metadata": m.get("metadata"),
                    }
                )
        return posts
    if op == "rc_expire_tokens":
        rc.expire_access_tokens()
        return None
    if op == "rc_throttle":
        group, retry_after = arg
        rc.throttle(group, retry_after)
        return None
    if op == "rc_request_log":
        return [
            {
                "time": r.time,
                "method": r.method,
                "path": r.path,
                "status": r.status,
                "group": _rc_group(r.method, r.path),
            }
            for r in rc.requests
        ]
    if op == "rc_secrets":
        auth = rc._state.auth  # the simulator's own record of what it issued
        found = {rc.client_secret, rc.jwt, *auth.jwts}
        for session in auth.sessions.values():
            found.update((session.access_token, session.refresh_token))
        found.update(s.verification_token for s in rc.subscriptions.values())
        found.update(slack.tokens)
        found.add(slack.signing_secret)
        return sorted(t for t in found if t)
    raise ValueError(f"unknown test operation {op!r}")


def _rc_group(method: str, path: str) -> str:
    """The simulator's throttling group of a request ("" for OAuth and unknown paths)."""
    from bot.sim import _rc_routes

    if path.rstrip("/") in _rc_routes.OAUTH_PATHS:
        return "Auth"
    found = _rc_routes.match("platform", method, path)
    return found[0].group if found is not None else ""


def _slack_post_log(slack: Any, since: float | None) -> list[dict[str, Any]]:
    """Every chat.postMessage received (at or after `since`, simulator wall clock): time,
    status, ok, channel, thread_ts and the metadata's rc_uuid ("" without one)."""
    found = []
    for c in slack.calls("chat.postMessage"):
        if since is not None and c.time < since:
            continue
        metadata = c.params.get("metadata")
        payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
        found.append(
            {
                "time": c.time,
                "status": c.status,
                "ok": c.ok,
                "channel": str(c.params.get("channel") or ""),
                "thread_ts": c.params.get("thread_ts"),
                "rc_uuid": str((payload or {}).get("rc_uuid") or ""),
            }
        )
    return found


async def _bench_op(op: str, arg: Any, rc: Any, slack: Any) -> Any:
    """`rc_event`: (method, kwargs) — one of the RingCentral simulator's account events
    (`incoming_sms`, `incoming_voicemail`, `incoming_fax`, `call`), at the service user's
    extension unless kwargs name another; answers the event's id. `slack_post_log`: see
    `_slack_post_log`."""
    if op == "slack_post_log":
        return _slack_post_log(slack, arg)
    method, kwargs = arg
    if method not in _RC_EVENTS:
        raise ValueError(f"{op}: unknown RingCentral event {method!r}")
    kwargs = dict(kwargs)
    extension_id = kwargs.pop("extension_id", None) or rc.extension_id
    if method == "call":
        made = await rc.call(kwargs.pop("scenario"), extension_id=extension_id, **kwargs)
    else:
        made = await getattr(rc, method)(extension_id, **kwargs)
    return str(getattr(made, "id", "") or getattr(made, "session_id", ""))


class Simulators:
    """The simulators' child process, seen from the parent."""

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options or SimOptions()
        self._conn: Connection | None = None
        self._process: Any = None
        self._info: SimInfo | None = None

    @property
    def info(self) -> SimInfo:
        if self._info is None:
            raise RuntimeError("Simulators not started")
        return self._info

    async def start(self) -> SimInfo:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_sim_process, args=(child, self.options), name="bench-sims", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        info = await self._recv()
        assert isinstance(info, SimInfo)
        self._info = info
        return info

    async def _recv(self) -> Any:
        conn = self._conn
        assert conn is not None
        try:
            ready = await asyncio.to_thread(conn.poll, PIPE_TIMEOUT)
            if not ready:
                raise TimeoutError(f"simulator process silent for {PIPE_TIMEOUT} s")
            return conn.recv()
        except EOFError:
            raise RuntimeError("the simulator process exited (its traceback is above)") from None

    async def _ask(self, op: str, arg: Any = None) -> Any:
        assert self._conn is not None
        self._conn.send((op, arg))
        return await self._recv()

    async def response_urls(self, count: int) -> list[str]:
        urls = await self._ask("urls", count)
        assert isinstance(urls, list)
        return [str(u) for u in urls]

    async def stats(self) -> SimStats:
        stats = await self._ask("stats")
        assert isinstance(stats, SimStats)
        return stats

    # -- for tests: faults, events, inspection (answered by the simulator process) ----------

    async def _test(self, op: str, arg: Any = None) -> Any:
        answer = await self._ask(op, arg)
        if isinstance(answer, SimFailure):
            raise RuntimeError(f"simulator process: {answer.message}")
        return answer

    async def slack_fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        times: int | None = 1,
        retry_after: int | None = None,
    ) -> None:
        """`SlackSimulator.fail`: the next `times` calls of `method` fail (None: until
        `slack_clear_faults`), without doing anything."""
        await self._test(
            "slack_fail",
            {
                "method": method,
                "error": error,
                "status": status,
                "times": times,
                "retry_after": retry_after,
            },
        )

    async def slack_store_then_fail(
        self, method: str, *, status: int = 500, times: int | None = 1
    ) -> None:
        """The next `times` successful calls of `method` do their work (a message is
        stored) and answer `status` anyway."""
        await self._test("slack_store_then_fail", (method, status, times))

    async def slack_clear_faults(self) -> None:
        await self._test("slack_clear_faults")

    async def slack_calls(self, method: str | None = None) -> list[SlackCall]:
        """Every Slack Web API call received (of `method`), oldest first."""
        calls = await self._test("slack_calls", method)
        assert isinstance(calls, list)
        return calls

    async def slack_messages(self, channel: str = CHANNEL) -> list[dict[str, Any]]:
        """A channel's top-level messages as Slack holds them (with metadata)."""
        messages = await self._test("slack_messages", channel)
        assert isinstance(messages, list)
        return messages

    async def rc_subscriptions(self) -> list[dict[str, Any]]:
        """RingCentral's subscriptions: id, status, address, event_filters."""
        subs = await self._test("rc_subscriptions")
        assert isinstance(subs, list)
        return subs

    async def rc_incoming_sms(
        self,
        from_number: str,
        text: str,
        *,
        extension_id: str | None = None,
        to_number: str | None = None,
    ) -> dict[str, str]:
        """An SMS arrives at `extension_id` (default: the service user's) and is delivered
        to the matching subscriptions; returns {"id": message id, "extension_id": …}."""
        sms = {"from_number": from_number, "text": text, "to_number": to_number}
        answer = await self._test("rc_incoming_sms", {"extension_id": extension_id, "sms": sms})
        assert isinstance(answer, dict)
        return answer

    # -- for the soak tests (tests/soak/) ---------------------------------------------------

    async def slack_add_channels(self, channels: list[str]) -> None:
        """Public channels the bot is a member of."""
        await self._test("slack_add_channels", list(channels))

    async def slack_call_log(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every Slack call (of `method`): method, time (simulator wall clock), status, ok,
        channel."""
        calls = await self._test("slack_call_log", method)
        assert isinstance(calls, list)
        return calls

    async def slack_posts(self) -> list[dict[str, Any]]:
        """Every message in every channel, thread replies included: channel, ts, thread_ts,
        text, blocks, metadata."""
        posts = await self._test("slack_posts")
        assert isinstance(posts, list)
        return posts

    async def rc_expire_tokens(self) -> None:
        """Every access token RingCentral issued expires now (the next use answers 401)."""
        await self._test("rc_expire_tokens")

    async def rc_throttle(self, group: str, retry_after: float = 60) -> None:
        """A 429 penalty on `group` for everyone; each request during it restarts it."""
        await self._test("rc_throttle", (group, retry_after))

    async def rc_request_log(self) -> list[dict[str, Any]]:
        """Every RingCentral request: time (wall clock), method, path, status, group."""
        log = await self._test("rc_request_log")
        assert isinstance(log, list)
        return log

    async def rc_secrets(self) -> list[str]:
        """Every secret the simulators issued or hold (tokens, JWTs, verification tokens,
        the Slack bot token and signing secret), to look for in logs."""
        found = await self._test("rc_secrets")
        assert isinstance(found, list)
        return [str(s) for s in found]

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, EOFError, TimeoutError):
                await self._ask("stop")
            self._conn.close()
            self._conn = None
        if self._process is not None:
            await asyncio.to_thread(self._process.join, 5.0)
            if self._process.is_alive():
                self._process.terminate()
                await asyncio.to_thread(self._process.join, 5.0)
            self._process = None


# -- the server ----------------------------------------------------------------------------


class Server(Protocol):
    mode: str
    url: str  # the base URL, e.g. http://127.0.0.1:40123
    ready_seconds: float

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# Settings the server reads from the environment; a benchmark sets its own.
_SERVER_ENV_PREFIXES = ("SLACK_", "RINGCENTRAL_")
_SERVER_ENV_NAMES = {"DATABASE_URL", "BRIDGE_CONFIG", "DEFAULT_CHANNEL", "PUBLIC_URL", "DYNO"}


async def wait_ready(url: str, within: float = READY_TIMEOUT) -> float:
    """Poll `url`/healthz until it answers 200; return the seconds it took."""
    started = time.perf_counter()
    deadline = started + within
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return time.perf_counter() - started
            await asyncio.sleep(0.02)
    raise TimeoutError(f"{url}/healthz did not answer 200 within {within} s")


class ServerProcess:
    """`python -m bot serve` in a subprocess, configured by environment variables only.

    `kill()` ends it with SIGKILL (a crash) and leaves its directory; `start()` again runs a
    new process on the same port and the same database. `public_url=True` sets PUBLIC_URL
    to the server's own loopback URL (the server then makes its webhook subscription)."""

    mode = "subprocess"

    def __init__(
        self,
        info: SimInfo,
        *,
        extra_env: Mapping[str, str] | None = None,
        public_url: bool = False,
    ) -> None:
        self._info = info
        self._extra_env = dict(extra_env or {})
        self._dir = tempfile.TemporaryDirectory(prefix="ringbridge-bench-")
        self._port = free_port()
        self.url = f"http://{HOST}:{self._port}"
        if public_url:
            self._extra_env.setdefault("PUBLIC_URL", self.url)
        self.ready_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = Path(self._dir.name) / "server.log"

    @property
    def database_path(self) -> Path:
        """The SQLite file the server uses (it outlives `kill()`)."""
        return Path(self._dir.name) / "bench.db"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(_SERVER_ENV_PREFIXES) and k not in _SERVER_ENV_NAMES
        }
        env.update(self._info.server_env())
        env.update(
            HOST=HOST,
            PORT=str(self._port),
            DATABASE_URL=f"sqlite:///{self.database_path}",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.update(self._extra_env)
        return env

    async def start(self) -> None:
        started = time.perf_counter()
        if self._proc is not None and self._proc.poll() is None:
            raise RuntimeError("the server is already running")
        with self._log_path.open("ab") as log:  # a restart appends to the same log
            # The working directory is empty: no stray .env or bridge.toml is read.
            self._proc = subprocess.Popen(  # noqa: ASYNC220 - starting is instant
                [sys.executable, "-m", "bot", "serve"],
                cwd=self._dir.name,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            await wait_ready(self.url)
        except TimeoutError:
            raise RuntimeError(f"server did not start; its log:\n{self.log_tail()}") from None
        self.ready_seconds = time.perf_counter() - started

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def log_path(self) -> Path:
        """The server's log (every start appends to it)."""
        return self._log_path

    def log_text(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def terminate(self, within: float = STOP_TIMEOUT) -> tuple[float, int | None]:
        """SIGTERM (a graceful stop) keeping the directory for a restart: (seconds until it
        exited, exit code); after `within` seconds it is SIGKILLed and the code is None."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return 0.0, proc.returncode if proc is not None else None
        started = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = await asyncio.to_thread(proc.wait, within)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
            code = None
        return time.perf_counter() - started, code

    async def kill(self) -> None:
        """SIGKILL (no cleanup at all, as a crash); the database and log stay for a restart."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            await asyncio.to_thread(proc.wait, STOP_TIMEOUT)

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
        self._dir.cleanup()


class InProcessServer:
    """`create_app` served by this process's event loop (the client shares that loop)."""

    mode = "in-process"

    def __init__(self, info: SimInfo) -> None:
        self._info = info
        self._dir = tempfile.TemporaryDirectory(prefix="ringbridge-bench-")
        self.url = ""
        self.ready_seconds = 0.0
        self._runner: Any = None

    async def start(self) -> None:
        from aiohttp import web

        from bot.config import BridgeConfig, Settings
        from bot.server import create_app

        started = time.perf_counter()
        settings = Settings(
            _env_file=None,  # no .env: only what is given here
            slack_bot_token=self._info.slack_bot_token,
            slack_signing_secret=self._info.slack_signing_secret,
            slack_api_url=self._info.slack_api_url,
            ringcentral_server_url=self._info.rc_server_url,
            ringcentral_media_url=self._info.rc_media_url,
            ringcentral_client_id=self._info.rc_client_id,
            ringcentral_client_secret=self._info.rc_client_secret,
            ringcentral_jwt=self._info.rc_jwt,
            database_url=f"sqlite:///{self._dir.name}/bench.db",
        )
        runner = web.AppRunner(create_app(settings, BridgeConfig()), access_log=None)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        self.url = f"http://{HOST}:{runner.addresses[0][1]}"
        await wait_ready(self.url)
        self.ready_seconds = time.perf_counter() - started

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._dir.cleanup()


async def metrics_text(server_url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{server_url}/metrics") as resp:
        return await resp.text()


def metric_value(text: str, name: str) -> float:
    """The sum of the samples of `name` (any labels) in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# -- the client ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    status: int
    body: bytes
    seconds: float  # request sent -> response read


class SlashClient:
    """Signed slash commands over keep-alive loopback connections (at most `connections`)."""

    def __init__(self, info: SimInfo, *, connections: int = 8) -> None:
        from bot.sim.slack import SlackSimulator

        # Not served: only its signing (`sign`) is used, exactly as the simulator signs.
        self._signer = SlackSimulator(
            signing_secret=info.slack_signing_secret, token=info.slack_bot_token
        )
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SlashClient:
        connector = aiohttp.TCPConnector(limit=self._connections, force_close=False)
        self._session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def build(self, command: str, text: str, response_url: str) -> bytes:
        from bot.sim._slack_inbound import command_body
        from bot.sim.slack import slack_encode

        ws = self._signer.workspace
        fields = {
            "token": "sim-verification-token",
            "team_id": ws.identity.team_id,
            "team_domain": ws.identity.domain,
            "channel_id": CHANNEL,
            "channel_name": "general",
            "user_id": USER,
            "user_name": "alice",
            "command": command,
            "text": slack_encode(text),
            "api_app_id": ws.identity.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": ws.issue_trigger(),
        }
        return command_body(fields)

    async def send(self, url: str, command: str, text: str, response_url: str) -> Ack:
        """POST the command to `url`; the timer covers only the HTTP exchange."""
        assert self._session is not None, "use `async with SlashClient(...)`"
        body = self.build(command, text, response_url)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **self._signer.sign(body),
        }
        started = time.perf_counter()
        async with self._session.post(url, data=body, headers=headers) as resp:
            answer = await resp.read()
            elapsed = time.perf_counter() - started
            return Ack(resp.status, answer, elapsed)


# -- figures ---------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); `q` in [0, 100]."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def latency_summary(seconds: list[float]) -> dict[str, float | int]:
    ms = sorted(s * 1000 for s in seconds)
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p90_ms": round(percentile(ms, 90), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(ms[-1], 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
    }


# -- for benchmarks: RingCentral's side of the webhook (bench/ingest.py, end_to_end.py) -------


async def rc_event(sims: Simulators, method: str, **kwargs: Any) -> str:
    """One real account event in the RingCentral simulator (`incoming_sms`,
    `incoming_voicemail`, `incoming_fax`, or `call` with `scenario=`), delivered to the
    matching subscriptions; returns its id."""
    made = await sims._test("rc_event", (method, kwargs))
    return str(made)


async def slack_post_log(sims: Simulators, since: float | None = None) -> list[dict[str, Any]]:
    """Every chat.postMessage the Slack simulator received (at or after `since`, its wall
    clock): time, status, ok, channel, thread_ts, rc_uuid (from the message metadata)."""
    log = await sims._test("slack_post_log", since)
    assert isinstance(log, list)
    return log


def read_backlog(database: Path) -> dict[str, int]:
    """Work the server has not finished (read from its SQLite): deliveries pending, posts
    pending or sending."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as c:
        deliveries = c.execute("SELECT count(*) FROM inbox WHERE state = 'pending'").fetchone()
        posts = c.execute(
            "SELECT count(*) FROM posts WHERE state IN ('pending', 'sending')"
        ).fetchone()
    return {"pending_deliveries": int(deliveries[0]), "pending_posts": int(posts[0])}


def read_webhook_token(database: Path) -> str | None:
    """The verification token of the server's newest subscription (read from its SQLite)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as c:
        row = c.execute(
            "SELECT verification_token FROM subscriptions ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    return str(row[0]) if row else None


def read_inbox_bodies(database: Path, limit: int = 10) -> list[str]:
    """The first stored webhook deliveries (raw envelopes), oldest first."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as c:
        rows = c.execute("SELECT body FROM inbox ORDER BY id LIMIT ?", (limit,)).fetchall()
    return [str(r[0]) for r in rows]


def read_inbox_uuids(database: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as c:
        return {str(r[0]) for r in c.execute("SELECT uuid FROM inbox")}


async def add_webhook_token(database: Path, token: str, subscription_id: str = "bench") -> None:
    """Make the server at `database` accept `token` (a subscription row, as `subscriptions
    sync` would write it); the receiver re-reads tokens within a second of an unknown one."""
    from datetime import UTC, datetime

    from bot.store import SubscriptionRecord, SubscriptionStore, connect

    engine = connect(f"sqlite+aiosqlite:///{database}")
    try:
        now = datetime.now(UTC)
        await SubscriptionStore(engine).save(
            SubscriptionRecord(
                id=subscription_id,
                address="http://127.0.0.1/ringcentral/webhook",
                verification_token=token,
                filters=("/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS",),
                expires_at=None,
                status="Active",
                created_at=now,
            )
        )
    finally:
        await engine.dispose()


SMS_EVENT = "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS"


def sms_envelope(
    uuid: str, *, text: str = "bench", sender: str = "+16505550100", to: str = "+16505550001"
) -> bytes:
    """A RingCentral instant-SMS delivery (the documented shape, made-up ids) from `sender`
    to the company number `to`."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps(
        {
            "uuid": uuid,
            "event": SMS_EVENT,
            "timestamp": now,
            "subscriptionId": "bench",
            "ownerId": "1",
            "body": {
                "id": uuid,
                "to": [{"phoneNumber": to, "target": True}],
                "from": {"phoneNumber": sender},
                "type": "SMS",
                "creationTime": now,
                "lastModifiedTime": now,
                "readStatus": "Unread",
                "direction": "Inbound",
                "availability": "Alive",
                "subject": text,
                "messageStatus": "Received",
                "conversation": {"id": "1"},
                "eventType": "Create",
                "owner": {"extensionId": "1", "extensionType": "User"},
            },
        }
    ).encode()


@dataclass(frozen=True)
class Delivered:
    uuid: str
    status: int  # 0: no answer (connection error)
    sent_at: float  # time.time() when the request was sent (comparable with the simulators)
    seconds: float  # request sent -> response read


class WebhookSender:
    """POSTs deliveries as RingCentral does (its headers, a verification token), over
    keep-alive loopback connections (at most `connections`)."""

    def __init__(self, url: str, token: str, *, connections: int = 32) -> None:
        self.url = url
        self._token = token
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookSender:
        connector = aiohttp.TCPConnector(limit=self._connections)
        self._session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, uuid: str, body: bytes) -> Delivered:
        assert self._session is not None, "use `async with WebhookSender(...)`"
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "User-Agent": "RingCentral-Webhook/8.3",
            "Verification-Token": self._token,
        }
        sent_at = time.time()
        started = time.perf_counter()
        try:
            async with self._session.post(self.url, data=body, headers=headers) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, OSError):
            status = 0
        return Delivered(uuid, status, sent_at, time.perf_counter() - started)

    async def closed_loop(
        self, bodies: list[tuple[str, bytes]], concurrency: int
    ) -> tuple[list[Delivered], float]:
        """`concurrency` senders, each sending its next as soon as its last is answered."""
        results: list[Delivered] = []
        items = iter(bodies)

        async def worker() -> None:
            for uuid, body in items:
                results.append(await self.send(uuid, body))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
        return results, time.perf_counter() - started

    async def open_loop(
        self, bodies: list[tuple[str, bytes]], rate: float
    ) -> tuple[list[Delivered], float]:
        """One delivery every 1/`rate` seconds, on schedule whatever the answers take."""
        tasks: list[asyncio.Task[Delivered]] = []
        started = time.perf_counter()
        for i, (uuid, body) in enumerate(bodies):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.send(uuid, body)))
        done = list(await asyncio.gather(*tasks))
        return done, time.perf_counter() - started
