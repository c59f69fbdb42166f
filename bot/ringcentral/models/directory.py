"""Company directory entries and personal address-book contacts, for caller names
(SPEC `ContactResource`, `DirectoryResource`, `SearchDirectoryEntriesRequest`,
`PersonalContactResource`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ._base import Id, Inbound, Outbound
from .common import Reference
from .paging import Listing, Paging

__all__ = [
    "Contact",
    "ContactList",
    "DirectoryEntry",
    "DirectoryList",
    "DirectoryPhoneNumber",
    "DirectorySearchField",
    "DirectorySearchRequest",
]

DirectorySearchField = Literal[
    "firstName", "lastName", "extensionNumber", "phoneNumber", "email", "jobTitle",
    "department", "customFieldValue",
]  # fmt: skip


class DirectoryPhoneNumber(Inbound):
    phone_number: str | None = None
    formatted_phone_number: str | None = None
    e164: str | None = None
    type: str | None = None
    usage_type: str | None = None
    label: str | None = None
    primary: bool | None = None
    hidden: bool | None = None


class DirectoryEntry(Inbound):
    """A company directory entry (user, call queue, IVR, …)."""

    id: Id
    type: str | None = None
    status: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    email: str | None = None
    extension_number: str | None = None
    job_title: str | None = None
    department: str | None = None
    account: Reference | None = None
    site: Reference | None = None
    phone_numbers: tuple[DirectoryPhoneNumber, ...] = ()
    hidden: bool | None = None

    @property
    def display_name(self) -> str | None:
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return self.name or full or None


class DirectoryList(Inbound):
    """Answer of directory list and search: `records` and `paging`, no navigation."""

    records: tuple[DirectoryEntry, ...] = ()
    paging: Paging | None = None


class DirectorySearchRequest(Outbound):
    """Body of `POST /restapi/v1.0/account/~/directory/entries/search` (common fields)."""

    search_string: str | None = None
    search_fields: list[DirectorySearchField] | None = None
    extension_type: str | None = None
    site_id: str | None = None
    show_federated: bool | None = None
    page: int | None = None
    per_page: int | None = None


class Contact(Inbound):
    """A personal address-book contact."""

    id: Id
    uri: str | None = None
    availability: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    email: str | None = None
    business_phone: str | None = None
    business_phone2: str | None = None
    mobile_phone: str | None = None
    home_phone: str | None = None
    home_phone2: str | None = None
    company_phone: str | None = None
    other_phone: str | None = None
    birthday: datetime | None = None

    @property
    def display_name(self) -> str | None:
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or self.company or None


class ContactList(Listing[Contact]):
    """Answer of `GET …/address-book/contact`."""
