"""What `python -m bot check` reads of who may do what (the permission model itself is
`_rc_permissions.py`):

- the user's permissions: `GET …/extension/{extensionId}/authz-profile`, SPEC
  `AuthProfileResource`: one entry per permission of the user's role, with its effective
  role and `scopes` (`Self`: the user's own data; `Account`: the whole account's, as an
  admin's permissions reach);
- a number's texting registration: `GET …/extension/{extensionId}/phone-number/
  {phoneNumberId}/sms-configuration`, SPEC `SmsConfigurationResource`, with the TCR
  campaign (`smsCampaignInfo.status`: `Confirmed` when the number may text as a business,
  DOCS sms-requirements.md). Every number with the SmsSender feature is registered unless
  a test says otherwise.

Unknown, so strict: a number that is not the extension's is answered 404 `CMN-102` (as
any id the path names that does not exist), and a number that cannot text is answered
without `smsCampaignInfo` (nothing registered).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._rc_data_errors import not_found
from ._rc_http import SimResponse
from ._rc_permissions import permissions_of
from ._rc_state import Call, SimState, json_ok

__all__ = ["Texting", "authz_profile", "sms_config", "texting"]

API = "/restapi/v1.0"
# Reaching the whole account whoever holds it: reading the account's extensions (the
# directory every user sees).
_ACCOUNT_WIDE = frozenset({"ReadExtensions"})
_ROLES = {"standard": "1", "admin": "2"}  # role ids: RingCentral's are opaque digits


@dataclass
class Texting:
    """Per phone number (E.164): its campaign status; absent: the default."""

    campaigns: dict[str, str | None] = field(default_factory=dict)


def texting(st: SimState) -> Texting:
    found = st.extras.get("texting")
    if not isinstance(found, Texting):
        found = st.extras["texting"] = Texting()
    return found


async def authz_profile(st: SimState, call: Call) -> SimResponse:
    ext = call.extension(st.world)
    perms = permissions_of(st.extras)
    admin = perms.is_admin(ext)
    role = _ROLES["admin" if admin else "standard"]
    base = f"{st.server_url}{API}"
    records = [
        {
            "permission": {"uri": f"{base}/dictionary/permission/{name}", "id": name},
            "effectiveRole": {"uri": f"{base}/dictionary/user-role/{role}", "id": role},
            "scopes": ["Self", "Account"] if admin or name in _ACCOUNT_WIDE else ["Self"],
        }
        for name in sorted(perms.of_user(ext))
    ]
    uri = f"{base}/account/{st.world.account_id}/extension/{ext}/authz-profile"
    return json_ok({"uri": uri, "permissions": records})


async def sms_config(st: SimState, call: Call) -> SimResponse:
    ext = call.extension(st.world)
    wanted = call.params["phoneNumberId"]
    listing = st.world.phone_numbers(ext, {"perPage": ["1000"]})
    number = next((n for n in listing["records"] if str(n["id"]) == wanted), None)
    if number is None:
        raise not_found("phoneNumberId")
    answer: dict[str, object] = {"phoneNumberId": wanted, "phoneNumber": number["phoneNumber"]}
    default = "Confirmed" if "SmsSender" in number.get("features", []) else None
    status = texting(st).campaigns.get(number["phoneNumber"], default)
    if status is not None:
        answer["smsCampaignInfo"] = {
            "id": f"C{abs(hash(number['phoneNumber'])) % 10**6:06d}",
            "status": status,
            "registrationTier": "LowVolume",
            "useCases": ["CUSTOMER_CARE"],
        }
        answer["smsBrandInfo"] = {"id": "B0SIMBRAND", "status": "Confirmed"}
    return json_ok(answer)
