"""What the user may do, and whether a number may text as a business (DESIGN §3.10, what
`check` reads)."""

from __future__ import annotations

from ..models.permissions import AuthProfile, SmsConfiguration
from ._base import Resource, seg

__all__ = ["Permissions"]


class Permissions(Resource):
    async def profile(self) -> AuthProfile:
        """`GET …/extension/{e}/authz-profile`: the user's permissions and their reach."""
        return await self._get(AuthProfile, self._extension_path("/authz-profile"))

    async def sms_configuration(self, phone_number_id: str) -> SmsConfiguration:
        """`GET …/extension/{e}/phone-number/{id}/sms-configuration`: its TCR campaign."""
        path = self._extension_path(f"/phone-number/{seg(phone_number_id)}/sms-configuration")
        return await self._get(SmsConfiguration, path)
