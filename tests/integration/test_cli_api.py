"""`python -m bot api …` as an admin runs it, in process (`tests/cli.py`), against the
RingCentral simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.sim.ringcentral import RingCentralSimulator
from tests.cli import Cli


@pytest.fixture
def cli(
    rc_sim: RingCentralSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Cli:
    env = {
        "RINGCENTRAL_SERVER_URL": rc_sim.server_url,
        "RINGCENTRAL_MEDIA_URL": rc_sim.media_url,
        "RINGCENTRAL_CLIENT_ID": rc_sim.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc_sim.client_secret,
        "RINGCENTRAL_JWT": rc_sim.jwt,
    }
    return Cli(monkeypatch, capsys, tmp_path, env, secrets=[rc_sim.jwt, rc_sim.client_secret])


async def test_api_get_prints_the_extension_as_json(cli: Cli, rc_sim: RingCentralSimulator) -> None:
    run = await cli("api", "GET", "/restapi/v1.0/account/~/extension/~")

    assert run.code == 0, run.err
    extension = json.loads(run.out)
    assert extension["extensionNumber"] == "101"
    assert str(extension["id"]) == rc_sim.extension_id


async def test_api_sends_query_parameters_and_headers(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    run = await cli(
        "api", "get", "/restapi/v1.0/account/~/extension/~/call-log",
        "-q", "direction=Inbound", "-q", "direction=Outbound", "-q", "perPage=3",
        "-H", "X-Trace: cli-test",
    )  # fmt: skip

    assert run.code == 0, run.err
    assert len(json.loads(run.out)["records"]) <= 3
    (sent,) = rc_sim.requests_to(r"/call-log$")
    assert sent.query["direction"] == ["Inbound", "Outbound"]
    assert sent.headers["x-trace"] == "cli-test"


async def test_api_posts_a_json_body_from_stdin(cli: Cli, rc_sim: RingCentralSimulator) -> None:
    number = rc_sim.world.numbers_with_feature(rc_sim.extension_id, "SmsSender")[0]
    body = {"from": {"phoneNumber": number}, "to": [{"phoneNumber": "+14155550123"}],
            "text": "hello & <world> 😀"}  # fmt: skip

    run = await cli(
        "api",
        "POST",
        "/restapi/v1.0/account/~/extension/~/sms",
        "-d",
        "@-",
        stdin=json.dumps(body),
    )

    assert run.code == 0, run.err
    assert json.loads(run.out)["subject"] == "hello & <world> 😀"


async def test_api_ringcentral_error_prints_code_and_message_and_exits_1(cli: Cli) -> None:
    run = await cli("api", "GET", "/restapi/v1.0/account/~/extension/~/call-log",
                    "-q", "view=Fancy")  # fmt: skip

    assert run.code == 1
    assert run.out == ""
    assert run.err.startswith("error: CMN-101: ")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["-d", "{not json"], "-d: not valid JSON"),
        (["-q", "noequals"], "-q 'noequals': expected KEY=VALUE"),
        (["-H", "NoColon"], "-H 'NoColon': expected KEY:VALUE"),
        (["-d", "@/nonexistent/body.json"], "-d @/nonexistent/body.json: cannot read"),
    ],
)
async def test_api_bad_usage_is_one_line_and_exit_2(
    cli: Cli, rc_sim: RingCentralSimulator, args: list[str], complaint: str
) -> None:
    run = await cli("api", "POST", "/restapi/v1.0/subscription", *args)

    assert run.code == 2
    (line,) = run.err.strip().splitlines()
    assert line.startswith(f"ringbridge: {complaint}")
    assert not rc_sim.requests


async def test_api_without_credentials_names_the_first_missing_one(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    del cli.env["RINGCENTRAL_JWT"]

    run = await cli("api", "GET", "/restapi/v1.0/account/~/extension/~")

    assert run.code == 2
    assert run.err.splitlines() == [
        "ringbridge: RINGCENTRAL_JWT is not set: a JWT credential of the RingCentral user the "
        "bridge acts as"
    ]
    assert not rc_sim.requests
