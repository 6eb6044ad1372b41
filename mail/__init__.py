"""The mail room: subscribers, their tokens, the outbox and its delivery over SMTP.

Importing the package connects its receivers to the records' signals (`events.signals`), so
a stored talk queues its announcement, change or cancellation emails in the same
transaction, whichever path (import, API, browser) stored it.
"""

from events import signals
from mail import blocks, outbox, recordings

signals.talk_saved.connect(blocks.on_talk_saved)
signals.talk_saved.connect(recordings.on_talk_saved)
signals.talk_cancelled.connect(outbox.on_talk_cancelled)
signals.talks_created.connect(blocks.on_talks_created)
