"""Authorization code + PKCE helpers (reference/ringcentral.md §1.4, RFC 7636)."""

from __future__ import annotations

import base64
import hashlib
import secrets

import httpx

__all__ = ["authorize_url", "make_pkce"]

DEFAULT_SERVER_URL = "https://platform.ringcentral.com"


def make_pkce() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair.

    The verifier is 86 URL-safe characters (RFC 7636: 43 to 128).
    """
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def authorize_url(
    client_id: str,
    redirect_uri: str,
    state: str,
    challenge: str,
    *,
    server_url: str = DEFAULT_SERVER_URL,
    scope: str | None = None,
    prompt: str | None = None,
    login_hint: str | None = None,
) -> str:
    """The `/restapi/oauth/authorize` URL a user opens to connect their account.

    RingCentral defaults `code_challenge_method` to `plain`, so S256 is always named.
    """
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": scope,
        "prompt": prompt,
        "login_hint": login_hint,
    }
    url = httpx.URL(server_url).join("/restapi/oauth/authorize")
    return str(url.copy_with(params={k: v for k, v in params.items() if v is not None}))
