"""The compiled kernels stay inside their arrays on every sample layout, and the warm-up fills
the kernel cache.

numba does not check indices: a kernel that writes past its output corrupts the heap and the
process aborts later, somewhere else (a 32-bit file once did, in the stego stage). With
``NUMBA_DISABLE_JIT=1`` every kernel runs as plain Python, where numpy checks each index, so an
out-of-range read or write raises ``IndexError`` at the line that made it (and the validator
reports the file undecodable). ``python -m audiomodel.warmup`` judges a short clip of every
stored layout; it runs in a child process because numba reads its switches at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audiomodel.warmup import LAYOUTS


def _warm_up(**env: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "audiomodel.warmup"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_every_layout_is_judged_with_the_kernels_bounds_checked() -> None:
    codes = _warm_up(NUMBA_DISABLE_JIT="1")
    assert len(codes) == len(LAYOUTS)
    for layout, found in codes.items():
        assert "container.undecodable" not in found, (layout, found)


@pytest.mark.slow
def test_the_warm_up_leaves_every_kernel_in_the_cache(tmp_path: Path) -> None:
    codes = _warm_up(NUMBA_CACHE_DIR=str(tmp_path))
    assert len(codes) == len(LAYOUTS)
    cached = {path.name.split(".")[0] for path in tmp_path.rglob("*.nbi")}
    # the signal/window kernels and the steganalysis kernels both compiled and saved
    assert any(name.startswith("sample_kernels") for name in cached), cached
    assert any(name.startswith("kernels") for name in cached), cached
    assert any(name.startswith("modem_kernels") for name in cached), cached


def _signatures() -> dict[str, set[str]]:
    """Every loaded numba kernel's compiled signatures, by qualified name."""
    import gc

    from numba.core.registry import CPUDispatcher

    return {
        f"{d.py_func.__module__}.{d.py_func.__qualname__}": {str(s) for s in d.signatures}
        for d in gc.get_objects()
        if isinstance(d, CPUDispatcher)
    }


@pytest.mark.slow
def test_after_the_warm_up_a_streamed_track_needs_no_new_kernel_signature() -> None:
    """A track longer than a parity window and a noise-floor chunk meets its kernels in the
    layouts of a real upload (strided per-channel rows, whole windows): the warm-up must have
    loaded them all, or the first real track pays for loading or compiling them."""
    import io

    import numpy as np
    import soundfile as sf

    from audiomodel.validator import validate_bytes
    from audiomodel.warmup import warm_up

    warm_up()
    before = _signatures()
    rng = np.random.default_rng(3)
    rate = 44100
    t = np.arange(4 * rate) / rate
    music = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 3 * t) * rng.normal(
        0, 0.3, t.size
    )
    for subtype in ("PCM_16", "PCM_24", "PCM_32"):
        for channels in (1, 2):
            out = io.BytesIO()
            sf.write(
                out,
                np.repeat(music[:, None], channels, axis=1),
                rate,
                subtype=subtype,
                format="WAV",
            )
            validate_bytes(out.getvalue())
    after = _signatures()
    new = {name: sigs - before.get(name, set()) for name, sigs in after.items()}
    assert not {name: sigs for name, sigs in new.items() if sigs}
