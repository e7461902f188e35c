"""Data stored as the codes of an MS ADPCM WAV, read from the file's bytes.

An MS ADPCM WAV (format 2; sox ``-e ms-adpcm``, libsndfile ``MS_ADPCM``) stores blocks of
``block_align`` bytes: a 7-byte header per channel (predictor, step, two samples), then one
4-bit code per sample, two a byte (high nibble first; stereo: left, right). A file's bytes
written as the codes behind valid headers decode without error to loud noise that no sample
sign names (random and compressed bytes were held for review, by a plateau sign, in session 16).

The codes are in the file: read them as they are, the way :mod:`audiomodel.adpcm` reads the
codes it tracks back from IMA and OKI samples. MS ADPCM's step adapts to the sound's level
(multiplied by 0.9 after a small code, by up to 3 after a large one), so a sound's codes sit on
a bell: good audio through sox's and libsndfile's encoders reads 3.57 bits a code at most (80
dev-corpus conversions), and its neighbouring codes share sign and size. Uniform bytes use the
16 codes evenly (3.99-4.0 bits) and forget both. A second of a channel's codes is data when
they are near uniform without memory (the bounds of :mod:`audiomodel.adpcm`) or when its bytes
are text; a dangerous file's signature in the codes is named.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from audiomodel.adpcm import MEASURED_SAMPLES, MIN_PRINTABLE, MIN_WINDOW_CODES, window_adpcm
from audiomodel.container import CodedLayout
from audiomodel.container.riff import MS_ADPCM_HEADER
from audiomodel.findings import Finding, finding
from audiomodel.payload import dangerous_payload, printable_ratio
from audiomodel.windows import longest_run

__all__ = ["MAX_CODE_BYTES", "ms_adpcm_codes", "ms_adpcm_findings"]

MAX_CODE_BYTES = 4 << 20  # the codes read (8 minutes of 8 kHz mono; 95 s of 44.1 kHz stereo)
MIN_DATA_WINDOWS = 2
WHOLE_TRACK_SHARE = 0.5


def ms_adpcm_codes(
    data: bytes, layout: CodedLayout
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.uint8]]:
    """The codes of each channel (channels x codes, in file order; each block's headers left
    out) and the blocks' code bytes as they sit in the file."""
    align, channels = layout.block_align, layout.channels
    whole = len(data) // align
    blocks = np.frombuffer(data, dtype=np.uint8, count=whole * align).reshape(whole, align)
    body = np.ascontiguousarray(blocks[:, MS_ADPCM_HEADER * channels :]).reshape(-1)
    nibbles = np.stack([body >> 4, body & 15], axis=1).reshape(-1).astype(np.int8)
    usable = nibbles.size // channels * channels
    return nibbles[:usable].reshape(-1, channels).T, body


def ms_adpcm_findings(data: bytes, layout: CodedLayout) -> list[Finding]:
    """A finding when the codes (``data``: the data chunk's first bytes) look like a file's
    bytes over half the track (``signal.data_as_audio``) or over two seconds or more, or
    spell a dangerous file (``signal.data_segment``); none otherwise."""
    codes, body = ms_adpcm_codes(data, layout)
    rate = max(1, layout.sample_rate)
    if codes.shape[1] < MIN_WINDOW_CODES:
        return []
    windows = []
    per_window_bytes = rate * layout.channels // 2
    for start in range(0, codes.shape[1] - MIN_WINDOW_CODES + 1, rate):
        text = printable_ratio(body[start * layout.channels // 2 :][:per_window_bytes].tobytes())
        data_here = text >= MIN_PRINTABLE
        bits = []
        for channel in codes:
            window, _ = window_adpcm(channel[start : start + MEASURED_SAMPLES], 0)
            bits.append(window.entropy_bits)
            data_here = data_here or window.random_codes
        windows.append((data_here, max(bits), text))
    flags = np.array([w[0] for w in windows], dtype=bool)
    kind, name, offset = dangerous_payload(body.tobytes())
    payload_window = offset // max(1, per_window_bytes) if offset >= 0 else -1
    if 0 <= payload_window < flags.size:
        flags[payload_window] = True
    if not flags.any():
        return []
    first, last = longest_run(flags)
    share = float(flags.mean())
    if last - first + 1 < MIN_DATA_WINDOWS and share < WHOLE_TRACK_SHARE and payload_window < 0:
        return []
    if payload_window >= 0 and not first <= payload_window <= last:
        first = last = payload_window
    run = windows[first : last + 1]
    entropy = float(np.median([w[1] for w in run]))
    printable = float(np.median([w[2] for w in run]))
    evidence: dict[str, int | float | str] = {
        "start_s": float(first),
        "end_s": float(min(last + 1, codes.shape[1] / rate)),
        "code_entropy_bits": round(entropy, 3),
        "printable_bytes": round(printable, 3),
        "data_windows": int(flags.sum()),
        "windows": int(flags.size),
        "stored_as": "MS ADPCM codes",
    }
    if name:
        evidence["payload_kind"], evidence["payload"] = kind, name
    what = (
        f"spell a {name} file"
        if name
        else "are text"
        if printable >= MIN_PRINTABLE
        else f"use all 16 values evenly ({entropy:.2f} bits) and forget sign and size"
    )
    message = (
        f"The MS ADPCM codes of {flags.sum()} of {flags.size} seconds {what}: the bytes of a "
        "file, not a sound through the codec (whose step follows the sound's level, keeping "
        "most codes small)."
    )
    code = "signal.data_as_audio" if share >= WHOLE_TRACK_SHARE else "signal.data_segment"
    return [finding(code, message, **evidence)]
