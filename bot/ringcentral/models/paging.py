"""Paging and navigation of RingCentral list answers (SPEC `EnumeratedPagingModel`)."""

from __future__ import annotations

from typing import Generic, TypeVar

from ._base import Inbound

__all__ = ["Listing", "Navigation", "NavigationLink", "Paging"]

T = TypeVar("T")


class Paging(Inbound):
    """Where this page sits. Call-log answers omit the totals (RingCentral skips them for
    performance), message-store answers carry them."""

    page: int | None = None
    per_page: int | None = None
    page_start: int | None = None
    page_end: int | None = None
    total_pages: int | None = None
    total_elements: int | None = None


class NavigationLink(Inbound):
    uri: str


class Navigation(Inbound):
    """Links to neighbouring pages; `next_page` is present only when there is more data."""

    first_page: NavigationLink | None = None
    next_page: NavigationLink | None = None
    previous_page: NavigationLink | None = None
    last_page: NavigationLink | None = None


class Listing(Inbound, Generic[T]):
    """`{uri, records[], paging, navigation}`, the shape of every v1.0 list answer."""

    uri: str | None = None
    records: tuple[T, ...]
    paging: Paging | None = None
    navigation: Navigation | None = None

    @property
    def has_next(self) -> bool:
        """True when RingCentral says another page follows."""
        if self.navigation is not None and self.navigation.next_page is not None:
            return True
        p = self.paging
        return bool(p and p.page and p.total_pages and p.page < p.total_pages)
