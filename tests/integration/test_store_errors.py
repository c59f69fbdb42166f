"""An SQL error names its statement, never its values (RELIABILITY R19): the values are
stored RingCentral tokens, verification tokens and SMS text."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import Subscription, Token
from tests.leaks import leaked

SECRET = "rb-verification-0123456789abcdefghijklmnopqrstuvwxyz"
STORED_TOKENS = '{"access_token": "U0FBTVBMRS1BQ0NFU1MtVE9LRU4tMDEyMzQ1Njc4OQ"}'


async def test_an_integrity_error_carries_no_parameter(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    row = {
        "id": "sub-1", "address": "https://bridge.example/ringcentral/webhook",
        "verification_token": SECRET, "filters": "[]", "status": "Active", "created_at": now,
    }  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(Subscription.__table__.insert().values(**row))
        await conn.execute(
            Token.__table__.insert().values(
                identity="service", tokens=STORED_TOKENS, updated_at=now
            )
        )

    caplog.set_level(logging.DEBUG)
    with pytest.raises(IntegrityError) as raised:  # the same primary keys again
        async with engine.begin() as conn:
            await conn.execute(
                Token.__table__.insert().values(
                    identity="service", tokens=STORED_TOKENS, updated_at=now
                )
            )
    with pytest.raises(IntegrityError) as raised_again:
        async with engine.begin() as conn:
            await conn.execute(Subscription.__table__.insert().values(**row))

    for error in (raised.value, raised_again.value):
        text = f"{error}\n{error!r}"  # what a log record or a traceback shows
        assert "INSERT INTO" in text  # the statement is still named
        assert leaked(text, [SECRET, STORED_TOKENS]) == {}, text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert leaked(logged, [SECRET, STORED_TOKENS]) == {}
