"""Observability: Prometheus metrics, the health state, and the two endpoints that show
them (`/metrics`, `/healthz`). Its SQL lives in `bot.store.stats`; bot/ringcentral and
bot/slack know nothing of it: they call the observers the composition root gives them."""

from bot.observe.http import HEALTH, Health, add_routes
from bot.observe.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.observe.slack_calls import SlackCallCounter
from bot.observe.state import ServiceState

__all__ = [
    "CONTENT_TYPE_LATEST",
    "HEALTH",
    "Health",
    "Metrics",
    "ServiceState",
    "SlackCallCounter",
    "add_routes",
]
