"""Message sync and call-log sync: the typed resources over loopback HTTP against the
RingCentral simulator (which validates every request against the OpenAPI spec), and the
simulator's own strictness where RingCentral answers with an error (MSG-333, CLG-104,
403 without FullCompanyCallLog, the 250-record limit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.ringcentral import ApiError, RingCentralClient
from bot.ringcentral.resources import RECORD_LIMIT, needs_full_sync
from bot.sim import RingCentralSimulator

CALLER = "+14155550123"


@pytest.fixture
def client(rc_client: RingCentralClient) -> RingCentralClient:
    return rc_client


def now(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)


async def test_a_message_isync_answers_what_arrived_since_the_full_sync(
    client: RingCentralClient, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    full = await client.message_sync.full(date_from=now(clock), record_count=RECORD_LIMIT)
    assert full.records == () and full.sync_info.sync_type == "FSync"
    assert full.sync_info.sync_token

    sms = await rc_sim.incoming_sms(rc_sim.extension_id, CALLER, "while you were away")
    fax = await rc_sim.incoming_fax(rc_sim.extension_id, CALLER)
    step = await client.message_sync.incremental(full.sync_info.sync_token or "")

    assert step.sync_info.sync_type == "ISync"
    assert {r.id for r in step.records} == {sms.id, fax.id}
    again = await client.message_sync.incremental(step.sync_info.sync_token or "")
    assert again.records == ()  # the new token goes on from there
    request = rc_sim.requests_to(r"/message-sync$")[-1]
    assert request.query["syncType"] == ["ISync"]


async def test_a_message_full_sync_pages_backwards_while_older_records_exist(
    client: RingCentralClient, clock: FakeClock
) -> None:
    since = now(clock) - timedelta(days=20)  # the generated month of history has plenty
    first = await client.message_sync.full(date_from=since, record_count=10)
    assert len(first.records) == 10 and first.sync_info.older_records_exist
    oldest = min(r.creation_time for r in first.records if r.creation_time)
    older = await client.message_sync.full(date_from=since, date_to=oldest, record_count=10)

    assert max(r.creation_time for r in older.records if r.creation_time) <= oldest
    assert {r.id for r in first.records} != {r.id for r in older.records}


async def test_an_expired_message_token_asks_for_a_full_sync(
    client: RingCentralClient, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    full = await client.message_sync.full(date_from=now(clock), record_count=1)
    rc_sim.expire_sync_tokens()

    with pytest.raises(ApiError) as refused:
        await client.message_sync.incremental(full.sync_info.sync_token or "")

    assert refused.value.error_code == "MSG-333" and needs_full_sync(refused.value)


async def test_a_message_isync_past_its_limit_asks_for_a_full_sync(
    client: RingCentralClient, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    rc_sim.message_isync_limit = 2
    full = await client.message_sync.full(date_from=now(clock), record_count=1)
    for n in range(3):
        await rc_sim.incoming_sms(rc_sim.extension_id, CALLER, f"text {n}")

    with pytest.raises(ApiError) as refused:
        await client.message_sync.incremental(full.sync_info.sync_token or "")

    assert needs_full_sync(refused.value)


async def test_a_token_of_another_extension_is_refused(
    client: RingCentralClient, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    full = await client.message_sync.full(date_from=now(clock), record_count=1)
    other = next(e for e in rc_sim.world.extension_ids() if e != rc_sim.extension_id)

    with pytest.raises(ApiError) as refused:
        await client.message_sync.for_extension(other).incremental(full.sync_info.sync_token or "")

    assert refused.value.error_code == "CMN-101" and not needs_full_sync(refused.value)


async def test_a_call_log_isync_answers_a_missed_call_with_its_telephony_session(
    client: RingCentralClient, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    # The calls end now and began before: a frame from now would not hold them.
    since = now(clock) - timedelta(minutes=5)
    full = await client.call_log_sync.full(
        record_count=1, date_from=since, status_group="Missed", view="Detailed"
    )
    missed = await rc_sim.call(
        "missed", caller=CALLER, extension_id=rc_sim.extension_id, pace=False
    )
    answered = await rc_sim.call(
        "answered", caller=CALLER, extension_id=rc_sim.extension_id, pace=False
    )

    step = await client.call_log_sync.incremental(
        full.sync_info.sync_token, status_group="Missed", view="Detailed"
    )

    assert [r.telephony_session_id for r in step.records] == [missed.telephony_session_id]
    assert step.records[0].result == "Missed" and step.records[0].legs
    everything = await client.call_log_sync.incremental(
        full.sync_info.sync_token, status_group="All"
    )
    assert {r.telephony_session_id for r in everything.records} == {
        missed.telephony_session_id,
        answered.telephony_session_id,
    }


async def test_the_call_log_refuses_what_its_spec_refuses(
    client: RingCentralClient, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    full = await client.call_log_sync.full(record_count=1, date_from=now(clock))
    with pytest.raises(ApiError, match="dateFrom"):
        await client.call_log_sync.full(record_count=10, date_from=now(clock) - timedelta(days=31))
    with pytest.raises(ApiError, match="recordCount"):  # mandatory for FSync
        await client.request("GET", "/restapi/v1.0/account/~/call-log-sync")

    rc_sim.expire_sync_tokens()
    with pytest.raises(ApiError) as refused:
        await client.call_log_sync.incremental(full.sync_info.sync_token)
    assert refused.value.error_code == "CLG-104" and needs_full_sync(refused.value)


async def test_a_call_log_isync_answers_at_most_250_records(
    client: RingCentralClient, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    since = now(clock) - timedelta(minutes=5)
    full = await client.call_log_sync.full(record_count=1, date_from=since, account=True)
    for n in range(RECORD_LIMIT + 5):
        rc_sim.world.add_call(
            rc_sim.extension_id, direction="Inbound", other_number=CALLER, result="Missed"
        )
        clock.advance(1)
        del n

    step = await client.call_log_sync.incremental(full.sync_info.sync_token, account=True)

    assert len(step.records) == RECORD_LIMIT  # the 5 oldest are not answered: full-sync
    assert all(r.extension is not None for r in step.records)  # company records say whose


async def test_the_company_call_log_needs_full_company_call_log(
    client: RingCentralClient, rc_sim: RingCentralSimulator
) -> None:
    rc_sim.company_call_log = False

    with pytest.raises(ApiError) as refused:
        await client.call_log_sync.full(record_count=1, account=True)
    assert refused.value.status == 403
    assert [e.error_code for e in refused.value.errors] == ["CMN-408"]
    assert "FullCompanyCallLog" in refused.value.errors[0].message

    own = await client.call_log_sync.full(record_count=1)  # its own log stays readable
    assert own.sync_info.sync_token
