"""`eventfeed import` starts without the web layer, yet with the mail room's receivers
(issue 14 item 8: the start-up is part of every command-line import's time)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import server
from events import signals
web = sorted(m for m in sys.modules if m == "flask" or m.startswith("web."))
print(web)
print(bool(signals.talks_created.receivers), bool(signals.talk_saved.receivers))
"""


def test_the_cli_module_loads_neither_flask_nor_the_web_layer_but_connects_mail() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True True"]
