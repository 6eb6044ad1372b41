"""The email benchmark runs end to end in quick mode (a smoke test: no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_email_benchmark_quick_mode_prints_every_figure(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "emails.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for figure in ("(a) announcement", "(b) announcements delivered", "(c) digests"):
        assert figure in done.stdout, done.stdout
    assert "digests/s" in done.stdout and len(list(tmp_path.glob("email-*.json"))) == 1
