"""Repeating spreading codes and phase coding under a music-like signal (audiomodel.watermarks)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.signal

from audiomodel.findings import Severity
from audiomodel.watermarks import (
    MAX_CONCENTRATION,
    MAX_PATTERN_COHERENCE,
    MAX_PERSISTENCE,
    SPREAD_WINDOW,
    WatermarkScanner,
    local_correlation,
    pattern_coherence,
    whitened_acf,
)

RATE = 22050
SECONDS = 12.0


def music_like(seed: int, noise_level: float = 1.0) -> npt.NDArray[np.float64]:
    """Coloured noise (a falling spectrum) under a few changing notes with their harmonics.
    Real music is far more predictable than the noise: a code 25 dB under a noisy track is 25
    dB under its whitened residual too, out of this reader's reach, so the code tests turn the
    noise down (a tonal mix, as the survey's train music is)."""
    rng = np.random.default_rng(seed)
    n = int(RATE * SECONDS)
    noise = scipy.signal.lfilter([1.0], [1.0, -0.9], rng.normal(size=n))
    t = np.arange(n) / RATE
    notes = np.repeat(220 * 2 ** (rng.integers(0, 12, 48) / 12), n // 48 + 1)[:n]
    phase = 2 * np.pi * np.cumsum(notes) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    return np.asarray(
        noise_level * noise / noise.std() + 0.5 * tone * (1 + 0.3 * np.sin(2 * np.pi * t))
    )


def codes(x: npt.NDArray[np.float64]) -> set[str]:
    scanner = WatermarkScanner(RATE)
    ints = np.round(x / np.abs(x).max() * 20000).astype(np.int32)
    for start in range(0, ints.size, 8192):
        scanner.update(ints[start : start + 8192])
    return {f.code for f in scanner.report()}


def spread(
    x: npt.NDArray[np.float64], chips: int, db: float, repeat: bool, keyed: bool
) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(chips)
    count = x.size // chips + 1
    if repeat:
        code = np.tile(np.where(rng.random(chips) < 0.5, -1.0, 1.0), count)
    else:
        code = np.where(rng.random(count * chips) < 0.5, -1.0, 1.0)
    bits = rng.integers(0, 2, count) * 2.0 - 1 if keyed else np.ones(count)
    s = (code * np.repeat(bits, chips))[: x.size]
    return x + s * x.std() / s.std() * 10 ** (db / 20)


def test_repeating_code_keyed_by_bits_is_found() -> None:
    x = music_like(5, noise_level=0.03)
    assert "stego.spread_code" in codes(spread(x, 1023, -25, repeat=True, keyed=True))
    assert "stego.spread_code" in codes(spread(x, 700, -30, repeat=True, keyed=True))


def test_noise_loops_and_unrepeated_codes_are_not_codes() -> None:
    x = music_like(6, noise_level=0.03)
    # a code that never repeats: white noise to this reader (the limit)
    assert "stego.spread_code" not in codes(spread(x, 1023, -25, repeat=False, keyed=True))
    # a noise loop repeated sample-exactly (one sign): a waveform that repeats, not a keyed code
    assert "stego.spread_code" not in codes(spread(x, 1023, -25, repeat=True, keyed=False))
    assert "stego.spread_code" not in codes(x)


def phase_coded(x: npt.NDArray[np.float64], data: bytes, length: int) -> npt.NDArray[np.float64]:
    """Bender et al.'s phase coding of the opening segment: bins 32.. at -pi/2 for a 1 bit,
    +pi/2 for a 0, every later segment keeping its phase differences from the one before."""
    segments = x[: x.size // length * length].reshape(-1, length)
    spectra = np.fft.rfft(segments, axis=1)
    phase = np.angle(spectra)
    first = phase[0].copy()
    bits = np.unpackbits(np.frombuffer(data, np.uint8))[: length // 2 - 64]
    first[32 : 32 + bits.size] = np.where(bits == 1, -np.pi / 2, np.pi / 2)
    new = np.vstack([first, first + np.cumsum(np.diff(phase, axis=0), axis=0)])
    rebuilt = np.fft.irfft(np.abs(spectra) * np.exp(1j * new), n=length, axis=1).ravel()
    return np.concatenate([rebuilt, x[rebuilt.size :]])


def test_phase_coded_opening_is_found_and_carved() -> None:
    x = music_like(7)
    elf = Path(sys.executable).resolve().read_bytes()[:256]
    scanner = WatermarkScanner(RATE)
    y = phase_coded(x, elf, 4096)
    scanner.update(np.round(y / np.abs(y).max() * 20000).astype(np.int32))
    found = [f for f in scanner.report() if f.code == "stego.phase_coding"]
    assert found
    if elf.startswith(b"\x7fELF"):
        assert found[0].severity is Severity.MALICIOUS
    assert "stego.phase_coding" in codes(phase_coded(x, np.random.default_rng(8).bytes(256), 8192))
    assert "stego.phase_coding" not in codes(x)


def test_square_wave_flips_as_a_waveform_not_as_bits() -> None:
    # A square wave negates itself half a period on (x(t + T/2) = -x(t)): its whitened residual
    # correlates at the multiples of T/2 with alternating signs in every window it plays, one
    # pattern, where a code's signs there are the products of its bits (three honest
    # synth_music renditions, seeds 38-39, were flagged for a square bass at 450.0 samples)
    rng = np.random.default_rng(9)
    n, half = SPREAD_WINDOW, 225
    t = np.arange(n)
    bass, coded = [], []
    for w in range(8):
        bed = 0.3 * rng.normal(size=n)
        period = 2 * half if w % 2 else 410  # the bass's note, or another one
        bass.append(bed + np.where(((t + rng.integers(period)) % period) < period // 2, 1.0, -1.0))
        code = np.where(rng.random(half) < 0.5, -1.0, 1.0)
        bits = rng.integers(0, 2, n // half + 1) * 2.0 - 1
        coded.append(bed + 0.5 * np.tile(code, n // half + 1)[:n] * np.repeat(bits, half)[:n])
    assert pattern_coherence(whitened_acf(np.stack(bass)), half) > MAX_PATTERN_COHERENCE
    assert pattern_coherence(whitened_acf(np.stack(coded)), half) < MAX_PATTERN_COHERENCE
    # too few multiples in the window to tell: unread
    assert pattern_coherence(whitened_acf(np.stack(coded)), 1500) == 0.0


def octave_synth(seed: int) -> npt.NDArray[np.float64]:
    """Two notes an octave apart at whole-sample periods each beat (a square at 2P, a saw at P,
    amplitudes drawn per beat): the multiples of P take both signs, and the sign at P changes
    from window to window, as a code's would (6 of 14 own synths flagged before the block test)."""
    rng = np.random.default_rng(seed)
    n, beat = int(RATE * SECONDS), RATE // 4
    out = np.zeros(n)
    t = np.arange(beat)
    for start in range(0, n - beat, beat):
        p = int(rng.choice([100, 120, 150, 160, 180, 200]))
        square = np.where((t % (2 * p)) < p, 1.0, -1.0)
        saw = 2.0 * ((t + rng.integers(p)) % p) / p - 1
        out[start : start + beat] = rng.uniform(0.2, 0.5) * square + rng.uniform(0.1, 0.4) * saw
    return out + 0.01 * rng.normal(size=n)


def test_notes_hold_their_correlation_block_to_block_codes_do_not() -> None:
    synth = octave_synth(3)
    coded = spread(music_like(5, noise_level=0.03), 1023, -25, repeat=True, keyed=True)
    windows = [x[k * 3 * SPREAD_WINDOW :][:SPREAD_WINDOW] for x in (synth, coded) for k in range(8)]
    notes, code = np.stack(windows[:8]), np.stack(windows[8:])
    assert local_correlation(notes, 200, 600)[0] > MAX_PERSISTENCE
    assert local_correlation(code, 1023, 1023)[0] < MAX_PERSISTENCE
    assert local_correlation(code, 1023, 1023)[1] < MAX_CONCENTRATION
    assert "stego.spread_code" not in codes(synth)


def test_ticks_at_a_steady_rate_carry_their_correlation_in_the_ticks() -> None:
    # A tick every 2,214 samples, each a different short burst, on a near-silent bed (an anti-
    # phase stereo recording's mono sum: a blind debian_recording flagged by the lone-period rule)
    rng = np.random.default_rng(4)
    n = int(RATE * SECONDS)
    x = 0.001 * rng.normal(size=n)
    shape = rng.normal(size=300) * np.exp(-np.arange(300) / 60)
    for start in range(500, n - 300, 2214):
        x[start : start + 300] += shape * rng.choice([-1.0, 1.0]) + 0.3 * rng.normal(size=300)
    windows = np.stack([x[k * 3 * SPREAD_WINDOW :][:SPREAD_WINDOW] for k in range(8)])
    assert local_correlation(windows, 2214, 2214)[1] > MAX_CONCENTRATION
    assert "stego.spread_code" not in codes(x)
