"""The Slack app manifests: valid for Slack, and the shipped files equal to the code's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.sim.slack import DEFAULT_SCOPES
from bot.slack.manifest import BOT_SCOPES, manifest, render_manifest, render_socket_manifest
from tests.conftest import SHARED

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
SCHEMA = SHARED / "slack" / "manifest.schema.1.0.0.json"
PLACEHOLDER = "https://ringbridge.example.com"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack's manifest schema not found at {SCHEMA} (../shared is absent)")
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


def load(name: str) -> Any:
    return yaml.safe_load((MANIFESTS / name).read_text())


def request_urls(data: dict[str, Any]) -> set[str]:
    urls = {c.get("url") for c in data["features"]["slash_commands"]}
    urls.add(data["settings"]["event_subscriptions"].get("request_url"))
    urls.add(data["settings"]["interactivity"].get("request_url"))
    return urls


@pytest.mark.parametrize("name", ["slack-app.yaml", "slack-app.socket.yaml"])
def test_shipped_manifests_are_valid(validator: jsonschema.Draft7Validator, name: str) -> None:
    errors = [e.message for e in validator.iter_errors(load(name))]
    assert errors == []


def test_shipped_files_equal_the_code() -> None:
    assert load("slack-app.yaml") == manifest(PLACEHOLDER)
    assert load("slack-app.socket.yaml") == manifest(None)
    assert yaml.safe_load(render_socket_manifest()) == manifest(None)


def test_socket_mode_has_no_request_urls(validator: jsonschema.Draft7Validator) -> None:
    data = yaml.safe_load(render_socket_manifest())
    assert list(validator.iter_errors(data)) == []
    assert data["settings"]["socket_mode_enabled"] is True
    assert request_urls(data) == {None}


def test_both_modes_are_one_app_but_for_where_slack_sends_requests() -> None:
    http = manifest(PLACEHOLDER)
    for command in http["features"]["slash_commands"]:
        del command["url"]
    del http["settings"]["event_subscriptions"]["request_url"]
    del http["settings"]["interactivity"]["request_url"]
    http["settings"]["socket_mode_enabled"] = True

    assert http == manifest(None)


# DESIGN §2, "Bot scopes (both)" and "Bot events"; App Home: home tab, messages tab read-only.
DESIGN_SCOPES = {
    "commands", "chat:write", "channels:join", "channels:history", "groups:history",
    "channels:read", "groups:read", "users:read", "users:read.email", "usergroups:read",
    "reactions:write", "im:write", "im:history", "files:read", "files:write",
}  # fmt: skip
DESIGN_EVENTS = {"app_home_opened", "message.channels", "message.groups", "user_change"}


@pytest.mark.parametrize("url", [PLACEHOLDER, None])
def test_both_modes_ask_for_the_scopes_and_events_of_the_design(url: str | None) -> None:
    data = manifest(url)

    assert set(data["oauth_config"]["scopes"]["bot"]) == DESIGN_SCOPES
    assert len(data["oauth_config"]["scopes"]["bot"]) == len(DESIGN_SCOPES)
    assert set(data["settings"]["event_subscriptions"]["bot_events"]) == DESIGN_EVENTS
    assert data["features"]["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": True,
    }


@pytest.mark.parametrize("url", ["https://host", "https://host/", "https://h.example:8443/rb"])
def test_render_sets_every_request_url(validator: jsonschema.Draft7Validator, url: str) -> None:
    data = yaml.safe_load(render_manifest(url))
    assert list(validator.iter_errors(data)) == []
    assert request_urls(data) == {url.rstrip("/") + "/slack/events"}
    assert data["settings"]["socket_mode_enabled"] is False
    assert [c["command"] for c in data["features"]["slash_commands"]] == [
        "/sms",
        "/call",
        "/calllog",
        "/ringcentral",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://host",
        "host.example.com",
        "ftp://host",
        "https://",
        "https://user:pw@host",
        "https://host/?x=1",
        "https://host/#a",
        "https://ho st",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        render_manifest(url)


def test_the_simulator_grants_the_manifest_scopes() -> None:
    # The Slack simulator answers missing_scope like Slack does; by default it holds
    # exactly what the manifest asks for, so a call needing more fails in tests too.
    assert set(DEFAULT_SCOPES) == set(BOT_SCOPES)
