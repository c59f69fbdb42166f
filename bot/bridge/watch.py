"""What the bridge watches: which extensions, and which notification kinds.

`resolve_watch()` turns the config (extension *numbers* such as "101", route kinds, the
default channel) into what RingCentral needs: extension *ids*, since event filters and
telephony events name extensions by id (reference §3), and the kinds to subscribe to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.config import KINDS, BridgeConfig, ConfigError, Kind
from bot.ringcentral import RingCentralClient

from .calls import Watched

__all__ = ["Watch", "resolve_watch"]

# RingCentral's extension list pages hold at most 1000 records (SPEC `perPage` maximum).
_PER_PAGE = 1000
_MAX_PAGES = 50


@dataclass(frozen=True, slots=True)
class Watch:
    """The watched extensions (ids, in config order) and the kinds some route needs.

    `extension_numbers` maps each watched id to its number (for routes, which name
    extensions by number); `numbers` are the company numbers routes name, which make a
    leg of a call to or from them count as watched (`Watched.numbers`).
    """

    extension_ids: tuple[str, ...]
    kinds: frozenset[Kind]
    extension_numbers: Mapping[str, str] = field(default_factory=dict)
    numbers: frozenset[str] = frozenset()
    # The mailboxes texts are sent from (the service user's): their outbound changes tell
    # how the texts ended (DESIGN §3.8).
    senders: tuple[str, ...] = ()

    @property
    def watched(self) -> Watched:
        """What the call judge (`bot.bridge.calls.apply`) takes."""
        return Watched(extension_ids=frozenset(self.extension_ids), numbers=self.numbers)


def subscribed_kinds(bridge: BridgeConfig, default_channel: str | None) -> frozenset[Kind]:
    """The kinds named by routes; every kind when DEFAULT_CHANNEL catches the rest
    (DESIGN §3.1: with DEFAULT_CHANNEL every kind is subscribed)."""
    if default_channel:
        return frozenset(KINDS)
    return frozenset(kind for route in bridge.routes for kind in route.events)


async def resolve_watch(
    bridge: BridgeConfig,
    rc: RingCentralClient,
    *,
    default_channel: str | None = None,
    owned: Mapping[str, str] | None = None,
) -> Watch:
    """Resolve `[ringcentral].extensions` numbers to ids (default: the JWT user's own
    extension), and check that every extension a route names is known and watched.
    `owned` (id -> number): the extensions of linked people, watched too when a route
    DMs their owners (DESIGN §3.9).

    Raises ConfigError naming unknown extension numbers, or route extensions not watched.
    """
    configured = _unique(bridge.ringcentral.extensions)
    route_numbers = _unique(n for route in bridge.routes for n in route.extensions)
    own = await rc.account.extension()
    if configured:
        ids = await _ids_by_number([*configured, *route_numbers], rc)
        unknown = [n for n in configured if n not in ids]
        if unknown:
            raise ConfigError(
                f"[ringcentral].extensions: no extension numbered {', '.join(unknown)} "
                "in this RingCentral account"
            )
        watched = {ids[n]: n for n in configured}
    else:
        watched = {own.id: own.extension_number or ""}
        missing = [n for n in route_numbers if n not in watched.values()]
        ids = await _ids_by_number(missing, rc) if missing else {}
    _check_routes(bridge, ids, set(watched.values()))
    if owned and any(route.dm == "owner" for route in bridge.routes):
        watched.update({i: n for i, n in owned.items() if i not in watched})
    return Watch(
        extension_ids=tuple(watched),
        kinds=subscribed_kinds(bridge, default_channel),
        extension_numbers=watched,
        numbers=frozenset(n for route in bridge.routes for n in route.numbers),
        senders=(own.id,),
    )


def _check_routes(bridge: BridgeConfig, ids: Mapping[str, str], watched: set[str]) -> None:
    for index, route in enumerate(bridge.routes, start=1):
        unknown = [n for n in route.extensions if n not in watched and n not in ids]
        if unknown:
            raise ConfigError(
                f"routes[{index}].extensions: no extension numbered {', '.join(unknown)} "
                "in this RingCentral account"
            )
        # A route filtered on an extension nobody subscribes to would stay silent forever.
        unwatched = [n for n in route.extensions if n not in watched]
        if unwatched:
            raise ConfigError(
                f"routes[{index}].extensions: {', '.join(unwatched)} not watched; "
                "add them to [ringcentral].extensions"
            )


async def _ids_by_number(numbers: Sequence[str], rc: RingCentralClient) -> dict[str, str]:
    """Extension number → id for `numbers`, reading the account's extension list page by
    page until all are found (one Light request for most accounts)."""
    wanted = set(numbers)
    found: dict[str, str] = {}
    for page in range(1, _MAX_PAGES + 1):
        listing = await rc.account.extensions(page=page, per_page=_PER_PAGE)
        for ext in listing.records:
            if ext.extension_number in wanted:
                found[ext.extension_number] = ext.id
        if wanted <= found.keys() or not listing.has_next:
            break
    return found


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))
