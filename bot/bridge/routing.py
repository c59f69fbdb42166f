"""Which channels a notice goes to (bridge.toml `[[routes]]`, DEFAULT_CHANNEL)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.config import BUSINESS_HOURS, ConfigError, Route, WeeklyHours
from bot.notices import Notice
from bot.ringcentral import RingCentralClient, RingCentralError

# The DM channel with the person linked to an extension (bot.bridge.people), or None.
OwnerDm = Callable[[str | None], str | None]


class Router:
    """Every matching route posts to its channel, once per channel; with no match, the
    default channel when there is one; otherwise nowhere (DESIGN §3.2). A route with
    `hours` and an `after_hours_channel` posts what happened outside the hours (in the
    account's time zone, `zone`) to the after-hours channel (§3.12).

    A `dm = "owner"` route posts to the DM of the person linked to the notice's
    extension (`owner_dm`); with nobody linked it posts nowhere and `on_unowned` hears of
    it (a metric). It counts as a match: the default channel does not take it over.
    """

    def __init__(
        self,
        routes: Sequence[Route],
        default_channel: str | None,
        extension_numbers: Mapping[str, str],
        zone: ZoneInfo | None = None,
        *,
        owner_dm: OwnerDm | None = None,
        on_unowned: Callable[[Notice], None] | None = None,
    ) -> None:
        self._routes = tuple(routes)
        self._zone = zone or ZoneInfo("UTC")
        self._default = default_channel
        self._numbers = dict(extension_numbers)  # extension id -> extension number
        self.owner_dm = owner_dm
        self.on_unowned = on_unowned
        # The routes a notice's kind and company number can match, in the file's order, by
        # (kind, company number): a deployment may have hundreds of routes, and every
        # delivery asks (the number is one of the account's: few keys).
        self._candidates: dict[tuple[str, str | None], tuple[Route, ...]] = {}

    def channels(self, notice: Notice) -> list[str]:
        found: list[str] = []
        matched = False
        for route in self._routes_for(notice):
            if not self._matches(route, notice):
                continue
            matched = True
            # Outside the hours the after-hours channel, even for a `dm` route.
            channel = route.channel_at(notice.at, self._zone)
            target = channel if channel is not None else self._dm(notice)
            if target is not None and target not in found:
                found.append(target)
        if not matched and self._default:
            found.append(self._default)
        return found

    def replies_off(self, channel: str, notice: Notice) -> bool:
        """Whether a route that posts `notice` into `channel` keeps its thread internal
        (`replies = "off"`, DESIGN §3.8)."""
        return any(
            route.replies == "off" and route.channel == channel and self._matches(route, notice)
            for route in self._routes_for(notice)
        )

    def auto_reply(self, notice: Notice) -> tuple[str, str | None] | None:
        """The auto reply a notice gets (DESIGN §3.12): the text of the first route in the
        file that matches and has `auto_reply`, and the channel that route posts it to
        (whose thread shows the reply; None: nowhere, a `dm` route with nobody linked)."""
        for route in self._routes_for(notice):
            if route.auto_reply is None or not self._matches(route, notice):
                continue
            channel = route.channel_at(notice.at, self._zone)
            if channel is None and self.owner_dm is not None:
                channel = self.owner_dm(notice.extension_id)
            return route.auto_reply, channel
        return None

    def _dm(self, notice: Notice) -> str | None:
        channel = self.owner_dm(notice.extension_id) if self.owner_dm else None
        if channel is None and self.on_unowned is not None:
            self.on_unowned(notice)
        return channel

    def _routes_for(self, notice: Notice) -> tuple[Route, ...]:
        """The routes that may match `notice` (its kind and company number considered)."""
        company: str | None = getattr(notice, "company_number", None)
        key = (notice.kind, company)
        routes = self._candidates.get(key)
        if routes is None:
            routes = tuple(
                route
                for route in self._routes
                if notice.kind in route.events and (not route.numbers or company in route.numbers)
            )
            self._candidates[key] = routes
        return routes

    def _matches(self, route: Route, notice: Notice) -> bool:
        if notice.kind not in route.events:
            return False
        if route.extensions:
            number = self._numbers.get(notice.extension_id or "")
            if number not in route.extensions:
                return False
        if route.numbers:
            company = getattr(notice, "company_number", None)
            if company not in route.numbers:
                return False
        return True

    def resolve(self, names: Mapping[str, str]) -> Router:
        """The same routes with `#name` channels replaced by their ids."""
        routes = [
            route.model_copy(
                update={
                    "channel": names.get(route.channel or "", route.channel),
                    "after_hours_channel": names.get(
                        route.after_hours_channel or "", route.after_hours_channel
                    ),
                }
            )
            for route in self._routes
        ]
        default = names.get(self._default, self._default) if self._default else None
        return Router(
            routes,
            default,
            self._numbers,
            self._zone,
            owner_dm=self.owner_dm,
            on_unowned=self.on_unowned,
        )

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    @property
    def named_channels(self) -> set[str]:
        """Channels written as `#name` in the config, to resolve once at start."""
        channels = {route.channel for route in self._routes if route.channel}
        channels.update(r.after_hours_channel for r in self._routes if r.after_hours_channel)
        if self._default:
            channels.add(self._default)
        return {c for c in channels if c.startswith("#")}


async def with_business_hours(routes: Sequence[Route], rc: RingCentralClient) -> list[Route]:
    """The routes with `hours = "ringcentral"` replaced by the account's business hours,
    read once at start (DESIGN §3.2). ConfigError when RingCentral will not tell them."""
    if not any(route.hours == BUSINESS_HOURS for route in routes):
        return list(routes)
    try:
        answer = await rc.account.business_hours()
    except RingCentralError as exc:
        raise ConfigError(
            f'hours = "{BUSINESS_HOURS}": RingCentral refused the account\'s business hours '
            f"({exc}); the service user needs the ReadCompanyAnsweringRules permission, or "
            "write the hours in bridge.toml"
        ) from None
    weekly = answer.schedule.weekly_ranges if answer.schedule else None
    try:
        hours = WeeklyHours.from_schedule(weekly.ranges() if weekly else {})
    except ValueError as exc:
        raise ConfigError(f'hours = "{BUSINESS_HOURS}": {exc}') from None
    return [
        route.model_copy(update={"hours": hours}) if route.hours == BUSINESS_HOURS else route
        for route in routes
    ]
