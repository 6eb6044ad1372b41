"""The feed benchmark runs end to end in quick mode (a smoke test: no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.scripts import run_benchmark


def test_benchmark_quick_mode_prints_every_figure_and_writes_json(tmp_path: Path) -> None:
    done = run_benchmark(
        "feeds.py",
        *("--quick", "--talks", "200", "--subscribers", "20", "--out", str(tmp_path)),
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: a target failed at this tiny size
    for key in "abcdef":
        assert f"\n| {key} | " in done.stdout, done.stdout
    (written,) = tmp_path.glob("feeds-quick-*.json")
    figures = json.loads(written.read_text())["backends"]["sqlite"]
    assert [f["key"] for f in figures] == list("abcdef")
    assert all(f["value"] > 0 for f in figures)
