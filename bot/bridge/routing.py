"""Which channels a notice goes to (bridge.toml `[[routes]]`, DEFAULT_CHANNEL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.config import BUSINESS_HOURS, ConfigError, Route, WeeklyHours
from bot.notices import Notice
from bot.ringcentral import RingCentralClient, RingCentralError


class Router:
    """Every matching route posts to its channel, once per channel; with no match, the
    default channel when there is one; otherwise nowhere (DESIGN §3.2). A route with
    `hours` and an `after_hours_channel` posts what happened outside the hours (in the
    account's time zone, `zone`) to the after-hours channel (§3.12)."""

    def __init__(
        self,
        routes: Sequence[Route],
        default_channel: str | None,
        extension_numbers: Mapping[str, str],
        zone: ZoneInfo | None = None,
    ) -> None:
        self._routes = tuple(routes)
        self._zone = zone or ZoneInfo("UTC")
        self._default = default_channel
        self._numbers = dict(extension_numbers)  # extension id -> extension number

    def channels(self, notice: Notice) -> list[str]:
        found: list[str] = []
        for route in self._routes:
            if not self._matches(route, notice):
                continue
            channel = route.channel_at(notice.at, self._zone)
            if channel not in found:
                found.append(channel)
        if not found and self._default:
            found.append(self._default)
        return found

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
                    "channel": names.get(route.channel, route.channel),
                    "after_hours_channel": names.get(
                        route.after_hours_channel or "", route.after_hours_channel
                    ),
                }
            )
            for route in self._routes
        ]
        default = names.get(self._default, self._default) if self._default else None
        return Router(routes, default, self._numbers, self._zone)

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    @property
    def named_channels(self) -> set[str]:
        """Channels written as `#name` in the config, to resolve once at start."""
        channels = {route.channel for route in self._routes}
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
