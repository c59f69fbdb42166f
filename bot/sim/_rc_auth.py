"""OAuth of the simulator: token grants, rotation, revocation and the Bearer check.

Facts from reference/ringcentral.md §1: access 3600 s, refresh 604800 s; a refresh token is
single use and refreshing invalidates the previous access token at once; revoke ends the
whole session; the authorize endpoint redirects back with `code`, `state`, `expires_in=60`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ._rc_http import SimClock, SimRequest, SimResponse, api_error, oauth_error

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUTH_CODE_TTL = 60.0  # RingCentral: the code comes back with expires_in=60


@dataclass
class TokenSession:
    session_id: str
    owner_id: str
    client_id: str
    access_token: str
    access_expires: float
    refresh_token: str
    refresh_expires: float
    alive: bool = True


@dataclass
class AuthCode:
    owner_id: str
    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str
    expires: float


@dataclass
class Bearer:
    """The identity behind a valid access token."""

    owner_id: str
    client_id: str
    session_id: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(owner_id: str, client_id: str) -> str:
    """A JWT-shaped credential; the simulator only accepts the ones it issued."""
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"sub": owner_id, "aud": client_id, "iss": "sim"}).encode())
    return f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"


@dataclass
class AuthState:
    clock: SimClock
    client_id: str
    client_secret: str
    access_ttl: int = 3600
    refresh_ttl: int = 604800
    jwts: dict[str, str] = field(default_factory=dict)  # jwt -> owner extension id
    sessions: dict[str, TokenSession] = field(default_factory=dict)
    by_access: dict[str, TokenSession] = field(default_factory=dict)
    by_refresh: dict[str, TokenSession] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    default_owner: str = ""
    # Who signs in on the authorize page (a test control; else `login_hint`, else the
    # service user), and owners that belong to another RingCentral account (id -> account).
    approver: str | None = None
    foreign: dict[str, str] = field(default_factory=dict)
    # The app's registered redirect URIs; RingCentral requires an exact match (OAU-109).
    # Empty: any is accepted (tests that do not exercise the authorize page).
    redirect_uris: set[str] = field(default_factory=set)
    # A server-side app (it has a client secret) must authenticate every grant with it
    # (SPEC: confidential clients use Basic); a client-side app sends only its client_id.
    public: bool = False
    # The token's `scope`: the app's permissions when it is issued (_rc_permissions).
    scope: Callable[[], str] = lambda: ""

    def issue_jwt(self, owner_id: str) -> str:
        jwt = make_jwt(owner_id, self.client_id)
        self.jwts[jwt] = owner_id
        return jwt

    # -- test controls ---------------------------------------------------------------

    def expire_access_tokens(self) -> None:
        now = self.clock.now()
        for s in self.sessions.values():
            s.access_expires = min(s.access_expires, now - 1)

    def revoke_all(self) -> None:
        for s in self.sessions.values():
            s.alive = False
        self.by_access.clear()
        self.by_refresh.clear()

    def end_sessions_of(self, owner_id: str) -> None:
        for s in self.sessions.values():
            if s.owner_id == owner_id:
                s.alive = False
                self.by_access.pop(s.access_token, None)
                self.by_refresh.pop(s.refresh_token, None)

    def owner_of(self, req: SimRequest) -> str | None:
        """The extension whose access token a request carries (any session, alive or not)."""
        header = req.header("authorization") or ""
        if not header.lower().startswith("bearer "):
            return None
        token = header[7:].strip()
        found = next((s for s in self.sessions.values() if s.access_token == token), None)
        return found.owner_id if found is not None else None

    def invalidate_refresh_tokens(self) -> None:
        self.by_refresh.clear()

    # -- endpoints --------------------------------------------------------------------

    def client_of(self, req: SimRequest) -> str | None:
        """The authenticated client id (Basic), or None; body client_id for PKCE clients."""
        header = req.header("authorization") or ""
        if header.lower().startswith("basic "):
            try:
                raw = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            cid, _, secret = raw.partition(":")
            ok = hmac.compare_digest(cid, self.client_id) and hmac.compare_digest(
                secret, self.client_secret
            )
            return cid if ok else None
        return None

    def token(self, req: SimRequest) -> SimResponse:
        if req.content_type != "application/x-www-form-urlencoded":
            return oauth_error("invalid_request", "OAU-250", "Unsupported content type", status=415)
        form = req.form()
        grant = form.get("grant_type", "")
        client = self.client_of(req)
        public = client is None and not req.header("authorization")
        # RingCentral PKCE: a public client sends client_id in the body and no Basic header
        pkce_client = self.public and public and grant in ("authorization_code", "refresh_token")
        if client is None and not (pkce_client and form.get("client_id") == self.client_id):
            return oauth_error("invalid_client", "OAU-123", "Client authentication is required")
        client_id = client or self.client_id
        if grant == JWT_GRANT:
            owner = self.jwts.get(form.get("assertion", ""))
            if owner is None:
                return oauth_error("invalid_grant", "OAU-140", "Invalid resource owner credentials")
            return self._grant(owner, client_id, form)
        if grant == "refresh_token":
            return self._refresh(form, client_id)
        if grant == "authorization_code":
            return self._code(form, client_id)
        if not grant:
            return oauth_error("invalid_request", "OAU-101", "Parameter [grant_type] is missing")
        return oauth_error("unsupported_grant_type", "OAU-102", "Unsupported grant type")

    def _ttl(self, form: dict[str, str], key: str, default: int, hi: int) -> int:
        # RingCentral: access_token_ttl min 600 max 3600; refresh capped (reference §1.1)
        try:
            value = int(form[key])
        except (KeyError, ValueError):
            return default
        lo = 600 if key == "access_token_ttl" else 1
        return max(lo, min(value, hi))

    def _grant(self, owner: str, client_id: str, form: dict[str, str]) -> SimResponse:
        now = self.clock.now()
        access_ttl = self._ttl(
            form, "access_token_ttl", self.access_ttl, max(self.access_ttl, 3600)
        )
        refresh_ttl = self._ttl(form, "refresh_token_ttl", self.refresh_ttl, 2592000)
        s = TokenSession(
            session_id=str(secrets.randbelow(10**18)),
            owner_id=owner,
            client_id=client_id,
            access_token=_b64url(secrets.token_bytes(30)),
            access_expires=now + access_ttl,
            refresh_token=_b64url(secrets.token_bytes(30)),
            refresh_expires=now + refresh_ttl,
        )
        self.sessions[s.session_id] = s
        self.by_access[s.access_token] = s
        self.by_refresh[s.refresh_token] = s
        return self._token_response(s)

    def _token_response(self, s: TokenSession) -> SimResponse:
        now = self.clock.now()
        # shape of examples/token-response.json, plus session_id (required in SPEC TokenInfo)
        return SimResponse.json(
            200,
            {
                "access_token": s.access_token,
                "token_type": "bearer",
                "expires_in": max(0, round(s.access_expires - now)),
                "refresh_token": s.refresh_token,
                "refresh_token_expires_in": max(0, round(s.refresh_expires - now)),
                "scope": self.scope(),
                "owner_id": s.owner_id,
                "session_id": s.session_id,
            },
        )

    def _refresh(self, form: dict[str, str], client_id: str) -> SimResponse:
        token = form.get("refresh_token", "")
        s = self.by_refresh.get(token)
        if s is None or not s.alive or s.client_id != client_id:
            return oauth_error("invalid_grant", "OAU-211", "Token is revoked")
        if s.refresh_expires <= self.clock.now():
            del self.by_refresh[token]
            return oauth_error("invalid_grant", "OAU-213", "Token is expired")
        # RingCentral: single-use refresh token; the old access token dies at once
        del self.by_refresh[token]
        self.by_access.pop(s.access_token, None)
        now = self.clock.now()
        s.access_token = _b64url(secrets.token_bytes(30))
        s.access_expires = now + self._ttl(form, "access_token_ttl", self.access_ttl, 3600)
        s.refresh_token = _b64url(secrets.token_bytes(30))
        s.refresh_expires = now + self._ttl(form, "refresh_token_ttl", self.refresh_ttl, 2592000)
        self.by_access[s.access_token] = s
        self.by_refresh[s.refresh_token] = s
        return self._token_response(s)

    def authorize(self, req: SimRequest) -> SimResponse:
        """An auto-approving user: 302 back to redirect_uri with code and state."""
        if req.query_first("client_id") != self.client_id:
            return oauth_error("invalid_client", "OAU-127", "Client id is invalid")
        if req.query_first("response_type") != "code":
            return oauth_error("unsupported_response_type", "OAU-100", "Unsupported response type")
        redirect = req.query_first("redirect_uri") or ""
        if not redirect or (self.redirect_uris and redirect not in self.redirect_uris):
            return oauth_error("invalid_request", "OAU-109", "Redirect URIs do not match")
        method = req.query_first("code_challenge_method") or "plain"
        if method not in ("plain", "S256"):
            return oauth_error("invalid_request", "OAU-101", "Unsupported code challenge method")
        code = _b64url(secrets.token_bytes(24))
        self.codes[code] = AuthCode(
            owner_id=self.approver or req.query_first("login_hint") or self.default_owner,
            client_id=self.client_id,
            redirect_uri=redirect,
            challenge=req.query_first("code_challenge"),
            method=method,
            expires=self.clock.now() + AUTH_CODE_TTL,
        )
        params = {"code": code, "expires_in": str(int(AUTH_CODE_TTL))}
        if (state := req.query_first("state")) is not None:
            params["state"] = state
        sep = "&" if "?" in redirect else "?"
        return SimResponse(302, {"Location": f"{redirect}{sep}{urlencode(params)}"})

    def _code(self, form: dict[str, str], client_id: str) -> SimResponse:
        code = self.codes.pop(form.get("code", ""), None)
        if code is None or code.expires <= self.clock.now() or code.client_id != client_id:
            return oauth_error("invalid_grant", "OAU-107", "Authorization code is invalid")
        if form.get("redirect_uri", "") != code.redirect_uri:
            # RingCentral: exact redirect_uri match required
            return oauth_error("invalid_grant", "OAU-109", "Redirect URIs do not match")
        if code.challenge is not None:
            verifier = form.get("code_verifier", "")
            if code.method == "S256":
                expected = _b64url(hashlib.sha256(verifier.encode()).digest())
            else:
                expected = verifier
            if not verifier or not hmac.compare_digest(expected, code.challenge):
                return oauth_error("invalid_grant", "OAU-258", "Code verifier is invalid")
        return self._grant(code.owner_id, client_id, form)

    def revoke(self, req: SimRequest) -> SimResponse:
        # A confidential client authenticates here as at the token endpoint (SPEC: Basic
        # auth for confidential clients); a public one names itself in the body.
        public = not req.header("authorization") and req.form().get("client_id") == self.client_id
        if self.client_of(req) is None and not (self.public and public):
            return oauth_error("invalid_client", "OAU-123", "Client authentication is required")
        token = req.form().get("token") or req.query_first("token") or ""
        s = self.by_access.get(token) or self.by_refresh.get(token)
        if s is not None:  # RingCentral: revoking either token ends the whole session
            s.alive = False
            self.by_access.pop(s.access_token, None)
            self.by_refresh.pop(s.refresh_token, None)
        return SimResponse(200, {}, b"")

    def check_bearer(self, req: SimRequest) -> Bearer | SimResponse:
        header = req.header("authorization")
        token: str | None = None
        if header is None:
            # RingCentral: ?access_token= is honoured on the media host only
            token = req.query_first("access_token") if req.host == "media" else None
            if token is None:
                return SimResponse.json(
                    401,
                    {"errorCode": "AGW-401", "message": "Authorization header is not specified"},
                )
        elif header.lower().startswith("bearer "):
            token = header[7:].strip()
        else:
            return SimResponse.json(
                401, {"errorCode": "AGW-402", "message": "Invalid Authorization header"}
            )
        s = self.by_access.get(token)
        if s is None or not s.alive:
            return _token_error("TokenInvalid", "OAU-213", "Token not found")
        if s.access_expires <= self.clock.now():
            return _token_error("TokenExpired", "OAU-128", "Access token expired")
        return Bearer(s.owner_id, s.client_id, s.session_id)


def _token_error(top: str, code: str, message: str) -> SimResponse:
    body = {
        "errorCode": top,
        "message": message,
        "errors": [{"errorCode": code, "message": message}],
    }
    return SimResponse.json(401, body)


__all__ = ["JWT_GRANT", "AuthState", "Bearer", "api_error"]
