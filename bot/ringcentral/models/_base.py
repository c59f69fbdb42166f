from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel


def _to_str(value: Any) -> Any:
    # RingCentral ids are strings in events and integers in REST answers, and some
    # (conversationId) exceed 2**53: keep them as exact strings.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Id = Annotated[str, BeforeValidator(_to_str)]


class Inbound(BaseModel):
    """What RingCentral sends us: unknown fields ignored, camelCase on the wire."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Outbound(BaseModel):
    """What we send RingCentral: unknown fields refused, serialised by alias, no nulls."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
