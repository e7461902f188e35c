"""The calibrated noise floor: +-1 embedding lifts the floor of a band with no sound."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.signal

from audiomodel.findings import Severity
from audiomodel.stego import analyse_lsb
from audiomodel.stego.noise_floor import (
    ROUNDING,
    NoiseFloor,
    _lift_spread,
    _nanmedian_frames,
    judge_floor,
    load_floor_model,
    summarise_floor,
)

RATE = 44100


def band_limited(seconds: float, *, seed: int = 0, channels: int = 2) -> np.ndarray:
    """Sound below 8 kHz with a swelling envelope, rounded to 16-bit: above 8 kHz only the
    rounding is left, as in audio decoded from a codec or rendered at a lower rate."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    sos = scipy.signal.butter(10, 8000, fs=RATE, output="sos")
    sound = scipy.signal.sosfilt(sos, rng.standard_normal((n, channels)), axis=0)
    envelope = 0.4 + 0.6 * np.abs(np.sin(np.linspace(0, 5 * np.pi, n)))[:, None]
    return np.rint(sound * envelope * 3000).astype(np.int64)


def matched(values: np.ndarray, share: float, seed: int = 1) -> np.ndarray:
    """LSB matching of the first ``share`` of the interleaved samples (random bits)."""
    rng = np.random.default_rng(seed)
    flat = values.reshape(-1).copy()
    count = round(share * flat.size)
    bits = rng.integers(0, 2, count)
    differs = (flat[:count] & 1) != bits
    flat[:count] += np.where(differs, rng.choice([-1, 1], count), 0)
    return flat.reshape(values.shape)


def floors(values: np.ndarray, block: int = 65536) -> np.ndarray:
    meter = NoiseFloor(values.shape[1])
    for start in range(0, values.shape[0], block):
        meter.update(values[start : start + block])
    return meter.finish()


def report_of(values: np.ndarray):
    return analyse_lsb([values.astype(np.int16)], bits_per_sample=16, channels=values.shape[1])


def floor_finding(values: np.ndarray):
    return next((f for f in report_of(values).findings if f.code == "stego.lsb_noise_excess"), None)


def test_white_noise_reads_its_variance_in_lsb2() -> None:
    rng = np.random.default_rng(3)
    noise = np.rint(rng.standard_normal((16384 * 200, 1)) * 10).astype(np.int64)
    measured = floors(noise)
    assert float(np.mean(measured)) == pytest.approx(100.0 + ROUNDING, rel=0.03)


def test_band_limited_clip_sits_at_the_rounding_floor() -> None:
    summary = summarise_floor(floors(band_limited(6.0)), 1.0)
    assert summary.empty >= 10
    assert abs(summary.excess) < 0.03
    assert floor_finding(band_limited(6.0)) is None


def test_lsb_matching_throughout_is_reported_with_its_payload_estimated() -> None:
    # Reported, not flagged: a real recording's steady noise floor near one LSB reads the same
    # (the shipped thresholds keep the train split's false flags under 0.3 %).
    found = floor_finding(matched(band_limited(6.0), 1.0))
    assert found is not None and found.severity >= Severity.INFO
    assert 0.6 <= float(found.evidence["estimated_fraction"]) <= 1.0
    assert float(found.evidence["estimated_payload_bytes"]) > 0.6 * 6.0 * RATE * 2 / 8


def test_lsb_matching_of_a_prefix_is_flagged_against_the_rest_of_the_clip() -> None:
    found = floor_finding(matched(band_limited(8.0), 0.3))
    assert found is not None and found.severity == Severity.SUSPICIOUS
    assert 0.15 <= float(found.evidence["prefix_share"]) <= 0.45


def decaying_noise_effect(*, order: int, tau: float | None, seed: int = 0) -> np.ndarray:
    """A synthesised noise sound effect (an explosion): white noise through a low-pass at 1.5 kHz
    with a decaying envelope (exponential over ``tau`` s, or a quarter sine over 90 % of the
    clip), 9.6 s of 44.1 kHz stereo peaking at -5 dBFS, rounded to 16 bits without dither."""
    rng = np.random.default_rng(seed)
    n = int(9.6 * RATE)
    sos = scipy.signal.butter(order, 1500, fs=RATE, output="sos")
    sound = scipy.signal.sosfilt(sos, rng.standard_normal((n, 2)), axis=0)
    t = np.arange(n) / RATE
    if tau is None:
        envelope = np.sin(0.5 * np.pi * np.minimum(1.0, (9.6 - t) / (0.9 * 9.6)))
    else:
        envelope = np.exp(-t / tau)
    x = sound * envelope[:, None]
    return np.rint(x * 10 ** (-5 / 20) * 32767 / np.max(np.abs(x))).astype(np.int64)


def summary_with_spectra(values: np.ndarray):
    meter = NoiseFloor(values.shape[1])
    meter.update(values)
    return summarise_floor(meter.finish(), 1.0, meter.spectra())


@pytest.mark.parametrize("tau", [2.0, None])
def test_a_decaying_noise_effect_is_not_read_as_a_prefix_payload(tau: float | None) -> None:
    # A gentle (2-pole) low-pass leaves the loud start's noise in the bands above it, a little
    # over the rounding floor, falling as the sound decays: the prefix test reads its first
    # seconds as standing above the rest. A payload's +-1 noise lifts every band alike; this
    # lift follows the sound's spectrum (far more next to the low-pass than far above it).
    values = decaying_noise_effect(order=2, tau=tau)
    summary = summary_with_spectra(values)
    model = load_floor_model()
    assert summary.prefix_excess >= model.prefix_contrast  # what the floors alone flagged
    assert summary.prefix_lift_spread > model.max_lift_spread
    found = floor_finding(values)
    assert found is None or found.severity == Severity.INFO


def test_a_prefix_payload_on_a_decaying_noise_effect_is_still_flagged() -> None:
    # The same kind of sound through a steep (8-pole) low-pass: its stopband holds only the
    # rounding, and LSB matching of the first 30 % lifts it alike in every band.
    values = matched(decaying_noise_effect(order=8, tau=2.0), 0.3)
    summary = summary_with_spectra(values)
    assert summary.prefix_lift_spread <= 1.5
    found = floor_finding(values)
    assert found is not None and found.severity == Severity.SUSPICIOUS
    assert 0.2 <= float(found.evidence["prefix_share"]) <= 0.4


def test_a_lift_is_white_when_every_quiet_band_rises_alike() -> None:
    # 28 bands: sound in the first 20, the rounding floor (1/12) in the last 8 of the rest.
    rest = np.concatenate([np.geomspace(1e6, 10.0, 20), np.full(8, ROUNDING)])
    white = np.vstack([np.tile(rest + 0.5, (6, 1)), np.tile(rest, (14, 1))])
    assert _lift_spread(white, 6) == pytest.approx(1.0)
    # A loud opening's leak, falling off through the quiet bands as the sound's spectrum does.
    leak = rest.copy()
    leak[20:] += np.geomspace(4.0, 0.4, 8)
    sloped = np.vstack([np.tile(leak, (6, 1)), np.tile(rest, (14, 1))])
    assert _lift_spread(sloped, 6) > load_floor_model().max_lift_spread
    # One band empty near Nyquist: the rest's two lowest bands are compared.
    narrow = np.concatenate([np.geomspace(1e6, 10.0, 26), [0.2, ROUNDING]])
    head = narrow + 0.5
    assert _lift_spread(np.vstack([np.tile(head, (6, 1)), np.tile(narrow, (14, 1))]), 6) < 1.1


def test_tpdf_dither_is_not_flagged() -> None:
    rng = np.random.default_rng(5)
    n = int(6.0 * RATE)
    sos = scipy.signal.butter(10, 8000, fs=RATE, output="sos")
    sound = scipy.signal.sosfilt(sos, rng.standard_normal((n, 2)), axis=0) * 3000
    dither = rng.uniform(-0.5, 0.5, sound.shape) + rng.uniform(-0.5, 0.5, sound.shape)
    found = floor_finding(np.rint(sound + dither).astype(np.int64))
    assert found is None or found.severity == Severity.INFO


def test_full_band_noise_gives_no_reading() -> None:
    rng = np.random.default_rng(7)
    noise = np.rint(rng.standard_normal((RATE * 5, 2)) * 30).astype(np.int64)
    assert summarise_floor(floors(noise), 1.0).empty == 0
    assert floor_finding(matched(noise, 1.0)) is None


def test_floors_do_not_depend_on_how_the_stream_is_cut() -> None:
    values = band_limited(3.0)
    np.testing.assert_allclose(floors(values, 65536), floors(values, 1000))


def test_shipped_thresholds_sit_above_dither() -> None:
    model = load_floor_model()
    assert model.excess_flag > 1.0 / 6.0  # TPDF dither adds 1/6 LSB^2 and is innocent
    assert 0.0 < model.excess_report <= model.excess_flag
    assert (
        judge_floor(
            summarise_floor(np.zeros((0, 1)), 1.0),
            model,
            samples=0,
            bits_per_sample=16,
            stretch_frames=16384,
        )
        is None
    )


def test_wider_samples_are_not_judged_by_the_floor() -> None:
    wide = matched(band_limited(6.0), 1.0) << 8  # 24-bit samples, right-justified
    report = analyse_lsb([wide.astype(np.int32)], bits_per_sample=24, channels=2, justify="right")
    assert report.features["floor_stretches"] == 0.0
    assert all(f.code != "stego.lsb_noise_excess" for f in report.findings)


def test_the_frames_median_is_numpys_nanmedian_to_the_bit() -> None:
    """The floor's per-band median over a stretch's sound frames (NaN rows: frames without
    sound) replaces np.nanmedian for speed; it must give the same floats, ties and all."""
    rng = np.random.default_rng(0)
    for trial in range(300):
        levels = rng.lognormal(rng.normal(0, 3), 1.5, (2, 3, 16, 28))
        if trial % 3 == 0:
            levels = np.round(levels, 1)  # ties
        levels[rng.random((2, 3, 16)) < rng.random()] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(levels, axis=2)
        assert np.array_equal(_nanmedian_frames(levels), expected, equal_nan=True)
