"""`python -m bot api …` as an admin runs it: a subprocess against the simulator."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass

import pytest

from bot.sim.ringcentral import RingCentralSimulator


@dataclass
class Run:
    code: int
    out: str
    err: str


async def ringbridge(sim: RingCentralSimulator, *args: str, stdin: bytes = b"") -> Run:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "RINGCENTRAL_SERVER_URL": sim.server_url,
        "RINGCENTRAL_MEDIA_URL": sim.media_url,
        "RINGCENTRAL_CLIENT_ID": sim.client_id,
        "RINGCENTRAL_CLIENT_SECRET": sim.client_secret,
        "RINGCENTRAL_JWT": sim.jwt,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def test_api_get_prints_the_extension_as_json(rc_sim: RingCentralSimulator) -> None:
    run = await ringbridge(rc_sim, "api", "GET", "/restapi/v1.0/account/~/extension/~")

    assert run.code == 0, run.err
    extension = json.loads(run.out)
    assert extension["extensionNumber"] == "101"
    assert str(extension["id"]) == rc_sim.extension_id
    assert rc_sim.jwt not in run.out + run.err
    assert rc_sim.client_secret not in run.out + run.err


async def test_api_sends_query_parameters_and_headers(rc_sim: RingCentralSimulator) -> None:
    run = await ringbridge(
        rc_sim, "api", "get", "/restapi/v1.0/account/~/extension/~/call-log",
        "-q", "direction=Inbound", "-q", "direction=Outbound", "-q", "perPage=3",
        "-H", "X-Trace: cli-test",
    )  # fmt: skip

    assert run.code == 0, run.err
    assert len(json.loads(run.out)["records"]) <= 3
    (sent,) = rc_sim.requests_to(r"/call-log$")
    assert sent.query["direction"] == ["Inbound", "Outbound"]
    assert sent.headers["x-trace"] == "cli-test"


async def test_api_posts_a_json_body_from_stdin(rc_sim: RingCentralSimulator) -> None:
    number = rc_sim.world.numbers_with_feature(rc_sim.extension_id, "SmsSender")[0]
    body = {"from": {"phoneNumber": number}, "to": [{"phoneNumber": "+14155550123"}],
            "text": "hello & <world> 😀"}  # fmt: skip

    run = await ringbridge(
        rc_sim,
        "api",
        "POST",
        "/restapi/v1.0/account/~/extension/~/sms",
        "-d",
        "@-",
        stdin=json.dumps(body).encode(),
    )

    assert run.code == 0, run.err
    assert json.loads(run.out)["subject"] == "hello & <world> 😀"


async def test_api_ringcentral_error_prints_code_and_message_and_exits_1(
    rc_sim: RingCentralSimulator,
) -> None:
    run = await ringbridge(rc_sim, "api", "GET", "/restapi/v1.0/account/~/extension/~/call-log",
                           "-q", "view=Fancy")  # fmt: skip

    assert run.code == 1
    assert run.out == ""
    assert run.err.startswith("error: CMN-101: ")
    assert "Traceback" not in run.err


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
    rc_sim: RingCentralSimulator, args: list[str], complaint: str
) -> None:
    run = await ringbridge(rc_sim, "api", "POST", "/restapi/v1.0/subscription", *args)

    assert run.code == 2
    assert run.err.strip().splitlines() == [f"ringbridge: {complaint}"] or complaint in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert not rc_sim.requests
