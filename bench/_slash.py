"""Signed slash commands as Slack sends them, each timed from the moment the request is
sent until the whole response is read (what Slack's 3 s clock sees)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Self

from bot.sim import CHANNEL, USER, SimInfo, SlackSender


@dataclass(frozen=True)
class Ack:
    status: int
    body: bytes
    seconds: float  # request sent -> response read


class SlashClient:
    """Slash commands from U0ALICE in C0GENERAL, over at most `connections` keep-alive
    loopback connections; response_urls come from the simulators' process."""

    def __init__(self, info: SimInfo, *, connections: int = 8) -> None:
        self._sender = SlackSender(info.slack_signing_secret, connections=connections)

    async def __aenter__(self) -> Self:
        await self._sender.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._sender.__aexit__(*exc)

    async def send(self, url: str, command: str, text: str, response_url: str) -> Ack:
        """POST the command to `url`; the timer covers only the HTTP exchange."""
        request = self._sender.command_request(
            command, text, response_url=response_url, user_id=USER, channel_id=CHANNEL
        )
        started = time.perf_counter()
        answer = await self._sender.post(url, request)
        return Ack(answer.status, answer.body.encode(), time.perf_counter() - started)
