"""Which channels a notice goes to (bridge.toml `[[routes]]`, DEFAULT_CHANNEL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.config import Route
from bot.notices import Notice


class Router:
    """Every matching route posts to its channel, once per channel; with no match, the
    default channel when there is one; otherwise nowhere (DESIGN §3.2)."""

    def __init__(
        self,
        routes: Sequence[Route],
        default_channel: str | None,
        extension_numbers: Mapping[str, str],
    ) -> None:
        self._routes = tuple(routes)
        self._default = default_channel
        self._numbers = dict(extension_numbers)  # extension id -> extension number

    def channels(self, notice: Notice) -> list[str]:
        found: list[str] = []
        for route in self._routes:
            if self._matches(route, notice) and route.channel not in found:
                found.append(route.channel)
        if not found and self._default:
            found.append(self._default)
        return found

    def replies_off(self, channel: str, notice: Notice) -> bool:
        """Whether a route that posts `notice` into `channel` keeps its thread internal
        (`replies = "off"`, DESIGN §3.8)."""
        return any(
            route.replies == "off" and route.channel == channel and self._matches(route, notice)
            for route in self._routes
        )

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
            route.model_copy(update={"channel": names.get(route.channel, route.channel)})
            for route in self._routes
        ]
        default = names.get(self._default, self._default) if self._default else None
        return Router(routes, default, self._numbers)

    @property
    def named_channels(self) -> set[str]:
        """Channels written as `#name` in the config, to resolve once at start."""
        channels = {route.channel for route in self._routes}
        if self._default:
            channels.add(self._default)
        return {c for c in channels if c.startswith("#")}
