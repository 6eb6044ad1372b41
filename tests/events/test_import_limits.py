"""Import limits enforced while streaming (issue 14 item 8): a refused upload never costs
its parsed size in memory (a 1M-row CSV used to take 812 MB before being refused)."""

from __future__ import annotations

import tracemalloc

import pytest

from events import importer
from events.errors import ImportFailed

PEAK_LIMIT = 100 * 2**20


@pytest.mark.parametrize(
    ("fmt", "raw", "message"),
    [
        ("csv", b"id,title\n" + b"a,b\n" * 1_000_000, "1,000,000 rows, more than 100,000"),
        ("json", b'{"events": [' + b"{}," * 999_999 + b"{}]}", "more than 400,000 JSON objects"),
        ("yaml", b"events:\n" + b"- {}\n" * 1_000_000, "above the 1,500,000-byte limit"),
    ],
    ids=["csv-1M-rows", "json-1M-objects", "yaml-1M-items"],
)
def test_oversized_uploads_are_refused_in_bounded_memory(
    fmt: str, raw: bytes, message: str
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ImportFailed, match=message):
            importer.parse_bytes("upload", raw, fmt, "s")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MiB while refusing"


def test_braces_inside_json_strings_are_not_counted_as_objects() -> None:
    talk = '{"id": "a", "title": "' + "{" * 500_000 + '", "start": "2026-01-01 10:00"}'
    assert importer._count_json_objects(talk, 400_000) == 1
