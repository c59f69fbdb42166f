"""The RingCentral simulator's permission model: what an app without a permission, and a
service user who is no admin, get from RingCentral (bot/sim/_rc_permissions.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web

from bot.sim.ringcentral import RingCentralSimulator, endpoint_permissions, endpoints

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
A = "/restapi/v1.0/account/~"
CALLER = "+12125550142"
SMS = {"from": {"phoneNumber": "+16505550100"}, "to": [{"phoneNumber": CALLER}], "text": "x"}


async def login(sim: RingCentralSimulator, client: httpx.AsyncClient) -> dict[str, Any]:
    raw = f"{sim.client_id}:{sim.client_secret}".encode()
    resp = await client.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": sim.jwt},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    assert resp.status_code == 200, resp.text
    token: dict[str, Any] = resp.json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return token


@pytest.fixture
async def http(rc_sim: RingCentralSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rc_sim.server_url) as client:
        await login(rc_sim, client)
        yield client


@pytest.fixture
def other(rc_sim: RingCentralSimulator) -> str:
    """Another user of the account (not the service user)."""
    return next(
        e
        for e in rc_sim.world.extension_ids()
        if e != rc_sim.extension_id and rc_sim.world.extension_info(e)["type"] == "User"
    )


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook address that passes the handshake, and the deliveries it received."""
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        token = request.headers.get("Validation-Token")
        headers = {"Content-Type": "application/json"}
        if token and not body:
            return web.Response(headers={"Validation-Token": token, **headers})
        seen.append(json.loads(body))
        return web.Response(headers=headers)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", seen
    await runner.cleanup()


def permission_error(resp: httpx.Response) -> tuple[str, str, str]:
    """(top-level errorCode, the code in errors[], permissionName) of a 403."""
    assert resp.status_code == 403, resp.text
    body = resp.json()
    (detail,) = body["errors"]
    assert detail["message"] == body["message"]
    assert body["permissionName"] == detail["permissionName"]
    return body["errorCode"], detail["errorCode"], detail["permissionName"]


def webhook(address: str, *filters: str) -> dict[str, Any]:
    return {
        "eventFilters": list(filters),
        "deliveryMode": {"transportType": "WebHook", "address": address},
    }


# -- the app's permissions ------------------------------------------------------------------


async def test_the_token_scope_lists_the_apps_permissions(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    token = await login(rc_sim, http)
    assert token["scope"].split(" ") == sorted(rc_sim.app_permissions)
    assert {"ReadCallLog", "SMS", "SubscriptionWebhook", "ReadMessages"} <= rc_sim.app_permissions

    rc_sim.remove_app_permissions("ReadCallLog")
    token = await login(rc_sim, http)
    assert "ReadCallLog" not in token["scope"].split(" ")


async def test_a_request_needing_a_permission_the_app_lacks_is_cmn_401(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    rc_sim.remove_app_permissions("ReadCallLog", "SMS", "SubscriptionWebhook")
    found = await http.get(f"{A}/extension/~/call-log")
    assert permission_error(found) == ("InsufficientPermissions", "CMN-401", "ReadCallLog")
    assert found.json()["message"] == (
        "In order to call this API endpoint, application needs to have [ReadCallLog] permission"
    )
    sms = await http.post(
        f"{A}/extension/~/sms",
        json=SMS,
    )
    assert permission_error(sms) == ("InsufficientPermissions", "CMN-401", "SMS")
    voicemail = f"{A}/extension/~/voicemail"
    sub = await http.post(
        "/restapi/v1.0/subscription", json=webhook("http://127.0.0.1:9/h", voicemail)
    )
    assert permission_error(sub) == ("InsufficientPermissions", "CMN-401", "SubscriptionWebhook")
    assert (await http.get(f"{A}/extension/~/message-store")).status_code == 200


async def test_a_permission_the_users_role_lacks_is_cmn_408(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    rc_sim.remove_user_permissions(rc_sim.extension_id, "OutboundSMS")
    assert "OutboundSMS" not in rc_sim.user_permissions(rc_sim.extension_id)
    sms = await http.post(
        f"{A}/extension/~/sms",
        json=SMS,
    )
    assert permission_error(sms) == ("InsufficientPermissions", "CMN-408", "OutboundSMS")
    assert "user needs to have [OutboundSMS] permission" in sms.json()["message"]


# -- an ordinary service user -----------------------------------------------------------------


async def test_an_ordinary_user_reads_its_own_extension_only(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, other: str
) -> None:
    assert rc_sim.service_user_admin  # the default the existing tests rely on
    assert (await http.get(f"{A}/extension/{other}/message-store")).status_code == 200

    rc_sim.service_user_admin = False
    me = (await http.get(f"{A}/extension/~")).json()
    assert me["permissions"]["admin"] == {"enabled": False}
    for path in ("/message-store", "/call-log", ""):
        assert (await http.get(f"{A}/extension/~{path}")).status_code == 200
    refused = {
        "/message-store": "ReadMessages",
        "/call-log": "ReadCallLog",
        "": "ReadExtensions",
        "/phone-number": "ReadUserPhoneNumbers",
    }
    for path, permission in refused.items():
        resp = await http.get(f"{A}/extension/{other}{path}")
        assert permission_error(resp) == ("InsufficientPermissions", "CMN-408", permission)
    company = await http.get(f"{A}/call-log", params={"extensionNumber": "102"})
    assert permission_error(company) == ("InsufficientPermissions", "CMN-408", "FullCompanyCallLog")
    assert "FullCompanyCallLog" not in rc_sim.user_permissions(rc_sim.extension_id)
    # The company directory stays readable by everyone.
    assert (await http.get(f"{A}/directory/entries")).status_code == 200

    rc_sim.service_user_admin = True
    assert (await http.get(f"{A}/call-log")).status_code == 200
    assert (await http.get(f"{A}/extension/~")).json()["permissions"]["admin"]["enabled"]


async def test_an_ordinary_users_filters_of_other_extensions_are_disabled(
    rc_sim: RingCentralSimulator,
    http: httpx.AsyncClient,
    other: str,
    hook: tuple[str, list[dict[str, Any]]],
) -> None:
    address, seen = hook
    rc_sim.service_user_admin = False
    mine = f"{A}/extension/~/message-store/instant?type=SMS"
    theirs = f"{A}/extension/{other}/message-store/instant?type=SMS"
    everyone = f"{A}/telephony/sessions"
    created = await http.post(
        "/restapi/v1.0/subscription", json=webhook(address, mine, theirs, everyone)
    )
    assert created.status_code == 200, created.text
    info = created.json()
    acc, me = rc_sim.account_id, rc_sim.extension_id
    assert info["eventFilters"] == [
        f"/restapi/v1.0/account/{acc}/extension/{me}/message-store/instant?type=SMS"
    ]
    assert [(d["filter"], d["reason"]) for d in info["disabledFilters"]] == [
        (
            f"/restapi/v1.0/account/{acc}/extension/{other}/message-store/instant?type=SMS",
            "SUB-405",
        ),
        (f"/restapi/v1.0/account/{acc}/telephony/sessions", "SUB-405"),
    ]
    assert all(d["message"] for d in info["disabledFilters"])
    again = (await http.get(f"/restapi/v1.0/subscription/{info['id']}")).json()
    assert again["disabledFilters"] == info["disabledFilters"]

    await rc_sim.incoming_sms(other, CALLER, "for them")
    await rc_sim.incoming_sms(me, CALLER, "for me")
    assert [e["body"]["subject"] for e in seen] == ["for me"]

    # Asking again (PUT) for what is refused changes nothing but the disabled list.
    updated = await http.put(
        f"/restapi/v1.0/subscription/{info['id']}", json={"eventFilters": [mine, theirs]}
    )
    assert [d["reason"] for d in updated.json()["disabledFilters"]] == ["SUB-405"]
    only_theirs = await http.put(
        f"/restapi/v1.0/subscription/{info['id']}", json={"eventFilters": [theirs]}
    )
    assert only_theirs.status_code == 403
    assert only_theirs.json()["errors"][0]["errorCode"] == "SUB-405"
    assert rc_sim.subscriptions[info["id"]].event_filters == info["eventFilters"]


async def test_a_subscription_with_no_allowed_filter_is_refused(
    rc_sim: RingCentralSimulator,
    http: httpx.AsyncClient,
    other: str,
    hook: tuple[str, list[dict[str, Any]]],
) -> None:
    address, seen = hook
    rc_sim.service_user_admin = False
    reminder = "/restapi/v1.0/subscription/~?threshold=60&interval=30"
    resp = await http.post(
        "/restapi/v1.0/subscription",
        json=webhook(address, f"{A}/extension/{other}/voicemail", reminder),
    )
    assert resp.status_code == 403
    assert resp.json()["errorCode"] == "SUB-405"
    assert rc_sim.subscriptions == {}
    assert seen == []  # refused before the handshake

    rc_sim.service_user_admin = True
    allowed = await http.post(
        "/restapi/v1.0/subscription", json=webhook(address, f"{A}/extension/{other}/voicemail")
    )
    assert allowed.status_code == 200 and "disabledFilters" not in allowed.json()


async def test_filters_of_another_account_are_refused(
    http: httpx.AsyncClient, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    resp = await http.post(
        "/restapi/v1.0/subscription",
        json=webhook(hook[0], "/restapi/v1.0/account/999/extension/1/voicemail"),
    )
    assert resp.status_code == 403
    assert resp.json()["errorCode"] == "SUB-406"


async def test_a_filter_needing_an_app_permission_the_app_lacks_is_disabled(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    rc_sim.remove_app_permissions("CallControl")
    calls = f"{A}/extension/~/telephony/sessions"
    created = await http.post(
        "/restapi/v1.0/subscription", json=webhook(hook[0], f"{A}/extension/~/voicemail", calls)
    )
    (disabled,) = created.json()["disabledFilters"]
    assert disabled["reason"] == "CMN-401" and "[CallControl]" in disabled["message"]
    alone = await http.post("/restapi/v1.0/subscription", json=webhook(hook[0], calls))
    assert permission_error(alone) == ("InsufficientPermissions", "CMN-401", "CallControl")


# Where the simulator is stricter than the spec's x-user-permission, and why.
STRICTER = {
    # the company's call log, like GET …/call-log (bot/sim/_rc_permissions.py)
    ("GET", "/restapi/v1.0/account/{accountId}/call-log-sync"): "FullCompanyCallLog",
}


def test_the_permission_table_matches_the_spec(openapi_path: Path) -> None:
    spec = yaml.safe_load(openapi_path.read_text())
    table = endpoint_permissions()
    for method, template, _group in endpoints():
        assert (method, template) in table, (
            f"{method} {template}: add its permissions to ROUTE_PERMISSIONS "
            "(bot/sim/_rc_permissions.py)"
        )
        operation = spec["paths"][template][method.lower()]
        if template.startswith("/restapi/v1.0/subscription"):
            continue  # the spec names none; the changelog names SubscriptionWebhook
        want = (
            operation.get("x-app-permission"),
            STRICTER.get((method, template), operation.get("x-user-permission")),
        )
        assert table[(method, template)] == want, (method, template)
    for (method, template), (app, user) in table.items():  # the routes still to come too
        operation = spec["paths"][template][method.lower()]
        if not template.startswith("/restapi/v1.0/subscription"):
            assert app == operation.get("x-app-permission"), (method, template)
            assert user == STRICTER.get((method, template), operation.get("x-user-permission"))
