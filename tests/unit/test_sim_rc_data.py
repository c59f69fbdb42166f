"""The simulator's data world: determinism, example shapes, every filter, paging."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.sim import SimError, Upload, World, media

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WIDE = (NOW - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
JSON = dict[str, Any]
Check = Callable[[JSON], bool]


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(0, now=NOW, base_url="http://127.0.0.1:9999")


def fresh() -> World:
    return World.generate(0, now=NOW, base_url="http://127.0.0.1:9999")


def _q(**params: str | list[str]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in params.items()}


def calls(world: World, ext: str | None = "~", **params: str | list[str]) -> list[JSON]:
    query = _q(**{"dateFrom": WIDE, "perPage": "max", **params})
    return list(world.call_log(ext, query)["records"])


def messages(world: World, ext: str = "~", **params: str | list[str]) -> list[JSON]:
    query = _q(**{"dateFrom": WIDE, "perPage": "1000", **params})
    return list(world.message_store(ext, query)["records"])


def ext_id(world: World, number: str) -> str:
    body = world.extension_list(_q(extensionNumber=number))
    return str(body["records"][0]["id"])


# -- determinism -----------------------------------------------------------------------------


def test_same_seed_same_world() -> None:
    a, b = World.generate(3, now=NOW), World.generate(3, now=NOW)
    assert calls(a, None) == calls(b, None)
    assert messages(a) == messages(b)
    assert a.extension_info("~") == b.extension_info("~")


def test_other_seed_other_world() -> None:
    a, b = World.generate(3, now=NOW), World.generate(4, now=NOW)
    assert a.account_id != b.account_id
    assert [r["id"] for r in calls(a, None)] != [r["id"] for r in calls(b, None)]


def test_world_is_rich_enough(world: World) -> None:
    everything = calls(world, None, showDeleted="true")
    assert 250 <= len(everything) <= 600
    results = {r["result"] for r in everything}
    expected = {"Missed", "Voicemail", "Accepted", "Call connected", "No Answer", "Busy"}
    assert expected | {"Rejected", "Hang Up", "Sent", "Received", "Blocked"} <= results
    assert {r["recording"]["type"] for r in everything if "recording" in r} == {
        "Automatic",
        "OnDemand",
    }
    kinds = {m["type"] for m in messages(world, owner="Any", availability=["Alive", "Deleted"])}
    assert kinds == {"SMS", "VoiceMail", "Fax", "Pager"}
    big = [m for m in messages(world) if m.get("conversationId", 0) > 2**53]
    assert big, "conversation ids must exceed 2**53 like RingCentral's"


# -- example shapes --------------------------------------------------------------------------


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value, lists flattened: records[].from.name."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths |= {path} | key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, f"{prefix}[]")
    return paths


def load(examples_dir: Path, name: str) -> Any:
    return json.loads((examples_dir / name).read_text())


def assert_covers(example: Any, ours: list[Any], ignore: frozenset[str] = frozenset()) -> None:
    """Every key path of the example appears in at least one of `ours` (same kind)."""
    produced: set[str] = set().union(*(key_paths(item) for item in ours))
    missing = key_paths(example) - produced - ignore
    assert not missing, f"example keys our data never produces: {sorted(missing)}"


# The call-log examples disagree on lastPage (only the Detailed one has it); reference §4.4:
# call-log paging carries no totals, so there is no last page to point at.
NO_LAST = frozenset({"navigation.lastPage", "navigation.lastPage.uri"})


def test_call_log_lists_cover_examples(world: World, examples_dir: Path) -> None:
    for name, ext, view in (
        ("call-log-list-simple-response.json", "~", "Simple"),
        ("call-log-list-detailed-response.json", "~", "Detailed"),
        ("call-log-account-list-simple-response.json", None, "Simple"),
    ):
        body = world.call_log(ext, _q(dateFrom=WIDE, perPage="max", view=view))
        paged = world.call_log(ext, _q(dateFrom=WIDE, perPage="2", view=view))
        assert_covers(load(examples_dir, name), [body, paged], NO_LAST)


def test_call_record_covers_example(world: World, examples_dir: Path) -> None:
    recorded = [r for r in calls(world, None) if "recording" in r]
    ours = [world.call_record(None, r["id"], {}) for r in recorded]
    assert_covers(load(examples_dir, "call-log-record-response.json"), ours)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("message-store-voicemail-response.json", "VoiceMail"),
        ("message-store-sms-response.json", "SMS"),
        ("message-store-mms-response.json", "SMS"),
        ("message-store-pager-response.json", "Pager"),
    ],
)
def test_messages_cover_examples(world: World, examples_dir: Path, name: str, kind: str) -> None:
    ours = [m for m in messages(world, owner="Any") if m["type"] == kind]
    assert_covers(load(examples_dir, name), ours)


def test_message_list_and_multi_cover_examples(world: World, examples_dir: Path) -> None:
    body = world.message_store("~", _q(dateFrom=WIDE, perPage="1000"))
    assert_covers(load(examples_dir, "message-store-list-response.json"), [body])
    sms = [m for m in body["records"] if m["type"] == "SMS"]
    picked = [next(m for m in sms if m["direction"] == d) for d in ("Outbound", "Inbound")]
    ids = ",".join(str(m["id"]) for m in [*picked, sms[-1]]) + ",111"
    parts = world.messages("~", ids)
    assert [p["status"] for p in parts] == [200, 200, 200, 404]
    assert parts[-1]["body"]["errorCode"] == "CMN-102"
    assert_covers(load(examples_dir, "message-store-get-multi-response.json"), [parts])


def test_sends_cover_examples(examples_dir: Path) -> None:
    w = fresh()
    sms = w.add_sent_sms("~", "+16505550101", ["+12125550142"], "On my way")
    png = Upload(media.png(640, 480), "image/png", "filename.png")
    mms = w.add_sent_mms("~", "+16505550101", ["+12125550142", "+13055550117"], "Look", [png])
    pager = w.add_pager("~", [ext_id(w, "102"), "103"], "Hello!")
    assert_covers(load(examples_dir, "sms-send-response.json"), [sms])
    assert_covers(load(examples_dir, "mms-send-response.json"), [mms])
    assert_covers(load(examples_dir, "company-pager-send-response.json"), [pager])
    assert sms["messageStatus"] == "Queued" and sms["conversationId"] > 2**53
    listed = messages(w, conversationId=str(sms["conversationId"]))
    assert [m["id"] for m in listed] == [sms["id"]]


def test_account_shapes_cover_examples(world: World, examples_dir: Path) -> None:
    assert_covers(load(examples_dir, "extension-info-response.json"), [world.extension_info("~")])
    assert_covers(
        load(examples_dir, "extension-phone-number-list-response.json"),
        [world.phone_numbers("~", {})],
    )
    entry = world.directory_entry(world.service_extension_id)
    assert_covers(load(examples_dir, "directory-entry-response.json"), [entry])
    contacts = world.contacts("~", _q(sortBy="FirstName"))
    assert_covers(load(examples_dir, "address-book-contact-list-response.json"), [contacts])


# -- call-log filters ------------------------------------------------------------------------


def _party(record: JSON, key: str, value: str) -> bool:
    return any(record.get(side, {}).get(key) == value for side in ("from", "to"))


# (ext ("~", an extension number, or None for account level), params, predicate)
CALL_FILTERS: dict[str, tuple[str | None, dict[str, str], Check]] = {
    "extensionNumber": (
        None,
        {"extensionNumber": "102"},
        lambda r: _party(r, "extensionNumber", "102"),
    ),
    "phoneNumber": (
        "~",
        {"phoneNumber": "12125550142"},
        lambda r: _party(r, "phoneNumber", "+12125550142"),
    ),
    "showBlocked": ("~", {"showBlocked": "false"}, lambda r: r["result"] != "Blocked"),
    "direction-in": ("~", {"direction": "Inbound"}, lambda r: r["direction"] == "Inbound"),
    "direction-out": (None, {"direction": "Outbound"}, lambda r: r["direction"] == "Outbound"),
    "type": ("~", {"type": "Fax"}, lambda r: r["type"] == "Fax"),
    "transport": (
        "~",
        {"transport": "VoIP", "view": "Detailed"},
        lambda r: r["transport"] == "VoIP",
    ),
    "view": ("~", {"view": "Detailed"}, lambda r: {"legs", "billing", "transport"} <= r.keys()),
    "withRecording": ("~", {"withRecording": "true"}, lambda r: "recording" in r),
    "recordingType-auto": (
        None,
        {"recordingType": "Automatic"},
        lambda r: r.get("recording", {}).get("type") == "Automatic",
    ),
    "recordingType-ondemand": (
        "~",
        {"recordingType": "OnDemand"},
        lambda r: r.get("recording", {}).get("type") == "OnDemand",
    ),
    "recordingType-all": ("~", {"recordingType": "All"}, lambda r: "recording" in r),
    "dateFrom": (
        "~",
        {"dateFrom": "2025-12-25T00:00:00Z"},
        lambda r: r["startTime"] >= "2025-12-25T00:00:00.000Z",
    ),
    "dateTo": (
        "~",
        {"dateTo": "2025-12-20T00:00:00Z"},
        lambda r: r["startTime"] <= "2025-12-20T00:00:00.000Z",
    ),
    "metadataCategory": (
        "102",
        {"metadataCategory": "Sales"},
        lambda r: "Sales" in r["metadataCategories"],
    ),
}


def _resolve(world: World, ext: str | None) -> str | None:
    return ext if ext in (None, "~") else ext_id(world, ext)


@pytest.mark.parametrize("case", sorted(CALL_FILTERS))
def test_call_log_filter(world: World, case: str) -> None:
    ext, params, check = CALL_FILTERS[case]
    ext = _resolve(world, ext)
    unfiltered = calls(world, ext)
    filtered = calls(world, ext, **params)
    assert filtered, "the filter should keep something"
    assert filtered != unfiltered
    assert all(check(r) for r in filtered)


@pytest.mark.parametrize("key", ["sessionId", "telephonySessionId"])
def test_call_log_session_filters(world: World, key: str) -> None:
    everything = calls(world, None)
    # An internal call: one session, a record in each party's log.
    shared = [r[key] for r in everything if sum(o[key] == r[key] for o in everything) == 2]
    found = calls(world, None, **{key: shared[0]})
    assert len(found) == 2 and all(r[key] == shared[0] for r in found)


def test_call_log_show_deleted(world: World) -> None:
    hidden = calls(world, "~")
    shown = calls(world, "~", showDeleted="true")
    assert {r["id"] for r in hidden} < {r["id"] for r in shown}
    assert all(r.get("deleted") is True for r in shown if r not in hidden)
    assert not any(r.get("deleted") for r in hidden)


def test_call_log_session_id_refuses_other_filters(world: World) -> None:
    with pytest.raises(SimError) as err:
        world.call_log("~", _q(sessionId="1", direction="Inbound"))
    assert (err.value.status, err.value.error_code) == (400, "CLG-110")
    assert err.value.body()["errors"][0]["errorCode"] == "CLG-110"


def test_call_log_extension_only_filters_ignored_at_account_level(world: World) -> None:
    assert calls(world, None, transport="VoIP") == calls(world, None)
    assert "showBlocked" not in world.call_log(None, {})["uri"]


def test_call_log_defaults(world: World) -> None:
    body = world.call_log("~", {})
    since = (NOW - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert body["uri"].startswith("http://127.0.0.1:9999/restapi/v1.0/account/")
    assert body["uri"].endswith(
        f"call-log?view=Simple&showBlocked=true&dateFrom={since}&page=1&perPage=100"
    )
    assert body["records"] and all(r["startTime"] >= since for r in body["records"])
    starts = [r["startTime"] for r in body["records"]]
    assert starts == sorted(starts, reverse=True)


def test_call_records_by_ids(world: World) -> None:
    first, second = calls(world, "~")[:2]
    assert world.call_record("~", first["id"], {})["id"] == first["id"]
    parts = world.call_records("~", f"{first['id']},{second['id']},nope", _q(view="Detailed"))
    assert [p["status"] for p in parts] == [200, 200, 404]
    assert "legs" in parts[0]["body"]
    with pytest.raises(SimError):
        world.call_record("~", "nope", {})


# -- message-store filters -------------------------------------------------------------------

QUEUE = "600"
MESSAGE_FILTERS: dict[str, tuple[dict[str, str], Check]] = {
    "availability-deleted": ({"availability": "Deleted"}, lambda m: m["availability"] == "Deleted"),
    "availability-purged": ({"availability": "Purged"}, lambda m: m["availability"] == "Purged"),
    "dateFrom": (
        {"dateFrom": "2025-12-25T00:00:00Z"},
        lambda m: m["creationTime"] >= "2025-12-25T00:00:00.000Z",
    ),
    "dateTo": (
        {"dateTo": "2025-12-20T00:00:00Z"},
        lambda m: m["creationTime"] <= "2025-12-20T00:00:00.000Z",
    ),
    "direction-in": ({"direction": "Inbound"}, lambda m: m["direction"] == "Inbound"),
    "direction-out": ({"direction": "Outbound"}, lambda m: m["direction"] == "Outbound"),
    "messageType-sms": ({"messageType": "SMS"}, lambda m: m["type"] == "SMS"),
    "messageType-fax": ({"messageType": "Fax"}, lambda m: m["type"] == "Fax"),
    "messageType-voicemail": ({"messageType": "VoiceMail"}, lambda m: m["type"] == "VoiceMail"),
    "messageType-pager": ({"messageType": "Pager"}, lambda m: m["type"] == "Pager"),
    "readStatus-unread": ({"readStatus": "Unread"}, lambda m: m["readStatus"] == "Unread"),
    "readStatus-read": ({"readStatus": "Read"}, lambda m: m["readStatus"] == "Read"),
    "phoneNumber": (
        {"phoneNumber": "+12125550142"},
        lambda m: "+12125550142" in {p.get("phoneNumber") for p in [m["from"], *m["to"]]},
    ),
    "distinctConversations": ({"distinctConversations": "true"}, lambda m: True),
    "owner-shared": ({"owner": "Shared"}, lambda m: m["owner"]["extensionType"] == "Department"),
    "owner-any": ({"owner": "Any"}, lambda m: True),
    "ownerExtensionType": (
        {"ownerExtensionType": "Department"},
        lambda m: m["owner"]["extensionType"] == "Department",
    ),
}


@pytest.mark.parametrize("case", sorted(MESSAGE_FILTERS))
def test_message_store_filter(world: World, case: str) -> None:
    params, check = MESSAGE_FILTERS[case]
    unfiltered = messages(world)
    filtered = messages(world, **params)
    assert filtered and filtered != unfiltered
    assert all(check(m) for m in filtered)


def test_message_store_conversation_id(world: World) -> None:
    conversation = next(m["conversationId"] for m in messages(world) if m["type"] == "SMS")
    found = messages(world, conversationId=str(conversation))
    assert found and found != messages(world)
    assert all(m["conversationId"] == conversation for m in found)


def test_message_store_distinct_conversations(world: World) -> None:
    found = messages(world, distinctConversations="true")
    ids = [m["conversationId"] for m in found if "conversationId" in m]
    assert len(ids) == len(set(ids)) and len(found) < len(messages(world))


def test_message_store_owner_ids(world: World) -> None:
    queue = ext_id(world, QUEUE)
    found = messages(world, owner=queue)
    assert found and all(m["owner"]["extensionId"] == queue for m in found)
    vm = messages(world, voicemailOwner=queue)
    voicemails = [m for m in vm if m["type"] == "VoiceMail"]
    assert voicemails and all(m["owner"]["extensionId"] == queue for m in voicemails)
    assert vm != messages(world)


def test_message_store_defaults(world: World) -> None:
    body = world.message_store("~", {})
    since = (NOW - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert body["uri"].endswith(
        f"message-store?availability=Alive&dateFrom={since}&page=1&perPage=100"
    )
    assert body["records"] and all(m["creationTime"] >= since for m in body["records"])
    assert all(m["availability"] == "Alive" for m in body["records"])
    assert isinstance(body["records"][0]["id"], int)


# -- paging ----------------------------------------------------------------------------------


def _walk(fetch: Callable[[dict[str, list[str]]], JSON], per_page: int) -> list[JSON]:
    seen: list[JSON] = []
    page = 1
    while True:
        body = fetch(_q(dateFrom=WIDE, perPage=str(per_page), page=str(page)))
        seen += body["records"]
        if "nextPage" not in body["navigation"]:
            return seen
        assert f"page={page + 1}&" in body["navigation"]["nextPage"]["uri"]
        page += 1


def test_call_log_paging_walks_every_record_once(world: World) -> None:
    walked = _walk(lambda q: world.call_log(None, q), 7)
    ids = [r["id"] for r in walked]
    assert len(ids) == len(set(ids))
    assert ids == [r["id"] for r in calls(world, None)]


def test_message_store_paging_walks_every_record_once(world: World) -> None:
    walked = _walk(lambda q: world.message_store("~", q), 4)
    assert [m["id"] for m in walked] == [m["id"] for m in messages(world)]


def test_call_log_navigation(world: World) -> None:
    total = len(calls(world, None))
    first = world.call_log(None, _q(dateFrom=WIDE, perPage="10"))
    assert first["paging"] == {"page": 1, "perPage": 10, "pageStart": 0, "pageEnd": 9}
    assert set(first["navigation"]) == {"firstPage", "nextPage"}
    last_page = -(-total // 10)
    last = world.call_log(None, _q(dateFrom=WIDE, perPage="10", page=str(last_page)))
    assert set(last["navigation"]) == {"firstPage", "previousPage"}
    assert last["paging"]["pageEnd"] == total - 1
    beyond = world.call_log(None, _q(dateFrom=WIDE, perPage="10", page=str(last_page + 1)))
    assert beyond["records"] == [] and "pageStart" not in beyond["paging"]


def test_message_store_navigation(world: World) -> None:
    total = len(messages(world))
    body = world.message_store("~", _q(dateFrom=WIDE, perPage="5", page="2"))
    paging = body["paging"]
    assert paging["totalElements"] == total and paging["totalPages"] == -(-total // 5)
    assert (paging["pageStart"], paging["pageEnd"]) == (5, 9)
    assert set(body["navigation"]) == {"firstPage", "nextPage", "previousPage", "lastPage"}
    assert f"page={paging['totalPages']}&" in body["navigation"]["lastPage"]["uri"]


@pytest.mark.parametrize(("value", "expected"), [("max", 1000), ("5000", 1000), ("1000", 1000)])
def test_per_page_clamps(world: World, value: str, expected: int) -> None:
    assert world.call_log("~", _q(perPage=value))["paging"]["perPage"] == expected
    if value != "max":
        assert world.message_store("~", _q(perPage=value))["paging"]["perPage"] == expected


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_per_page_refuses_nonsense(world: World, value: str) -> None:
    with pytest.raises(SimError) as err:
        world.call_log("~", _q(perPage=value))
    assert err.value.error_code == "CMN-101"


# -- content, numbers, senders, directory -----------------------------------------------------


def _attachment(world: World, kind: str) -> tuple[JSON, JSON]:
    for m in messages(world, owner="Any"):
        for a in m["attachments"]:
            if a.get("type") == kind:
                return m, a
    raise AssertionError(kind)


def test_attachment_content_is_real_media(world: World) -> None:
    m, a = _attachment(world, "AudioRecording")
    audio = world.message_content("~", str(m["id"]), str(a["id"]))
    assert audio.content_type == "audio/x-wav" and audio.filename.endswith(".wav")
    with wave.open(io.BytesIO(audio.body)) as wav:
        assert wav.getnframes() > 0
    m, a = _attachment(world, "RenderedDocument")
    pdf = world.message_content("~", str(m["id"]), str(a["id"]))
    assert pdf.body.startswith(b"%PDF-") and pdf.body.rstrip().endswith(b"%%EOF")
    assert pdf.body.count(b"/Type /Page ") == m["faxPageCount"]
    m, a = _attachment(world, "AudioTranscription")
    assert m["vmTranscriptionStatus"].startswith("Completed")
    assert world.message_content("~", str(m["id"]), str(a["id"])).body
    m, a = _attachment(world, "MmsAttachment")
    image = world.message_content("~", str(m["id"]), str(a["id"]))
    assert image.body[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0")
    with pytest.raises(SimError):
        world.message_content("~", str(m["id"]), "1")
    assert a["uri"].startswith("http://127.0.0.1:9999/") and "/content/" in a["uri"]


def test_numbers_and_features(world: World) -> None:
    assert world.numbers_with_feature("~", "SmsSender") == ["+16505550101"]
    assert world.numbers_with_feature("~", "MmsSender") == ["+16505550101"]
    body = world.phone_numbers("~", _q(usageType="DirectNumber"))
    assert {r["usageType"] for r in body["records"]} == {"DirectNumber"}
    assert any("SmsSender" not in r["features"] for r in body["records"])
    mobile = world.phone_numbers("~", _q(usageType="ForwardedNumber"))["records"]
    assert [r["label"] for r in mobile] == ["Mobile"]
    assert world.phone_numbers("~", _q(status="Pending"))["records"] == []
    info = world.extension_info("~")
    assert info["regionalSettings"]["homeCountry"]["isoCode"] == "US"
    assert info["extensionNumber"] == "101"


@pytest.mark.parametrize(
    ("number", "code"),
    [("+16505550111", "MSG-367"), ("+16505550109", "MSG-241"), ("+19995550100", "MSG-245")],
)
def test_sms_sender_checks(world: World, number: str, code: str) -> None:
    with pytest.raises(SimError) as err:  # refused before anything is stored
        world.add_sent_sms("~", number, ["+12125550142"], "hi")
    assert err.value.error_code == code


def test_mutators_land_in_the_store() -> None:
    w = fresh()
    upload = Upload(b"GIF89a-not-really", "image/gif", "cat.gif")
    mms = w.add_sent_mms("~", "+16505550101", ["+12125550142"], "cat", [upload])
    gif = next(a for a in mms["attachments"] if a["type"] == "MmsAttachment")
    assert w.message_content("~", str(mms["id"]), str(gif["id"])).body == upload.body
    w.set_sent_status("~", str(mms["id"]), {"+12125550142": ("Delivered", None)})
    assert w.message("~", str(mms["id"]))["messageStatus"] == "Delivered"
    sms = w.add_inbound_sms("~", "+13055550117", "+16505550101", "hello")
    assert sms["readStatus"] == "Unread" and sms["from"]["name"] == "Luis Navarro"
    vm = w.add_voicemail("~", "+12125550142", duration=12, transcript="Call me back")
    assert vm["vmTranscriptionStatus"] == "Completed"
    fax = w.add_inbound_fax("~", "+12125550142", pages=2)
    assert fax["faxPageCount"] == 2
    latest = {m["id"] for m in messages(w)}
    assert {mms["id"], sms["id"], vm["id"], fax["id"]} <= latest
    linked = {r["message"]["id"] for r in calls(w, "~") if "message" in r}
    assert {str(vm["id"]), str(fax["id"])} <= linked
    read = w.update_message("~", str(sms["id"]), read_status="Read")
    assert read["readStatus"] == "Read"
    changes = w.drain_changes()
    assert {c.message_type for c in changes} == {"SMS", "VoiceMail", "Fax"}
    assert w.drain_changes() == []


def test_directory_and_contacts(world: World) -> None:
    entries = world.directory_entries({})
    assert entries["paging"]["totalElements"] == len(world.extension_ids())
    found = world.directory_search({"searchString": "chen", "searchFields": ["lastName"]})
    assert [r["extensionNumber"] for r in found["records"]] == ["102"]
    by_phone = world.directory_search({"searchString": "(650) 555-0103"})
    assert [r["extensionNumber"] for r in by_phone["records"]] == ["103"]
    every = world.contacts("~", {})["records"]
    number = every[0]["mobilePhone"]
    filtered = world.contacts("~", _q(phoneNumber=number))["records"]
    assert filtered and len(filtered) < len(every)
    assert all(r["mobilePhone"] == number for r in filtered)
    with pytest.raises(SimError):
        world.directory_entry("42")
