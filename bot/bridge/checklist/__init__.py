"""`python -m bot check` (DESIGN §3.4, §3.10): a checklist of what the deployment needs,
one finding per line, each gap with the feature it turns off and what to do.

`check_ringcentral` (sign-in, the app's and the user's permissions, texting numbers and
their registration), `check_subscription` (the webhook subscription and its
`disabledFilters`) and `check_slack` (`auth.test`, scopes, routed channels) each add
their findings to a `Checklist`; they are given ready clients (the composition root
builds them) and plain values (`Deployment`).
"""

from ._model import Checklist, Deployment, Finding
from .needs import APP_NEEDS, USER_NEEDS, Need
from .ringcentral import SignedIn, check_ringcentral, check_subscription
from .slack import check_slack

__all__ = [
    "APP_NEEDS",
    "USER_NEEDS",
    "Checklist",
    "Deployment",
    "Finding",
    "Need",
    "SignedIn",
    "check_ringcentral",
    "check_slack",
    "check_subscription",
]
