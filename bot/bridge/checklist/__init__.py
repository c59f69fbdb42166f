"""`python -m bot check` (DESIGN §3.4, §3.10): a checklist of what the deployment needs,
one finding per line, each gap with the feature it turns off and what to do.

`check_ringcentral` (sign-in, the app's and the user's permissions, texting numbers and
their registration), `check_subscription` (the webhook subscription and its
`disabledFilters`), `check_websocket` (a test connection to RingCentral's WebSocket, and
whether the bridge holds one) and `check_slack` (`auth.test`, scopes, routed channels and
the admin channel) each add
their findings to a `Checklist`; they are given ready clients (the composition root
builds them) and plain values (`Deployment`).
"""

from ._model import Checklist, Deployment, Finding
from .needs import APP_NEEDS, USER_NEEDS, Need
from .people import check_people
from .ringcentral import (
    SignedIn,
    WebSocketHolder,
    check_ringcentral,
    check_subscription,
    check_websocket,
)
from .slack import check_slack

__all__ = [
    "APP_NEEDS",
    "USER_NEEDS",
    "Checklist",
    "Deployment",
    "Finding",
    "Need",
    "SignedIn",
    "WebSocketHolder",
    "check_people",
    "check_ringcentral",
    "check_slack",
    "check_subscription",
    "check_websocket",
]
