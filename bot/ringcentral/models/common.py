"""Small shapes shared by several RingCentral resources."""

from __future__ import annotations

from ._base import Id, Inbound

__all__ = ["CountryInfo", "ErrorBody", "ErrorEntry", "Reference"]


class Reference(Inbound):
    """`{id, uri}` link to another resource (account, extension, site, device…)."""

    id: Id | None = None
    uri: str | None = None
    name: str | None = None


class CountryInfo(Inbound):
    """A dictionary country (`homeCountry`, phone number `country`)."""

    id: Id | None = None
    uri: str | None = None
    name: str | None = None
    iso_code: str | None = None
    calling_code: str | None = None


class ErrorEntry(Inbound):
    error_code: str
    message: str = ""
    parameter_name: str | None = None
    parameter_value: str | None = None


class ErrorBody(Inbound):
    """RingCentral's error body: top-level `errorCode`/`message` plus `errors[]`."""

    error_code: str | None = None
    message: str | None = None
    errors: tuple[ErrorEntry, ...] = ()
    parameter_name: str | None = None
