"""The import benchmark runs end to end at a tiny size (a smoke test: no timing asserted)."""

from __future__ import annotations

from tests.support.scripts import run_benchmark


def test_import_benchmark_prints_talks_per_second() -> None:
    done = run_benchmark(
        "imports.py", "--sizes", "300", "--formats", "csv", "json", "--http", "300"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| sqlite | csv | 300 |" in done.stdout
    assert "| sqlite | json | 300 |" in done.stdout
    assert "HTTP import of 300 talks" in done.stdout
