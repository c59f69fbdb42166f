"""Account-side answers: extension info and list, phone numbers, directory, contacts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from bot.sim._rc_data_errors import JSON, Query, first, invalid, not_found, values
from bot.sim._rc_data_paging import API, Listing, paginate, parse_page, parse_per_page
from bot.sim._rc_data_people import COMPANY, OUTSIDERS, SITE, Extension, Number, digits

# Feature flags as the extension-info example lists them; off ones carry a reason.
_FEATURES_ON = (
    "SMS",
    "SMSReceiving",
    "Pager",
    "PagerReceiving",
    "Voicemail",
    "Fax",
    "FaxReceiving",
    "DND",
    "RingOut",
    "Presence",
    "Conferencing",
    "VoipCalling",
    "CallPark",
    "OnDemandCallRecording",
    "CallForwarding",
    "WebPhone",
    "MMS",
    "VoicemailToText",
    "AutomaticInboundCallRecording",
)
_FEATURES_OFF = (
    ("InternationalCalling", "AccountLimitation"),
    ("InternationalSMS", "AccountLimitation"),
    ("HipaaCompliance", "AccountLimitation"),
    ("FreeSoftPhoneLines", "ExtensionLimitation"),
)
_LOCALE = {"id": "1033", "name": "English (United States)", "localeCode": "en-US"}


@dataclass(frozen=True)
class Accounts:
    """The static part of the world, and the paths of its resources."""

    account_id: str
    site_id: str
    extensions: list[Extension]
    company: list[Number]
    contacts: dict[str, list[JSON]]  # extension id -> personal contacts (relative URIs)

    def path(self, extension_id: str | None = None) -> str:
        base = f"{API}/account/{self.account_id}"
        return base if extension_id is None else f"{base}/extension/{extension_id}"

    def ext(self, extension_id: str) -> Extension:
        for ext in self.extensions:
            if ext.id == extension_id:
                return ext
        raise not_found("extensionId")

    def numbers_of(self, extension_id: str) -> list[Number]:
        own = self.ext(extension_id).numbers
        # Every extension's list shows the company numbers too, as the example does.
        return [*own, *self.company]


def make_contacts(
    rng: random.Random, accounts_path: str, exts: list[Extension]
) -> dict[str, list[JSON]]:
    contacts: dict[str, list[JSON]] = {}
    for ext in exts:
        if ext.type != "User":
            continue
        picked = rng.sample(OUTSIDERS, 6)
        records = []
        for first_name, last, company, phone, _loc in picked:
            contact_id = rng.randrange(10**8, 10**9) * 1000 + 8
            record: JSON = {
                "uri": f"{accounts_path}/extension/{ext.id}/address-book/contact/{contact_id}",
                "availability": "Alive",
                "id": contact_id,
                "firstName": first_name,
                "lastName": last,
                "mobilePhone": phone,
                # RingCentral fills an unknown birthday with the epoch, as in its example
                "birthday": "1970-01-01T00:00:00.000Z",
            }
            if company:
                record["company"] = company
                record["businessPhone"] = phone
            record["email"] = f"{first_name}.{last}@example.org".lower()
            records.append(record)
        contacts[ext.id] = records
    return contacts


def extension_info(acc: Accounts, ext: Extension, *, full: bool = True) -> JSON:
    """Shape of extension-info-response.json (`full=False`: the list's shorter record)."""
    contact: JSON = {"firstName": ext.first_name}
    if ext.last_name:
        contact["lastName"] = ext.last_name
    contact["company"] = COMPANY
    if ext.email:
        contact["email"] = ext.email
    if ext.direct_number:
        contact["businessPhone"] = ext.direct_number
    contact["businessAddress"] = {
        "street": SITE[1],
        "city": SITE[2],
        "zip": SITE[3],
        "state": SITE[4],
        "country": "United States",
    }
    contact["emailAsLoginName"] = ext.email is not None
    contact["pronouncedName"] = {"type": "Default", "text": ext.name}
    path = acc.path(ext.id)
    info: JSON = {
        "uri": path,
        "id": int(ext.id),
        "extensionNumber": ext.number,
        "contact": contact,
        "name": ext.name,
        "type": ext.type,
        "status": ext.status,
    }
    if full:
        features: list[JSON] = [{"featureName": f, "enabled": True} for f in _FEATURES_ON]
        features += [{"featureName": f, "enabled": False, "reason": r} for f, r in _FEATURES_OFF]
        info["serviceFeatures"] = features
        info["regionalSettings"] = _regional_settings()
        info["setupWizardState"] = "Completed"
    info["permissions"] = {
        "admin": {"enabled": ext.number == "101"},
        "internationalCalling": {"enabled": False},
    }
    info["profileImage"] = {
        "uri": f"{path}/profile-image",
        "etag": f"{int(ext.id):032x}"[-32:],
        "contentType": "image/png",
        "lastModified": "2025-06-02T16:20:11.000Z",
        "scales": [{"uri": f"{path}/profile-image/{s}"} for s in ("90x90", "195x195", "584x584")],
    }
    info["account"] = {"uri": acc.path(), "id": acc.account_id}
    info["site"] = {"uri": f"{acc.path()}/site/{acc.site_id}", "id": acc.site_id, "name": SITE[0]}
    info["hidden"] = False
    return info


def _regional_settings() -> JSON:
    return {
        "timezone": {
            "uri": f"{API}/dictionary/timezone/58",
            "id": "58",
            "name": "US/Pacific",
            "description": "Pacific Time (US & Canada)",
            "bias": "-480",
        },
        "homeCountry": {
            "uri": f"{API}/dictionary/country/1",
            "id": "1",
            "name": "United States",
            "isoCode": "US",
            "callingCode": "1",
        },
        "language": dict(_LOCALE),
        "greetingLanguage": dict(_LOCALE),
        "formattingLocale": dict(_LOCALE),
        "timeFormat": "12h",
    }


def extension_list(acc: Accounts, query: Query) -> JSON:
    """Filters: `extensionNumber`, `email`, `status[]`, `type[]`; paging."""
    exts = list(acc.extensions)
    echo: list[tuple[str, str]] = []
    if (number := first(query, "extensionNumber")) is not None:
        exts = [e for e in exts if e.number == number]
        echo.append(("extensionNumber", number))
    if (email := first(query, "email")) is not None:
        exts = [e for e in exts if (e.email or "").lower() == email.lower()]
        echo.append(("email", email))
    for name, attr in (("status", "status"), ("type", "type")):
        if wanted := values(query, name):
            exts = [e for e in exts if getattr(e, attr) in wanted]
            echo += [(name, w) for w in wanted]
    records = [extension_info(acc, e, full=False) for e in exts]
    listing = Listing(f"{acc.path()}/extension", echo, parse_page(query), parse_per_page(query))
    return paginate(records, listing)


def number_record(acc: Accounts, number: Number, owner: Extension) -> JSON:
    record: JSON = {
        "uri": f"{acc.path(owner.id)}/phone-number/{number.id}",
        "id": number.id,
        "phoneNumber": number.phone_number,
        "paymentType": number.payment_type,
        "type": number.type,
        "usageType": number.usage_type,
        "status": number.status,
        "country": {"uri": f"{API}/dictionary/country/1", "id": "1", "name": "United States"},
        "features": list(number.features),
        "primary": number.primary,
    }
    if number.label:
        record["label"] = number.label
    if number.extension_id is not None:
        record["extension"] = {
            "uri": acc.path(owner.id),
            "id": int(owner.id),
            "extensionNumber": owner.number,
        }
    return record


def phone_numbers(acc: Accounts, extension_id: str, query: Query) -> JSON:
    """Filters: `usageType[]` (any of), `status`; paging with totals."""
    owner = acc.ext(extension_id)
    numbers = acc.numbers_of(extension_id)
    echo: list[tuple[str, str]] = []
    if (status := first(query, "status")) is not None:
        numbers = [n for n in numbers if n.status == status]
        echo.append(("status", status))
    if usage := values(query, "usageType"):
        numbers = [n for n in numbers if n.usage_type in usage]
        echo += [("usageType", u) for u in usage]
    records = [number_record(acc, n, owner) for n in numbers]
    listing = Listing(
        f"{acc.path(extension_id)}/phone-number", echo, parse_page(query), parse_per_page(query)
    )
    return paginate(records, listing)


def directory_record(acc: Accounts, ext: Extension) -> JSON:
    """Shape of directory-entry-response.json, plus phone numbers and job details."""
    record: JSON = {"id": ext.id, "type": ext.type, "status": ext.status}
    record["firstName"] = ext.first_name
    if ext.last_name:
        record["lastName"] = ext.last_name
    record["name"] = ext.name
    if ext.email:
        record["email"] = ext.email
    record["extensionNumber"] = ext.number
    if ext.job_title:
        record["jobTitle"] = ext.job_title
    if ext.department:
        record["department"] = ext.department
    record["phoneNumbers"] = [
        {
            "phoneNumber": n.phone_number,
            "type": n.type,
            "usageType": n.usage_type,
            "primary": n.primary,
            "hidden": False,
        }
        for n in ext.numbers
        if n.usage_type == "DirectNumber"
    ]
    record["account"] = {"id": acc.account_id, "companyName": COMPANY}
    record["site"] = {"id": acc.site_id, "name": SITE[0]}
    record["hidden"] = False
    return record


def _directory_page(records: list[JSON], page: int, per_page: int) -> JSON:
    # Directory lists carry `paging` (with totals) but no `uri` or `navigation` (SPEC
    # DirectoryResource).
    body = paginate(records, Listing("", (), page, per_page))
    return {"paging": body["paging"], "records": body["records"]}


def directory_entries(acc: Accounts, query: Query) -> JSON:
    """Filters: `type` (extension type); `showFederated` has no effect (no federation)."""
    exts = acc.extensions
    if (kind := first(query, "type")) is not None:
        exts = [e for e in exts if e.type == kind]
    return _directory_page(
        [directory_record(acc, e) for e in exts], parse_page(query), parse_per_page(query)
    )


def directory_entry(acc: Accounts, entry_id: str) -> JSON:
    for ext in acc.extensions:
        if ext.id == entry_id:
            return directory_record(acc, ext)
    raise not_found("entryId")


_SEARCH_FIELDS = ("firstName", "lastName", "extensionNumber", "phoneNumber", "email")


def directory_search(acc: Accounts, body: dict[str, Any]) -> JSON:
    """`searchString` (case-insensitive substring) over `searchFields` (default: names,
    extension number, phone number, email); `extensionType`; `page`/`perPage` in the body."""
    text = str(body.get("searchString") or "").strip().lower()
    fields = body.get("searchFields") or list(_SEARCH_FIELDS)
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise invalid("searchFields")
    kind = body.get("extensionType")
    found = []
    for ext in acc.extensions:
        if kind and ext.type != kind:
            continue
        record = directory_record(acc, ext)
        haystack = [str(record.get(f) or "") for f in fields if f != "phoneNumber"]
        if "phoneNumber" in fields:
            haystack += [p["phoneNumber"] for p in record["phoneNumbers"]]
        # A number typed with punctuation ("(650) 555-0103") still finds the entry.
        phone_like = bool(text) and all(ch.isdigit() or ch in "+-() ." for ch in text)
        wanted = digits(text) if phone_like else ""
        if not text or any(text in h.lower() or (wanted and wanted in digits(h)) for h in haystack):
            found.append(record)
    page, per_page = _body_int(body, "page", 1), min(_body_int(body, "perPage", 100), 1000)
    return _directory_page(found, page, per_page)


def _body_int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid(name, str(value))
    return value


def contacts(acc: Accounts, extension_id: str, query: Query) -> JSON:
    """Filters: `phoneNumber[]` (any phone field, digits compared), `startsWith` (first or
    last name, case-insensitive), `sortBy[]` (FirstName|LastName|Company); paging."""
    records = list(acc.contacts.get(acc.ext(extension_id).id, []))
    echo: list[tuple[str, str]] = []
    if (prefix := first(query, "startsWith")) is not None:
        low = prefix.lower()
        records = [
            r
            for r in records
            if r["firstName"].lower().startswith(low) or r["lastName"].lower().startswith(low)
        ]
        echo.append(("startsWith", prefix))
    if phones := values(query, "phoneNumber"):
        wanted = {digits(p) for p in phones}
        records = [r for r in records if wanted & {digits(v) for k, v in r.items() if "Phone" in k}]
        echo += [("phoneNumber", p) for p in phones]
    sort_by = values(query, "sortBy")
    keys = {"FirstName": "firstName", "LastName": "lastName", "Company": "company"}
    for key in reversed(sort_by):
        if key not in keys:
            raise invalid("sortBy", key)
        field = keys[key]
        records.sort(key=lambda r: str(r.get(field, "")).lower())
    echo += [("sortBy", s) for s in sort_by]
    listing = Listing(
        f"{acc.path(extension_id)}/address-book/contact",
        echo,
        parse_page(query),
        parse_per_page(query),
        echo_paging=False,
    )
    groups = {"groups": {"uri": f"{acc.path(extension_id)}/address-book/group"}}
    return paginate(records, listing, groups)
