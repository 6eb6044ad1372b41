"""The HTTP benchmark runs end to end in quick mode (a smoke test: no timing assertions)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("nginx") is None,
    reason="wrk and nginx (Debian packages) are needed",
)
def test_http_benchmark_quick_mode_measures_routes_and_both_floors(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "http_routes.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| floor: trivial Flask |" in done.stdout
    assert "| floor: nginx static |" in done.stdout
    (written,) = tmp_path.glob("http-quick-*.json")
    data = json.loads(written.read_text())["backends"]["sqlite"]
    assert data["floors"]["flask"]["requests"] > 0 and data["floors"]["nginx"]["requests"] > 0
    assert set(data["small"]) == set(data["big"]) >= {"series .ics", "/healthz"}
    for size in ("small", "big"):
        for name, result in data[size].items():
            assert result["requests"] > 0, (size, name)
            assert result["errors"] == result["bad_status"] == 0, (size, name, result)
    assert data["worker_pss_mb"]["big"] > 0
