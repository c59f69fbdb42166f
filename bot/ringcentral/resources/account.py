"""The account's extensions, phone numbers, directory and contacts (reference §4.2, §4.6,
§4.7): what the bridge needs to name callers and choose sending numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ..models.account import (
    BusinessHours,
    ExtensionInfo,
    ExtensionList,
    ExtensionStatus,
    ExtensionType,
    ForwardingNumberList,
    PhoneNumber,
    PhoneNumberList,
    PhoneNumberStatus,
    PhoneNumberUsageType,
)
from ..models.directory import (
    ContactList,
    DirectoryEntry,
    DirectoryList,
    DirectorySearchField,
    DirectorySearchRequest,
)
from ._base import Resource, flag, many, one, query, seg

__all__ = ["Account"]

ContactSort = Literal["FirstName", "LastName", "Company"]
DirectoryPerPage = int | Literal["max", "all"]
DirectoryType = Literal[
    "User", "Department", "Announcement", "Voicemail", "SharedLinesGroup", "PagingOnly",
    "IvrMenu", "ParkLocation", "Limited", "External", "DelegatedLinesGroup", "TieLine",
]  # fmt: skip


class Account(Resource):
    """Extensions, numbers, company directory and personal contacts."""

    async def extension(self) -> ExtensionInfo:
        """`GET /restapi/v1.0/account/{a}/extension/{e}`: name, features, home country."""
        return await self._get(ExtensionInfo, self._extension_path())

    async def business_hours(self) -> BusinessHours:
        """`GET /restapi/v1.0/account/{a}/business-hours`: the company's hours (needs the
        ReadAccounts app permission, the ReadCompanyAnsweringRules user permission)."""
        return await self._get(BusinessHours, self._account_path("/business-hours"))

    async def extensions(
        self,
        *,
        extension_number: str | None = None,
        email: str | Sequence[str] | None = None,
        status: ExtensionStatus | Sequence[ExtensionStatus] | None = None,
        type: ExtensionType | Sequence[ExtensionType] | None = None,
        page: int | None = None,
        per_page: int | None = None,
    ) -> ExtensionList:
        """`GET /restapi/v1.0/account/{a}/extension`: the account's extensions."""
        params = query(
            extensionNumber=extension_number,
            email=many(email),
            status=many(status, ExtensionStatus),
            type=many(type, ExtensionType),
            page=page,
            perPage=per_page,
        )
        return await self._get(ExtensionList, self._account_path("/extension"), params)

    async def phone_numbers(
        self,
        *,
        status: PhoneNumberStatus | None = None,
        usage_type: PhoneNumberUsageType | Sequence[PhoneNumberUsageType] | None = None,
        page: int | None = None,
        per_page: int | None = None,
    ) -> PhoneNumberList:
        """`GET …/extension/{e}/phone-number`: numbers the extension may use, with features."""
        params = query(
            status=one(status, PhoneNumberStatus),
            usageType=many(usage_type, PhoneNumberUsageType),
            page=page,
            perPage=per_page,
        )
        return await self._get(PhoneNumberList, self._extension_path("/phone-number"), params)

    async def forwarding_numbers(self) -> ForwardingNumberList:
        """`GET …/extension/{e}/forwarding-number`: the phones RingOut may ring first."""
        params = query(perPage=100)
        return await self._get(
            ForwardingNumberList, self._extension_path("/forwarding-number"), params
        )

    async def numbers_with_feature(
        self, feature: str, *, max_pages: int = 10
    ) -> tuple[PhoneNumber, ...]:
        """Every number of the extension carrying `feature` (SmsSender, MmsSender,
        CallerId…), across pages. RingCentral sends SMS only from `SmsSender` numbers."""
        found: list[PhoneNumber] = []
        for page in range(1, max_pages + 1):
            listing = await self.phone_numbers(page=page, per_page=100)
            found += [n for n in listing.records if n.has_feature(feature)]
            if not listing.has_next:
                break
        return tuple(found)

    async def directory_entries(
        self,
        *,
        type: DirectoryType | None = None,
        type_group: Literal["User", "NonUser"] | None = None,
        site_id: str | None = None,
        show_federated: bool | None = None,
        page: int | None = None,
        per_page: DirectoryPerPage | None = None,
    ) -> DirectoryList:
        """`GET /restapi/v1.0/account/{a}/directory/entries` (RingCentral's default page
        size here is 1000)."""
        params = query(
            showFederated=flag(show_federated),
            type=one(type, DirectoryType),
            typeGroup=type_group,
            page=page,
            perPage=per_page,
            siteId=site_id,
        )
        return await self._get(DirectoryList, self._account_path("/directory/entries"), params)

    async def search_directory(
        self,
        search_string: str,
        *,
        search_fields: Sequence[DirectorySearchField] | None = None,
        extension_type: str | None = None,
        page: int | None = None,
        per_page: int | None = None,
    ) -> DirectoryList:
        """`POST …/directory/entries/search`: find entries by name, number, email…"""
        body = DirectorySearchRequest(
            search_string=search_string,
            search_fields=list(search_fields) if search_fields else None,
            extension_type=extension_type,
            page=page,
            per_page=per_page,
        )
        return await self._read(
            DirectoryList,
            "POST",
            self._account_path("/directory/entries/search"),
            json=body.to_wire(),
        )

    async def directory_entry(self, entry_id: str) -> DirectoryEntry:
        """`GET …/directory/entries/{entryId}`."""
        path = self._account_path(f"/directory/entries/{seg(entry_id)}")
        return await self._get(DirectoryEntry, path)

    async def contacts(
        self,
        *,
        phone_number: str | Sequence[str] | None = None,
        starts_with: str | None = None,
        sort_by: ContactSort | Sequence[ContactSort] | None = None,
        page: int | None = None,
        per_page: int | None = None,
    ) -> ContactList:
        """`GET …/extension/{e}/address-book/contact`: the user's personal contacts,
        e.g. those with a given E.164 number (a caller-name lookup)."""
        params = query(
            startsWith=starts_with,
            sortBy=many(sort_by, ContactSort),
            page=page,
            perPage=per_page,
            phoneNumber=many(phone_number),
        )
        path = self._extension_path("/address-book/contact")
        return await self._get(ContactList, path, params)
