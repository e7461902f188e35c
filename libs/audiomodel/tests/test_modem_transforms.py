"""The modem's inner transforms, written for speed, give the same arrays as their plain forms:
a band's bins placed by a modulo index, the Schmitt trigger of whole-array ``np.where`` passes,
the keyed-band floor of whole-array expressions, and one change spectrum read by both clocks."""

from __future__ import annotations

from typing import cast

import numpy as np
import numpy.typing as npt
import pytest
import scipy.fft

from audiomodel import modem
from audiomodel.keyed_bands import SLOW_FRAMES, _keyed_part
from audiomodel.modem_kernels import phasor_run

Floats = npt.NDArray[np.float64]


def plain_band_envelopes(
    spectrum: npt.NDArray[np.complex128],
    bin_hz: float,
    centres: tuple[float, ...],
    half: float,
    length: int,
) -> npt.NDArray[np.complex128]:
    h = max(1, int(half / bin_hz))
    shifted = np.zeros((len(centres), length), dtype=np.complex128)
    for row, centre in zip(shifted, centres, strict=True):
        c = round(centre / bin_hz)
        lo, hi = max(1, c - h), min(spectrum.size, c + h + 1)
        row[(np.arange(lo, hi) - c) % length] = spectrum[lo:hi] * modem._taper(hi - lo)
    out: npt.NDArray[np.complex128] = scipy.fft.ifft(shifted, axis=-1)
    return out


def plain_keyed_part(power: Floats, slow: int = SLOW_FRAMES) -> Floats:
    n = power.shape[0]
    cs = np.cumsum(power, axis=0)
    mean = np.empty_like(power)
    half = slow // 2
    mean[half : n - slow + half + 1] = (
        np.concatenate((cs[slow - 1 : slow], cs[slow:] - cs[:-slow])) / slow
    )
    mean[:half] = mean[half]
    mean[n - slow + half + 1 :] = mean[n - slow + half]
    fast = power - mean
    fast -= fast.mean(axis=0)
    out: Floats = fast / (np.sqrt((fast**2).mean(axis=0)) + 1e-20)
    return out


@pytest.mark.parametrize("size", [129, 4097, 32769])
def test_band_envelopes_place_bins_as_the_modulo_index_does(size: int) -> None:
    rng = np.random.default_rng(size)
    spectrum = rng.normal(size=size) + 1j * rng.normal(size=size)
    checked = 0
    for _ in range(200):
        bin_hz = float(rng.uniform(0.2, 20.0))
        half = float(rng.uniform(0.5, 400.0))
        length = int(rng.integers(16, 9000))  # short ones wrap the band around the array
        centres = (float(rng.uniform(0, size * bin_hz)), float(rng.uniform(0, size * bin_hz)))
        h = max(1, int(half / bin_hz))
        if any(
            min(size, round(c / bin_hz) + h + 1) <= max(1, round(c / bin_hz) - h) for c in centres
        ):
            continue  # no bins in a band: neither form applies
        got = modem._band_envelopes(spectrum, bin_hz, centres, half, length)
        assert np.array_equal(got, plain_band_envelopes(spectrum, bin_hz, centres, half, length))
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("frames", [SLOW_FRAMES + 1, 256, 300])
def test_keyed_part_matches_whole_array_expressions(frames: int) -> None:
    # float32, as keyed_bands computes it (its Floats annotation is the loose one)
    power = cast(Floats, np.random.default_rng(frames).random((frames, 37)).astype(np.float32))
    assert np.array_equal(_keyed_part(power), plain_keyed_part(power))


def test_both_clocks_read_one_change_spectrum_per_signal() -> None:
    rng = np.random.default_rng(5)
    diff = np.sign(np.sin(2 * np.pi * 300 * np.arange(4000) / 2000.0)) + rng.normal(0, 0.2, 4000)
    first = modem._change_power(diff, 2000.0)
    assert modem._change_power(diff, 2000.0) is first  # kept for the same signal
    other = diff.copy()
    again = modem._change_power(other, 2000.0)
    assert again is not first  # a new signal (even with equal values) is transformed anew
    assert all(np.array_equal(a, b) for a, b in zip(first[1:4], again[1:4], strict=True))
    lines = modem._clock_lines(diff, 2000.0, 800.0)
    # a 300 Hz square wave changes sign 600 times a second: the clock is 600 Bd
    assert lines.size and np.any(np.abs(lines - 600.0) < 1.0)


def keyed_under_noise(seed: int, level: float) -> tuple[Floats, float]:
    """600 Bd FSK at 900/1400 Hz (random bits, continuous phase) under noise and a held
    chord, one chunk at 24 kHz."""
    rng = np.random.default_rng(seed)
    rate = 24000.0
    n = modem.CHUNK
    bits = rng.integers(0, 2, n // 40 + 1)
    freq = np.where(np.repeat(bits, 40)[:n] > 0, 1400.0, 900.0)
    t = np.arange(n) / rate
    chord = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (440.0, 554.4, 659.3))
    x = level * np.sin(2 * np.pi * np.cumsum(freq) / rate) + 0.3 * chord
    return x + rng.normal(0, 0.2, n), rate


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_turn_taking_against_a_gate_falls_on_the_correlations_side(seed: int) -> None:
    checked = 0
    for level in (1.0, 0.3, 0.0):
        x, rate = keyed_under_noise(seed, level)
        chunk = modem._ChunkTransform.of(x, rate)
        assert chunk is not None
        pairs = [(900.0, 1400.0), (440.0, 659.3), (554.4, 1400.0), (700.0, 2100.0)]
        pairs += list(modem.FIXED_PLANS[:3])
        for f_a, f_b in pairs:
            exact = modem._turn_taking(chunk.x, {chunk.x.size: chunk.spectrum}, rate, f_a, f_b)
            estimate = modem._turn_correlation(
                chunk.x, {chunk.x.size: chunk.spectrum}, rate, f_a, f_b, coarse=True
            )
            # the margin is several times the estimate's error
            assert abs(estimate - exact) < modem.TURN_ESTIMATE_MARGIN / 2
            for gate in (modem.TURN_TAKING_GATE, modem.STANDING_TURN_GATE, exact):
                got = modem._turn_taking(
                    chunk.x, {chunk.x.size: chunk.spectrum}, rate, f_a, f_b, gate
                )
                assert (got <= gate) == (exact <= gate)
                assert (got > gate) == (exact > gate)
            checked += 1
    assert checked == 21


def test_a_chunks_tests_share_its_spectra_and_turn_taking() -> None:
    x, rate = keyed_under_noise(4, 1.0)
    chunk = modem._ChunkTransform.of(x, rate)
    assert chunk is not None
    spectra = chunk.spectra
    assert spectra is chunk.spectra and spectra[chunk.x.size] is chunk.spectrum
    plain = {chunk.x.size: chunk.spectrum}
    exact = modem._turn_taking(chunk.x, plain, rate, 900.0, 1400.0)
    assert exact <= modem.TURN_TAKING_GATE - modem.TURN_ESTIMATE_MARGIN  # keyed: far under it
    # against a gate far from it: the estimate, remembered without the correlation
    first = modem._turn_taking(chunk.x, spectra, rate, 900.0, 1400.0, modem.STANDING_TURN_GATE)
    assert spectra.turns[(900.0, 1400.0)] == (first, None)
    # asked without a gate (or near one): the correlation itself, then remembered
    assert modem._turn_taking(chunk.x, spectra, rate, 900.0, 1400.0) == exact
    assert spectra.turns[(900.0, 1400.0)] == (first, exact)
    assert modem._turn_taking(chunk.x, spectra, rate, 900.0, 1400.0, 0.0) == exact
    # the middle stretches' transforms the pair test read are kept with the chunk
    assert set(plain) <= set(spectra) and len(spectra) == len(plain)
    assert all(np.array_equal(spectra[k], plain[k]) for k in plain)


def test_tone_phasors_kept_for_a_transmission_are_the_expressions_numbers() -> None:
    modem._phasors.clear()
    sr, freq = 22050.0, 1478.6666666666665
    plain = np.exp(-2j * np.pi * freq * (np.arange(300001) / sr))
    whole = phasor_run(freq, sr, 0, 300001)  # the expression's numbers to ~1e-11
    assert np.max(np.abs(whole - plain)) < 1e-10
    for size in (1000, 72000, 300001, 5000):  # made, extended twice, then read shorter
        assert np.array_equal(modem._phasor(sr, freq, size), whole[:size])
    assert modem._phasors[(sr, freq)].size == 300001
    x = np.random.default_rng(0).normal(size=72000)
    mixed = x * whole[: x.size]
    c = np.concatenate(([0], np.cumsum(mixed)))
    want = np.zeros(x.size)
    want[9 : 9 + x.size - 17] = np.abs(c[18:] - c[:-18])
    assert np.array_equal(modem._tone_magnitude(x, sr, freq, 18), want)
    # at most PHASOR_SAMPLES kept, the oldest let go first
    modem._phasor(sr, 500.0, modem.PHASOR_SAMPLES - 1000)
    assert (sr, freq) not in modem._phasors and (sr, 500.0) in modem._phasors
    modem._phasor(sr, 600.0, modem.PHASOR_SAMPLES + 1)  # longer than all: not kept
    assert (sr, 600.0) not in modem._phasors
    scanner = modem.ModemScanner(44100, 1)
    scanner.update(np.zeros(44100, dtype=np.int16))
    scanner.report()
    assert not modem._phasors


@pytest.mark.parametrize("stride", [1, 2, 5])
def test_band_power_frames_are_the_sliding_windows_numbers(stride: int) -> None:
    from numpy.lib.stride_tricks import sliding_window_view

    from audiomodel.keyed_bands import _band_power, _taper32

    rng = np.random.default_rng(stride)
    for size in (128, 129, 1000, 65536, 65537):
        x = rng.normal(size=size)
        frames = sliding_window_view(x, 128)[:: 128 * stride]
        spectrum = scipy.fft.rfft(frames.astype(np.float32) * _taper32(128), axis=1)
        part = spectrum[:, 3:38]  # 500 to 7000 Hz in bins of 187.5 Hz
        freqs, power = _band_power(x, 24000.0, 128, 500.0, 7000.0, stride)
        assert np.array_equal(power, part.real**2 + part.imag**2), size
        assert np.array_equal(freqs, np.arange(3, 38) * 24000.0 / 128)
