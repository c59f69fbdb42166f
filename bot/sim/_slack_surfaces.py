"""auth.test, views.open / views.publish and the files upload v2 flow (reference §3)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bot.sim._slack_blocks import check_view, decode_json_param
from bot.sim._slack_params import Params, integer, required, text_param
from bot.sim._slack_state import SlackError, UploadedFile, add_reply, find_message, insert_message
from bot.sim._slack_workspace import Workspace


def auth_test(ws: Workspace, p: Params) -> dict[str, Any]:  # noqa: ARG001  (signature of every method)
    ident = ws.identity
    return {
        "ok": True,
        "url": f"https://{ident.domain}.slack.com/",
        "team": ident.team,
        "user": ident.bot_name,
        "team_id": ident.team_id,
        "user_id": ident.bot_user_id,
        "bot_id": ident.bot_id,
        "app_id": ident.app_id,
        "is_enterprise_install": False,
    }


def _view(ws: Workspace, p: Params, *, kind: str) -> dict[str, Any]:
    view = decode_json_param(p.get("view"))
    errors = check_view(view)
    if not errors and isinstance(view, Mapping) and view.get("type") != kind:
        errors = [f"must be {kind} [json-pointer:/view/type]"]
    if errors:
        raise SlackError(
            "invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
        )
    assert isinstance(view, Mapping)
    ident = ws.identity
    view_id = ws.new_id("V")
    return {
        **copy.deepcopy(dict(view)),
        "id": view_id,
        "team_id": ident.team_id,
        "app_id": ident.app_id,
        "bot_id": ident.bot_id,
        "root_view_id": view_id,
        "previous_view_id": None,
        "state": {"values": {}},
        "hash": f"{int(ws.clock.now())}.{view_id}",
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
    }


def views_open(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.use_trigger(text_param(p, "trigger_id"))
    view = _view(ws, p, kind="modal")
    ws.views[view["id"]] = view
    return {"ok": True, "view": view}


def views_publish(ws: Workspace, p: Params) -> dict[str, Any]:
    if not ws.home_tab_enabled:
        raise SlackError("not_enabled")  # the app's Home tab is switched off
    user_id = required(p, "user_id")
    previous = ws.home_views.get(user_id)
    expected = text_param(p, "hash")
    if expected and previous is not None and previous["hash"] != expected:
        raise SlackError("hash_conflict")
    view = _view(ws, p, kind="home")
    ws.home_views[user_id] = view
    return {"ok": True, "view": view}


def get_upload_url(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("files:write")
    filename = required(p, "filename", "missing_argument")
    length = integer(p, "length", 0, low=0, high=1 << 30)  # the SDK caps files at 1 GiB
    if length <= 0:
        raise SlackError("missing_argument")  # reference §3: length 0 is refused
    alt_txt = text_param(p, "alt_txt") or ""
    if len(alt_txt) > 1000:
        raise SlackError("alt_txt_too_large")
    file = UploadedFile(id=ws.new_id("F"), filename=filename, length=length, alt_txt=alt_txt)
    ws.files[file.id] = file
    return {"ok": True, "upload_url": f"{ws.upload_base}{file.id}", "file_id": file.id}


def files_info(ws: Workspace, p: Params) -> dict[str, Any]:
    """files.info of a file the bot can see (reference §3: `file_not_found`)."""
    ws.need_scope("files:read")
    file = ws.files.get(required(p, "file", "file_not_found"))
    if file is None or file.content is None:
        raise SlackError("file_not_found")
    return {"ok": True, "file": file.info()}


def _file_message(ws: Workspace, files: list[UploadedFile], comment: str) -> dict[str, Any]:
    message = ws.bot_message(comment, ws.ts.next())
    message["upload"] = True
    message["files"] = [f.info() for f in files]
    return message


def complete_upload(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("files:write")
    entries = decode_json_param(p.get("files"))
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments")
    files: list[UploadedFile] = []
    for entry in entries:
        file = ws.files.get(entry.get("id", "")) if isinstance(entry, Mapping) else None
        # Not verified: Slack may accept a file whose bytes never arrived; refusing it
        # catches a skipped upload step.
        if file is None or file.content is None:
            raise SlackError("file_not_found")
        file.title = str(entry.get("title") or file.filename)
        files.append(file)
    targets = [c for c in (text_param(p, "channels") or "").split(",") if c]
    if channel_id := text_param(p, "channel_id"):
        targets.insert(0, channel_id)
    if len(targets) > 100:
        raise SlackError("channels_limit_exceeded")
    thread_ts = text_param(p, "thread_ts")
    if thread_ts and len(targets) != 1:
        raise SlackError("invalid_arguments")  # thread_ts needs exactly one channel
    channels = [ws.postable_channel(ref) for ref in targets]
    comment = text_param(p, "initial_comment") or ""
    for channel in channels:
        for file in files:
            file.channels.append(channel.id)
        message = _file_message(ws, files, comment)
        if thread_ts:
            parent = find_message(channel, thread_ts)
            if parent is None:
                raise SlackError("invalid_arguments")
            message["thread_ts"] = parent.get("thread_ts") or parent["ts"]
            add_reply(channel, find_message(channel, message["thread_ts"]) or parent, message)
        else:
            insert_message(channel, message)
    return {"ok": True, "files": [{"id": f.id, "title": f.title} for f in files]}
