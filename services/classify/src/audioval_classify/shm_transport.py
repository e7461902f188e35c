"""Track bytes from the pool to an actor on the same node through shared memory.

The pool keeps one anonymous memory file (memfd) per actor (:class:`TrackBuffer`); the actor
maps it through ``/proc/<pool pid>/fd/<fd>`` (:class:`SharedBufferView`). Writing 5 MB into
warm pages costs a memcpy; a fresh object store object costs a page fault per 4 KiB page as
well (bench/ray_pool.py measures both paths). A ``/proc`` path only means something on the
pool's node, for the same user, where ``/proc`` is visible: :func:`usable_buffers` proves it
per actor with a random nonce the actor must read back.
"""

from __future__ import annotations

import logging
import mmap
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

__all__ = ["SharedBufferView", "SharedTrackBuffer", "TrackBuffer", "usable_buffers"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharedTrackBuffer:
    """Where an actor finds the track the pool wrote for it: one of the pool process's file
    descriptors, seen through /proc, so only meaningful on the pool's node."""

    path: str
    node_id: str


class TrackBuffer:
    """The pool's side of one actor's shared buffer: a memfd that grows to the largest track
    sent through it and is reused, so its pages stay mapped."""

    def __init__(self, node_id: str) -> None:
        self._fd = os.memfd_create("audioval-track", os.MFD_CLOEXEC)
        self._map: mmap.mmap | None = None
        self.shared = SharedTrackBuffer(f"/proc/{os.getpid()}/fd/{self._fd}", node_id)

    def write(self, content: bytes | bytearray) -> None:
        if self._map is None or len(self._map) < len(content):
            size = max(1 << 20, 1 << (len(content) - 1).bit_length())
            os.ftruncate(self._fd, size)
            if self._map is not None:
                self._map.close()
            self._map = mmap.mmap(self._fd, size)
        self._map[: len(content)] = content

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        os.close(self._fd)


class SharedBufferView:
    """The actor's side: the pool's buffer mapped read-only, kept while it stays the same."""

    def __init__(self, node_id: str) -> None:
        self._node_id = node_id
        self._shared: mmap.mmap | None = None
        self._shared_path = ""

    def view(self, buffer: SharedTrackBuffer, length: int) -> memoryview | None:
        """The first ``length`` bytes of ``buffer``; None when this process cannot see it."""
        if buffer.node_id != self._node_id:
            return None  # a /proc path on another machine names some other process's file
        if self._shared is None or self._shared_path != buffer.path or len(self._shared) < length:
            if self._shared is not None:
                self._shared.close()
                self._shared = None
            try:
                with Path(buffer.path).open("rb") as handle:
                    self._shared = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                return None  # not visible here (another user, a container boundary)
            self._shared_path = buffer.path
        if len(self._shared) < length:
            return None
        return memoryview(self._shared)[:length]


def usable_buffers(actors: Sequence[Any]) -> list[TrackBuffer | None]:
    """A buffer for each actor that proves it can read one (None for the others): the actor
    must read back, through its ``read_shared`` method, a random nonce the pool wrote."""
    if not hasattr(os, "memfd_create"):
        return [None] * len(actors)
    node_id = str(ray.get_runtime_context().get_node_id())
    buffers = [TrackBuffer(node_id) for _ in actors]
    checks = []
    for actor, buffer in zip(actors, buffers, strict=True):
        nonce = secrets.token_bytes(16)
        buffer.write(nonce)
        checks.append((nonce, actor.read_shared.remote(buffer.shared, len(nonce))))
    usable: list[TrackBuffer | None] = []
    for index, (buffer, (nonce, seen)) in enumerate(zip(buffers, checks, strict=True)):
        if ray.get(seen) == nonce:
            usable.append(buffer)
            continue
        log.warning("an actor cannot see the pool's shared buffer", extra={"actor": index})
        buffer.close()
        usable.append(None)
    return usable
