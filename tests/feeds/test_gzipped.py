"""Chunked gzip (feeds.gzipped, issue 21): one valid gzip stream that decodes to the very
bytes, the same bytes from a cold or a warm memo, and an edit recompresses a few chunks."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import zlib

import pytest

from feeds.gzipped import CHUNKED_MIN, ChunkMemo, boundaries, gzip_bytes


def _calendar(talks: int, edited: int | None = None) -> bytes:
    lines = [b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"]
    for n in range(talks):
        title = f"Edited title {n}" if n == edited else f"On the L^{n % 7} norm of talk {n}"
        lines.append(
            f"BEGIN:VEVENT\r\nSUMMARY:{title} \u2014 Speaker {n}\r\nUID:talk-{n}@example.org\r\n"
            f"DTSTART:2027{n % 12 + 1:02d}{n % 28 + 1:02d}T120000Z\r\n"
            f"DESCRIPTION:Talk {n}: we study things with \u222b_0^{n} f and more, "
            f"{'at length ' * (n % 40)}\r\nEND:VEVENT\r\n".encode()
        )
    return b"".join(lines) + b"END:VCALENDAR\r\n"


def _rss(items: int) -> bytes:
    body = "".join(
        f"\n    <item>\n      <title>Item {n}</title>\n      <description>{'word ' * (n % 90)}"
        f"</description>\n    </item>"
        for n in range(items)
    )
    return f"<?xml version='1.0'?>\n<rss>\n  <channel>{body}\n  </channel>\n</rss>\n".encode()


@pytest.mark.parametrize(
    "body",
    [
        _calendar(1500),
        _rss(1200),
        b"".join(f"line {n} {'x' * (n % 100)}\n".encode() for n in range(20_000)),  # no items
        bytes(range(256)) * 1000,  # no line breaks at all: one chunk
    ],
)
def test_chunked_gzip_decodes_to_the_same_bytes_everywhere(body: bytes) -> None:
    assert len(body) >= CHUNKED_MIN
    packed = gzip_bytes(body, ChunkMemo())
    assert gzip.decompress(packed) == body
    streamed = zlib.decompressobj(wbits=31)
    assert streamed.decompress(packed) + streamed.flush() == body and streamed.eof
    assert not streamed.unused_data
    if shutil.which("gzip"):
        done = subprocess.run(["gzip", "-dc"], input=packed, capture_output=True, check=True)
        assert done.stdout == body
    # Within a few percent of a one-piece gzip at the same level (and tens of bytes a chunk:
    # each starts a new deflate block, its own Huffman tables).
    chunks = len(boundaries(body)) - 1
    assert len(packed) <= len(gzip.compress(body, compresslevel=6)) * 1.05 + 80 * chunks


def test_same_bytes_from_a_cold_or_warm_memo_and_an_edit_recompresses_a_few_chunks() -> None:
    body = _calendar(3000)
    memo = ChunkMemo()
    first = gzip_bytes(body, memo)
    chunks = len(boundaries(body)) - 1
    assert chunks >= 20
    assert memo.deflated == chunks
    assert gzip_bytes(body, memo) == first == gzip_bytes(body, ChunkMemo())  # deterministic
    assert memo.deflated == chunks  # nothing recompressed for the same body

    edited = _calendar(3000, edited=1700)
    packed = gzip_bytes(edited, memo)
    assert gzip.decompress(packed) == edited
    assert memo.deflated - chunks <= 3  # the edited chunk, and the next one's dictionary
    assert packed == gzip_bytes(edited, ChunkMemo())


def test_small_bodies_are_one_plain_gzip() -> None:
    body = _calendar(20)
    assert len(body) < CHUNKED_MIN
    assert gzip_bytes(body) == gzip.compress(body, compresslevel=6, mtime=0)


def test_the_memo_stays_within_its_budget() -> None:
    memo = ChunkMemo(budget=200_000)
    for n in range(5):
        body = _calendar(1000 + n)
        assert gzip.decompress(gzip_bytes(body, memo)) == body
        assert memo.size <= memo.budget
