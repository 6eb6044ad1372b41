"""Renderers: pure functions from event records to iCalendar, RSS/Atom/JSON and email bytes."""
