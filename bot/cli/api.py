"""`api METHOD PATH [-q key=value]… [-H key:value]… [-d JSON|@file]`: any RingCentral call
with the bridge's credentials, the answer printed as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bot import server
from bot.cli._common import EXIT_OK, EXIT_REFUSED
from bot.config import ConfigError, load_settings
from bot.ringcentral import RingCentralError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "api",
        help="call any RingCentral API with the bridge's credentials",
        description="Call any RingCentral API with the bridge's credentials and print the "
        "JSON answer. Example: api GET /restapi/v1.0/account/~/extension/~",
    )
    parser.add_argument("method", type=str.upper, choices=METHODS, metavar="METHOD")
    parser.add_argument("path", metavar="PATH", help="e.g. /restapi/v1.0/account/~/call-log")
    parser.add_argument(
        "-q",
        dest="query",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="query parameter; repeat a key to send several values",
    )
    parser.add_argument(
        "-H",
        dest="headers",
        action="append",
        default=[],
        metavar="KEY:VALUE",
        help="extra request header",
    )
    parser.add_argument(
        "-d",
        dest="data",
        metavar="JSON|@FILE",
        help="JSON request body, or @path to read it from a file (@- for stdin)",
    )
    parser.set_defaults(run=run)


def parse_query(items: Sequence[str]) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"-q {item!r}: expected KEY=VALUE")
        query.setdefault(key, []).append(value)
    return query


def parse_headers(items: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise ConfigError(f"-H {item!r}: expected KEY:VALUE")
        headers[key.strip()] = value.strip()
    return headers


def parse_body(data: str | None) -> Any:
    if data is None:
        return None
    source = "-d"
    if data.startswith("@"):
        source = data
        try:
            data = sys.stdin.read() if data == "@-" else Path(data[1:]).read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"-d {source}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON: {exc}") from None


async def run(args: argparse.Namespace) -> int:
    query = parse_query(args.query)
    headers = parse_headers(args.headers)
    body = parse_body(args.data)
    async with server.ringcentral(load_settings()) as client:
        try:
            response = await client.request(
                args.method, args.path, params=query, json=body, headers=headers
            )
        except RingCentralError as exc:
            print(f"error: {describe(exc)}", file=sys.stderr)
            return EXIT_REFUSED
    print_response(response)
    return EXIT_OK


def describe(exc: RingCentralError) -> str:
    code = getattr(exc, "error_code", "") or getattr(exc, "error", "")
    message = getattr(exc, "message", "") or getattr(exc, "description", "") or str(exc)
    return f"{code}: {message}" if code else message


def print_response(response: httpx.Response) -> None:
    if not response.content:
        print(f"({response.status_code}, no content)", file=sys.stderr)
        return
    if response.headers.get("content-type", "").split(";")[0].strip().endswith("json"):
        print(json.dumps(response.json(), indent=2, ensure_ascii=False))
    elif response.headers.get("content-type", "").startswith("text/"):
        print(response.text)
    else:
        sys.stdout.buffer.write(response.content)
