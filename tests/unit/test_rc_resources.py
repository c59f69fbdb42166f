"""The typed resources send exactly what RingCentral documents (method, path, query, body),
parse the answers, and refuse oversize requests before sending anything.

`FakeRequester` is a stateful fake `Requester`: it records every call and answers with
the RingCentral example payloads.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.ringcentral._requester import Download, FilePart, QueryParams
from bot.ringcentral.models import LimitExceeded, PagerParty
from bot.ringcentral.resources import Account, CallLog, Messages, RingOut, Subscriptions

EXT = "/restapi/v1.0/account/~/extension/~"
ACCT = "/restapi/v1.0/account/~"


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    files: list[tuple[str, FilePart]] | None = None
    headers: dict[str, str] | None = None


@dataclass
class FakeRequester:
    """Answers `(method, path)` with a queued body; records every call, downloads too."""

    examples: Path | None = None
    answers: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)

    def answer(
        self, method: str, path: str, body: str | dict[str, Any] | None, status: int = 200
    ) -> None:
        if isinstance(body, str):
            assert self.examples is not None
            content = (self.examples / body).read_bytes()
        else:
            content = b"" if body is None else json.dumps(body).encode()
        self.answers[(method, path)] = (status, content)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        files: Sequence[tuple[str, FilePart]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        self.calls.append(
            Call(
                method,
                path,
                dict(params) if params is not None else None,
                json,
                list(files) if files is not None else None,
                dict(headers) if headers is not None else None,
            )
        )
        status, content = self.answers.get((method, path), (204, b""))
        return httpx.Response(status, content=content)

    async def download(self, url: str) -> Download:
        self.downloads.append(url)
        return Download(content=b"RIFF", content_type="audio/x-wav", filename="1.wav")

    @property
    def last(self) -> Call:
        return self.calls[-1]


@pytest.fixture
def rq(examples_dir: Path) -> FakeRequester:
    return FakeRequester(examples=examples_dir)


T0 = datetime(2026, 3, 10, 18, 7, 52, 534000, tzinfo=UTC)
T0_WIRE = "2026-03-10T18:07:52.534Z"


# --- SMS / MMS / pager ------------------------------------------------------------------


async def test_send_sms_sends_the_documented_body(rq: FakeRequester) -> None:
    rq.answer("POST", f"{EXT}/sms", "sms-send-response.json")
    sent = await Messages(rq).send_sms("+18559100010", "+18551003738", "Hello & <b>")
    call = rq.last
    assert (call.method, call.path, call.params, call.files) == ("POST", f"{EXT}/sms", None, None)
    assert call.json == {
        "from": {"phoneNumber": "+18559100010"},
        "to": [{"phoneNumber": "+18551003738"}],
        "text": "Hello & <b>",
    }
    assert sent.conversation_id == "4481650717038104652"


@pytest.mark.parametrize(("country", "wire"), [("US", {"isoCode": "US"}), ("1", {"id": "1"})])
async def test_send_sms_country(rq: FakeRequester, country: str, wire: dict[str, str]) -> None:
    rq.answer("POST", f"{EXT}/sms", "sms-send-response.json")
    await Messages(rq).send_sms("+1", ["+2", "+3"], "hi", country=country)
    assert rq.last.json["country"] == wire
    assert rq.last.json["to"] == [{"phoneNumber": "+2"}, {"phoneNumber": "+3"}]


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("a" * 1000, True),
        ("a" * 1001, False),
        ("a" * 998 + "😀", True),  # a 4-byte emoji is 2 UTF-16 units: exactly 1000
        ("a" * 999 + "😀", False),  # …and here it pushes the text to 1001
        ("😀" * 500, True),
        ("é" * 1000, True),  # 2 bytes in UTF-8, but 1 UTF-16 unit
    ],
)
async def test_sms_text_limit_is_checked_before_sending(
    rq: FakeRequester, text: str, fits: bool
) -> None:
    rq.answer("POST", f"{EXT}/sms", "sms-send-response.json")
    if fits:
        await Messages(rq).send_sms("+1", "+2", text)
        assert rq.last.json["text"] == text
    else:
        with pytest.raises(LimitExceeded, match="1001 UTF-16 code units") as err:
            await Messages(rq).send_sms("+1", "+2", text)
        assert (err.value.actual, err.value.limit) == (1001, 1000)
        assert rq.calls == []


def image(size: int, name: str = "a.png") -> FilePart:
    return (name, b"\x89" * size, "image/png")


async def test_send_mms_is_multipart_with_the_json_part_first(rq: FakeRequester) -> None:
    rq.answer("POST", f"{EXT}/sms", "mms-send-response.json")
    sent = await Messages(rq).send_mms(
        "+18882004237",
        "+18772004569",
        "hello",
        [image(10, "a.png"), ("b.jpg", b"jpg", "image/jpeg")],
    )
    call = rq.last
    assert (call.method, call.path, call.json) == ("POST", f"{EXT}/sms", None)
    assert call.files is not None
    (name, (filename, content, ctype)), *rest = call.files
    assert (name, filename, ctype) == ("json", "request.json", "application/json")
    assert json.loads(content) == {
        "from": {"phoneNumber": "+18882004237"},
        "to": [{"phoneNumber": "+18772004569"}],
        "text": "hello",
    }
    assert rest == [
        ("attachment", image(10, "a.png")),
        ("attachment", ("b.jpg", b"jpg", "image/jpeg")),
    ]
    assert [a.type for a in sent.media] == ["MmsAttachment"]


async def test_send_mms_without_text_omits_it(rq: FakeRequester) -> None:
    rq.answer("POST", f"{EXT}/sms", "mms-send-response.json")
    await Messages(rq).send_mms("+1", "+2", None, [image(1)])
    assert rq.last.files is not None
    assert "text" not in json.loads(rq.last.files[0][1][1])


@pytest.mark.parametrize(
    ("attachments", "what"),
    [
        ([image(1)] * 11, "11 attachments"),
        ([image(750_000), image(750_001)], "1500001 bytes"),
        ([image(1_500_001)], "1500001 bytes"),
    ],
)
async def test_mms_limits_are_checked_before_sending(
    rq: FakeRequester, attachments: list[FilePart], what: str
) -> None:
    with pytest.raises(LimitExceeded, match=what):
        await Messages(rq).send_mms("+1", "+2", "hi", attachments)
    assert rq.calls == []


async def test_mms_at_the_limits_is_sent(rq: FakeRequester) -> None:
    rq.answer("POST", f"{EXT}/sms", "mms-send-response.json")
    await Messages(rq).send_mms("+1", "+2", "hi", [image(150_000)] * 10)  # 10 parts, 1.5 MB
    assert rq.last.files is not None and len(rq.last.files) == 11


async def test_mms_refuses_long_text_and_no_attachments(rq: FakeRequester) -> None:
    with pytest.raises(LimitExceeded):
        await Messages(rq).send_mms("+1", "+2", "a" * 999 + "😀", [image(1)])
    with pytest.raises(ValueError, match="at least one attachment"):
        await Messages(rq).send_mms("+1", "+2", "hi", [])
    assert rq.calls == []


async def test_send_pager(rq: FakeRequester, examples_dir: Path) -> None:
    rq.answer("POST", f"{EXT}/company-pager", "company-pager-send-response.json")
    sent = await Messages(rq).send_pager(
        [PagerParty(extension_id="2759654004"), PagerParty(extension_number="104")],
        "Hello!",
        from_=PagerParty(extension_id="2759647004"),
    )
    expected = json.loads((examples_dir / "company-pager-send-request.json").read_text())
    assert (rq.last.method, rq.last.path, rq.last.json) == (
        "POST",
        f"{EXT}/company-pager",
        expected,
    )
    assert sent.type == "Pager"
    with pytest.raises(LimitExceeded):
        await Messages(rq).send_pager([PagerParty(extension_number="1")], "x" * 1025)
    assert len(rq.calls) == 1


# --- message store ----------------------------------------------------------------------

MESSAGE_FILTERS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"availability": "Deleted"}, {"availability": ["Deleted"]}),
    ({"availability": ["Alive", "Purged"]}, {"availability": ["Alive", "Purged"]}),
    ({"conversation_id": "4481650717038104652"}, {"conversationId": "4481650717038104652"}),
    ({"date_from": T0}, {"dateFrom": T0_WIRE}),
    ({"date_to": T0}, {"dateTo": T0_WIRE}),
    ({"direction": "Inbound"}, {"direction": ["Inbound"]}),
    ({"direction": ["Inbound", "Outbound"]}, {"direction": ["Inbound", "Outbound"]}),
    ({"distinct_conversations": True}, {"distinctConversations": "true"}),
    ({"distinct_conversations": False}, {"distinctConversations": "false"}),
    ({"message_type": ["SMS", "Pager"]}, {"messageType": ["SMS", "Pager"]}),
    ({"message_type": "VoiceMail"}, {"messageType": ["VoiceMail"]}),
    ({"read_status": "Unread"}, {"readStatus": ["Unread"]}),
    ({"page": 2}, {"page": 2}),
    ({"per_page": 1000}, {"perPage": 1000}),
    ({"phone_number": "+16505550100"}, {"phoneNumber": "+16505550100"}),
    ({"owner": "Shared"}, {"owner": ["Shared"]}),
    ({"owner": ["101", "102"]}, {"owner": ["101", "102"]}),
    ({"owner_extension_type": "Department"}, {"ownerExtensionType": ["Department"]}),
]


@pytest.mark.parametrize(("kwargs", "params"), MESSAGE_FILTERS)
async def test_message_list_filters(
    rq: FakeRequester, kwargs: dict[str, Any], params: dict[str, Any]
) -> None:
    rq.answer("GET", f"{EXT}/message-store", "message-store-list-response.json")
    listing = await Messages(rq).list(**kwargs)
    assert (rq.last.method, rq.last.path, rq.last.params) == ("GET", f"{EXT}/message-store", params)
    assert len(listing.records) == 2


def test_message_list_exposes_every_documented_filter() -> None:
    # reference §4.5 (SPEC listMessages), minus the deprecated voicemailOwner
    documented = {
        "availability", "conversation_id", "date_from", "date_to", "direction",
        "distinct_conversations", "message_type", "read_status", "page", "per_page",
        "phone_number", "owner", "owner_extension_type",
    }  # fmt: skip
    assert set(inspect.signature(Messages.list).parameters) - {"self"} == documented


async def test_message_list_all_filters_at_once(rq: FakeRequester) -> None:
    rq.answer("GET", f"{EXT}/message-store", "message-store-list-response.json")
    merged: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for kwargs, params in MESSAGE_FILTERS:
        merged |= kwargs
        expected |= params
    await Messages(rq).list(**merged)
    assert rq.last.params == expected


async def test_message_list_local_errors(rq: FakeRequester) -> None:
    with pytest.raises(ValueError, match="'Voicemail' is not one of"):
        await Messages(rq).list(message_type="Voicemail")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        await Messages(rq).list(date_from=datetime(2026, 1, 1))
    assert rq.calls == []


async def test_dates_are_sent_in_utc(rq: FakeRequester) -> None:
    rq.answer("GET", f"{EXT}/message-store", "message-store-list-response.json")
    local = T0.astimezone(timezone(timedelta(hours=-8)))
    await Messages(rq).list(date_from=local)
    assert rq.last.params == {"dateFrom": T0_WIRE}


async def test_get_message_and_content(rq: FakeRequester) -> None:
    rq.answer("GET", f"{EXT}/message-store/402406984008", "message-store-voicemail-response.json")
    messages = Messages(rq, media_url="http://127.0.0.1:9/")
    vm = await messages.get("402406984008")
    assert (rq.last.method, rq.last.path, rq.last.params) == (
        "GET", f"{EXT}/message-store/402406984008", None,
    )  # fmt: skip
    assert vm.audio is not None
    await messages.download(vm.audio)
    await messages.content("402406984008", "402406984008")
    await messages.content("1", "2", content_disposition="Attachment")
    assert rq.downloads == [
        vm.audio.uri,
        f"http://127.0.0.1:9{EXT}/message-store/402406984008/content/402406984008",
        f"http://127.0.0.1:9{EXT}/message-store/1/content/2?contentDisposition=Attachment",
    ]
    with pytest.raises(ValueError, match="no content uri"):
        await messages.download(vm.audio.model_copy(update={"uri": None}))


async def test_ids_are_path_segments_never_paths(rq: FakeRequester) -> None:
    rq.answer(
        "GET", f"{EXT}/message-store/..%2F..%2Fsubscription", "message-store-sms-response.json"
    )
    await Messages(rq).get("../../subscription")
    assert rq.last.path == f"{EXT}/message-store/..%2F..%2Fsubscription"


async def test_for_extension(rq: FakeRequester) -> None:
    rq.answer(
        "GET",
        "/restapi/v1.0/account/~/extension/62242421016/message-store",
        "message-store-list-response.json",
    )
    other = Messages(rq).for_extension("62242421016")
    await other.list(page=1)
    assert rq.last.path == "/restapi/v1.0/account/~/extension/62242421016/message-store"
    assert Messages(rq).extension_id == "~"


# --- RingOut ----------------------------------------------------------------------------


async def test_ringout_create_sends_the_documented_body(
    rq: FakeRequester, examples_dir: Path
) -> None:
    rq.answer("POST", f"{EXT}/ring-out", "ringout-create-response.json")
    status = await RingOut(rq).create(
        "+16052160005", "+12053320032", play_prompt=True, country_id="44"
    )
    expected = json.loads((examples_dir / "ringout-create-request.json").read_text())
    assert (rq.last.method, rq.last.path, rq.last.json) == ("POST", f"{EXT}/ring-out", expected)
    assert status.in_progress


async def test_ringout_forwarding_number_and_caller_id(rq: FakeRequester) -> None:
    rq.answer("POST", f"{EXT}/ring-out", "ringout-create-response.json")
    await RingOut(rq).create("+2", forwarding_number_id="fw-1", caller_id="+18662023452")
    assert rq.last.json == {
        "from": {"forwardingNumberId": "fw-1"},
        "to": {"phoneNumber": "+2"},
        "callerId": {"phoneNumber": "+18662023452"},
    }
    with pytest.raises(ValueError):
        await RingOut(rq).create("+2")
    with pytest.raises(ValueError):
        await RingOut(rq).create("+2", "+1", forwarding_number_id="fw-1")
    assert len(rq.calls) == 1


async def test_ringout_status_and_cancel(rq: FakeRequester) -> None:
    rq.answer("GET", f"{EXT}/ring-out/Y3Mx", "ringout-status-response.json")
    status = await RingOut(rq).status("Y3Mx")
    await RingOut(rq).cancel("Y3Mx")
    assert [(c.method, c.path) for c in rq.calls] == [
        ("GET", f"{EXT}/ring-out/Y3Mx"),
        ("DELETE", f"{EXT}/ring-out/Y3Mx"),
    ]
    assert status.status.call_status == "Success"


# --- call log ---------------------------------------------------------------------------

SHARED_CALL_FILTERS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"extension_number": "101"}, {"extensionNumber": "101"}),
    ({"phone_number": "+12053320032"}, {"phoneNumber": "12053320032"}),  # no '+' (SPEC)
    ({"direction": "Inbound"}, {"direction": ["Inbound"]}),
    ({"direction": ["Inbound", "Outbound"]}, {"direction": ["Inbound", "Outbound"]}),
    ({"session_id": "404036325008"}, {"sessionId": "404036325008"}),
    ({"telephony_session_id": "s-9a03"}, {"telephonySessionId": "s-9a03"}),
    ({"type": "Fax"}, {"type": ["Fax"]}),
    ({"view": "Detailed"}, {"view": "Detailed"}),
    ({"with_recording": True}, {"withRecording": "true"}),
    ({"recording_type": "OnDemand"}, {"recordingType": "OnDemand"}),
    ({"date_from": T0}, {"dateFrom": T0_WIRE}),
    ({"date_to": T0}, {"dateTo": T0_WIRE}),
    ({"metadata_category": ["Ai", "Notes"]}, {"metadataCategory": ["Ai", "Notes"]}),
    ({"page": 3}, {"page": 3}),
    ({"per_page": "max"}, {"perPage": "max"}),
    ({"per_page": 20}, {"perPage": 20}),
    ({"show_deleted": True}, {"showDeleted": "true"}),
]
EXTENSION_ONLY_CALL_FILTERS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"show_blocked": False}, {"showBlocked": "false"}),
    ({"transport": ["PSTN", "VoIP"]}, {"transport": ["PSTN", "VoIP"]}),
]


@pytest.mark.parametrize(("kwargs", "params"), SHARED_CALL_FILTERS + EXTENSION_ONLY_CALL_FILTERS)
async def test_extension_call_log_filters(
    rq: FakeRequester, kwargs: dict[str, Any], params: dict[str, Any]
) -> None:
    rq.answer("GET", f"{EXT}/call-log", "call-log-list-simple-response.json")
    listing = await CallLog(rq).list(**kwargs)
    assert (rq.last.method, rq.last.path, rq.last.params) == ("GET", f"{EXT}/call-log", params)
    assert listing.has_next


@pytest.mark.parametrize(("kwargs", "params"), SHARED_CALL_FILTERS)
async def test_account_call_log_filters(
    rq: FakeRequester, kwargs: dict[str, Any], params: dict[str, Any]
) -> None:
    rq.answer("GET", f"{ACCT}/call-log", "call-log-account-list-simple-response.json")
    listing = await CallLog(rq).list_account(**kwargs)
    assert (rq.last.method, rq.last.path, rq.last.params) == ("GET", f"{ACCT}/call-log", params)
    assert listing.records[0].id == "IWM7cJogEv7xlu8"


def test_call_log_signatures_match_the_spec() -> None:
    # reference §4.4: showBlocked and transport exist only at extension level.
    shared = {
        "extension_number", "phone_number", "direction", "session_id", "telephony_session_id",
        "type", "view", "with_recording", "recording_type", "date_from", "date_to",
        "metadata_category", "page", "per_page", "show_deleted",
    }  # fmt: skip
    ext = set(inspect.signature(CallLog.list).parameters) - {"self"}
    acct = set(inspect.signature(CallLog.list_account).parameters) - {"self"}
    assert ext == shared | {"show_blocked", "transport"}
    assert acct == shared


async def test_call_log_local_errors(rq: FakeRequester) -> None:
    with pytest.raises(ValueError, match="not both"):
        await CallLog(rq).list(extension_number="101", phone_number="+1650")
    with pytest.raises(ValueError, match="1-1000"):
        await CallLog(rq).list(per_page=1001)
    with pytest.raises(ValueError, match="not one of"):
        await CallLog(rq).list(transport="SIP")  # type: ignore[arg-type]
    assert rq.calls == []


async def test_call_log_get_record(rq: FakeRequester) -> None:
    rq.answer("GET", f"{EXT}/call-log/IXPCm_tIkCduk4I", "call-log-record-response.json")
    record = await CallLog(rq).get("IXPCm_tIkCduk4I", view="Detailed")
    assert (rq.last.path, rq.last.params) == (
        f"{EXT}/call-log/IXPCm_tIkCduk4I",
        {"view": "Detailed"},
    )
    assert record.recording is not None
    rq.answer("GET", f"{ACCT}/call-log/IXPCm_tIkCduk4I", "call-log-record-response.json")
    await CallLog(rq).get_account("IXPCm_tIkCduk4I")
    assert (rq.last.path, rq.last.params) == (f"{ACCT}/call-log/IXPCm_tIkCduk4I", {})


# --- account ----------------------------------------------------------------------------


async def test_extension_info(rq: FakeRequester) -> None:
    rq.answer("GET", EXT, "extension-info-response.json")
    ext = await Account(rq).extension()
    assert (rq.last.method, rq.last.path) == ("GET", EXT)
    assert ext.home_country_iso == "US"


async def test_extension_list(rq: FakeRequester) -> None:
    rq.answer("GET", f"{ACCT}/extension", {"records": [{"id": 1, "extensionNumber": "101"}]})
    listing = await Account(rq).extensions(
        extension_number="101", status="Enabled", type=["User", "Department"], page=1, per_page=50
    )
    assert rq.last.params == {
        "extensionNumber": "101", "status": ["Enabled"], "type": ["User", "Department"],
        "page": 1, "perPage": 50,
    }  # fmt: skip
    assert listing.records[0].id == "1"


async def test_phone_numbers_and_feature_helper(rq: FakeRequester) -> None:
    rq.answer(
        "GET",
        f"{EXT}/phone-number",
        {
            "records": [
                {"id": 1, "phoneNumber": "+16505550100", "features": ["SmsSender", "CallerId"]},
                {"id": 2, "phoneNumber": "+16505550111", "features": ["CallerId"]},
            ],
            "paging": {"page": 1, "totalPages": 1, "perPage": 100},
        },
    )
    numbers = await Account(rq).phone_numbers(status="Normal", usage_type="DirectNumber")
    assert rq.last.params == {"status": "Normal", "usageType": ["DirectNumber"]}
    assert len(numbers.records) == 2
    senders = await Account(rq).numbers_with_feature("SmsSender")
    assert [n.phone_number for n in senders] == ["+16505550100"]
    assert rq.last.params == {"page": 1, "perPage": 100}


async def test_directory(rq: FakeRequester) -> None:
    rq.answer("GET", f"{ACCT}/directory/entries/400248807008", "directory-entry-response.json")
    rq.answer("GET", f"{ACCT}/directory/entries", {"records": [], "paging": {"perPage": 1}})
    rq.answer("POST", f"{ACCT}/directory/entries/search", {"records": [], "paging": {"perPage": 5}})
    entry = await Account(rq).directory_entry("400248807008")
    assert entry.display_name == "Jane Bond"
    await Account(rq).directory_entries(type="User", show_federated=False, per_page="all")
    assert (rq.last.path, rq.last.params) == (
        f"{ACCT}/directory/entries",
        {"type": "User", "showFederated": "false", "perPage": "all"},
    )
    await Account(rq).search_directory("+16505550100", search_fields=["phoneNumber"], per_page=5)
    assert (rq.last.method, rq.last.path, rq.last.json) == (
        "POST",
        f"{ACCT}/directory/entries/search",
        {"searchString": "+16505550100", "searchFields": ["phoneNumber"], "perPage": 5},
    )


async def test_contacts_by_phone_number(rq: FakeRequester) -> None:
    rq.answer("GET", f"{EXT}/address-book/contact", "address-book-contact-list-response.json")
    contacts = await Account(rq).contacts(phone_number="+16506667788", sort_by="FirstName")
    assert rq.last.params == {"phoneNumber": ["+16506667788"], "sortBy": ["FirstName"]}
    assert contacts.records[0].display_name == "Duncan Idaho"


# --- subscriptions ----------------------------------------------------------------------

SUB = "/restapi/v1.0/subscription"


async def test_subscription_create(rq: FakeRequester) -> None:
    rq.answer("POST", SUB, "subscription-create-response-webhook.json")
    filters = ["/restapi/v1.0/account/~/extension/~/voicemail"]
    info = await Subscriptions(rq).create(
        filters,
        "https://bridge.example.com/ringcentral/webhook",
        verification_token="tok",
        expires_in=3600,
    )
    assert (rq.last.method, rq.last.path, rq.last.params) == ("POST", SUB, None)
    assert rq.last.json == {
        "eventFilters": filters,
        "expiresIn": 3600,
        "deliveryMode": {
            "transportType": "WebHook",
            "address": "https://bridge.example.com/ringcentral/webhook",
            "verificationToken": "tok",
        },
    }
    assert info.is_active


async def test_subscription_list_get_renew_update_delete(rq: FakeRequester) -> None:
    sid = "2391578d-cb19-45dc-b3cd-9553ac428d24"
    rq.answer("GET", SUB, "subscription-list-response.json")
    rq.answer("GET", f"{SUB}/{sid}", "subscription-get-response-disabled-filters.json")
    rq.answer("POST", f"{SUB}/{sid}/renew", "subscription-renew-response.json")
    rq.answer("PUT", f"{SUB}/{sid}", "subscription-update-response.json")
    subs = Subscriptions(rq)
    assert len((await subs.list()).records) == 3
    assert (await subs.get(sid)).disabled_filters
    assert (await subs.renew(sid)).expires_in == 2591999
    await subs.update(sid, ["/restapi/v1.0/account/~/extension/~/message-store"], expires_in=60)
    await subs.delete(sid)
    assert [(c.method, c.path, c.json) for c in rq.calls] == [
        ("GET", SUB, None),
        ("GET", f"{SUB}/{sid}", None),
        ("POST", f"{SUB}/{sid}/renew", None),
        (
            "PUT",
            f"{SUB}/{sid}",
            {
                "eventFilters": ["/restapi/v1.0/account/~/extension/~/message-store"],
                "expiresIn": 60,
            },
        ),
        ("DELETE", f"{SUB}/{sid}", None),
    ]


async def test_subscription_local_errors(rq: FakeRequester) -> None:
    with pytest.raises(ValueError):
        await Subscriptions(rq).create([], "https://h/hook")
    with pytest.raises(ValueError):
        await Subscriptions(rq).create(["/x"], "https://h/hook", expires_in=0)
    assert rq.calls == []
