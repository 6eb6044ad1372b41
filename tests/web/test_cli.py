"""The `eventfeed` command line: commands, one-line errors, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from events.errors import EventFeedError
from server import cli

WriteFile = Callable[[str, "str | bytes"], Path]


def test_init_db_import_export(run: Callable[..., Result], write_file: WriteFile) -> None:
    assert run("init-db").exit_code == 0
    doc = {
        "series": [
            {
                "slug": "cli",
                "name": "CLI",
                "timezone": "Beijing time",
                "events": [
                    {"id": "t1", "title": "冷冻电镜", "start": "2021-11-27 09:30", "end": "11:30"}
                ],
            }
        ]
    }
    result = run("import", str(write_file("cli.yaml", yaml.safe_dump(doc, allow_unicode=True))))
    assert result.exit_code == 0, result.output
    assert "events: 1 created" in result.output
    out = write_file("out.yaml", "")
    assert run("export", "cli", "-o", str(out)).exit_code == 0
    exported = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert exported["series"][0]["timezone"] == "Asia/Shanghai"
    assert exported["series"][0]["events"][0]["start"] == "2021-11-27 09:30"
    assert exported["series"][0]["events"][0]["title"] == "冷冻电镜"


def test_demo_without_serving_loads_sample_data(run: Callable[..., Result]) -> None:
    result = run("demo", "--no-serve")
    assert result.exit_code == 0
    assert "series: 3 created" in result.output
    again = run("demo", "--no-serve")
    assert "series: 0 created, 0 updated, 3 unchanged" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "no-such-series"], "no series with slug 'no-such-series'"),
        (["import", "missing.yaml"], "cannot read"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    run: Callable[..., Result], args: list[str], message: str
) -> None:
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_console_script_reports_a_bad_record_without_traceback(
    cli_env: dict[str, str], write_file: WriteFile
) -> None:
    bad = write_file(
        "bad.yaml",
        "series: [{slug: s, name: S, timezone: Lisbon time, events: ["
        "{id: gap, title: Gap, start: '2026-03-29 01:30', end: '02:30'}]}]",
    )
    env = {**os.environ, **cli_env}
    proc = subprocess.run(
        [sys.executable, "-c", "import server; server.main()", "import", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "event 'gap'" in proc.stderr and "field 'start'" in proc.stderr
    assert "does not exist in Europe/Lisbon" in proc.stderr


def test_bad_configuration_is_refused_at_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["init-db"],
        env={
            "EVENTFEED_BASE_URL": "ftp://nowhere",
            "EVENTFEED_INSTANCE_PATH": str(tmp_path),
            "EVENTFEED_SECRET_KEY": "x",
        },
    )
    assert result.exit_code == 1
    assert "EVENTFEED_BASE_URL must be an http(s) URL" in result.output
    assert issubclass(type(result.exception), SystemExit | EventFeedError)
