"""Slack messages as a person would read them, in plain terminal text."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

INDENT = "    "  # a thread reply, under its parent

_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_TOKEN = re.compile(r"<([@#!])([^|>]*)(?:\|([^>]*))?>")
_LINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^|>]*)(?:\|([^>]*))?>")


def terminal(message: Mapping[str, Any], users: Mapping[str, str] | None = None) -> str:
    """One message: its blocks (or its text), its files, its buttons; `users` names the
    people its mentions point at (id → name)."""
    plain = _plainer(users or {})
    lines: list[str] = []
    for block in message.get("blocks") or []:
        lines.extend(_block(block, plain))
    if not lines and (text := str(message.get("text") or "")):
        lines.append(plain(text))
    lines.extend(f"[file: {f.get('name') or f.get('title')}, {size(f)}]" for f in _files(message))
    if message.get("edited") and lines:
        lines[0] += "  (edited)"
    reactions = [f":{r.get('name')}:" for r in message.get("reactions") or []]
    if reactions:  # receipts on a texted reply (DESIGN §3.8)
        lines.append("[" + " ".join(reactions) + "]")
    return "\n".join(lines)


def thread(messages: Sequence[Mapping[str, Any]], users: Mapping[str, str] | None = None) -> str:
    """A parent with its replies indented under it (conversations.replies order)."""
    parent, *replies = messages
    out = [terminal(parent, users)]
    for reply in replies:
        out.append("\n".join(INDENT + line for line in terminal(reply, users).splitlines()))
    return "\n".join(out)


def channel(
    name: str,
    threads: Sequence[Sequence[Mapping[str, Any]]],
    users: Mapping[str, str] | None = None,
) -> str:
    """A channel's header, then each top-level message with its thread, oldest first."""
    header = f"#{name}"
    body = [thread(t, users) for t in threads] or ["(no messages)"]
    return "\n\n".join([f"{header}\n{'─' * max(len(header), 40)}", *body])


def size(file: Mapping[str, Any]) -> str:
    """`12 KB`, as Slack shows a file's size."""
    count = int(file.get("size") or 0)
    if count < 1024:
        return f"{count} B"
    if count < 1024**2:
        return f"{round(count / 1024)} KB"
    return f"{count / 1024**2:.1f} MB"


def _files(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [f for f in message.get("files") or [] if isinstance(f, Mapping)]


def _block(block: Mapping[str, Any], plain: Callable[[str], str]) -> list[str]:
    kind = block.get("type")
    lines: list[str] = []
    if kind in ("section", "header"):
        if isinstance(block.get("text"), Mapping):
            lines.append(plain(str(block["text"].get("text", ""))))
        lines.extend(plain(str(f.get("text", ""))) for f in block.get("fields") or [])
        if isinstance(block.get("accessory"), Mapping):
            lines.append("  " + _element(block["accessory"], plain))
    elif kind == "context":
        lines.append("  " + " · ".join(_element(e, plain) for e in block.get("elements") or []))
    elif kind == "actions":
        lines.append("  " + " ".join(_element(e, plain) for e in block.get("elements") or []))
    elif kind == "image":
        lines.append(f"[image: {block.get('alt_text', '')}]")
    elif kind == "divider":
        lines.append("  ───")
    elif kind == "rich_text":
        lines.append(plain(_rich_text(block)))
    return lines


def _element(element: Mapping[str, Any], plain: Callable[[str], str]) -> str:
    kind = element.get("type")
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    label = element.get("text")
    text = str(label.get("text", "")) if isinstance(label, Mapping) else str(label or "")
    if kind in ("mrkdwn", "plain_text"):
        return plain(text)
    if kind == "button":
        return f"[{text}]"
    placeholder = element.get("placeholder")
    if isinstance(placeholder, Mapping):
        return f"[{placeholder.get('text', '')} ▾]"
    return f"[{text or kind}]"


def _rich_text(block: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for section in block.get("elements") or []:
        for item in section.get("elements") or []:
            parts.append(str(item.get("text") or item.get("url") or ""))
    return "".join(parts)


def _plainer(users: Mapping[str, str]) -> Callable[[str], str]:
    def token(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil == "@":
            return "@" + (label or users.get(target, target))
        if sigil == "#":
            return "#" + (label or target)
        return "@" + (label or target)  # <!here>, <!channel>

    def link(match: re.Match[str]) -> str:
        url, label = match.groups()
        return f"{label} ({url})" if label and label != url else url

    def plain(mrkdwn: str) -> str:
        text = _DATE.sub(r"\1", mrkdwn)  # a date shows its fallback text
        text = _TOKEN.sub(token, text)
        text = _LINK.sub(link, text)
        # Entities last: what they stand for is text, never a token.
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    return plain
