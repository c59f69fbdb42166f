"""What the simulator tells `check` (bot/sim/_rc_authz.py): the user's permissions in
`authz-profile` and a number's texting registration in `sms-configuration`, in the spec's
shapes, following the permission model (bot/sim/_rc_permissions.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sim import RingCentralSimulator, SpecValidator
from tests.integration.test_sim_ringcentral import authed

A = "/restapi/v1.0/account/{accountId}"
E = A + "/extension/{extensionId}"
EXT = "/restapi/v1.0/account/~/extension/~"


@pytest.fixture
async def http(rc_sim: RingCentralSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rc_sim.server_url) as client:
        yield client


def conforms(spec: SpecValidator, schema: Any, value: Any, where: str = "$") -> list[str]:
    """Where `value` has a property the schema does not declare, or a value off its enum."""
    schema = spec.resolve(schema)
    for part in schema.get("allOf", []):
        schema = {**schema, **spec.resolve(part)}
    wrong: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        wrong.append(f"{where}: {value!r} not in the enum")
    if isinstance(value, dict):
        declared = schema.get("properties", {})
        for key, item in value.items():
            if key not in declared:
                wrong.append(f"{where}.{key}: not in the schema")
            else:
                wrong += conforms(spec, declared[key], item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            wrong += conforms(spec, schema.get("items", {}), item, f"{where}[{index}]")
    return wrong


def answer_schema(spec: SpecValidator, template: str) -> Any:
    op = spec.operation(template, "GET")
    assert op is not None, template
    return op["responses"]["200"]["content"]["application/json"]["schema"]


async def test_authz_profile_in_the_spec_shape_admin_by_default_then_as_set(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, openapi_path: Path
) -> None:
    spec = SpecValidator.for_path(openapi_path)
    await authed(rc_sim, http)
    answer = (await http.get(f"{EXT}/authz-profile")).json()
    assert conforms(spec, answer_schema(spec, E + "/authz-profile"), answer) == []
    granted = {p["permission"]["id"]: p["scopes"] for p in answer["permissions"]}
    assert set(granted) == rc_sim.user_permissions(rc_sim.extension_id)
    assert granted["ReadMessages"] == ["Self", "Account"] and "FullCompanyCallLog" in granted

    rc_sim.service_user_admin = False
    rc_sim.remove_user_permissions(rc_sim.extension_id, "OutboundSMS")
    answer = (await http.get(f"{EXT}/authz-profile")).json()
    granted = {p["permission"]["id"]: p["scopes"] for p in answer["permissions"]}
    assert "OutboundSMS" not in granted and "FullCompanyCallLog" not in granted
    assert granted["ReadMessages"] == ["Self"] and granted["ReadExtensions"] == ["Self", "Account"]


async def test_sms_configuration_of_a_number_and_its_registration(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, openapi_path: Path
) -> None:
    spec = SpecValidator.for_path(openapi_path)
    await authed(rc_sim, http)
    numbers = (await http.get(f"{EXT}/phone-number")).json()["records"]
    sender = next(n for n in numbers if "SmsSender" in n["features"])
    path = f"{EXT}/phone-number/{sender['id']}/sms-configuration"

    answer = (await http.get(path)).json()
    template = E + "/phone-number/{phoneNumberId}/sms-configuration"
    assert conforms(spec, answer_schema(spec, template), answer) == []
    assert answer["phoneNumber"] == sender["phoneNumber"]
    assert answer["smsCampaignInfo"]["status"] == "Confirmed"

    rc_sim.set_texting_registration(sender["phoneNumber"], "Submitted")
    assert (await http.get(path)).json()["smsCampaignInfo"]["status"] == "Submitted"
    rc_sim.set_texting_registration(sender["phoneNumber"], None)
    assert "smsCampaignInfo" not in (await http.get(path)).json()

    missing = await http.get(f"{EXT}/phone-number/1234567/sms-configuration")
    assert missing.status_code == 404 and missing.json()["errorCode"] == "CMN-102"
    refused = await http.get(f"{EXT}/phone-number/not-a-number/sms-configuration")
    assert refused.status_code == 400  # the spec's int64 path parameter
