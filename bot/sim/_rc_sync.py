"""The sync endpoints (`…/message-sync`, `…/call-log-sync` of an extension and of the
account) and their test controls: tokens expired (`MSG-333`, `CLG-104` after it) and the
service user's FullCompanyCallLog permission.

The account-level call-log sync needs FullCompanyCallLog (DESIGN §3.10). Without it the
simulator answers 403 the way RingCentral words permission errors: `InsufficientPermissions`
at the top, the `CMN-408` detail naming the permission in `errors[]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._rc_data_sync import SyncTokens
from ._rc_http import SimResponse
from ._rc_state import Call, SimState, json_ok


@dataclass
class SyncControls:
    tokens: SyncTokens = field(default_factory=SyncTokens)
    company_call_log: bool = True  # the service user has FullCompanyCallLog


def sync_controls(st: SimState) -> SyncControls:
    value = st.extras.setdefault("sync", SyncControls())
    assert isinstance(value, SyncControls)
    return value


async def message_sync(st: SimState, call: Call) -> SimResponse:
    body = st.world.message_sync(call.extension(st.world), call.query, sync_controls(st).tokens)
    return json_ok(body)


async def call_log_sync_extension(st: SimState, call: Call) -> SimResponse:
    controls = sync_controls(st)
    return json_ok(st.world.call_log_sync(call.extension(st.world), call.query, controls.tokens))


async def call_log_sync_account(st: SimState, call: Call) -> SimResponse:
    st.world.check_account(call.params["accountId"])
    controls = sync_controls(st)
    if not controls.company_call_log:
        return _permission_required("FullCompanyCallLog")
    return json_ok(st.world.call_log_sync(None, call.query, controls.tokens))


def _permission_required(permission: str) -> SimResponse:
    detail: dict[str, Any] = {
        "errorCode": "CMN-408",
        "message": (
            f"In order to call this API endpoint, user needs to have [{permission}] "
            "permission for requested resource."
        ),
        "permissionName": permission,
    }
    body = {
        "errorCode": "InsufficientPermissions",
        "message": f"In order to call this API endpoint, user needs to have [{permission}] "
        "permission for requested resource.",
        "errors": [detail],
    }
    return SimResponse.json(403, body)
