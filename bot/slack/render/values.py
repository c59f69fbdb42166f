"""What buttons and modals carry back to us, and the one codec for all of it.

Slack does not send a message's metadata with a click (DESIGN §3.7), so a button's `value`
(at most 2000 characters) or a modal's `private_metadata` (3000) holds everything its
action needs, as compact JSON with short keys:

- `call_back`:      `{"n": "+14155550123", "m": "Jane Doe"}` (number to call; caller name, optional)
- `text_back`:      `{"n": "+14155550123", "f": "+16505550100"}` (number to text; our number it
  called, the SMS goes from it; `f` left out when unknown)
- `mark_handled`:   `{"k": "missed_call", "i": "<session id>:<party id>"}` (notice kind and item)
- `take_it`:        `{"k": "voicemail", "i": "<message id>"}` (the same: what is taken)
- `sms_list_page`, `calllog_page`: `{"t": "missed today", "p": 2, "n": "2026-03-02T09:04:11-08:00"}`
  (the typed arguments, the page, and when they were typed: `today` keeps its day)
- `ringout_cancel`: `{"id": "<RingOut id>", "to": "+14155550123", "from": "+16505550111"}`
- the Text back modal (`text_back_modal`): `{"to": "+14155550123", "from": "+16505550100",
  "channel": "C0123"}` (whom to text, from which number, where to say how it went)

These are the formats the previous release wrote, so the buttons of messages already in
Slack keep working: it wrote the last two with a space after `:` and `,`, and the modal's
unknown fields as `null`, which `decode()` reads too (tests/unit/test_slack_values.py keeps
a literal of each).

A click can be forged, so `decode()` checks every field and raises ValueError on anything
else; `encode()` applies the same checks, so what we send decodes.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar, overload

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CALLLOG_ACTION",
    "CALL_BACK_ACTION",
    "MARK_HANDLED_ACTION",
    "RINGOUT_CANCEL_ACTION",
    "SMS_LIST_ACTION",
    "TAKE_IT_ACTION",
    "TEXT_BACK_ACTION",
    "TEXT_BACK_VIEW",
    "TEXT_INPUT",
    "ButtonValue",
    "CallBackValue",
    "CancelRingOutValue",
    "MarkHandledValue",
    "NoticeKind",
    "PageValue",
    "TakeItValue",
    "TextBackMetadata",
    "TextBackValue",
    "decode",
    "decode_button_value",
    "dialable",
    "encode",
    "encode_button_value",
]

CALL_BACK_ACTION: Final = "call_back"
TEXT_BACK_ACTION: Final = "text_back"
MARK_HANDLED_ACTION: Final = "mark_handled"
TAKE_IT_ACTION: Final = "take_it"
SMS_LIST_ACTION: Final = "sms_list_page"
CALLLOG_ACTION: Final = "calllog_page"
RINGOUT_CANCEL_ACTION: Final = "ringout_cancel"
TEXT_BACK_VIEW: Final = "text_back_modal"  # the modal's callback_id
TEXT_INPUT: Final = "text_back_text"  # its input's block_id and action_id

VALUE_MAX = 2000  # Slack: a button value is at most 2000 characters
METADATA_MAX = 3000  # Slack: a view's private_metadata is at most 3000 characters
NAME_MAX = 80  # a caller name is shown in the click's reply, no more is needed
ITEM_MAX = 500  # a message id or "session:party"; RingCentral's are far shorter
ID_MAX = 200  # a RingOut id, a channel id; RingCentral's and Slack's are far shorter

NoticeKind = Literal[
    "missed_call", "answered_call", "call", "voicemail", "fax", "sms", "internal_message"
]
# E.164 (up to 15 digits) or a short code (SMS senders): what RingOut and SMS can be given.
_DIALABLE = re.compile(r"\+?[0-9]{3,15}")


def dialable(number: str | None) -> bool:
    """Whether `number` can be called or texted back (not anonymous, not garbage)."""
    return number is not None and _DIALABLE.fullmatch(number) is not None


def _dialable(number: str) -> str:
    if not dialable(number):
        raise ValueError("not a number to call or text")
    return number


def _short(text: str) -> str:
    if not 0 < len(text) <= ID_MAX or not text.isprintable():
        raise ValueError("an odd id")
    return text


Dialable = Annotated[str, AfterValidator(_dialable)]
ShortText = Annotated[str, AfterValidator(_short)]


class _Value(BaseModel):
    """A value we put into Slack and read back: short keys (aliases), strict types, no
    other fields, and (`decode`) no `null` unless the previous release wrote one."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)
    max_length: ClassVar[int] = VALUE_MAX
    nulls: ClassVar[bool] = False


class CallBackValue(_Value):
    number: Dialable = Field(alias="n")  # E.164 (or a short code) to ring after the user's phone
    name: str | None = Field(None, alias="m")  # the caller's name as RingCentral gave it

    @field_validator("name")
    @classmethod
    def _name(cls, name: str | None) -> str | None:
        if name is not None and not 0 < len(name) <= NAME_MAX:
            raise ValueError("an odd caller name")
        return name


class TextBackValue(_Value):
    number: Dialable = Field(alias="n")  # whom to text
    company_number: Dialable | None = Field(None, alias="f")  # our number they reached


class MarkHandledValue(_Value):
    kind: NoticeKind = Field(alias="k")
    item: str = Field(alias="i")  # `Notice.item`: a message id, or "session:party" for calls

    @field_validator("item")
    @classmethod
    def _item(cls, item: str) -> str:
        if not 0 < len(item) <= ITEM_MAX or not item.isprintable():
            raise ValueError("an odd item")
        return item


class TakeItValue(MarkHandledValue):
    """The notice a "Take it" click claims (DESIGN §3.12)."""


class PageValue(_Value):
    """Previous/Next of `/sms list` and `/calllog`: the command as typed, and when."""

    text: str = Field(alias="t")  # the arguments after the command (after `list` for /sms)
    page: int = Field(alias="p", ge=1)
    at: Annotated[AwareDatetime, Field(alias="n", strict=False)]  # ISO 8601, with its offset

    @field_validator("at", mode="before")
    @classmethod
    def _iso(cls, at: Any) -> Any:
        if not isinstance(at, str | datetime):
            raise ValueError("a time is ISO 8601 text")
        return at


class CancelRingOutValue(_Value):
    """The Cancel button of a RingOut's status, which it shows again once cancelled."""

    ringout_id: ShortText = Field(alias="id")
    to: ShortText  # shown again, not dialled: as RingOut was given it
    from_number: ShortText = Field(alias="from")


class TextBackMetadata(_Value):
    """The Text back modal's private_metadata."""

    max_length: ClassVar[int] = METADATA_MAX
    nulls: ClassVar[bool] = True  # the previous release wrote "from": null, "channel": null

    to: Dialable
    company_number: Dialable | None = Field(None, alias="from")  # the SMS goes from it
    channel: ShortText | None = None  # where the clicked message is, for the answer


ButtonValue = (
    CallBackValue | TextBackValue | MarkHandledValue | TakeItValue | PageValue | CancelRingOutValue
)
V = TypeVar("V", bound=_Value)

_BY_ACTION: dict[str, type[ButtonValue]] = {
    CALL_BACK_ACTION: CallBackValue,
    TEXT_BACK_ACTION: TextBackValue,
    MARK_HANDLED_ACTION: MarkHandledValue,
    TAKE_IT_ACTION: TakeItValue,
    SMS_LIST_ACTION: PageValue,
    CALLLOG_ACTION: PageValue,
    RINGOUT_CANCEL_ACTION: CancelRingOutValue,
}


def encode(value: _Value) -> str:
    """The value as Slack keeps it; ValueError when it is not one `decode()` would accept
    (checked again: `model_copy(update=…)` and `model_construct()` skip validation) or
    would not fit."""
    data = value.model_dump(mode="json", by_alias=True, exclude_none=True)
    type(value).model_validate(data)
    # ASCII escapes: a lone surrogate in a name must not make the payload unencodable.
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    if len(text) > value.max_length:
        raise ValueError(f"a value of {len(text)} characters; Slack takes {value.max_length}")
    return text


def decode(model: type[V], text: object) -> V:
    """`text` read back as `model`; ValueError (pydantic's ValidationError is one) for
    anything we would not have sent."""
    if not isinstance(text, str) or len(text) > model.max_length:
        raise ValueError("not a value Slack could have sent")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[…" nested too deep
        raise ValueError("a value that is not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("a value that is not a JSON object")
    if not model.nulls and None in data.values():
        raise ValueError("a value with a null we never send")
    return model.model_validate(data)


def encode_button_value(value: ButtonValue) -> str:
    """A button's `value`; ValueError when the fields are not ones we would decode."""
    return encode(value)


@overload
def decode_button_value(action_id: Literal["call_back"], value: str) -> CallBackValue: ...
@overload
def decode_button_value(action_id: Literal["text_back"], value: str) -> TextBackValue: ...
@overload
def decode_button_value(action_id: Literal["mark_handled"], value: str) -> MarkHandledValue: ...
@overload
def decode_button_value(action_id: Literal["take_it"], value: str) -> TakeItValue: ...
@overload
def decode_button_value(
    action_id: Literal["sms_list_page", "calllog_page"], value: str
) -> PageValue: ...
@overload
def decode_button_value(action_id: Literal["ringout_cancel"], value: str) -> CancelRingOutValue: ...
@overload
def decode_button_value(action_id: str, value: str) -> ButtonValue: ...
def decode_button_value(action_id: str, value: str) -> ButtonValue:
    """What a clicked button asks for; ValueError for an unknown action or a forged value."""
    model = _BY_ACTION.get(action_id)
    if model is None:
        raise ValueError("not one of our buttons")
    return decode(model, value)
