"""Signals the records send when they change, for other rooms to act on (blinker).

Receivers run synchronously inside the writer's transaction (the `session` argument), so
whatever they write (an outbox row, say) commits or rolls back with the change itself.

- `talk_saved(session, series=, event=, outcome=, now=)`: a talk was created or updated
  (`outcome.action` is 'created' or 'updated'; unchanged input sends nothing).
- `talk_cancelled(session, series=, event=, outcome=, now=)`: that save made it cancelled
  (sent after `talk_saved`).
- `talks_created(session, series=, event_ids=, now=)`: a large import created these talks
  in bulk (`events.store.create_events`), without a `talk_saved` for each.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

talk_saved = _signals.signal("talk-saved")
talk_cancelled = _signals.signal("talk-cancelled")
talks_created = _signals.signal("talks-created")
