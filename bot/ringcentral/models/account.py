"""Extensions and their phone numbers (SPEC `GetExtensionInfoResponse`,
`GetExtensionPhoneNumbersResponse`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import Id, Inbound
from .common import CountryInfo, Reference
from .paging import Listing

__all__ = [
    "BusinessHours",
    "BusinessHoursSchedule",
    "ExtensionContact",
    "ExtensionInfo",
    "ExtensionList",
    "ExtensionStatus",
    "ExtensionType",
    "ForwardingNumber",
    "ForwardingNumberList",
    "PhoneNumber",
    "PhoneNumberList",
    "PhoneNumberStatus",
    "PhoneNumberUsageType",
    "RegionalSettings",
    "ServiceFeature",
    "TimeInterval",
    "Timezone",
    "WeeklySchedule",
]

# Strict values for query filters we send (SPEC AllExtensionTypesEnum,
# ExtensionStatusEnumFull, PhoneNumberStatus, PhoneNumberUsageType).
ExtensionType = Literal[
    "User", "Department", "Announcement", "Voicemail", "DigitalUser", "VirtualUser",
    "FaxUser", "PagingOnly", "SharedLinesGroup", "DelegatedLinesGroup", "GroupCallPickup",
    "IvrMenu", "ApplicationExtension", "ProxyAdmin", "RoomConnector", "ParkLocation",
    "Limited", "Bot", "Site", "Room", "FlexibleUser", "TieLine", "Unknown",
]  # fmt: skip
ExtensionStatus = Literal["Enabled", "Disabled", "Frozen", "NotActivated", "Unassigned"]
PhoneNumberStatus = Literal["Normal", "Pending", "PortedIn", "Temporary", "Unknown"]
PhoneNumberUsageType = Literal[
    "MainCompanyNumber", "AdditionalCompanyNumber", "CompanyNumber", "DirectNumber",
    "CompanyFaxNumber", "FmcBusinessMobileNumber", "InventoryFmcBusinessMobileNumber",
    "ForwardedNumber", "ForwardedCompanyNumber", "ContactCenterNumber",
    "ConferencingNumber", "MeetingsNumber", "NumberPool", "BusinessMobileNumber", "ELIN",
    "PartnerBusinessMobileNumber", "NumberPoolPartnerBusinessMobileNumber",
    "NumberStorage", "IntegrationNumber", "InventoryMobileNumber",
]  # fmt: skip


class ServiceFeature(Inbound):
    """One entry of `serviceFeatures` (SMS, SMSReceiving, Pager, RingOut, VoicemailToText…)."""

    feature_name: str
    enabled: bool = False
    reason: str | None = None


class Timezone(Inbound):
    id: Id | None = None
    name: str | None = None  # IANA-style, e.g. US/Pacific
    description: str | None = None
    bias: str | None = None


class RegionalSettings(Inbound):
    home_country: CountryInfo | None = None
    timezone: Timezone | None = None
    time_format: str | None = None


class ExtensionContact(Inbound):
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    email: str | None = None
    business_phone: str | None = None
    mobile_phone: str | None = None


class ExtensionInfo(Inbound):
    """`GET /restapi/v1.0/account/~/extension/{id}`; also a record of the extension list."""

    id: Id
    uri: str | None = None
    extension_number: str | None = None
    name: str | None = None
    type: str | None = None
    status: str | None = None
    contact: ExtensionContact | None = None
    service_features: tuple[ServiceFeature, ...] = ()
    regional_settings: RegionalSettings | None = None
    account: Reference | None = None
    site: Reference | None = None
    hidden: bool | None = None

    def has_feature(self, name: str) -> bool:
        """Whether the service feature `name` is listed and enabled."""
        return any(f.feature_name == name and f.enabled for f in self.service_features)

    @property
    def home_country_iso(self) -> str | None:
        """ISO code of the home country, which national-form numbers are read in."""
        rs = self.regional_settings
        return rs.home_country.iso_code if rs and rs.home_country else None


class ExtensionList(Listing[ExtensionInfo]):
    """Answer of `GET /restapi/v1.0/account/~/extension`."""


class PhoneNumber(Inbound):
    """A number the extension may use (`GET …/extension/~/phone-number` record)."""

    id: Id
    phone_number: str
    uri: str | None = None
    payment_type: str | None = None
    type: str | None = None  # VoiceFax, VoiceOnly, FaxOnly
    usage_type: str | None = None
    status: str | None = None
    country: CountryInfo | None = None
    features: tuple[str, ...] = ()  # CallerId, SmsSender, MmsSender, A2PSmsSender, …
    label: str | None = None
    primary: bool | None = None
    extension: Reference | None = None

    def has_feature(self, feature: str) -> bool:
        return feature in self.features


class PhoneNumberList(Listing[PhoneNumber]):
    """Answer of `GET …/extension/~/phone-number`."""


class ForwardingNumber(Inbound):
    """A phone the user's calls may be forwarded to (SPEC `ForwardingNumberInfo`): what
    RingOut may ring first."""

    id: Id
    phone_number: str | None = None
    label: str | None = None
    type: str | None = None


class ForwardingNumberList(Listing[ForwardingNumber]):
    """Answer of `GET …/extension/~/forwarding-number`."""


class TimeInterval(Inbound):
    """SPEC `TimeInterval`: `hh:mm` strings (the spec's own example once shows `to` as a
    number of minutes; the schema says a string, which is what the bridge reads)."""

    from_: str = Field(alias="from")
    to: str


class WeeklySchedule(Inbound):
    """SPEC `WeeklyScheduleInfo`: a day left out has no business hours."""

    monday: tuple[TimeInterval, ...] = ()
    tuesday: tuple[TimeInterval, ...] = ()
    wednesday: tuple[TimeInterval, ...] = ()
    thursday: tuple[TimeInterval, ...] = ()
    friday: tuple[TimeInterval, ...] = ()
    saturday: tuple[TimeInterval, ...] = ()
    sunday: tuple[TimeInterval, ...] = ()

    def ranges(self) -> dict[str, list[tuple[str, str]]]:
        """Day name → its (from, to) pairs."""
        return {
            day: [(i.from_, i.to) for i in getattr(self, day)]
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                        "sunday")
        }  # fmt: skip


class BusinessHoursSchedule(Inbound):
    weekly_ranges: WeeklySchedule | None = None


class BusinessHours(Inbound):
    """`GET /restapi/v1.0/account/~/business-hours` (SPEC `CompanyBusinessHours`); no
    weekly ranges means "24 hours/7 days a week"."""

    uri: str | None = None
    schedule: BusinessHoursSchedule | None = None
