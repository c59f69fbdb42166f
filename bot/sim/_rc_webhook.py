"""The simulator's outgoing HTTP: the WebHook validation handshake and event deliveries.

Reference §2.2: POST with a `Validation-Token` header and an empty body; the answer must
come within 3000 ms, be 200, echo the header, and total ≤ 1024 bytes including headers
(else SUB-525; a missing `Content-Type: application/json` is the documented SUB-525 cause).
Reference §2.3: deliveries carry `Verification-Token`, `content-type: application/json;
charset=UTF-8`, `user-agent: RingCentral-Webhook/8.3`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from ._rc_http import SimResponse, api_error

HANDSHAKE_MAX_BYTES = 1024  # RingCentral: response ≤ 1024 bytes including headers
USER_AGENT = "RingCentral-Webhook/8.3"


@dataclass(frozen=True)
class DeliveryOutcome:
    status: int  # 0 when no HTTP answer came (refused, timed out)
    reason: str


class WebhookClient:
    """One aiohttp session for handshakes and deliveries, opened on first use."""

    def __init__(self, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def handshake(self, address: str) -> SimResponse | None:
        """None when the address passed the creation checks, else RingCentral's 400."""
        token = secrets.token_hex(16)
        try:
            async with self._client().post(
                address,
                data=b"",
                headers={"Validation-Token": token, "User-Agent": USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                body = await resp.read()
                size = len(f"HTTP/1.1 {resp.status} {resp.reason or ''}\r\n") + 2 + len(body)
                size += sum(len(k) + len(v) + 4 for k, v in resp.raw_headers)
                status, echoed = resp.status, resp.headers.get("Validation-Token")
                content_type = resp.headers.get("Content-Type", "")
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return api_error(400, "SUB-521", "WebHook is not reachable")
        if status != 200:
            return api_error(
                400,
                "SUB-522",
                f"WebHook responds with incorrect HTTP status. HTTP status is {status}",
            )
        if echoed != token:
            return api_error(400, "SUB-520", "Validation Token is not returned")
        if size > HANDSHAKE_MAX_BYTES or not content_type.lower().startswith("application/json"):
            return api_error(400, "SUB-525", "WebHook server response is invalid")
        return None

    async def post(self, address: str, body: bytes, headers: Mapping[str, str]) -> DeliveryOutcome:
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with self._client().post(
                address, data=body, headers=dict(headers), timeout=timeout
            ) as resp:
                await resp.read()
                return DeliveryOutcome(
                    resp.status,
                    f"Webhook responses with code: [{resp.status}], reason: [{resp.reason}]",
                )
        except TimeoutError:
            return DeliveryOutcome(0, "I/O operation is failed. Details: [Read timed out]")
        except aiohttp.ClientError as exc:
            return DeliveryOutcome(0, f"I/O operation is failed. Details: [{type(exc).__name__}]")


def delivery_headers(verification_token: str | None) -> dict[str, str]:
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/json; charset=UTF-8",
        "User-Agent": USER_AGENT,
    }
    if verification_token is not None:
        headers["Verification-Token"] = verification_token
    return headers
