"""Simulators of RingCentral and Slack, served on loopback.

They are part of the product (`python -m bot demo` runs against them) and import nothing
from it: a simulator that shares the code under test shares its bugs.

The public API, for the demo, the tests and the benchmarks:

- `RingCentralSimulator`, `SlackSimulator`: each in this event loop (`async with
  sim.serve()`), with their test controls (`SlackSimulator.fail` injects Slack faults,
  "store then fail" included; `SlackSimulator.socket` is Socket Mode: its connections,
  envelopes, `disconnect(reason)`, `drop()`; `RingCentralSimulator.throttle`,
  `expire_access_tokens` …);
- `SlackSender`: signed requests to an app as Slack sends them (the simulator is one, and
  sends the same as Socket Mode envelopes to its `socket_mode_url`), Events API retries
  over HTTP included (`EventRetries`);
- `Simulators`: both simulators in a child process of their own, driven over a pipe;
- `ServerProcess`: `python -m bot serve` as a subprocess pointed at them;
- `WebhookSender`, `sms_envelope`: RingCentral's webhook deliveries, sent from any process;
- `check_blocks`: Slack's Block Kit limits, as the simulator enforces them;
- `media`: small valid WAV, PDF and PNG files.
"""

from bot.sim import media
from bot.sim._process import Simulators
from bot.sim._process_data import (
    CHANNEL,
    RAISED_LIMITS,
    USER,
    SimInfo,
    SimOptions,
    SimStats,
    SlackCall,
    endpoint,
)
from bot.sim._rc_sender import SMS_EVENT, Delivered, WebhookSender, sms_envelope
from bot.sim._server_process import ServerProcess, free_port, wait_ready
from bot.sim._slack_blocks import check_blocks
from bot.sim.ringcentral import (
    RequestRecord,
    RingCentralSimulator,
    SimCall,
    SimError,
    SimMessage,
    SpecValidator,
    Upload,
    World,
    endpoints,
)
from bot.sim.slack import (
    DEFAULT_SCOPES,
    SLACK_CHANNEL_PACE,
    Call,
    Delivery,
    EventRetries,
    SignedRequest,
    SlackFault,
    SlackSender,
    SlackSimulator,
    slack_encode,
)
from bot.sim.slack import Clock as SlackClock

__all__ = [
    "CHANNEL",
    "DEFAULT_SCOPES",
    "RAISED_LIMITS",
    "SLACK_CHANNEL_PACE",
    "SMS_EVENT",
    "USER",
    "Call",
    "Delivered",
    "Delivery",
    "EventRetries",
    "RequestRecord",
    "RingCentralSimulator",
    "ServerProcess",
    "SignedRequest",
    "SimCall",
    "SimError",
    "SimInfo",
    "SimMessage",
    "SimOptions",
    "SimStats",
    "Simulators",
    "SlackCall",
    "SlackClock",
    "SlackFault",
    "SlackSender",
    "SlackSimulator",
    "SpecValidator",
    "Upload",
    "WebhookSender",
    "World",
    "check_blocks",
    "endpoint",
    "endpoints",
    "free_port",
    "media",
    "slack_encode",
    "sms_envelope",
    "wait_ready",
]
