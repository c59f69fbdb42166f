"""The RingCentral simulator over real loopback HTTP: what the bridge's tests rely on."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiohttp import web

from bot.clock import FakeClock
from bot.sim.ringcentral import RingCentralSimulator

EXT = "/restapi/v1.0/account/~/extension/~"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture
async def http(rc_sim: RingCentralSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rc_sim.server_url) as client:
        yield client


def basic(sim: RingCentralSimulator) -> dict[str, str]:
    raw = f"{sim.client_id}:{sim.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def login(sim: RingCentralSimulator, http: httpx.AsyncClient) -> dict[str, Any]:
    resp = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": sim.jwt},
        headers=basic(sim),
    )
    assert resp.status_code == 200, resp.text
    token: dict[str, Any] = resp.json()
    return token


async def authed(sim: RingCentralSimulator, http: httpx.AsyncClient) -> httpx.AsyncClient:
    token = await login(sim, http)
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    return http


# -- a webhook receiver on loopback --------------------------------------------------------


@dataclass
class Receiver:
    url: str = ""
    mode: str = "ok"
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        rec.seen.append((dict(request.headers), body))
        token = request.headers.get("Validation-Token", "")
        json_type = {"Content-Type": "application/json"}
        if not body and token:  # the creation handshake
            if rec.mode == "no-echo":
                return web.Response(status=200, headers=json_type)
            if rec.mode == "500":
                return web.Response(status=500, headers={"Validation-Token": token})
            if rec.mode == "big":
                return web.Response(
                    status=200, headers={"Validation-Token": token, **json_type}, body=b"x" * 1100
                )
            if rec.mode == "no-content-type":
                return web.Response(status=200, headers={"Validation-Token": token})
            if rec.mode == "slow":
                import asyncio

                await asyncio.sleep(0.5)
            return web.Response(status=200, headers={"Validation-Token": token, **json_type})
        return web.Response(status=rec.status, headers=json_type)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield rec
    await runner.cleanup()


async def subscribe(
    http: httpx.AsyncClient,
    address: str,
    token: str | None = "s3cret",  # noqa: S107 - a test verification token
    **extra: Any,
) -> httpx.Response:
    mode: dict[str, Any] = {"transportType": "WebHook", "address": address}
    if token is not None:
        mode["verificationToken"] = token
    body = {
        "eventFilters": [f"{EXT}/message-store/instant?type=SMS", f"{EXT}/voicemail"],
        "deliveryMode": mode,
        **extra,
    }
    return await http.post("/restapi/v1.0/subscription", json=body)


def error_code(resp: httpx.Response) -> str:
    body = resp.json()
    code: str = body["errors"][0]["errorCode"]
    return code


# -- OAuth ----------------------------------------------------------------------------------


async def test_jwt_token_has_the_example_shape(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, examples_dir: Path
) -> None:
    token = await login(rc_sim, http)
    example = json.loads((examples_dir / "token-response.json").read_text())
    assert set(token) == set(example) | {"session_id"}
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600
    assert token["refresh_token_expires_in"] == 604800
    assert token["owner_id"] == rc_sim.extension_id


async def test_token_without_client_auth_is_invalid_client(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, examples_dir: Path
) -> None:
    resp = await http.post(
        "/restapi/oauth/token", data={"grant_type": JWT_GRANT, "assertion": rc_sim.jwt}
    )
    assert resp.status_code == 400
    assert resp.json() == json.loads((examples_dir / "oauth-error-invalid-client.json").read_text())


async def test_refresh_rotates_and_kills_the_old_pair(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    first = await login(rc_sim, http)
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    resp = await http.post("/restapi/oauth/token", data=form, headers=basic(rc_sim))
    second = resp.json()
    assert resp.status_code == 200
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]

    old = await http.get(EXT, headers={"Authorization": f"Bearer {first['access_token']}"})
    assert old.status_code == 401
    assert old.json()["errorCode"] == "TokenInvalid"
    assert error_code(old) == "OAU-213"

    again = await http.post("/restapi/oauth/token", data=form, headers=basic(rc_sim))
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert error_code(again).startswith("OAU-")

    rc_sim.invalidate_refresh_tokens()
    form["refresh_token"] = second["refresh_token"]
    gone = await http.post("/restapi/oauth/token", data=form, headers=basic(rc_sim))
    assert gone.json()["error"] == "invalid_grant"


async def test_authorization_code_with_pkce(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    rc_sim.public_client = True  # a client-side app: client_id in the body, no secret
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    redirect = "http://127.0.0.1:9/ringcentral/oauth/callback"
    params = {
        "response_type": "code",
        "client_id": rc_sim.client_id,
        "redirect_uri": redirect,
        "state": "xyz",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    resp = await http.get("/restapi/oauth/authorize", params=params)
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    query = parse_qs(location.query)
    assert location._replace(query="").geturl() == redirect
    assert query["state"] == ["xyz"]

    form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect}
    wrong = await http.post(
        "/restapi/oauth/token",
        data={**form, "code_verifier": "not-it", "client_id": rc_sim.client_id},
    )
    assert wrong.json()["error"] == "invalid_grant"  # and the code is spent

    resp = await http.get("/restapi/oauth/authorize", params=params)
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    ok = await http.post(
        "/restapi/oauth/token",
        data={**form, "code": code, "code_verifier": verifier, "client_id": rc_sim.client_id},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["owner_id"] == rc_sim.extension_id


async def test_401_bodies(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    missing = await http.get(EXT)
    assert missing.status_code == 401
    assert missing.json()["errorCode"] == "AGW-401"

    unknown = await http.get(EXT, headers={"Authorization": "Bearer nope"})
    assert unknown.json()["message"] == "Token not found"
    assert error_code(unknown) == "OAU-213"

    token = await login(rc_sim, http)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await http.get(EXT, headers=bearer)).status_code == 200
    clock.advance(3601)
    expired = await http.get(EXT, headers=bearer)
    assert expired.status_code == 401
    assert error_code(expired) == "OAU-128"
    assert expired.json()["message"] == "Access token expired"

    token = await login(rc_sim, http)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    revoke = await http.post(
        "/restapi/oauth/revoke", data={"token": token["access_token"]}, headers=basic(rc_sim)
    )
    assert revoke.status_code == 200
    assert error_code(await http.get(EXT, headers=bearer)) == "OAU-213"


async def test_unknown_path_is_the_gateway_404(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, examples_dir: Path
) -> None:
    await authed(rc_sim, http)
    resp = await http.get("/restapi/v1.0/nothing-here")
    assert resp.status_code == 404
    assert resp.json() == json.loads((examples_dir / "error-404-agw-response.json").read_text())


# -- rate limits ------------------------------------------------------------------------------


async def test_rate_limit_headers_and_the_429_trap(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    await authed(rc_sim, http)
    rc_sim.set_limit("Light", 2)
    first = await http.get(EXT)
    assert first.headers["X-Rate-Limit-Group"] == "light"
    assert first.headers["X-Rate-Limit-Limit"] == "2"
    assert first.headers["X-Rate-Limit-Remaining"] == "1"
    assert first.headers["X-Rate-Limit-Window"] == "60"
    assert (await http.get(EXT)).status_code == 200
    limited = await http.get(EXT)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert error_code(limited) == "CMN-301"

    clock.advance(59)
    assert (await http.get(EXT)).status_code == 429  # a request in the penalty restarts it
    clock.advance(59)
    assert (await http.get(EXT)).status_code == 429
    clock.advance(61)
    assert (await http.get(EXT)).status_code == 200

    # groups are counted apart
    ext_list = await http.get("/restapi/v1.0/account/~/extension")
    assert ext_list.status_code == 200, ext_list.text
    assert ext_list.headers["X-Rate-Limit-Group"] == "medium"


async def test_forced_penalties_and_bare_429(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    await authed(rc_sim, http)
    rc_sim.throttle("Light", retry_after=30)
    resp = await http.get(EXT)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "30"
    clock.advance(31)
    assert (await http.get(EXT)).status_code == 200

    rc_sim.fail_next_with_429()
    bare = await http.get(EXT)
    assert bare.status_code == 429
    assert "Retry-After" not in bare.headers
    assert (await http.get(EXT)).status_code == 200


async def test_auth_group_counts_token_requests(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    for _ in range(5):
        await login(rc_sim, http)
    resp = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": rc_sim.jwt},
        headers=basic(rc_sim),
    )
    assert resp.status_code == 429
    assert resp.headers["X-Rate-Limit-Group"] == "auth"


# -- validation -------------------------------------------------------------------------------


async def test_spec_validation_refuses_undeclared_and_out_of_enum_parameters(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, openapi_path: Path
) -> None:
    assert openapi_path.name.endswith(".yml")  # validation is on: the spec exists
    await authed(rc_sim, http)
    unknown = await http.get(f"{EXT}/call-log", params={"colour": "blue"})
    assert unknown.status_code == 400
    assert unknown.json()["errorCode"] == "CMN-101"
    assert unknown.json()["parameterName"] == "colour"

    fancy = await http.get(f"{EXT}/call-log", params={"view": "Fancy"})
    assert fancy.status_code == 400
    assert fancy.json()["parameterName"] == "view"

    ok = await http.get(f"{EXT}/call-log", params={"view": "Detailed", "direction": "Inbound"})
    assert ok.status_code == 200, ok.text


async def test_route_groups_match_the_spec(openapi_path: Path) -> None:
    from bot.sim import SpecValidator, endpoints

    spec = SpecValidator.for_path(openapi_path)
    for method, template, group in endpoints():
        assert spec.throttling_group(template, method) == group, template


# -- SMS ----------------------------------------------------------------------------------------


def numbers(sim: RingCentralSimulator, feature: str) -> list[str]:
    return sim.world.numbers_with_feature(sim.extension_id, feature)


def all_numbers(sim: RingCentralSimulator) -> list[str]:
    body = sim.world.phone_numbers(sim.extension_id, {})
    return [r["phoneNumber"] for r in body["records"]]


async def test_sms_sender_checks(rc_sim: RingCentralSimulator, http: httpx.AsyncClient) -> None:
    await authed(rc_sim, http)
    sender = numbers(rc_sim, "SmsSender")[0]
    to = [{"phoneNumber": "+14155550123"}]

    sent = await http.post(
        f"{EXT}/sms", json={"from": {"phoneNumber": sender}, "to": to, "text": "hi"}
    )
    assert sent.status_code == 200, sent.text
    record = sent.json()
    stored = await http.get(f"{EXT}/message-store/{record['id']}")
    assert stored.json()["subject"] == "hi"

    foreign = await http.post(
        f"{EXT}/sms", json={"from": {"phoneNumber": "+16505550000"}, "to": to, "text": "hi"}
    )
    assert foreign.status_code == 400
    assert error_code(foreign) == "MSG-245"

    no_sms = [n for n in all_numbers(rc_sim) if n not in numbers(rc_sim, "SmsSender")]
    if no_sms:
        refused = await http.post(
            f"{EXT}/sms", json={"from": {"phoneNumber": no_sms[0]}, "to": to, "text": "hi"}
        )
        assert refused.status_code == 403
        assert error_code(refused) in ("MSG-367", "MSG-241")

    not_e164 = await http.post(
        f"{EXT}/sms",
        json={"from": {"phoneNumber": sender}, "to": [{"phoneNumber": "4155550123"}], "text": "x"},
    )
    assert not_e164.status_code == 400

    emoji = "😀" * 500  # 1000 UTF-16 code units: the limit exactly
    ok = await http.post(
        f"{EXT}/sms", json={"from": {"phoneNumber": sender}, "to": to, "text": emoji}
    )
    assert ok.status_code == 200
    long = await http.post(
        f"{EXT}/sms", json={"from": {"phoneNumber": sender}, "to": to, "text": emoji + "a"}
    )
    assert long.status_code == 400
    assert long.json()["parameterName"] == "text"


def mms_files(
    sim: RingCentralSimulator, *, json_first: bool = True, count: int = 1, size: int = 13
) -> list[tuple[str, tuple[str | None, bytes, str]]]:
    envelope = {
        "from": {"phoneNumber": numbers(sim, "SmsSender")[0]},
        "to": [{"phoneNumber": "+14155550123"}],
        "text": "look",
    }
    part = ("json", (None, json.dumps(envelope).encode(), "application/json"))
    images = [
        ("attachment", (f"p{i}.png", b"\x89PNG" + b"0" * size, "image/png")) for i in range(count)
    ]
    return [part, *images] if json_first else [*images, part]


async def test_mms_multipart_rules_and_media_download(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    await authed(rc_sim, http)
    sent = await http.post(f"{EXT}/sms", files=mms_files(rc_sim))
    assert sent.status_code == 200, sent.text
    attachment = next(a for a in sent.json()["attachments"] if a.get("type") == "MmsAttachment")
    assert attachment["uri"].startswith(rc_sim.media_url)

    content = await http.get(attachment["uri"])
    assert content.status_code == 200
    assert content.headers["Content-Type"] == "image/png"
    assert "filename" in content.headers["Content-Disposition"]
    assert content.content.startswith(b"\x89PNG")
    platform = await http.get(rc_sim.server_url + urlsplit(attachment["uri"]).path)
    assert platform.status_code == 404  # content is served by the media host only

    wrong_order = await http.post(f"{EXT}/sms", files=mms_files(rc_sim, json_first=False))
    assert wrong_order.status_code == 400
    too_many = await http.post(f"{EXT}/sms", files=mms_files(rc_sim, count=11))
    assert too_many.status_code == 400
    too_big = await http.post(f"{EXT}/sms", files=mms_files(rc_sim, count=2, size=760_000))
    assert too_big.status_code == 400

    # multipart/mixed, as the official SDK sends it with set_multipart_mixed(True)
    form = httpx.Request("POST", "http://x/", files=mms_files(rc_sim))
    ctype = form.headers["Content-Type"].replace("multipart/form-data", "multipart/mixed")
    mixed = await http.post(f"{EXT}/sms", content=form.read(), headers={"Content-Type": ctype})
    assert mixed.status_code == 200, mixed.text


async def test_sms_has_its_own_40_a_minute_cap(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    await authed(rc_sim, http)
    rc_sim.set_limit("sms", 1)
    body = {
        "from": {"phoneNumber": numbers(rc_sim, "SmsSender")[0]},
        "to": [{"phoneNumber": "+14155550123"}],
        "text": "hi",
    }
    assert (await http.post(f"{EXT}/sms", json=body)).status_code == 200
    limited = await http.post(f"{EXT}/sms", json=body)
    assert limited.status_code == 429
    assert error_code(limited) == "MSG-305"


# -- subscriptions -------------------------------------------------------------------------------


async def test_subscription_crud(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, receiver: Receiver, clock: FakeClock
) -> None:
    await authed(rc_sim, http)
    created = await subscribe(http, receiver.url, expiresIn=3600)
    assert created.status_code == 200, created.text
    info = created.json()
    assert "verificationToken" not in info["deliveryMode"]
    assert all("~" not in f for f in info["eventFilters"])
    assert f"/extension/{rc_sim.extension_id}/voicemail" in info["eventFilters"][1]
    assert info["status"] == "Active"
    assert info["expiresIn"] == 3600
    sid = info["id"]
    url = f"/restapi/v1.0/subscription/{sid}"

    listed = (await http.get("/restapi/v1.0/subscription")).json()
    assert [r["id"] for r in listed["records"]] == [sid]
    assert (await http.get(url)).json()["id"] == sid

    clock.advance(600)
    renewed = await http.post(f"{url}/renew")
    assert renewed.json()["expiresIn"] == 3600
    updated = await http.put(url, json={"eventFilters": [f"{EXT}/fax?direction=Inbound"]})
    assert updated.json()["eventFilters"][0].endswith("/fax?direction=Inbound")
    clock.advance(100)
    assert (await http.put(url)).json()["expiresIn"] == 3600  # empty body = renew

    deleted = await http.delete(url)
    assert deleted.status_code == 204
    missing = await http.get(url)
    assert missing.status_code == 404
    assert error_code(missing) == "CMN-102"


async def test_handshake_failures(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    await authed(rc_sim, http)
    rc_sim.webhook_timeout = 0.2
    expected = {
        "no-echo": "SUB-520",
        "500": "SUB-522",
        "big": "SUB-525",
        "no-content-type": "SUB-525",
        "slow": "SUB-521",
    }
    for mode, code in expected.items():
        receiver.mode = mode
        resp = await subscribe(http, receiver.url)
        assert resp.status_code == 400, mode
        assert error_code(resp) == code, mode
    unreachable = await subscribe(http, "http://127.0.0.1:9/hook")
    assert error_code(unreachable) == "SUB-521"
    assert rc_sim.subscriptions == {}

    receiver.mode = "ok"
    handshake_headers, handshake_body = receiver.seen[-1]
    assert handshake_body == b""
    assert "Validation-Token" in handshake_headers


async def test_deliveries_carry_the_token_and_blacklisting(
    rc_sim: RingCentralSimulator,
    http: httpx.AsyncClient,
    receiver: Receiver,
    examples_dir: Path,
) -> None:
    await authed(rc_sim, http)
    sid = (await subscribe(http, receiver.url)).json()["id"]
    assert await rc_sim.deliver(sid, {"hello": 1}, uuid="u-1") == 200
    headers, raw = receiver.seen[-1]
    assert headers["Verification-Token"] == "s3cret"
    assert headers["User-Agent"] == "RingCentral-Webhook/8.3"
    assert headers["Content-Type"].startswith("application/json")
    envelope = json.loads(raw)
    assert envelope["uuid"] == "u-1"
    assert envelope["subscriptionId"] == sid
    assert envelope["ownerId"] == rc_sim.extension_id
    assert envelope["body"] == {"hello": 1}
    assert set(envelope) == {"uuid", "event", "timestamp", "subscriptionId", "ownerId", "body"}

    verbatim = (examples_dir / "voicemail-event.json").read_bytes()
    assert await rc_sim.deliver_raw(sid, verbatim) == 200
    assert receiver.seen[-1][1] == verbatim

    rc_sim.blacklist_after = 2
    receiver.status = 503
    assert await rc_sim.deliver(sid, {}) == 503
    assert rc_sim.subscriptions[sid].status == "Active"
    assert await rc_sim.deliver(sid, {}) == 503
    info = (await http.get(f"/restapi/v1.0/subscription/{sid}")).json()
    assert info["status"] == "Blacklisted"
    assert "503" in info["blacklistedData"]["reason"]
    assert await rc_sim.deliver(sid, {}) is None  # nothing is sent to a blacklisted hook


async def test_subscription_limit(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    await authed(rc_sim, http)
    rc_sim.set_limit("Medium", 100)
    for _ in range(30):
        assert (await subscribe(http, receiver.url)).status_code == 200
    over = await subscribe(http, receiver.url)
    assert over.status_code == 403
    assert error_code(over) == "SUB-505"


# -- RingOut -----------------------------------------------------------------------------------


async def test_ringout_progression_and_cancel_window(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, clock: FakeClock, examples_dir: Path
) -> None:
    await authed(rc_sim, http)
    body = {"from": {"phoneNumber": "+14155550100"}, "to": {"phoneNumber": "+14155550123"}}
    created = await http.post(f"{EXT}/ring-out", json=body)
    assert created.status_code == 200, created.text
    example = json.loads((examples_dir / "ringout-create-response.json").read_text())
    assert set(created.json()) == set(example)
    assert created.json()["status"] == example["status"]
    url = f"{EXT}/ring-out/{created.json()['id']}"

    clock.advance(6)
    status = (await http.get(url)).json()["status"]
    assert status == {
        "callStatus": "InProgress",
        "callerStatus": "Success",
        "calleeStatus": "InProgress",
    }
    assert (await http.delete(url)).status_code == 404  # the first leg is up: too late
    clock.advance(6)
    assert (await http.get(url)).json()["status"]["calleeStatus"] == "Success"

    rc_sim.ringout_script().callee_status = "Busy"
    second = (await http.post(f"{EXT}/ring-out", json=body)).json()
    url2 = f"{EXT}/ring-out/{second['id']}"
    assert (await http.delete(url2)).status_code == 204
    assert (await http.get(url2)).status_code == 404


# -- recording and the in-process transport ------------------------------------------------------


async def test_requests_are_recorded(rc_sim: RingCentralSimulator, http: httpx.AsyncClient) -> None:
    await authed(rc_sim, http)
    await http.get(f"{EXT}/call-log", params=[("direction", "Inbound"), ("direction", "Outbound")])
    (token_req,) = rc_sim.requests_to(r"/oauth/token$")
    assert token_req.form is not None and token_req.form["grant_type"] == JWT_GRANT
    (log,) = rc_sim.requests_to(r"/call-log$", method="GET")
    assert log.query["direction"] == ["Inbound", "Outbound"]
    assert log.status == 200
    assert log.host == "platform"


async def test_mock_transport_in_process(clock: FakeClock) -> None:
    sim = RingCentralSimulator(clock=clock)
    transport = sim.mock_transport()
    async with httpx.AsyncClient(transport=transport, base_url=sim.server_url) as http:
        await authed(sim, http)
        resp = await http.get(EXT)
        assert resp.status_code == 200
        assert resp.json()["id"] is not None
    await sim.aclose()


async def test_mms_takes_only_the_content_types_ringcentral_lists(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    await authed(rc_sim, http)
    envelope, _ = mms_files(rc_sim)
    pdf = ("attachment", ("q.pdf", b"%PDF-1.4", "application/pdf"))
    refused = await http.post(f"{EXT}/sms", files=[envelope, pdf])
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["parameterName"] == "attachment"
    vcard = ("attachment", ("c.vcf", b"BEGIN:VCARD", "text/vcard"))
    assert (await http.post(f"{EXT}/sms", files=[envelope, vcard])).status_code == 200


async def ours(http: httpx.AsyncClient) -> list[str]:
    """The outbound texts this test sent (the account has others)."""
    stored = await http.get(f"{EXT}/message-store", params={"direction": "Outbound"})
    subjects = [m.get("subject") for m in stored.json()["records"]]
    return [s for s in subjects if s in ("did it go?", "second", "third")]


async def test_a_fault_with_store_sends_the_text_and_loses_the_answer(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    await authed(rc_sim, http)
    body = {
        "from": {"phoneNumber": numbers(rc_sim, "SmsSender")[0]},
        "to": [{"phoneNumber": "+14155550123"}],
        "text": "did it go?",
    }
    rc_sim.fail(r"/sms$", status=503, store=True)
    lost = await http.post(f"{EXT}/sms", json=body)
    assert (lost.status_code, lost.json()["errorCode"]) == (503, "CMN-211")
    assert await ours(http) == ["did it go?"]

    rc_sim.fail(r"/sms$", status=503)  # without store: nothing is done
    assert (await http.post(f"{EXT}/sms", json={**body, "text": "second"})).status_code == 503
    assert await ours(http) == ["did it go?"]
    assert (await http.post(f"{EXT}/sms", json={**body, "text": "third"})).status_code == 200
