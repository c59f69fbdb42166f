"""Block Kit, message and metadata checks the simulated Slack applies before it stores anything.

Each limit is Slack's, as listed in reference/slack.md §4.1 (docs.slack.dev block reference and
the node-slack-sdk types). A check returns Slack-style messages ending in a JSON pointer, e.g.
``must be less than 3001 characters [json-pointer:/blocks/0/text/text]``, which is the shape of
the ``errors`` array Slack sends with ``invalid_blocks``. Nothing here imports the product.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MESSAGE_MAX_BLOCKS = 50  # §4.1: blocks per message
SURFACE_MAX_BLOCKS = 100  # §4.1: modals and the Home tab
MESSAGE_MAX_TEXT = 40_000  # §4.1: longer top-level `text` is truncated, with a warning
MARKDOWN_MAX = 12_000  # §4.1: markdown block / markdown_text
ID_MAX = 255  # §4.1: action_id, block_id, callback_id

_TEXT_TYPES = ("plain_text", "mrkdwn")
_ELEMENTS_WITH_OPTIONS = (
    "static_select",
    "multi_static_select",
    "radio_buttons",
    "checkboxes",
    "overflow",
)


class BlocksFormatError(ValueError):
    """The value is not a list of objects at all (Slack: ``invalid_blocks_format``)."""


def decode_json_param(value: Any) -> Any:
    """Form and query encodings carry arrays and objects as JSON strings (§0); JSON bodies don't."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _too_long(limit: int, at: str) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{at}]"


def _text_object(obj: Any, at: str, limit: int, errors: list[str], *, plain: bool = False) -> None:
    if not isinstance(obj, Mapping) or obj.get("type") not in _TEXT_TYPES:
        errors.append(f"must provide a text object [json-pointer:{at}]")
        return
    if plain and obj.get("type") != "plain_text":
        errors.append(f"must be a plain_text object [json-pointer:{at}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.append(f"must be more than 0 characters [json-pointer:{at}/text]")
    elif len(text) > limit:
        errors.append(_too_long(limit, f"{at}/text"))


def _max_len(obj: Mapping[str, Any], key: str, limit: int, at: str, errors: list[str]) -> None:
    value = obj.get(key)
    if isinstance(value, str) and len(value) > limit:
        errors.append(_too_long(limit, f"{at}/{key}"))


def _element(el: Any, at: str, errors: list[str]) -> None:
    if not isinstance(el, Mapping) or not isinstance(el.get("type"), str):
        errors.append(f"must provide an object with a type [json-pointer:{at}]")
        return
    _max_len(el, "action_id", ID_MAX, at, errors)
    kind = el["type"]
    if kind == "button":
        _text_object(el.get("text"), f"{at}/text", 75, errors, plain=True)  # §4.1: button text 75
        _max_len(el, "value", 2000, at, errors)  # §4.1: button value 2000
        _max_len(el, "url", 3000, at, errors)  # §4.1: button url 3000
        _max_len(el, "accessibility_label", 75, at, errors)
    elif kind == "image":
        _max_len(el, "image_url", 3000, at, errors)
        _max_len(el, "alt_text", 2000, at, errors)
    if kind in _ELEMENTS_WITH_OPTIONS:
        options = el.get("options") or []
        if isinstance(options, list) and len(options) > 100:
            errors.append(f"must be less than 101 items [json-pointer:{at}/options]")
        for i, option in enumerate(options if isinstance(options, list) else []):
            if isinstance(option, Mapping):
                _text_object(option.get("text"), f"{at}/options/{i}/text", 75, errors)
                _max_len(option, "value", 150, f"{at}/options/{i}", errors)  # §4.1: option value
    confirm = el.get("confirm")
    if isinstance(confirm, Mapping):
        _text_object(confirm.get("title"), f"{at}/confirm/title", 100, errors)
        _text_object(confirm.get("text"), f"{at}/confirm/text", 300, errors)
        _text_object(confirm.get("confirm"), f"{at}/confirm/confirm", 30, errors)
        _text_object(confirm.get("deny"), f"{at}/confirm/deny", 30, errors)


def _elements(block: Mapping[str, Any], at: str, limit: int, errors: list[str]) -> None:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        errors.append(f"must provide at least 1 item [json-pointer:{at}/elements]")
        return
    if len(elements) > limit:
        errors.append(f"must be less than {limit + 1} items [json-pointer:{at}/elements]")
    for i, el in enumerate(elements):
        if (
            block.get("type") == "context"
            and isinstance(el, Mapping)
            and el.get("type") in _TEXT_TYPES
        ):
            _text_object(el, f"{at}/elements/{i}", 3000, errors)
        else:
            _element(el, f"{at}/elements/{i}", errors)


def _block(block: Mapping[str, Any], at: str, errors: list[str]) -> None:
    kind = block.get("type")
    if kind == "section":
        if "text" not in block and "fields" not in block:
            errors.append(f"must provide text or fields [json-pointer:{at}]")
        if "text" in block:
            _text_object(block["text"], f"{at}/text", 3000, errors)  # §4.1: section.text 3000
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:  # §4.1: at most 10 fields
                errors.append(f"must be less than 11 items [json-pointer:{at}/fields]")
            for i, f in enumerate(fields if isinstance(fields, list) else []):
                _text_object(f, f"{at}/fields/{i}", 2000, errors)  # §4.1: 2000 per field
        if "accessory" in block:
            _element(block["accessory"], f"{at}/accessory", errors)
    elif kind == "header":
        _text_object(block.get("text"), f"{at}/text", 150, errors, plain=True)  # §4.1: header 150
    elif kind == "actions":
        _elements(block, at, 25, errors)  # §4.1: actions.elements 25
    elif kind == "context":
        _elements(block, at, 10, errors)  # §4.1: context.elements 10
    elif kind == "image":
        for key, limit in (("image_url", 3000), ("alt_text", 2000)):
            if not isinstance(block.get(key), str):
                errors.append(f"must provide a string [json-pointer:{at}/{key}]")
            _max_len(block, key, limit, at, errors)
    elif kind == "markdown":
        _max_len(block, "text", MARKDOWN_MAX, at, errors)
    elif kind == "input":
        _text_object(block.get("label"), f"{at}/label", 2000, errors, plain=True)
        _element(block.get("element"), f"{at}/element", errors)
    elif kind not in ("divider", "rich_text", "file", "video", "table"):
        errors.append(f"unsupported type: {kind!r} [json-pointer:{at}/type]")


def check_blocks(blocks: Any, *, max_blocks: int = MESSAGE_MAX_BLOCKS) -> list[str]:
    """Slack-style error messages for `blocks` (empty when Slack would accept them)."""
    blocks = decode_json_param(blocks)
    if not isinstance(blocks, list) or not all(isinstance(b, Mapping) for b in blocks):
        raise BlocksFormatError("blocks must be a JSON array of objects")
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"must be less than {max_blocks + 1} items [json-pointer:/blocks]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if len(block_id) > ID_MAX:
                errors.append(_too_long(ID_MAX, f"{at}/block_id"))
            if block_id in seen:  # Slack refuses a message whose block_ids repeat
                errors.append(f"duplicate block_id [json-pointer:{at}/block_id]")
            seen.add(block_id)
        _block(block, at, errors)
    return errors


def check_view(view: Any) -> list[str]:
    """Errors for a modal or Home tab view (§4.1 view limits); Slack answers invalid_arguments."""
    view = decode_json_param(view)
    if not isinstance(view, Mapping):
        return ["must provide an object [json-pointer:/view]"]
    errors: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        errors.append("must be one of modal, home [json-pointer:/view/type]")
    if kind == "modal":
        _text_object(view.get("title"), "/view/title", 24, errors, plain=True)
        for key in ("submit", "close"):
            if key in view:
                _text_object(view[key], f"/view/{key}", 24, errors, plain=True)
    _max_len(view, "private_metadata", 3000, "/view", errors)
    _max_len(view, "callback_id", ID_MAX, "/view", errors)
    try:
        errors += [
            e.replace("json-pointer:/blocks", "json-pointer:/view/blocks")
            for e in check_blocks(view.get("blocks", []), max_blocks=SURFACE_MAX_BLOCKS)
        ]
    except BlocksFormatError:
        errors.append("must provide an array of blocks [json-pointer:/view/blocks]")
    return errors


def check_metadata(metadata: Any) -> str | None:
    """The error code Slack gives a bad `metadata` argument, or None when it is well formed.

    Message metadata is ``{"event_type": str, "event_payload": object}`` (chat.postMessage
    errors ``invalid_metadata_format`` / ``invalid_metadata_schema``, reference §3).
    """
    metadata = decode_json_param(metadata)
    if not isinstance(metadata, Mapping):
        return "invalid_metadata_format"
    event_type = metadata.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        return "invalid_metadata_schema"
    if not isinstance(metadata.get("event_payload"), Mapping):
        return "invalid_metadata_schema"
    return None
