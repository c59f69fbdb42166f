"""Paging, dates, booleans and URIs shared by every list the world answers.

Records are stored with URIs relative to the host ("/restapi/v1.0/…") and `absolute()`
prefixes them when a response leaves the world, so the base URL can change after startup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlencode

from bot.sim._rc_data_errors import JSON, Query, first, invalid

API = "/restapi/v1.0"
T = TypeVar("T")
MAX_PER_PAGE = 1000  # SPEC PerPageWithMax: "If the provided integer value exceeds 1000, … 1000"


def iso(moment: datetime) -> str:
    """RingCentral's timestamp form: UTC with milliseconds, e.g. 2018-06-14T13:28:00.000Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_date(query: Query, name: str) -> datetime | None:
    raw = first(query, name)
    if raw is None or not raw.strip():
        return None
    try:
        # A '+' offset arrives as a space when the client did not percent-encode it.
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise invalid(name, raw) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_bool(query: Query, name: str, default: bool) -> bool:
    raw = first(query, name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise invalid(name, raw)
    return lowered == "true"


def parse_page(query: Query) -> int:
    raw = first(query, "page")
    if raw is None:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise invalid("page", raw)
    return int(raw)


def parse_per_page(query: Query, *, allow_max: bool = False, default: int = 100) -> int:
    """1…1000, larger values clamp to 1000; `max` where the endpoint allows it (call log)."""
    raw = first(query, "perPage")
    if raw is None:
        return default
    if allow_max and raw.strip().lower() == "max":
        return MAX_PER_PAGE
    if not raw.isdigit() or int(raw) < 1:
        raise invalid("perPage", raw)
    return min(int(raw), MAX_PER_PAGE)


def relative_uri(path: str, params: Sequence[tuple[str, str]] = ()) -> str:
    if not params:
        return path
    # Keep ':' and ',' readable, as RingCentral's own URIs show them (dateFrom=…T13:28:00.000Z).
    return f"{path}?{urlencode(list(params), safe=':,', quote_via=quote)}"


@dataclass(frozen=True)
class Listing:
    """How to page one list: where it lives and what its `uri` echoes before page/perPage."""

    path: str
    echo: Sequence[tuple[str, str]]
    page: int
    per_page: int
    # Message store, phone numbers, contacts: totalPages/totalElements and lastPage.
    # Call log: neither; nextPage only when there is more (reference §4.4).
    totals: bool = True
    echo_paging: bool = True  # address book echoes only its own params in `uri`

    def uri(self, page: int) -> str:
        return relative_uri(
            self.path, [*self.echo, ("page", str(page)), ("perPage", str(self.per_page))]
        )


def paginate(
    items: Sequence[T],
    listing: Listing,
    extra: JSON | None = None,
    render: Callable[[T], JSON] | None = None,
) -> JSON:
    """The list wrapper `{uri, records, paging, navigation}` for page `listing.page`;
    `render` turns only that page's items into records."""
    start = (listing.page - 1) * listing.per_page
    page_items = items[start : start + listing.per_page]
    records = [render(i) for i in page_items] if render else [cast(JSON, i) for i in page_items]
    paging: JSON = {"page": listing.page}
    total_pages = math.ceil(len(items) / listing.per_page)
    if listing.totals:
        paging["totalPages"] = total_pages
    paging["perPage"] = listing.per_page
    if listing.totals:
        paging["totalElements"] = len(items)
    if records:  # an empty page has no first and last index
        paging["pageStart"] = start
        paging["pageEnd"] = start + len(records) - 1
    navigation: JSON = {"firstPage": {"uri": listing.uri(1)}}
    if start + listing.per_page < len(items):
        navigation["nextPage"] = {"uri": listing.uri(listing.page + 1)}
    if listing.page > 1:
        navigation["previousPage"] = {"uri": listing.uri(listing.page - 1)}
    if listing.totals:
        navigation["lastPage"] = {"uri": listing.uri(max(total_pages, 1))}
    own = (
        listing.uri(listing.page)
        if listing.echo_paging
        else relative_uri(listing.path, listing.echo)
    )
    body: JSON = {"uri": own, "records": records, "paging": paging, "navigation": navigation}
    if extra:
        body.update(extra)
    return body


def absolute(value: Any, base: str, media: str) -> Any:
    """A deep copy of `value` with every relative `uri`/`contentUri` made absolute.

    Content downloads point at the media host (DESIGN: RINGCENTRAL_MEDIA_URL), the rest at
    the platform host.
    """
    if isinstance(value, dict):
        out: JSON = {}
        for key, item in value.items():
            if key in ("uri", "contentUri") and isinstance(item, str) and item.startswith("/"):
                out[key] = (media if "/content" in item else base) + item
            else:
                out[key] = absolute(item, base, media)
        return out
    if isinstance(value, list):
        return [absolute(item, base, media) for item in value]
    return value
