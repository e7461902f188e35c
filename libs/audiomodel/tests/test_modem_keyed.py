"""Keyed tones without framing (audiomodel.cyclic.keyed_band_lines): the symbol clock in the
energies of the tones' bands, made here with numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import scipy.fft

from audiomodel.cyclic import keyed_band_lines
from audiomodel.modem import scan_modem

RATE = 48000


def _mfsk(
    baud: float, tones: tuple[float, ...], seconds: float, seed: int
) -> npt.NDArray[np.float64]:
    """Continuous-phase FSK keyed by random symbols on a crystal clock, no framing at all
    (synchronous data, as HDLC or a raw bit stream keys it): a constant envelope."""
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, len(tones), int(seconds * baud) + 1)
    per = RATE / baud
    index = (np.arange(int(seconds * RATE)) / per).astype(int)
    freq = np.asarray(tones)[symbols[index]]
    return np.sin(2 * np.pi * np.cumsum(freq) / RATE)


def _keyed(y: npt.NDArray[np.float64]) -> list[dict[str, object]]:
    y = 0.5 * y / np.max(np.abs(y))
    report = scan_modem((y * 32767).astype(np.int16), RATE)
    return [
        dict(f.evidence)
        for f in report.findings
        if f.code == "signal.modem" and f.evidence.get("modulation") == "keyed tones"
    ]


@pytest.mark.parametrize(
    ("baud", "tones"),
    [
        (300.0, (1200.0, 1800.0)),  # binary, shift 2x the rate
        (250.0, (1000.0, 1500.0, 2000.0, 2500.0)),  # 4FSK
        (400.0, (1600.0, 2200.0)),  # shift 1.5x the rate
    ],
)
def test_keyed_tones_without_framing_are_found(baud: float, tones: tuple[float, ...]) -> None:
    y = _mfsk(baud, tones, 9.0, seed=3)
    # the track is flagged (by this reading, or by the FSK test where its clock suffices) ...
    report = scan_modem((0.5 * y * 32767).astype(np.int16), RATE)
    assert any(f.code == "signal.modem" for f in report.findings)
    # ... and the bands' energies hold the symbol rate in a chunk at the scan's reduced rate
    chunk = y[: 2 * 65536 : 2]
    lines = keyed_band_lines(scipy.fft.rfft(chunk - chunk.mean()), RATE / 2, 0.0, 2.7)
    assert any(abs(line.rate_hz - baud) < 0.01 * baud for line in lines)


@pytest.mark.parametrize(
    ("baud", "tones"), [(350.0, (2000.0, 2700.0)), (250.0, (1000.0, 1500.0, 2000.0, 2500.0))]
)
def test_unframed_keying_no_other_test_names_is_reported_as_keyed_tones(
    baud: float, tones: tuple[float, ...]
) -> None:
    found = _keyed(_mfsk(baud, tones, 9.0, seed=3))
    assert found, "no keyed-tone finding"
    assert abs(float(str(found[0]["baud"])) - baud) < 0.01 * baud


def _chiptune_arpeggio(seconds: float) -> npt.NDArray[np.float64]:
    """Pulse-wave notes switching on a 60 Hz frame clock (a repeating 3-note arpeggio)."""
    t = np.arange(int(seconds * RATE)) / RATE
    notes = 330 * 2 ** (np.array([0, 4, 7]) / 12)
    phase = np.cumsum(notes[(t * 60).astype(int) % 3]) / RATE
    return np.where(phase % 1 < 0.25, 1.0, -1.0)


def _dtmf(seconds: float) -> npt.NDArray[np.float64]:
    """DTMF digits, 70 ms on, 50 ms off."""
    out = np.zeros(int(seconds * RATE))
    pairs = [(697, 1209), (770, 1336), (852, 1477), (941, 1633), (697, 1336)]
    tone = np.arange(int(0.07 * RATE)) / RATE
    for i, at in enumerate(range(0, out.size - tone.size, int(0.12 * RATE))):
        low, high = pairs[i % len(pairs)]
        out[at : at + tone.size] = np.sin(2 * np.pi * low * tone) + np.sin(2 * np.pi * high * tone)
    return out


def _held_notes(seconds: float, seed: int) -> npt.NDArray[np.float64]:
    """Low brass-like notes (many partials, a slow vibrato) changing every half second: every
    band's energy beats at the pitch."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = 55 * 2 ** (rng.integers(0, 12, int(seconds * 2) + 1)[(t * 2).astype(int)] / 12)
    pitch = pitch * (1 + 0.004 * np.sin(2 * np.pi * 5 * t))
    phase = np.cumsum(pitch) / RATE
    return sum(np.sin(2 * np.pi * k * phase) / k for k in range(1, 40))


def _square(seconds: float) -> npt.NDArray[np.float64]:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.sign(np.sin(2 * np.pi * 100 * t))


@pytest.mark.parametrize("name", ["chiptune arpeggio", "DTMF", "held notes", "square 100 Hz"])
def test_steady_sounds_are_not_keyed_tones(name: str) -> None:
    signal = {
        "chiptune arpeggio": lambda: _chiptune_arpeggio(9.0),
        "DTMF": lambda: _dtmf(9.0),
        "held notes": lambda: _held_notes(9.0, seed=1),
        "square 100 Hz": lambda: _square(9.0),
    }[name]()
    assert not _keyed(signal)
