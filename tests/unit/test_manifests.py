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


def test_socket_mode_has_no_request_urls() -> None:
    data = load("slack-app.socket.yaml")
    assert data["settings"]["socket_mode_enabled"] is True
    assert request_urls(data) == {None}


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
