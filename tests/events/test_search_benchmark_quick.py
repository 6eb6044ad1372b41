"""The search benchmark runs end to end in quick mode (a smoke test: no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.scripts import run_benchmark


def test_search_benchmark_quick_mode_prints_its_figures_and_writes_json(tmp_path: Path) -> None:
    done = run_benchmark(
        "search.py",
        *("--quick", "--repeats", "1", "--out", str(tmp_path)),
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode in (0, 1), done.stderr  # 1: the target missed at this tiny size
    assert "| sqlite | selective |" in done.stdout, done.stdout
    (written,) = tmp_path.glob("search-quick-*.json")
    figures = json.loads(written.read_text())["backends"]["sqlite"]
    assert figures["selective_ms"]["big"] > 0 and figures["broad_ms"]["small"] > 0
