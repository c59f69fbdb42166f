"""No network I/O inside a transaction (issue #9, item 5): a call's caller name is asked of
RingCentral before the transaction that records the call and its notice, never inside it
(a transaction held across a RingCentral request holds the call's row, and on SQLite the
write lock, for as long as RingCentral takes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.clock import FakeClock
from bot.sim import RingCentralSimulator
from tests.bridge import CALLS, running_bridge
from tests.conftest import fresh_database

CONTACTS = "/address-book/contact"


async def test_the_caller_name_is_looked_up_with_no_transaction_open(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    listing = rc_sim.world.contacts(rc_sim.extension_id, {})
    contact = listing["records"][0]
    caller, name = contact["mobilePhone"], contact["firstName"]
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, database_url=url) as bridge:
        await bridge.subscribe()
        # Connections whose open transaction has read or written the call's state: the
        # transaction that judges the call (other work runs beside it in other lanes).
        judging: set[int] = set()

        def statement(conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
            if "call_state" in sql:
                judging.add(id(conn))

        def ended(conn: Any) -> None:
            judging.discard(id(conn))

        engine = bridge.engine.sync_engine
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", ended)
        event.listen(engine, "rollback", ended)
        seen: list[int] = []

        def arrival(_method: str, path: str) -> None:
            if path.endswith(CONTACTS):
                seen.append(len(judging))

        rc_sim.on_arrival = arrival
        # The caller's name is not in the event: the bridge asks the address book.
        await rc_sim.call("missed", caller=caller, extension_id=rc_sim.extension_id)
        await bridge.dispatch()

        assert seen == [0], "the name was asked for inside a transaction"
        (message,) = bridge.channel(CALLS)
        assert name in str(message["blocks"])  # and the notice still carries it
