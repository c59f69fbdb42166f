"""The state every part of the simulated world shares, and the helpers they all use."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.sim import _rc_data_calls as calls
from bot.sim._rc_data_account import Accounts
from bot.sim._rc_data_calls import CallRecord
from bot.sim._rc_data_calls_gen import CallSpec, build
from bot.sim._rc_data_errors import JSON, invalid, not_found
from bot.sim._rc_data_messages import MessageStore
from bot.sim._rc_data_paging import absolute
from bot.sim._rc_data_people import MAIN_NUMBER, OUTSIDERS, Extension, digits


class WorldBase:
    """Account, call log and message store of one simulated account, and its clock."""

    def __init__(
        self,
        rng: random.Random,
        accounts: Accounts,
        call_log: list[CallRecord],
        store: MessageStore,
        *,
        now: datetime,
        base_url: str,
        media_url: str | None,
        clock: Callable[[], float] | None,
    ) -> None:
        self._rng = rng
        self._acc = accounts
        self._calls = call_log
        self._store = store
        self._frozen_now = now
        self._clock = clock
        self.account_id = accounts.account_id
        self.main_number = MAIN_NUMBER  # E.164, the MainCompanyNumber
        self.service_extension_id = self._by_number("101").id  # the service user
        self.base_url = base_url  # e.g. "http://127.0.0.1:1234", no trailing slash; settable
        self.media_url = media_url or base_url  # host of content URIs; settable

    def now(self) -> datetime:
        """Current simulated time (UTC)."""
        if self._clock is None:
            return self._frozen_now
        return datetime.fromtimestamp(self._clock(), UTC)

    def _out(self, value: Any) -> Any:
        return absolute(value, self.base_url, self.media_url)

    def _by_number(self, number: str) -> Extension:
        for ext in self._acc.extensions:
            if ext.number == number:
                return ext
        raise not_found("extensionNumber")

    # -- account, extensions, numbers ------------------------------------------------------

    def check_account(self, account_id: str) -> None:
        """Accept `~` or this account's id, else SimError 404 CMN-102 [accountId]."""
        if account_id not in ("~", self.account_id):
            raise not_found("accountId")

    def resolve_extension_id(self, extension_id: str) -> str:
        """`~` → the service user's id; unknown → SimError 404 CMN-102 [extensionId]."""
        if extension_id == "~":
            return self.service_extension_id
        return self._acc.ext(extension_id).id

    def _add_call(
        self,
        extension_id: str,
        kind: str,
        direction: str,
        other_number: str,
        other_name: str | None,
        result: str,
        duration: int,
        *,
        recording_type: str | None = None,
        message: tuple[int, str] | None = None,
        session: tuple[str, str] | None = None,
    ) -> CallRecord:
        if direction not in calls.DIRECTIONS:
            raise invalid("direction", direction)
        ext = self._acc.ext(self.resolve_extension_id(extension_id))
        other: JSON = {"phoneNumber": other_number}
        if other_name:
            other["name"] = other_name
        inbound = direction == "Inbound"
        action = (
            ("Incoming Fax" if inbound else "Outgoing Fax")
            if kind == "Fax"
            else ("Phone Call" if inbound else "VoIP Call")
        )
        spec = CallSpec(
            ext,
            self.now() - timedelta(seconds=duration),
            direction,
            kind,
            other,
            result,
            duration,
            action,
            "VoIP" if action == "VoIP Call" else "PSTN",
            ext.direct_number,
            recording_type=recording_type,
            message=message,
        )
        if session is not None:  # (sessionId, telephonySessionId) of a simulated call
            spec.session_id, spec.telephony_session_id = session
        record = build(self._rng, self._acc, spec)
        self._calls.append(record)
        return record

    def _caller(self, number: str) -> JSON:
        """Caller-ID name and location for a known outside number."""
        for first_name, last, _company, phone, location in OUTSIDERS:
            if digits(phone) == digits(number):
                return {"name": f"{first_name} {last}", "location": location}
        return {}
