"""The Slack side of RingBridge: Bolt app and listeners, Block Kit rendering, the manifest."""
