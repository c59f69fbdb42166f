"""Async RingCentral REST client: auth (JWT, refresh, auth code + PKCE, single-flight),
rate-limit pacing, errors. Imports nothing of Slack or the bridge."""

from ._auth import BearerAuth, Credentials, LoginGate, TokenManager
from ._client import DEFAULT_MEDIA_URL, DEFAULT_SERVER_URL, RingCentralClient, app_identity
from ._errors import (
    ApiError,
    AuthError,
    DecodingError,
    ErrorDetail,
    RateLimited,
    RingCentralError,
    TransportError,
    UnsafeURLError,
)
from ._facts import AccountFacts
from ._pkce import authorize_url, make_pkce
from ._ratelimit import (
    DEFAULT_LIMITS,
    GroupStatus,
    MemoryPenaltyStore,
    PenaltyStore,
    RateLimiter,
    group_of,
    without_waiting,
)
from ._requester import Download, FilePart, QueryParams, Requester
from ._sending import Exchange
from ._tokenpace import MemoryTokenRequestLog, TokenPacer, TokenRequestLog
from ._tokens import (
    JsonTokenStore,
    MemoryTokenStore,
    Refresh,
    TextRefresh,
    TokenSet,
    TokenStore,
    TokenTextStore,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MEDIA_URL",
    "DEFAULT_SERVER_URL",
    "AccountFacts",
    "ApiError",
    "AuthError",
    "BearerAuth",
    "Credentials",
    "DecodingError",
    "Download",
    "ErrorDetail",
    "Exchange",
    "FilePart",
    "GroupStatus",
    "JsonTokenStore",
    "LoginGate",
    "MemoryPenaltyStore",
    "MemoryTokenRequestLog",
    "MemoryTokenStore",
    "PenaltyStore",
    "QueryParams",
    "RateLimited",
    "RateLimiter",
    "Refresh",
    "Requester",
    "RingCentralClient",
    "RingCentralError",
    "TextRefresh",
    "TokenManager",
    "TokenPacer",
    "TokenRequestLog",
    "TokenSet",
    "TokenStore",
    "TokenTextStore",
    "TransportError",
    "UnsafeURLError",
    "app_identity",
    "authorize_url",
    "group_of",
    "make_pkce",
    "without_waiting",
]
