"""The pages benchmark runs end to end in quick mode (a smoke test: no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.scripts import run_benchmark


def test_pages_benchmark_quick_mode_prints_its_figures_and_writes_json(tmp_path: Path) -> None:
    done = run_benchmark(
        "pages.py", "--quick", "--no-server", "--repeats", "1", "--out", str(tmp_path), timeout=120
    )
    assert done.returncode in (0, 1), done.stderr  # 1: a target failed at this tiny size
    for key in "gh":
        assert f"\n| {key} | " in done.stdout, done.stdout
    (written,) = tmp_path.glob("pages-quick-*.json")
    figures = json.loads(written.read_text())["backends"]["sqlite"]
    assert [f["key"] for f in figures] == ["g", "h"]
    assert all(f["value"] > 0 for f in figures)
