"""The email benchmark runs end to end in quick mode (a smoke test: no timing assertions)."""

from __future__ import annotations

from pathlib import Path

from tests.support.scripts import run_benchmark


def test_email_benchmark_quick_mode_prints_every_figure(tmp_path: Path) -> None:
    done = run_benchmark("emails.py", "--quick", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    for figure in ("(a) announcement", "(b) announcements delivered", "(c) digests"):
        assert figure in done.stdout, done.stdout
    assert "digests/s" in done.stdout and len(list(tmp_path.glob("email-*.json"))) == 1
