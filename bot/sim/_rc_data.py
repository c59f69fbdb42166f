"""The RingCentral simulator's data world: one generated account and the queries over it.

`World.generate(seed, now=...)` builds a deterministic account (extensions, numbers,
directory, contacts, a month of call log and message store). Every query returns the full
JSON body RingCentral would send, in the shapes of the official examples; every refusal is
a `SimError` the protocol layer renders. URIs are rendered at query time from
`World.base_url` (and `World.media_url` for message content), so they can be set after the
server has bound its port.

Extension ids: every `extension_id` argument accepts `"~"` (the service user, ext 101) or
an extension id as a string. Query arguments are `Mapping[str, str | Sequence[str]]`, e.g.
`{k: request.query.getall(k) for k in request.query}`; repeated names and comma-separated
values both count as arrays. This module does not check the account id in paths: call
`check_account()` first.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.sim import _rc_data_account as account
from bot.sim import _rc_data_calls as calls
from bot.sim._rc_data_account import Accounts
from bot.sim._rc_data_calls import CallRecord
from bot.sim._rc_data_calls_gen import generate_calls
from bot.sim._rc_data_errors import JSON, Content, Query, SimError, Upload
from bot.sim._rc_data_mail import WorldMessages
from bot.sim._rc_data_messages import MessageChange, MessageStore
from bot.sim._rc_data_messages_gen import (
    conversations,
    from_seeds,
    pager_messages,
)
from bot.sim._rc_data_people import (
    MAIN_NUMBER,
    company_numbers,
    digits,
    make_extensions,
    ringcentral_id,
)
from bot.sim._rc_data_sync import WorldSync

__all__ = ["JSON", "Content", "MessageChange", "Query", "SimError", "Upload", "World"]


class World(WorldMessages, WorldSync):
    """A simulated RingCentral account. Build it with `World.generate()`."""

    @classmethod
    def generate(
        cls,
        seed: int = 0,
        *,
        now: datetime,
        base_url: str = "http://127.0.0.1",
        media_url: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> World:
        """A deterministic account for `seed`, with history up to `now` (timezone-aware).

        `clock` (epoch seconds, e.g. `FakeClock().now`) is the time of later queries and
        mutations; without it, time stands still at `now`.
        """
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        rng = random.Random(seed)
        account_id = ringcentral_id(rng)
        exts = make_extensions(rng)
        path = f"/restapi/v1.0/account/{account_id}"
        acc = Accounts(
            account_id,
            ringcentral_id(rng),
            exts,
            company_numbers(rng),
            account.make_contacts(rng, path, exts),
        )
        call_log, seeds = generate_calls(rng, acc, now)
        store = MessageStore(path, rng)
        from_seeds(rng, store, acc, seeds, now)
        conversations(rng, store, acc, now)
        pager_messages(rng, store, acc, now)
        return cls(
            rng, acc, call_log, store, now=now, base_url=base_url, media_url=media_url, clock=clock
        )

    def extension_ids(self) -> list[str]:
        """All extension ids (users, IVR menu, department)."""
        return [e.id for e in self._acc.extensions]

    def set_contact_email(self, extension_number: str, email: str) -> None:
        ext = next(e for e in self._acc.extensions if e.number == extension_number)
        ext.contact_email = email

    def extension_info(self, extension_id: str) -> JSON:
        """`GET /account/~/extension/{id}`: shape of extension-info-response.json."""
        ext = self._acc.ext(self.resolve_extension_id(extension_id))
        return self._out(account.extension_info(self._acc, ext))  # type: ignore[no-any-return]

    def extension_list(self, query: Query) -> JSON:
        """`GET /account/~/extension`: filters `extensionNumber`, `email`, `type[]`,
        `status[]`; paging."""
        return self._out(account.extension_list(self._acc, query))  # type: ignore[no-any-return]

    def phone_numbers(self, extension_id: str, query: Query) -> JSON:
        """`GET …/extension/{id}/phone-number`: filters `usageType[]`, `status`, paging."""
        ext_id = self.resolve_extension_id(extension_id)
        return self._out(account.phone_numbers(self._acc, ext_id, query))  # type: ignore[no-any-return]

    def numbers_with_feature(self, extension_id: str, feature: str) -> list[str]:
        """E.164 numbers of the extension whose `features` include `feature` (e.g. SmsSender)."""
        ext_id = self.resolve_extension_id(extension_id)
        return [n.phone_number for n in self._acc.numbers_of(ext_id) if feature in n.features]

    def set_number_features(self, phone_number: str, features: Sequence[str]) -> None:
        """A number's `features` (SmsSender, MmsSender, CallerId…), as an admin changes
        them in RingCentral."""
        wanted = digits(phone_number)
        for numbers in (*(e.numbers for e in self._acc.extensions), self._acc.company):
            numbers[:] = [
                dataclasses.replace(n, features=tuple(features))
                if digits(n.phone_number) == wanted
                else n
                for n in numbers
            ]

    def extension_of_number(self, phone_number: str) -> str | None:
        """Id of the extension owning an E.164 number (the main number → the IVR menu)."""
        wanted = digits(phone_number)
        for ext in self._acc.extensions:
            if any(
                digits(n.phone_number) == wanted
                for n in ext.numbers
                if n.usage_type == "DirectNumber"
            ):
                return ext.id
        if wanted == digits(MAIN_NUMBER):
            return next(e.id for e in self._acc.extensions if e.type == "IvrMenu")
        return None

    # -- directory and contacts ------------------------------------------------------------

    def directory_entries(self, query: Query) -> JSON:
        """`GET /account/~/directory/entries`: filter `type`, paging."""
        return account.directory_entries(self._acc, query)

    def directory_entry(self, entry_id: str) -> JSON:
        """`GET /account/~/directory/entries/{id}`: shape of directory-entry-response.json."""
        return account.directory_entry(self._acc, entry_id)

    def directory_search(self, body: dict[str, Any]) -> JSON:
        """`POST /account/~/directory/entries/search`: `searchString`, `searchFields[]`,
        `extensionType`, `page`, `perPage`."""
        return account.directory_search(self._acc, body)

    def contacts(self, extension_id: str, query: Query) -> JSON:
        """`GET …/extension/{id}/address-book/contact`: filters `phoneNumber[]`,
        `startsWith`, `sortBy[]`, paging."""
        ext_id = self.resolve_extension_id(extension_id)
        return self._out(account.contacts(self._acc, ext_id, query))  # type: ignore[no-any-return]

    # -- call log --------------------------------------------------------------------------

    def _level(self, extension_id: str | None) -> tuple[list[CallRecord], str]:
        if extension_id is None:
            return self._calls, self._acc.path()
        ext_id = self.resolve_extension_id(extension_id)
        return [r for r in self._calls if r.owner_id == ext_id], self._acc.path(ext_id)

    def call_log(self, extension_id: str | None, query: Query) -> JSON:
        """`GET …/extension/{id}/call-log` (or account level when `extension_id` is None)."""
        records, path = self._level(extension_id)
        body = calls.call_log(
            records, path, query, extension_level=extension_id is not None, now=self.now()
        )
        return self._out(body)  # type: ignore[no-any-return]

    def call_record(self, extension_id: str | None, record_id: str, query: Query) -> JSON:
        """`GET …/call-log/{id}` for one id (`view` honoured); 404 CMN-102 when unknown."""
        records, path = self._level(extension_id)
        return self._out(calls.call_record(records, path, record_id, query))  # type: ignore[no-any-return]

    def call_records(self, extension_id: str | None, record_ids: str, query: Query) -> list[JSON]:
        """Comma-separated ids (≤ 50) → the 207 parts `[{resourceId, status, body}]`."""
        records, path = self._level(extension_id)
        return self._out(calls.call_records(records, path, record_ids, query))  # type: ignore[no-any-return]

    def add_call(
        self,
        extension_id: str,
        *,
        direction: str,
        other_number: str,
        result: str,
        duration: int = 0,
        other_name: str | None = None,
        recording_type: str | None = None,
        session_id: str | None = None,
        telephony_session_id: str | None = None,
    ) -> JSON:
        """Record a finished Voice call (for simulated telephony events); returns Detailed.

        `session_id` / `telephony_session_id` tie it to the telephony session's events."""
        record = self._add_call(
            extension_id,
            "Voice",
            direction,
            other_number,
            other_name,
            result,
            duration,
            recording_type=recording_type,
            session=(session_id or "", telephony_session_id or "")
            if session_id or telephony_session_id
            else None,
        )
        return self._out(record.render(self._acc.path(record.owner_id), "Detailed"))  # type: ignore[no-any-return]
