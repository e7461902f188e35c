"""Load (or compile, the first time on a machine) every compiled kernel before the first track.

The validator's per-sample loops are numba kernels (``audiomodel.sample_kernels``,
``audiomodel.stego.kernels``, ``audiomodel.modem_kernels``, ``audiomodel.adpcm_kernels``,
``audiomodel.payload``), compiled on first use and cached in ``NUMBA_CACHE_DIR``. Compiling them
costs tens of seconds on a fresh machine and loading them from the cache ~1 s, so a worker judges
one short clip of every stored layout when it starts (the classify pool's actors do, and the
service image does at build time, filling its cache), and the first real upload pays for none of
it. Kernels no clip reaches (the modem's timing, which needs a keyed tone pair; the ADPCM
tracker, which runs only on audio that went through the codec; the noise floor's path for
blocks that are not whole frames) are called directly.
``test_kernel_bounds`` checks that every kernel called from Python is loaded by the warm-up.

``python -m audiomodel.warmup`` does the same from a shell and prints, per layout, the codes of
the findings (the kernel bounds test runs it with ``NUMBA_DISABLE_JIT=1``).
"""

from __future__ import annotations

import io
import json

import numpy as np
import soundfile as sf

__all__ = ["LAYOUTS", "warm_up"]

# Every sample width and kind a container stores, mono and stereo: each takes its own kernels
# (8-bit's high byte, 24/32-bit's wide integers and float64 residuals, floats' 16-bit rendering).
LAYOUTS = tuple(
    (subtype, channels)
    for subtype in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")
    for channels in (1, 2)
)


# Frames of a clip that runs the steganalysis' streaming path as a track does: one whole
# parity window (63,616 frames) and more than one noise-floor chunk (65,536 frames). A shorter
# clip meets only the last, partial window, whose arrays the kernels see in other layouts
# (contiguous where a track's are strided), so a worker would load or compile those kernels on
# its first real track instead (six of them, 1-2 s on an empty cache, measured on the corpus).
# 8-bit stereo streams too: its blocks reach the noise floor as 32-bit integers read by channel
# (column-major), a layout no other clip gave (a corpus file compiled it for 1.8 s, session 20).
_STREAMED_FRAMES = 66_560 + 777
_STREAMED_SUBTYPES = frozenset({"PCM_U8", "PCM_16", "PCM_24", "PCM_32"})


def _clip(subtype: str, channels: int, rate: int = 22050) -> bytes:
    """A tone over a little noise, an odd number of frames long (no block, window or sub-block
    divides it), touching negative full scale once (the dtype's minimum). Stereo 16-, 24- and
    32-bit PCM (each pair of stored and residual dtypes the steganalysis reads, in the layout
    whose per-channel rows are strided views), and stereo 8-bit PCM, are long enough to stream
    (see ``_STREAMED_FRAMES``); the other layouts take a second."""
    rng = np.random.default_rng(7)
    streamed = channels > 1 and subtype in _STREAMED_SUBTYPES
    frames = _STREAMED_FRAMES if streamed else rate + 777
    t = np.arange(frames) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 1e-3, frames)
    clip = np.repeat(tone[:, None], channels, axis=1)
    clip[frames // 2, 0] = -1.0
    out = io.BytesIO()
    sf.write(out, clip, rate, format="WAV", subtype=subtype)
    return out.getvalue()


def warm_up() -> dict[str, list[str]]:
    """Judge one short clip of every layout; returns each layout's finding codes."""
    from audiomodel import modem_kernels
    from audiomodel.adpcm import ima_codes
    from audiomodel.stego.noise_floor import NoiseFloor
    from audiomodel.validator import validate_bytes

    modem_kernels.warm_up()  # the clips key no tone pair: the modem's timing kernels run here
    # the ADPCM tracker runs only where a probe fits the codec: silence fits it (one stream,
    # no restart), so both the tracker and its settling pass run, in ima_codes' own layouts
    ima_codes(np.zeros(64, dtype=np.int16))
    # the noise floor reads a block that is not whole frames by joining its tail to the next
    # block as float32 (the validator's blocks are whole frames; a caller's may not be)
    for channels in (1, 2):
        floor = NoiseFloor(channels)
        block = np.zeros((1500, channels), dtype=np.int16)
        floor.update(block)
        floor.update(block)
    return {
        f"{subtype}/{channels}": [f.code for f in validate_bytes(_clip(subtype, channels)).findings]
        for subtype, channels in LAYOUTS
    }


if __name__ == "__main__":
    print(json.dumps(warm_up()))
