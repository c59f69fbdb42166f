"""Forwarding numbers (`GET …/extension/{extensionId}/forwarding-number`, SPEC
`GetExtensionForwardingNumberListResponse`): the phones a user's calls may be forwarded to,
which RingOut may ring first (`from.forwardingNumberId`).

Each extension's list starts from its numbers of usage `ForwardedNumber` (the World's
data); tests add more with `add`. Records carry `id`, `uri`, `phoneNumber`, `label`,
`features` and `type` as the spec's `ForwardingNumberInfo` does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from ._rc_http import SimResponse
from ._rc_state import Call, SimState, json_ok

__all__ = ["Forwarding", "forwarding", "forwarding_numbers"]


@dataclass
class Forwarding:
    """Extra forwarding numbers per extension id: (id, phone number, label, type)."""

    added: dict[str, list[tuple[str, str, str, str]]] = field(default_factory=dict)

    def add(self, extension_id: str, phone_number: str, label: str, kind: str = "Mobile") -> str:
        number_id = str(secrets.randbelow(10**9) + 10**9)
        self.added.setdefault(extension_id, []).append((number_id, phone_number, label, kind))
        return number_id


def forwarding(st: SimState) -> Forwarding:
    found = st.extras.get("forwarding")
    if not isinstance(found, Forwarding):
        found = st.extras["forwarding"] = Forwarding()
    return found


async def forwarding_numbers(st: SimState, call: Call) -> SimResponse:
    ext = call.extension(st.world)
    base = f"{st.server_url}/restapi/v1.0/account/{st.world.account_id}/extension/{ext}"
    listing = st.world.phone_numbers(ext, {"perPage": ["1000"]})
    records: list[dict[str, Any]] = []
    for number in listing["records"]:
        if number.get("usageType") != "ForwardedNumber":
            continue
        number_id = str(number["id"])
        records.append(
            {
                "uri": f"{base}/forwarding-number/{number_id}",
                "id": number_id,
                "phoneNumber": number["phoneNumber"],
                "label": number.get("label") or "Other",
                "features": ["CallForwarding", "CallFlip"],
                "type": "Other",
            }
        )
    for number_id, phone_number, label, kind in forwarding(st).added.get(ext, []):
        records.append(
            {
                "uri": f"{base}/forwarding-number/{number_id}",
                "id": number_id,
                "phoneNumber": phone_number,
                "label": label,
                "features": ["CallForwarding", "CallFlip"],
                "type": kind,
            }
        )
    paging: dict[str, int] = {"page": 1, "totalPages": 1, "perPage": 100}
    paging["totalElements"] = len(records)
    if records:  # an empty page has no first and last index
        paging["pageStart"], paging["pageEnd"] = 0, len(records) - 1
    uri = f"{base}/forwarding-number?page=1&perPage=100"
    navigation = {"firstPage": {"uri": uri}}
    return json_ok({"uri": uri, "records": records, "paging": paging, "navigation": navigation})
