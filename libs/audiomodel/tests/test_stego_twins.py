"""Twin channels parted by a per-sample embedder (``audiomodel.stego.twins``)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from audiomodel.stego.twins import TwinChannelsScanner, twin_scanner

RATE = 44100


def _mono(seconds: float = 3.0, seed: int = 0) -> npt.NDArray[np.float64]:
    """A float voice-like signal: a few partials under a slow envelope, over 8 steps of noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(
        a * np.sin(2 * np.pi * f * t + p)
        for a, f, p in [(3000, 220, 0), (1500, 447, 1), (800, 1310, 2)]
    )
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t)) + rng.normal(0, 8, t.size)
    return np.asarray(x)


def _read(stereo: npt.NDArray[np.integer]) -> TwinChannelsScanner:
    scanner = TwinChannelsScanner(16)
    for start in range(0, len(stereo), 8192):
        scanner.update(stereo[start : start + 8192])
    return scanner


def _twins(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    y = np.round(x).astype(np.int16)
    return np.stack([y, y], axis=1)


def _per_sample(stereo: npt.NDArray[np.int16], q: float, seed: int) -> npt.NDArray[np.int16]:
    """+-1 at a share q of the samples, each channel on its own (LSB matching, steghide's moves)."""
    rng = np.random.default_rng(seed)
    move = (rng.random(stereo.shape) < q) * rng.choice([-1, 1], size=stereo.shape)
    return (stereo.astype(np.int32) + move).astype(np.int16)


@pytest.mark.parametrize("q", [0.0125, 0.0625, 0.15])
def test_per_sample_changes_part_twins_and_are_flagged(q: float) -> None:
    found = _read(_per_sample(_twins(_mono()), q, seed=1)).report()
    assert [f.code for f in found] == ["stego.twin_channels_broken"]
    assert abs(float(found[0].evidence["changed_share"]) - q) < 0.3 * q + 0.003  # type: ignore[arg-type]


def test_honest_twins_are_not_flagged() -> None:
    x = _mono(seed=2)
    rng = np.random.default_rng(3)
    tpdf = np.stack(
        [np.round(x + rng.random(x.size) - rng.random(x.size)) for _ in range(2)], axis=1
    ).astype(np.int16)
    gain = np.stack([np.round(x), np.round(x * 0.9995)], axis=1).astype(np.int16)
    # a codec's faint side: a band-limited wave under one step, rounded with the mid
    t = np.arange(x.size) / RATE
    faint = 0.7 * np.sin(2 * np.pi * 180 * t) * np.sin(2 * np.pi * 0.5 * t)
    codec = np.stack([np.round(x + faint), np.round(x - faint)], axis=1).astype(np.int16)
    for stereo in (_twins(x), tpdf, gain, codec):
        assert _read(stereo).report() == []
    # per-channel TPDF dither parts 41-50 % of the frames: the reader sees it and stays quiet
    assert 0.4 < _read(tpdf).measures()["share"] < 0.52


def test_dither_settles_the_answer_early() -> None:
    # per-channel TPDF parts ~43 % of the frames, over the line (0.39 n + 4,167) after ~100 k
    # judged frames: the rest of a 10 s file is not read
    x = _mono(seconds=10.0, seed=6)
    rng = np.random.default_rng(7)
    tpdf = np.stack(
        [np.round(x + rng.random(x.size) - rng.random(x.size)) for _ in range(2)], axis=1
    ).astype(np.int16)
    scanner = _read(tpdf)
    assert scanner.dead and scanner.report() == []
    assert scanner.frames < 0.6 * len(x)


@pytest.mark.parametrize("q", [0.0125, 0.2])
def test_an_embedding_under_the_line_is_read_to_the_end(q: float) -> None:
    # q = 0.2 parts 32 % of the frames (steghide near 80 % of its capacity): close under the
    # rule's 36 %, it must never cross the stopping line
    stereo = _per_sample(_twins(_mono(seconds=10.0, seed=8)), q, seed=9)
    scanner = _read(stereo)
    assert not scanner.dead and scanner.frames > 0.9 * len(stereo)
    assert [f.code for f in scanner.report()] == ["stego.twin_channels_broken"]


def test_one_block_reads_as_many_small_ones() -> None:
    stereo = _per_sample(_twins(_mono(seconds=5.0, seed=10)), 0.05, seed=11)
    whole = TwinChannelsScanner(16)
    whole.update(stereo)  # read in chunks inside; the chunks keep the segments of the block
    assert whole.measures() == _read(stereo).measures()


def test_a_real_stereo_image_stops_the_reader() -> None:
    left, right = _mono(seed=4), _mono(seed=5)
    scanner = _read(np.stack([np.round(left), np.round(right)], axis=1).astype(np.int16))
    assert scanner.dead and scanner.report() == []


def test_only_two_channel_integer_pcm_is_read() -> None:
    assert twin_scanner(None, 2) is None
    assert twin_scanner(16, 1) is None
    assert isinstance(twin_scanner(24, 2), TwinChannelsScanner)
