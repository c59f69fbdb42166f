"""Who may do what: the user's permissions (SPEC `AuthProfileResource`) and a number's
texting registration (SPEC `SmsConfigurationResource`)."""

from __future__ import annotations

from ._base import Id, Inbound

__all__ = [
    "ActivePermission",
    "AuthProfile",
    "PermissionRef",
    "SmsCampaignInfo",
    "SmsConfiguration",
]


class PermissionRef(Inbound):
    id: str
    uri: str | None = None


class ActivePermission(Inbound):
    """One permission the user holds, and over whom: `Self` is the user's own data;
    `Account`, `AllExtensions`, `UserExtensions`… reach beyond it. The spec has a list
    (`scopes`); RingCentral's guide shows one value (`scope`): either is read."""

    permission: PermissionRef | None = None
    scopes: tuple[str, ...] = ()
    scope: str | None = None

    @property
    def reach(self) -> frozenset[str]:
        return frozenset([*self.scopes, *([self.scope] if self.scope else [])])


class AuthProfile(Inbound):
    """`GET …/extension/{id}/authz-profile`: the user's effective permissions."""

    permissions: tuple[ActivePermission, ...] = ()

    def scopes(self, permission_id: str) -> frozenset[str] | None:
        """Where `permission_id` reaches; None when the user does not hold it."""
        found = [
            held.reach
            for held in self.permissions
            if held.permission is not None and held.permission.id == permission_id
        ]
        return frozenset().union(*found) if found else None


class SmsCampaignInfo(Inbound):
    """The TCR campaign of a number: `status` `Confirmed` when it may text as a business
    (US and Canadian local numbers, RingCentral's SMS requirements)."""

    id: str | None = None
    status: str | None = None
    registration_tier: str | None = None
    use_cases: tuple[str, ...] = ()


class SmsConfiguration(Inbound):
    """`GET …/phone-number/{id}/sms-configuration`."""

    phone_number_id: Id | None = None
    phone_number: str | None = None
    sms_campaign_info: SmsCampaignInfo | None = None
