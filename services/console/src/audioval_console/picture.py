"""The explanation picture of a stored verdict: :func:`audiomodel.plot.plot_track`, the renderer
of ``audioval validate --plot``, over the held track's bytes (or, without them, over an empty
file, so the picture still shows the verdict and its findings)."""

from __future__ import annotations

import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from audiomodel.plot import plot_track
from audioval.v1 import verdict_pb2
from audioval_console.present import verdict_doc

__all__ = ["PictureCache"]


class PictureCache:
    """PNGs by (track, verdict), the last ``size`` kept: drawing takes a second or two."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._pngs: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()

    def get(self, verdict: verdict_pb2.Verdict, load: Callable[[], bytes | None]) -> bytes:
        """The picture of ``verdict``, drawn over ``load()``'s bytes when it is not cached."""
        key = (verdict.track_id, verdict.SerializeToString(deterministic=True))
        with self._lock:
            if key in self._pngs:
                self._pngs.move_to_end(key)
                return self._pngs[key]
        content = load()
        png = _draw(verdict, content)
        if content is None:
            return png  # not kept: the bytes may be held by the next look
        with self._lock:
            self._pngs[key] = png
            while len(self._pngs) > self._size:
                self._pngs.popitem(last=False)
        return png


def _draw(verdict: verdict_pb2.Verdict, content: bytes | None) -> bytes:
    with tempfile.TemporaryDirectory(prefix="audioval-console-") as tmp:
        out = Path(tmp)
        # plot_track reads a file and names the picture after it: one named by the track.
        track = out / (re.sub(r"[^A-Za-z0-9._-]+", "_", verdict.track_id)[:64] or "track")
        track.write_bytes(content or b"")
        written = plot_track(track, verdict_doc(verdict), out)
        return written.read_bytes()
