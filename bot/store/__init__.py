"""Storage: SQLAlchemy 2 async over SQLite (aiosqlite) or PostgreSQL (asyncpg).

The same code runs on both; DATABASE_URL picks one (see `bot.config.Settings.sqlalchemy_url`).
"""

from bot.store.audit import AuditEntry, AuditLog
from bot.store.engine import connect, create_schema
from bot.store.posts import Conversation, PostedNotice, Posts
from bot.store.schema import Base
from bot.store.subscriptions import SubscriptionRecord, SubscriptionStore

__all__ = [
    "AuditEntry",
    "AuditLog",
    "Base",
    "Conversation",
    "PostedNotice",
    "Posts",
    "SubscriptionRecord",
    "SubscriptionStore",
    "connect",
    "create_schema",
]
