"""Typed RingCentral endpoints, grouped as users meet them; each wraps a `Requester`."""
