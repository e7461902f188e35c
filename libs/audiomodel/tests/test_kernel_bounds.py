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
