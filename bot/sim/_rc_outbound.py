"""What happens to an SMS after RingCentral's 200: the message moves from `Queued` to `Sent`
and `Delivered`, or fails with a documented error code (DOCS sms-errors.md, reference §4.1),
and every move is a message-store change of the sender's mailbox (counts, no ids, §3.2).

Per number, as a real account meets them:
- the sending number is not registered for business texting (its TCR campaign is not
  `Confirmed`, `_rc_authz.Texting`): `SendingFailed`, `SMS-UP-414` ("This phone number is
  not set up to send text messages");
- a recipient opted out (replied STOP): `SendingFailed`, `SMS-RC-413` (the docs' own
  example pairs this status with this code);
- a landline or an unallocated number: `SendingFailed`, `SMS-UP-410`;
- the carrier rejects it: `DeliveryFailed`, `SMS-CAR-431`;
- the carrier never reports: `DeliveryFailed`, `SMS-CAR-104` (the High Volume docs' example
  shows exactly this pair), or `silent`: it stays `Sent` for ever.
Unknown, so strict: which of `SMS-UP-414` and `SMS-CAR-414` an unregistered number draws
(both are documented with the same meaning) — the gateway's, since it refuses before any
carrier sees the text; whether a message-store change is sent for the move to `Sent`
(assumed yes: every status change is a change of the record).

A message to several recipients (group MMS) has a status per recipient (`to[].messageStatus`)
and an aggregate `messageStatus` by SPEC `MessageStatusEnum`'s rule: `Queued` while any is
queued, `SendingFailed` when any failed sending, else `Sent`; the simulator reports
`Delivered` or `DeliveryFailed` when all recipients agree, as a single-recipient record does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._rc_data_messages import MessageChange

__all__ = ["FATES", "Fate", "OutboundSms", "outbound"]


@dataclass(frozen=True)
class Fate:
    """Where a text to one recipient ends: its final status and error code (None: none)."""

    status: str
    code: str | None = None
    early: bool = False  # fails before it is ever `Sent`


FATES: Mapping[str, Fate] = {
    "delivered": Fate("Delivered"),
    "unregistered": Fate("SendingFailed", "SMS-UP-414", early=True),
    "opted_out": Fate("SendingFailed", "SMS-RC-413", early=True),
    "landline": Fate("SendingFailed", "SMS-UP-410", early=True),
    "carrier_rejected": Fate("DeliveryFailed", "SMS-CAR-431"),
    "no_report": Fate("DeliveryFailed", "SMS-CAR-104"),
    "silent": Fate("Sent"),
}

# (extension id, message id, {recipient: (status, code)}) -> the journal entries it made
Apply = Callable[[str, str, dict[str, tuple[str, str | None]]], list[MessageChange]]
Emit = Callable[[Sequence[MessageChange]], Awaitable[None]]


@dataclass
class OutboundSms:
    """The fates of recipients and numbers, and the running moves of sent texts."""

    recipients: dict[str, str] = field(default_factory=dict)  # E.164 -> FATES key
    # Seconds after the send: to `Sent` (or an early failure), then to the final status.
    sent_after: float = 0.05
    final_after: float = 0.15
    apply: Apply | None = None
    emit: Emit | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def fate(self, recipient: str, registered: bool) -> Fate:
        if not registered:
            return FATES["unregistered"]
        return FATES[self.recipients.get(recipient, "delivered")]

    def start(
        self,
        extension_id: str,
        message_id: str,
        fates: Mapping[str, Fate],
        created: Sequence[MessageChange],
    ) -> None:
        """Play a sent text's life in the background: its Create change at once, then its
        moves (the send's 200 has gone out by the time any of it is delivered)."""
        task = asyncio.get_running_loop().create_task(
            self._play(extension_id, message_id, dict(fates), list(created)),
            name=f"sim-sms-{message_id}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _play(
        self,
        extension_id: str,
        message_id: str,
        fates: dict[str, Fate],
        created: list[MessageChange],
    ) -> None:
        assert self.apply is not None and self.emit is not None
        await asyncio.sleep(0)  # the 200 first
        await self.emit(created)
        await asyncio.sleep(self.sent_after)
        first = {n: (f.status, f.code) if f.early else ("Sent", None) for n, f in fates.items()}
        await self.emit(self.apply(extension_id, message_id, first))
        if all(f.early for f in fates.values()):
            return
        await asyncio.sleep(max(0.0, self.final_after - self.sent_after))
        final = {n: (f.status, f.code) for n, f in fates.items() if not f.early}
        if any(status != "Sent" for status, _ in final.values()):
            await self.emit(self.apply(extension_id, message_id, final))

    async def settle(self, within: float = 10.0) -> None:
        """Wait until every sent text has reached where it ends."""
        deadline = asyncio.get_running_loop().time() + within
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError("sent texts still moving")
            await asyncio.wait(set(self._tasks), timeout=left)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def outbound(extras: dict[str, Any]) -> OutboundSms:
    value = extras.setdefault("outbound_sms", OutboundSms())
    assert isinstance(value, OutboundSms)
    return value


def aggregate(statuses: Sequence[str]) -> str:
    """A multi-recipient message's `messageStatus` (SPEC MessageStatusEnum)."""
    if "Queued" in statuses:
        return "Queued"
    if "SendingFailed" in statuses:
        return "SendingFailed"
    if len(set(statuses)) == 1:
        return statuses[0]
    return "Sent"
