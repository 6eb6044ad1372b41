"""The import benchmark runs end to end at a tiny size (a smoke test: no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_benchmark_prints_talks_per_second() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "imports.py"),
            "--sizes",
            "300",
            "--formats",
            "csv",
            "json",
            "--http",
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| sqlite | csv | 300 |" in done.stdout
    assert "| sqlite | json | 300 |" in done.stdout
    assert "HTTP import of 300 talks" in done.stdout
