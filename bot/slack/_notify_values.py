"""The buttons of a notification and what their `value` carries.

Slack does not send a message's metadata with a click (DESIGN §3.7), so each button's
`value` holds everything its action needs, as compact JSON (at most 2000 characters):

- `call_back`:    `{"n": "+14155550123", "m": "Jane Doe"}` (number to call; caller name, optional)
- `text_back`:    `{"n": "+14155550123", "f": "+16505550100"}` (number to text; our number it
  called, the SMS goes from it; `f` left out when unknown)
- `mark_handled`: `{"k": "missed_call", "i": "<session id>:<party id>"}` (notice kind and item)

A click can be forged, so `decode_button_value()` checks every field and raises ValueError
on anything else; `encode_button_value()` applies the same checks, so what we send decodes.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args, overload

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

__all__ = [
    "CALL_BACK_ACTION",
    "MARK_HANDLED_ACTION",
    "TEXT_BACK_ACTION",
    "ButtonValue",
    "CallBackValue",
    "MarkHandledValue",
    "NoticeKind",
    "TextBackValue",
    "decode_button_value",
    "dialable",
    "encode_button_value",
]

CALL_BACK_ACTION: Final = "call_back"
TEXT_BACK_ACTION: Final = "text_back"
MARK_HANDLED_ACTION: Final = "mark_handled"

VALUE_MAX = 2000  # Slack: a button value is at most 2000 characters
NAME_MAX = 80  # a caller name is shown in the click's reply, no more is needed
ITEM_MAX = 500  # a message id or "session:party"; RingCentral's are far shorter

NoticeKind = Literal[
    "missed_call", "answered_call", "call", "voicemail", "fax", "sms", "internal_message"
]
_KINDS: frozenset[str] = frozenset(get_args(NoticeKind))
# E.164 (up to 15 digits) or a short code (SMS senders): what RingOut and SMS can be given.
_DIALABLE = re.compile(r"\+?[0-9]{3,15}")


@dataclass(frozen=True, slots=True)
class CallBackValue:
    number: str  # E.164 (or a short code) to ring after the clicking user's phone
    name: str | None = None  # the caller's name as RingCentral gave it (raw, escape to show)


@dataclass(frozen=True, slots=True)
class TextBackValue:
    number: str  # whom to text
    company_number: str | None = None  # our number the caller reached: the SMS goes from it


@dataclass(frozen=True, slots=True)
class MarkHandledValue:
    kind: NoticeKind
    item: str  # `Notice.item`: a message id, or "session:party" for calls


ButtonValue = CallBackValue | TextBackValue | MarkHandledValue


def dialable(number: str | None) -> bool:
    """Whether `number` can be called or texted back (not anonymous, not garbage)."""
    return number is not None and _DIALABLE.fullmatch(number) is not None


# --- encoding ------------------------------------------------------------------------------


def encode_button_value(value: ButtonValue) -> str:
    """The button's `value` string; ValueError when the fields are not ones we would decode."""
    _validate(value)
    wire: dict[str, str | None]
    if isinstance(value, CallBackValue):
        wire = {"n": value.number, "m": value.name}
    elif isinstance(value, TextBackValue):
        wire = {"n": value.number, "f": value.company_number}
    else:
        wire = {"k": value.kind, "i": value.item}
    data = {k: v for k, v in wire.items() if v is not None}
    # ASCII escapes: a lone surrogate in a name must not make the payload unencodable.
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    if len(text) > VALUE_MAX:
        raise ValueError(f"button value of {len(text)} characters; Slack takes {VALUE_MAX}")
    return text


@overload
def decode_button_value(action_id: Literal["call_back"], value: str) -> CallBackValue: ...
@overload
def decode_button_value(action_id: Literal["text_back"], value: str) -> TextBackValue: ...
@overload
def decode_button_value(action_id: Literal["mark_handled"], value: str) -> MarkHandledValue: ...
@overload
def decode_button_value(action_id: str, value: str) -> ButtonValue: ...
def decode_button_value(action_id: str, value: str) -> ButtonValue:
    """What a clicked button asks for; ValueError for an unknown action or a forged value."""
    data = _load(value)
    decoded: ButtonValue
    if action_id == CALL_BACK_ACTION:
        _keys(data, required={"n"}, optional={"m"})
        decoded = CallBackValue(number=_str(data, "n"), name=_opt_str(data, "m"))
    elif action_id == TEXT_BACK_ACTION:
        _keys(data, required={"n"}, optional={"f"})
        decoded = TextBackValue(number=_str(data, "n"), company_number=_opt_str(data, "f"))
    elif action_id == MARK_HANDLED_ACTION:
        _keys(data, required={"k", "i"}, optional=set())
        kind = _str(data, "k")
        if kind not in _KINDS:
            raise ValueError("unknown notice kind in button value")
        decoded = MarkHandledValue(kind=kind, item=_str(data, "i"))  # type: ignore[arg-type]
    else:
        raise ValueError("not a notification button")
    _validate(decoded)
    return decoded


def _load(value: object) -> dict[str, Any]:
    if not isinstance(value, str) or len(value) > VALUE_MAX:
        raise ValueError("button value is not a string Slack could have sent")
    try:
        data = json.loads(value)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[…" nested too deep
        raise ValueError("button value is not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("button value is not a JSON object")
    return data


def _keys(data: dict[str, Any], *, required: set[str], optional: set[str]) -> None:
    if not required <= data.keys() or not data.keys() <= required | optional:
        raise ValueError("button value has unexpected fields")


def _str(data: dict[str, Any], key: str) -> str:
    field = data[key]
    if not isinstance(field, str):
        raise ValueError(f"button value field {key!r} is not a string")
    return field


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    return _str(data, key) if key in data else None


def _validate(value: ButtonValue) -> None:
    if isinstance(value, CallBackValue | TextBackValue) and not dialable(value.number):
        raise ValueError("button value has no number to call or text")
    name = value.name if isinstance(value, CallBackValue) else None
    if name is not None and not 0 < len(name) <= NAME_MAX:
        raise ValueError("button value has an odd caller name")
    ours = value.company_number if isinstance(value, TextBackValue) else None
    if ours is not None and not dialable(ours):
        raise ValueError("button value has an odd company number")
    if isinstance(value, MarkHandledValue):
        if value.kind not in _KINDS:
            raise ValueError("unknown notice kind in button value")
        if not 0 < len(value.item) <= ITEM_MAX or not value.item.isprintable():
            raise ValueError("button value has an odd item")


# --- blocks --------------------------------------------------------------------------------


def callback_buttons(
    number: str | None,
    name: str | None,
    company_number: str | None,
    *,
    handle: MarkHandledValue | None = None,
) -> ActionsBlock | None:
    """Call back and Text back when the caller's number can be dialled, Mark handled when
    `handle` is given; None when there is no button to show."""
    buttons: list[ButtonElement] = []
    if number is not None and dialable(number):
        short = " ".join(name.split())[:NAME_MAX] if name else ""
        call = CallBackValue(number=number, name=short or None)
        buttons.append(_button("Call back", CALL_BACK_ACTION, call))
        sender = company_number if dialable(company_number) else None
        buttons.append(_button("Text back", TEXT_BACK_ACTION, TextBackValue(number, sender)))
    if handle is not None:
        # An item no click could carry back: no button rather than no post.
        with contextlib.suppress(ValueError):
            buttons.append(_button("Mark handled", MARK_HANDLED_ACTION, handle))
    return ActionsBlock(block_id="notice_actions", elements=buttons) if buttons else None


def _button(label: str, action_id: str, value: ButtonValue) -> ButtonElement:
    return ButtonElement(text=label, action_id=action_id, value=encode_button_value(value))
