"""deploy/systemd units run commands this version has (issue 21)."""

from __future__ import annotations

import shlex
from pathlib import Path

from server import cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def _commands(unit: str, key: str) -> list[list[str]]:
    text = (DEPLOY / unit).read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip().removeprefix("# ")
        if line.startswith(key + "="):
            found.append(shlex.split(line.removeprefix(key + "=")))
    return found


def test_web_unit_runs_gunicorn_as_documented_after_migrating() -> None:
    (start,) = _commands("eventfeed-web.service", "ExecStart")
    assert start[0].endswith("/gunicorn") and start[-1] == "server:create_app()"
    assert "--preload" in start and start[start.index("--workers") + 1] == "4"
    assert start[start.index("--config") + 1].endswith("/gunicorn.conf.py")
    (before,) = _commands("eventfeed-web.service", "ExecStartPre")
    assert before[0].endswith("/eventfeed") and before[1] in cli.commands


def test_worker_unit_runs_the_worker_or_the_send_loop() -> None:
    commands = _commands("eventfeed-worker.service", "ExecStart")
    assert [c[1:] for c in commands] == [["worker", "--connections", "3"], ["send", "--loop"]]
    names = {c[1] for c in commands}
    assert names & set(cli.commands), "neither `eventfeed worker` nor `eventfeed send` exists"
    assert "--loop" in {p.opts[0] for p in cli.commands["send"].params}
    assert "--connections" in {o for p in cli.commands["worker"].params for o in p.opts}
