"""The RingCentral simulator's per-user sessions (issue #12 item 7): who signs in on the
authorize page, `~` as that user, their own numbers only, other accounts, revoke's client
authentication, registered redirect URIs, forwarding numbers."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.sim.ringcentral import RingCentralSimulator

EXT = "/restapi/v1.0/account/~/extension/~"
REDIRECT = "http://127.0.0.1:9/ringcentral/oauth/callback"
DANA_NUMBER = "+16505550102"


@pytest.fixture
async def http(rc_sim: RingCentralSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rc_sim.server_url) as client:
        yield client


def basic(sim: RingCentralSimulator) -> dict[str, str]:
    raw = f"{sim.client_id}:{sim.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def authorize(
    sim: RingCentralSimulator, http: httpx.AsyncClient, redirect: str = REDIRECT
) -> httpx.Response:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": sim.client_id,
        "redirect_uri": redirect,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = await http.get("/restapi/oauth/authorize", params=params)
    page.extensions["verifier"] = verifier
    return page


def code_grant(page: httpx.Response) -> dict[str, str]:
    """The token request's form for the code the authorize page sent back."""
    return {
        "grant_type": "authorization_code",
        "code": parse_qs(urlsplit(page.headers["Location"]).query)["code"][0],
        "redirect_uri": REDIRECT,
        "code_verifier": page.extensions["verifier"],
    }


async def person_token(sim: RingCentralSimulator, http: httpx.AsyncClient) -> dict[str, Any]:
    form = code_grant(await authorize(sim, http))
    resp = await http.post("/restapi/oauth/token", data=form, headers=basic(sim))
    assert resp.status_code == 200, resp.text
    token: dict[str, Any] = resp.json()
    return token


def dana(sim: RingCentralSimulator) -> str:
    found = sim.world.extension_of_number(DANA_NUMBER)
    assert found is not None
    return found


async def test_the_approving_user_owns_the_token_and_tilde_is_them(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    rc_sim.approve_as(dana(rc_sim))
    token = await person_token(rc_sim, http)
    auth = {"Authorization": f"Bearer {token['access_token']}"}

    me = await http.get(EXT, headers=auth)

    assert token["owner_id"] == dana(rc_sim)
    assert str(me.json()["id"]) == dana(rc_sim)


async def test_a_person_texts_only_from_their_own_numbers(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    rc_sim.approve_as(dana(rc_sim))
    token = await person_token(rc_sim, http)
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    service_number = rc_sim.world.numbers_with_feature(rc_sim.extension_id, "SmsSender")[0]

    def sms(sender: str) -> dict[str, Any]:
        return {"from": {"phoneNumber": sender}, "to": [{"phoneNumber": "+14155550123"}],
                "text": "hi"}  # fmt: skip

    own = await http.post(f"{EXT}/sms", json=sms(DANA_NUMBER), headers=auth)
    theirs = await http.post(f"{EXT}/sms", json=sms(service_number), headers=auth)
    other_ext = await http.get(
        f"/restapi/v1.0/account/~/extension/{rc_sim.extension_id}/message-store", headers=auth
    )

    assert own.status_code == 200, own.text
    assert theirs.status_code == 400 and theirs.json()["errorCode"] == "MSG-245"
    assert other_ext.status_code == 403


async def test_a_server_side_apps_code_exchange_needs_its_basic_authentication(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    form = code_grant(await authorize(rc_sim, http)) | {"client_id": rc_sim.client_id}

    bare = await http.post("/restapi/oauth/token", data=form)

    assert bare.status_code == 400 and bare.json()["errors"][0]["errorCode"] == "OAU-123"


async def test_revoke_needs_the_apps_authentication(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    token = await person_token(rc_sim, http)

    bare = await http.post("/restapi/oauth/revoke", data={"token": token["access_token"]})
    done = await http.post(
        "/restapi/oauth/revoke", data={"token": token["access_token"]}, headers=basic(rc_sim)
    )

    assert bare.status_code == 400 and bare.json()["errors"][0]["errorCode"] == "OAU-123"
    assert done.status_code == 200
    assert [s["alive"] for s in rc_sim.sessions()] == [False]


async def test_only_registered_redirect_uris_are_accepted(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    rc_sim.register_redirect_uri(REDIRECT)

    wrong = await authorize(rc_sim, http, "http://127.0.0.1:9/elsewhere")
    right = await authorize(rc_sim, http)

    assert wrong.status_code == 400 and wrong.json()["errors"][0]["errorCode"] == "OAU-109"
    assert right.status_code == 302


async def test_a_user_of_another_account_sees_only_their_own_account(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    stranger = rc_sim.foreign_user()
    rc_sim.approve_as(stranger)
    token = await person_token(rc_sim, http)
    auth = {"Authorization": f"Bearer {token['access_token']}"}

    me = await http.get(EXT, headers=auth)
    ours = await http.get("/restapi/v1.0/account/~/extension", headers=auth)

    assert me.json()["account"]["id"] != rc_sim.account_id
    assert ours.status_code == 404


async def test_forwarding_numbers_are_the_extensions_own(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    rc_sim.approve_as(dana(rc_sim))
    number_id = rc_sim.add_forwarding_number(dana(rc_sim), "+14155550199", "Mobile")
    token = await person_token(rc_sim, http)
    auth = {"Authorization": f"Bearer {token['access_token']}"}

    listing = await http.get(f"{EXT}/forwarding-number", headers=auth)

    assert listing.status_code == 200, listing.text
    records = listing.json()["records"]
    assert [(r["id"], r["phoneNumber"], r["label"]) for r in records] == [
        (number_id, "+14155550199", "Mobile")
    ]
