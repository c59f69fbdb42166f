"""The account's facts (home country, time zone, numbers) over loopback to the RingCentral
simulator: cached for an hour; a refresh that fails keeps the last facts and asks again a
minute later, so that RingCentral failing at the hour does not stop every notification
from being rendered (each would count a failed attempt, then become a dead letter)."""

from __future__ import annotations

import pytest

from bot.clock import FakeClock
from bot.ringcentral import AccountFacts, RingCentralClient, RingCentralError
from bot.ringcentral._facts import STALE_RETRY
from bot.sim.ringcentral import RingCentralSimulator

EXTENSION = r"/restapi/v1.0/account/~/extension/~$"
HOUR = 3600.0


@pytest.fixture
def facts(rc_client: RingCentralClient, clock: FakeClock) -> AccountFacts:
    return AccountFacts(rc_client.account, clock, ttl=HOUR)


def extension_reads(rc_sim: RingCentralSimulator) -> int:
    return sum(1 for r in rc_sim.requests if r.method == "GET" and r.path.endswith("/extension/~"))


async def test_a_failed_refresh_keeps_the_last_facts_and_asks_again_a_minute_later(
    rc_sim: RingCentralSimulator, clock: FakeClock, facts: AccountFacts
) -> None:
    zone = await facts.timezone()
    region = await facts.region()
    assert extension_reads(rc_sim) == 1

    rc_sim.fail(EXTENSION, method="GET", status=503, times=None)
    clock.advance(HOUR)
    assert (await facts.timezone(), await facts.region()) == (zone, region)
    asked = extension_reads(rc_sim)
    assert asked > 1  # it tried
    for _ in range(10):  # every notification of the next minute: no request of its own
        assert await facts.timezone() == zone
    clock.advance(STALE_RETRY / 2)
    await facts.region()
    assert extension_reads(rc_sim) == asked

    rc_sim.clear_faults()
    clock.advance(STALE_RETRY / 2)
    assert await facts.region() == region
    assert extension_reads(rc_sim) == asked + 1  # asked again, and read


async def test_facts_never_read_raise_while_ringcentral_fails(
    rc_sim: RingCentralSimulator, facts: AccountFacts
) -> None:
    rc_sim.fail(EXTENSION, method="GET", status=503, times=None)
    with pytest.raises(RingCentralError):
        await facts.region()
