"""Who lives in the simulated account: extensions, phone numbers, outside people.

Numbers use the 555-01xx range that North American numbering keeps for fiction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# (extension number, type, first name, last name, job title, department, status)
_EXTENSIONS = [
    ("101", "User", "Dana", "Whitfield", "Operations Manager", "Operations", "Enabled"),
    ("102", "User", "Marcus", "Chen", "Account Executive", "Sales", "Enabled"),
    ("103", "User", "Priya", "Raman", "Support Engineer", "Support", "Enabled"),
    ("104", "User", "Tomás", "Okafor", "Sales Representative", "Sales", "Enabled"),
    ("105", "User", "Elena", "Petrova", "Office Administrator", "Operations", "Enabled"),
    ("106", "User", "Sam", "Becker", "Intern", "Support", "NotActivated"),
    ("500", "IvrMenu", "Main Menu", "", "", "", "Enabled"),
    ("600", "Department", "Support Queue", "", "", "Support", "Enabled"),
]
QUEUE_MEMBERS = ("101", "102", "103")  # extension numbers answering the Support Queue

# Outside people who call, text and fax: (first, last, company, E.164, location)
OUTSIDERS = [
    ("Grace", "Holloway", "Holloway Dental", "+12125550142", "New York, NY"),
    ("Luis", "Navarro", "Navarro Landscaping", "+13055550117", "Miami, FL"),
    ("Hannah", "Brooks", "", "+14155550123", "San Francisco, CA"),
    ("Kenji", "Watanabe", "Pacific Freight", "+12065550188", "Seattle, WA"),
    ("Amara", "Osei", "Osei & Partners", "+13125550164", "Chicago, IL"),
    ("Felix", "Schröder", "", "+16175550139", "Boston, MA"),
    ("Rosa", "Delgado", "Sunrise Clinic", "+15125550171", "Austin, TX"),
    ("Oliver", "Grant", "Grant Legal", "+17205550106", "Denver, CO"),
    ("Mei", "Lin", "", "+14085550193", "San Jose, CA"),
    ("Daniel", "Ferreira", "Ferreira Imports", "+19735550158", "Newark, NJ"),
    ("Chloe", "Martin", "", "+15035550127", "Portland, OR"),
    ("Ibrahim", "Haddad", "Cedar Bakery", "+13135550181", "Detroit, MI"),
]
MAIN_NUMBER = "+16505550100"
TOLL_FREE = "+18005550199"
COMPANY_FAX = "+16505550109"
SITE = ("Main Office", "13 Elm Street", "Foster City", "94404", "CA")
COMPANY = "Brightwater Supply Co."


@dataclass(frozen=True)
class Number:
    """One phone number record (SPEC UserPhoneNumberInfo), owned by `extension_id` or shared."""

    id: int
    phone_number: str
    type: str  # VoiceFax | VoiceOnly | FaxOnly
    usage_type: str
    payment_type: str
    features: tuple[str, ...]
    extension_id: str | None  # None: a company number every extension lists
    label: str | None = None
    primary: bool = False
    status: str = "Normal"


@dataclass
class Extension:
    id: str
    number: str
    type: str
    first_name: str
    last_name: str
    job_title: str
    department: str
    status: str
    members: tuple[str, ...] = ()  # extension ids, for the queue
    numbers: list[Number] = field(default_factory=list)
    contact_email: str | None = None  # set by a test: another address, or one two share

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def email(self) -> str | None:
        if self.type != "User":
            return None
        if self.contact_email is not None:
            return self.contact_email
        return f"{self.first_name[0]}.{self.last_name}@brightwater.example.com".lower()

    @property
    def direct_number(self) -> str | None:
        direct = [n for n in self.numbers if n.usage_type == "DirectNumber"]
        return direct[0].phone_number if direct else None


def ringcentral_id(rng: random.Random) -> str:
    """An id like RingCentral's: a large integer ending in the pod suffix 008."""
    return str(rng.randrange(10**8, 10**9) * 1000 + 8)


def make_extensions(rng: random.Random) -> list[Extension]:
    exts = [
        Extension(ringcentral_id(rng), num, kind, first, last, title, dept, status)
        for num, kind, first, last, title, dept, status in _EXTENSIONS
    ]
    by_number = {e.number: e for e in exts}
    by_number["600"].members = tuple(by_number[n].id for n in QUEUE_MEMBERS)

    def add(
        ext: Extension,
        phone: str,
        kind: str,
        usage: str,
        features: tuple[str, ...],
        label: str | None = None,
        primary: bool = False,
    ) -> None:
        ext.numbers.append(
            Number(
                int(ringcentral_id(rng)),
                phone,
                kind,
                usage,
                "Local",
                features,
                ext.id,
                label,
                primary,
            )
        )

    sms = ("CallerId", "SmsSender", "MmsSender")
    service = by_number["101"]
    add(service, "+16505550101", "VoiceFax", "DirectNumber", sms, primary=True)
    # A second line without SMS: sending from it must fail (MSG-367)
    add(service, "+16505550111", "VoiceOnly", "DirectNumber", ("CallerId",))
    add(service, "+14155550161", "VoiceOnly", "ForwardedNumber", (), label="Mobile")
    for number in ("102", "103", "104", "105"):
        ext = by_number[number]
        features = sms if number != "105" else ("CallerId", "SmsSender")
        add(ext, f"+1650555010{number[-1]}", "VoiceFax", "DirectNumber", features, primary=True)
    add(by_number["106"], "+16505550106", "VoiceOnly", "DirectNumber", ("CallerId",))
    add(
        by_number["600"],
        "+16505550120",
        "VoiceFax",
        "DirectNumber",
        ("CallerId", "SmsSender"),
        primary=True,
    )
    return exts


def company_numbers(rng: random.Random) -> list[Number]:
    return [
        Number(
            int(ringcentral_id(rng)),
            MAIN_NUMBER,
            "VoiceFax",
            "MainCompanyNumber",
            "Local",
            ("CallerId",),
            None,
            primary=True,
        ),
        Number(
            int(ringcentral_id(rng)),
            TOLL_FREE,
            "VoiceOnly",
            "CompanyNumber",
            "TollFree",
            ("CallerId",),
            None,
        ),
        # The fax line: sending an SMS from it is MSG-241
        Number(
            int(ringcentral_id(rng)),
            COMPANY_FAX,
            "FaxOnly",
            "CompanyFaxNumber",
            "Local",
            ("CallerId",),
            None,
        ),
    ]


def digits(phone: str) -> str:
    """Only the digits: '+1 (650) 555-0101' and '16505550101' compare equal."""
    return "".join(ch for ch in phone if ch.isdigit())
