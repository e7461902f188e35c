"""The compiled kernels stay inside their arrays on every sample layout.

numba does not check indices: a kernel that writes past its output corrupts the heap and the
process aborts later, somewhere else (a 32-bit file once did, in the stego stage). With
``NUMBA_DISABLE_JIT=1`` every kernel runs as plain Python, where numpy checks each index, so an
out-of-range read or write raises ``IndexError`` at the line that made it. This judges a short
clip of every stored layout that way, in a child process (the switch is read at import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

LAYOUTS = textwrap.dedent(
    """
    import io, json
    import numpy as np
    import soundfile as sf
    from audiomodel.validator import validate_bytes

    rng = np.random.default_rng(7)
    rate = 22050
    results = []
    for subtype in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"):
        for channels in (1, 2):
            # an odd length: no block, window or sub-block divides it
            frames = rate + 777
            t = np.arange(frames) / rate
            tone = 0.3 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 1e-3, frames)
            clip = np.repeat(tone[:, None], channels, axis=1)
            clip[frames // 2, 0] = -1.0  # full-scale negative: the dtype's minimum
            buf = io.BytesIO()
            sf.write(buf, clip, rate, format="WAV", subtype=subtype)
            verdict = validate_bytes(buf.getvalue()).to_dict()
            results.append([subtype, channels, [f["code"] for f in verdict["findings"]]])
    print(json.dumps(results))
    """
)


@pytest.mark.slow
def test_every_layout_is_judged_with_the_kernels_bounds_checked() -> None:
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    done = subprocess.run(
        [sys.executable, "-c", LAYOUTS], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == 12
    for subtype, channels, codes in results:
        assert "container.undecodable" not in codes, (subtype, channels, codes)
