"""The HTTP side of EventFeed: one Flask blueprint per area."""
