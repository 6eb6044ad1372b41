"""gzip of big documents in chunks compressed on their own, so a new version of a document
recompresses only the chunks that changed (the technique pigz uses).

`gzip_bytes(body)` returns one valid gzip stream (one member: header, raw deflate data, CRC32
and size of the whole body), the same bytes for the same body in every process. A body of
`CHUNKED_MIN` bytes or more is cut into chunks at item boundaries (a VEVENT, an RSS item, an
Atom entry, a JSON Feed item; lines otherwise), where a boundary depends only on the bytes
around it, so an edit moves the boundaries near it only. Each chunk is deflated with the
last 32 KB of the chunk before it as the preset dictionary (exactly the window a decoder
holds there) and ends with a sync flush (byte-aligned, not final); an empty final block
closes the stream. A chunk's deflate bytes depend only on its bytes and that dictionary, so
they are kept per process (`ChunkMemo`, bounded) and a body that shares most chunks with an
earlier one costs the CRC32 of the whole body and the deflate of the changed chunks only.
The compressed size is within a few percent of `gzip.compress` at the same level.
"""

from __future__ import annotations

import gzip
import struct
import threading
import zlib
from collections import OrderedDict

LEVEL = 6
CHUNKED_MIN = 64 * 1024  # smaller bodies: one plain gzip.compress (a millisecond or less)
WINDOW = 32 * 1024  # deflate's window: the preset dictionary of a chunk
CHUNK_MIN = 16 * 1024  # no boundary before this many bytes in a chunk
CHUNK_MAX = 64 * 1024  # a boundary at the first item past this, whatever its bytes
MEMO_BYTES = 16 * 2**20
# gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS unknown (as gzip.compress
# with mtime=0 but for the extra flags byte).
HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
FINAL = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set
# Where an item starts, by how the document starts (iCalendar, RSS, Atom, JSON Feed).
MARKERS = (
    (b"BEGIN:VCALENDAR", b"\r\nBEGIN:VEVENT\r\n"),
    (b"<?xml", b"\n    <item>"),
    (b"<?xml", b"\n  <entry>"),
    (b"{", b'\n    {\n      "id"'),
)


def gzip_bytes(body: bytes, memo: ChunkMemo | None = None) -> bytes:
    """Return `body` as a gzip stream (deterministic; big bodies chunked, see the module)."""
    if len(body) < CHUNKED_MIN:
        return gzip.compress(body, compresslevel=LEVEL, mtime=0)
    memo = MEMO if memo is None else memo
    parts = [HEADER]
    cuts = boundaries(body)
    before: tuple[bytes, int] = (b"", 0)
    for start, end in zip(cuts, cuts[1:], strict=False):
        chunk = body[start:end]
        crc = zlib.crc32(chunk)
        parts.append(memo.deflate(before[0], before[1], chunk, crc))
        before = (chunk, crc)
    parts.append(FINAL)
    parts.append(struct.pack("<II", zlib.crc32(body), len(body) & 0xFFFFFFFF))
    return b"".join(parts)


def boundaries(body: bytes) -> list[int]:
    """Return the chunk offsets of `body`: 0, the cuts, len(body).

    A cut goes before an item (see MARKERS) at least CHUNK_MIN bytes into the chunk whose
    first 64 bytes have a CRC32 divisible by 4, or before the first item past CHUNK_MAX.
    """
    marker = _marker(body)
    cuts = [0]
    size = len(body)
    at = body.find(marker, CHUNK_MIN)
    while at != -1:
        start = cuts[-1]
        if at - start >= CHUNK_MAX or (zlib.crc32(body[at : at + 64]) & 3) == 0:
            cuts.append(at)
            at = body.find(marker, at + CHUNK_MIN)
        else:
            at = body.find(marker, at + 1)
    if size - cuts[-1] > CHUNK_MAX:  # no item boundaries: cut at line ends
        _cut_lines(body, cuts)
    cuts.append(size)
    return cuts


def _marker(body: bytes) -> bytes:
    for prefix, marker in MARKERS:
        if body.startswith(prefix) and body.find(marker) != -1:
            return marker
    return b"\n"


def _cut_lines(body: bytes, cuts: list[int]) -> None:
    at = body.find(b"\n", cuts[-1] + CHUNK_MIN)
    while at != -1:
        if (zlib.crc32(body[at : at + 64]) & 3) == 0 or at - cuts[-1] >= CHUNK_MAX:
            cuts.append(at)
            at = body.find(b"\n", at + CHUNK_MIN)
        else:
            at = body.find(b"\n", at + 1)


class ChunkMemo:
    """Deflated chunks by (chunk before, chunk), up to a byte budget (least recently used
    out first). A lookup goes by CRC32s and lengths, then compares the bytes."""

    def __init__(self, budget: int = MEMO_BYTES) -> None:
        self.budget = budget
        self.size = 0
        self.deflated = 0  # chunks compressed (not found), for tests and benchmarks
        self._chunks: OrderedDict[tuple[int, int, int, int], tuple[bytes, bytes, bytes]]
        self._chunks = OrderedDict()
        self._lock = threading.Lock()

    def deflate(self, before: bytes, before_crc: int, chunk: bytes, crc: int) -> bytes:
        """Return the raw deflate bytes of `chunk`, the chunk `before` it (its last 32 KB) as
        the preset dictionary, ending with a sync flush; `crc`s are the chunks' CRC32s."""
        key = (before_crc, len(before), crc, len(chunk))
        window = before[-WINDOW:]
        with self._lock:
            found = self._chunks.get(key)
            if found is not None and found[0] == window and found[1] == chunk:
                self._chunks.move_to_end(key)
                return found[2]
        if window:
            compressor = zlib.compressobj(
                LEVEL, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, window
            )
        else:
            compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        data = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
        with self._lock:
            self.deflated += 1
            if key not in self._chunks:
                self._chunks[key] = (window, chunk, data)
                self.size += len(window) + len(chunk) + len(data)
                while self.size > self.budget:
                    _, (old_window, old_chunk, old_data) = self._chunks.popitem(last=False)
                    self.size -= len(old_window) + len(old_chunk) + len(old_data)
        return data


MEMO = ChunkMemo()
