"""Bounded reads from the inspected stream: positioned reads and a sliding window."""

from __future__ import annotations

from typing import BinaryIO

from audiomodel.container.limits import BLOCK_BYTES


class Source:
    """Bounded, positioned reads from a seekable stream of known size."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream = stream
        self.size = size

    def read(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes from ``offset``; fewer at the end of the stream, none past it."""
        if offset < 0 or offset >= self.size or n <= 0:
            return b""
        n = min(n, self.size - offset)
        self.stream.seek(offset)
        parts = []
        while n > 0:
            part = self.stream.read(n)
            if not part:
                break
            parts.append(part)
            n -= len(part)
        return b"".join(parts)


class Window:
    """A sliding read buffer for sequential walks (MPEG frames, Ogg pages)."""

    def __init__(self, src: Source, block: int = BLOCK_BYTES) -> None:
        self.src = src
        self.block = block
        self.start = 0
        self.buf = b""

    def get(self, offset: int, n: int) -> bytes:
        """``n`` bytes from ``offset``, from the buffer when it holds them."""
        s = offset - self.start
        if s >= 0 and s + n <= len(self.buf):
            return self.buf[s : s + n]
        self.start = offset
        self.buf = self.src.read(offset, max(n, self.block))
        return self.buf[:n]
