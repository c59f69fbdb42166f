"""`deadletters list | show ID | replay ID… | replay --all` (DESIGN §3.4, §3.10): what could
not be delivered, and a second try once the cause is fixed.

`list` and `show` only read the database. They print where each item was going, what it
was and why it failed: never what a person wrote (a delivery's body, an SMS text), which
stays in the database. `replay` puts the items back in their queue as new work; they then
go through the normal deduplication (posts are unique on kind, item and channel: nothing
shown is shown again). The command then dispatches them itself, as `catchup` posts what it
found, for up to REPLAY_WITHIN seconds; a server running meanwhile may take some (each is
done once: the rows are leased), and what is left is the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bot import server
from bot.bridge.service import enabled
from bot.cli._common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from bot.cli.api import describe
from bot.config import BridgeConfig, ConfigError, Settings, load_bridge_config, load_settings
from bot.ringcentral import RingCentralError
from bot.store.deadletters import DeadLetter, DeadLetters, parse_id

__all__ = ["add_parser"]

REPLAY_WITHIN = 120.0  # seconds this command dispatches; the rest is the server's


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "deadletters",
        help="what could not be delivered, and a second try",
        description="List, show and replay dead letters: deliveries, posts, uploads, "
        "updates of posted messages, voicemail transcripts and thread replies that could "
        "not be made. Replay after fixing the cause (a channel the bot was invited to, a "
        "scope added…).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every dead letter, newest first").set_defaults(run=_list)
    show = actions.add_parser("show", help="one dead letter")
    show.add_argument("id", help="its id, as `list` prints it (post:12, update:3, followup:45…)")
    show.set_defaults(run=_show)
    replay = actions.add_parser("replay", help="try dead letters again")
    replay.add_argument("ids", nargs="*", metavar="ID", help="the ids to try again")
    replay.add_argument("--all", action="store_true", help="every dead letter")
    replay.set_defaults(run=_replay)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _line(letter: DeadLetter) -> str:
    where = f" → {letter.where}" if letter.where else ""
    return f"{letter.id:<16} {_when(letter.at)}  {letter.what}{where}: {letter.reason}"


async def _list(args: argparse.Namespace) -> int:
    del args
    settings = load_settings()
    async with server.database(settings, schema="require") as engine:
        letters = await DeadLetters(engine).newest()
    if not letters:
        print("no dead letters: everything was delivered")
        return EXIT_OK
    for letter in letters:
        print(_line(letter))
    count = len(letters)
    print(f"{count} dead letter{'s' if count != 1 else ''}; `deadletters replay ID…` tries again")
    return EXIT_OK


async def _show(args: argparse.Namespace) -> int:
    _ids([args.id])
    settings = load_settings()
    async with server.database(settings, schema="require") as engine:
        letter = await DeadLetters(engine).get(args.id)
    if letter is None:
        print(f"ringbridge: no dead letter {args.id}", file=sys.stderr)
        return EXIT_USAGE
    print(f"id:       {letter.id}")
    print(f"when:     {_when(letter.at)}")
    print(f"what:     {letter.what}")
    if letter.where:
        print(f"to:       {letter.where}")
    print(f"attempts: {letter.attempts}")
    print(f"reason:   {letter.reason}")
    return EXIT_OK


def _ids(ids: list[str]) -> None:
    for letter_id in ids:
        try:
            parse_id(letter_id)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


async def _replay(args: argparse.Namespace) -> int:
    if bool(args.ids) == bool(args.all):
        raise ConfigError("replay: give the ids to try again, or --all")
    _ids(args.ids)
    settings = load_settings()
    bridge = load_bridge_config(settings.bridge_config)
    async with server.database(settings, schema="ensure") as engine:
        letters = DeadLetters(engine)
        wanted = await letters.all_ids() if args.all else list(args.ids)
        replayed = await letters.replay(wanted, now=datetime.now(UTC))
        for letter_id in wanted:
            if letter_id not in replayed:
                print(f"{letter_id}: no such dead letter (already replayed?)", file=sys.stderr)
        if not replayed:
            print("nothing to replay")
            return EXIT_OK if args.all else EXIT_USAGE
        print(f"replaying {len(replayed)} dead letter{'s' if len(replayed) != 1 else ''}")
        if not enabled(bridge, settings.default_channel):
            print("no routes here: a running server dispatches them")
            return EXIT_OK
        try:
            states = await _dispatch(settings, bridge, letters, replayed)
        except RingCentralError as exc:
            print(f"error: {describe(exc)}; a running server dispatches them", file=sys.stderr)
            return EXIT_REFUSED
    for letter_id in replayed:
        state = states.get(letter_id, "gone")
        outcome = {"done": "delivered", "dead": "failed again"}.get(state, "waiting")
        print(f"{letter_id}: {outcome}")
    failed = [i for i in replayed if states.get(i) == "dead"]
    return EXIT_REFUSED if failed else EXIT_OK


async def _dispatch(
    settings: Settings, bridge: BridgeConfig, letters: DeadLetters, replayed: list[str]
) -> dict[str, str]:
    """Step the dispatcher until each replayed row is done or dead again, at most
    REPLAY_WITHIN seconds; their states."""
    deadline = time.monotonic() + REPLAY_WITHIN
    async with server.notification_side(settings, bridge) as built:
        states = await letters.states(replayed)
        while any(s in ("pending", "sending") for s in states.values()):
            if time.monotonic() > deadline:
                print("still waiting for Slack: the server dispatches the rest", file=sys.stderr)
                break
            if not await built.dispatcher.step():
                await asyncio.sleep(0.2)  # Slack's pace, or a retry's wait
            states = await letters.states(replayed)
    return states
