"""`check`'s people lines (DESIGN §3.4, §3.9): how many are linked, and each conflict (an
email several extensions share, a member who may not be linked) with what to do."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.bridge.people import resolve_links
from bot.ringcentral import RingCentralClient

from ._model import Checklist, Deployment


async def check_people(
    rc: RingCentralClient, slack: AsyncWebClient, deployment: Deployment, out: Checklist
) -> None:
    found = await resolve_links(rc, slack, deployment.bridge.people)
    linked = [link for link in found.links if link.linked]
    by_email = sum(1 for link in linked if link.how == "email")
    summary = f"{len(linked)} linked to extensions ({by_email} by email"
    summary += f", {len(linked) - by_email} by [people] links)"
    if found.problem and deployment.bridge.people.link_by_email:
        out.bad("people", f"{summary}; not linked by email: {found.problem}")
    else:
        out.ok("people", summary)
    for link in found.conflicts:
        out.bad(
            f"people: ext. {link.extension_number}",
            f"linked to no one: {link.detail}. Give the extension its own contact email in "
            "RingCentral, or name its person in bridge.toml [people] links",
        )
