"""Faults the Slack simulator injects into its Web API (`SlackSimulator.fail`).

A fault answers the next calls of a method (of one channel, if given) with a failure: an
`ok: false` error, a 429 with `Retry-After`, a 5xx, a dropped connection, or a garbled
`{"ok": true}` that lacks the method's fields. With `store`,
Slack first does the work (a message is stored) and fails anyway, as when Slack acted and
its answer was lost: the case a client cannot tell from a plain failure (RELIABILITY R2).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass
class SlackFault:
    """One injected failure; a test may change its fields while it is pending."""

    method: str  # "*" matches every method
    error: str
    status: int
    remaining: int  # calls left to fail; -1 until cleared
    retry_after: int | None = None
    channel: str | None = None  # only calls whose `channel` argument is this (ID or name)
    store: bool = False  # do the work first; fail only when it succeeded
    disconnect: bool = False  # close the connection instead of answering
    garbled: bool = False  # answer 200 `{"ok": true}` without the method's fields

    def matches(self, method: str, channels: tuple[str, ...]) -> bool:
        if self.method not in (method, "*"):
            return False
        return self.channel is None or self.channel in channels

    def answer(self, request: web.Request) -> web.Response:
        if self.disconnect and request.transport is not None:
            # The client sees the connection drop before any answer (a network error); the
            # response below is recorded as the call's outcome but never sent.
            request.transport.close()
        if self.garbled:
            # Not Slack's own behaviour: a proxy or a truncated answer. A client must not
            # trust such an answer, nor stall on it.
            return web.json_response({"ok": True})
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return web.json_response(
            {"ok": False, "error": self.error}, status=self.status, headers=headers
        )


def make_fault(
    method: str,
    *,
    error: str | None,
    status: int,
    times: int | None,
    retry_after: int | None,
    channel: str | None,
    store: bool,
    disconnect: bool,
    garbled: bool = False,
) -> SlackFault:
    """A fault with Slack's defaults: 429 answers `ratelimited` after 1 s; 5xx answers
    `internal_error`; an `ok: false` answer (status 200) needs its error code."""
    if status == 429:
        error = error or "ratelimited"
        retry_after = 1 if retry_after is None else retry_after
    elif status >= 500:
        error = error or "internal_error"
    elif not error and not garbled:
        raise ValueError("an ok:false fault needs an error code")
    if times is not None and times < 1:
        raise ValueError("times: at least 1, or None for every call until cleared")
    return SlackFault(
        method,
        error or "",
        status,
        -1 if times is None else times,
        retry_after,
        channel,
        store,
        disconnect,
        garbled,
    )


class Faults:
    """The pending faults, oldest first; each call takes at most one."""

    def __init__(self) -> None:
        self._pending: list[SlackFault] = []

    def add(self, fault: SlackFault) -> SlackFault:
        self._pending.append(fault)
        return fault

    def clear(self) -> None:
        self._pending.clear()

    def take(self, method: str, channels: tuple[str, ...], *, stored: bool) -> SlackFault | None:
        """The first fault for this call (`stored`: of those that fail after the work)."""
        for fault in self._pending:
            if fault.store == stored and fault.matches(method, channels):
                if fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._pending.remove(fault)
                return fault
        return None
