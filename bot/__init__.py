"""RingBridge: RingCentral phone traffic in Slack."""

__version__ = "0.1.0"
