"""Storage: SQLAlchemy 2 async over SQLite (aiosqlite) or PostgreSQL (asyncpg).

The same code runs on both; DATABASE_URL picks one (see `bot.config.Settings.sqlalchemy_url`).
"""

from bot.store.audit import AuditEntry, AuditLog
from bot.store.cursors import CursorRecord, Cursors
from bot.store.engine import connect, create_schema
from bot.store.links import Link, Links
from bot.store.penalties import DatabasePenaltyStore
from bot.store.posts import Conversation, KindCount, PostedNotice, Posts
from bot.store.schema import Base
from bot.store.subscriptions import SubscriptionRecord, SubscriptionStore
from bot.store.token_requests import DatabaseTokenRequestLog
from bot.store.tokens import DatabaseTokenStore

__all__ = [
    "AuditEntry",
    "AuditLog",
    "Base",
    "Conversation",
    "CursorRecord",
    "Cursors",
    "DatabasePenaltyStore",
    "DatabaseTokenRequestLog",
    "DatabaseTokenStore",
    "KindCount",
    "Link",
    "Links",
    "PostedNotice",
    "Posts",
    "SubscriptionRecord",
    "SubscriptionStore",
    "connect",
    "create_schema",
]
