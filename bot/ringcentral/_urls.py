"""Which URLs may receive our Bearer token.

Content URLs come from RingCentral payloads (attachments, navigation links), and payloads
come from webhooks we only half trust, so a URL gets the token only when its scheme, host
and port are exactly those of RINGCENTRAL_SERVER_URL or RINGCENTRAL_MEDIA_URL. Hosts are
compared case-insensitively (DNS is); anything with userinfo
(`https://platform.ringcentral.com@evil.com/`), another port, another scheme, or characters
that parsers disagree about is refused before anything is sent.
"""

from __future__ import annotations

import httpx

from ._errors import UnsafeURLError

__all__ = ["Origins"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Parsers disagree on backslashes and whitespace ("https://evil.com\@platform…"): refuse them.
_SUSPICIOUS = frozenset("\\ \t\r\n")


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host.lower(), url.port or _DEFAULT_PORTS.get(url.scheme)


class Origins:
    """The server and media origins, and the check every outgoing URL goes through."""

    def __init__(self, server_url: str, media_url: str) -> None:
        self.server = self._parse_base(server_url, "server_url")
        self.media = self._parse_base(media_url, "media_url")
        self._allowed = {_origin(self.server), _origin(self.media)}

    @staticmethod
    def _parse_base(value: str, name: str) -> httpx.URL:
        url = httpx.URL(value)
        if url.scheme not in _DEFAULT_PORTS or not url.host or url.userinfo:
            raise ValueError(f"{name} must be an http(s) URL without credentials: {value!r}")
        return url

    def resolve(self, url: str) -> httpx.URL:
        """`url` made absolute (relative URLs are on the server) if it may get the token;
        otherwise UnsafeURLError."""
        if any(ch in _SUSPICIOUS or ord(ch) < 0x20 for ch in url):
            raise UnsafeURLError("refused a URL with whitespace, control characters or '\\'")
        try:
            target = self.server.join(url)
        except httpx.InvalidURL:
            raise UnsafeURLError("refused a URL that cannot be parsed") from None
        if target.userinfo:
            raise UnsafeURLError(f"refused a URL with user information (host {target.host!r})")
        if target.scheme not in _DEFAULT_PORTS or _origin(target) not in self._allowed:
            shown = f"{target.scheme}://{target.host}" + (f":{target.port}" if target.port else "")
            raise UnsafeURLError(
                f"refused to send the RingCentral token to {shown}: "
                "only the RingCentral server and media hosts get it"
            )
        return target
