"""Multi-tone FSK (pure tones on a linear grid, keyed on one clock) is found alone and under a
music-like bed, in the audible band and near-ultrasound; a chiptune arpeggio on a 50 Hz tick,
a test tone, a sweep, DTMF digits and a melody of pure tones are not data."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from audiomodel.keyed_tones import _joined, scan_keyed_tones
from audiomodel.modem import scan_modem

RATE = 48000
Floats = npt.NDArray[np.float64]


def mfsk(
    low_hz: float, spacing_hz: float, baud: float, groups: int, seconds: float = 6.0
) -> Floats:
    """Random data as MFSK: one tone of 16 per group, the groups side by side on one grid."""
    rng = np.random.default_rng(11)
    n = int(RATE / baud)
    t = np.arange(n) / RATE
    parts = []
    for values in rng.integers(0, 16, (int(seconds * baud), groups)):
        hz = low_hz + spacing_hz * (16 * np.arange(groups) + values)
        parts.append(np.sin(2 * np.pi * hz[:, None] * t).sum(axis=0) / groups)
    return np.concatenate(parts)


def bed(seconds: float, seed: int = 1) -> Floats:
    """Plucked harmonic notes on a beat grid (a stand-in for a recording) over falling noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for start in np.arange(0.0, seconds, 0.25):
        f0 = 110.0 * 2 ** (rng.integers(0, 30) / 12)
        i = int(start * RATE)
        tt = t[i:] - start
        env = np.exp(-tt * 4.0) * (1 - np.exp(-tt * 300.0))
        for h in range(1, 8):
            out[i:] += env * np.sin(2 * np.pi * f0 * h * tt + h) / h**1.2
    out /= np.abs(out).max()
    air = np.fft.irfft(np.fft.rfft(rng.normal(0, 1, n)) / np.sqrt(1 + np.arange(n // 2 + 1)), n)
    return out + 0.05 * air / np.std(air)


def under(signal: Floats, level_db: float) -> Floats:
    music = bed(signal.size / RATE)
    gain = np.sqrt(np.mean(music**2) / np.mean(signal**2)) * 10 ** (level_db / 20)
    mixed = music + gain * signal
    return mixed / np.abs(mixed).max()


def flagged(y: Floats) -> list[dict[str, object]]:
    level = np.round(0.5 * 32767 * y / max(1e-9, float(np.abs(y).max()))).astype(np.int16)
    return [dict(f.evidence) for f in scan_keyed_tones(level, RATE).report()]


def test_audible_mfsk_alone_is_flagged_with_its_grid_and_clock() -> None:
    found = flagged(mfsk(2000.0, 70.0, 12.0, 4))
    assert len(found) == 1
    evidence = found[0]
    assert evidence["modulation"] == "MFSK"
    assert abs(float(evidence["grid_spacing_hz"]) - 70.0) < 1.5  # type: ignore[arg-type]
    assert abs(float(evidence["baud"]) - 12.0) < 0.6  # type: ignore[arg-type]
    assert 1900 < float(evidence["band_low_hz"]) < 2300  # type: ignore[arg-type]


def test_near_ultrasonic_mfsk_under_music_is_flagged() -> None:
    assert flagged(under(mfsk(15000.0, 46.875, 8.0, 6), -10.0))


def test_audible_mfsk_under_music_is_flagged_by_the_modem_scan() -> None:
    y = under(mfsk(3000.0, 62.5, 15.0, 3), 0.0)
    report = scan_modem((0.5 * 32767 * y).astype(np.int16), RATE)
    assert any(f.evidence.get("modulation") == "MFSK" for f in report.findings)


def test_chiptune_arpeggio_on_a_50_hz_tick_is_not_data() -> None:
    """A tracker's arpeggio: a chord's three notes in turn, each held 3 ticks of 50 Hz (60 ms),
    as square waves and as pure tones (a triangle-like voice)."""
    chord = 440.0 * 2 ** (np.array([0, 4, 7]) / 12)
    rng = np.random.default_rng(2)
    step = int(0.06 * RATE)
    for pure in (False, True):
        parts = []
        for bar in range(16):
            root = 2 ** (rng.integers(-5, 6) / 12)
            for i in range(8 * 3):
                t = np.arange(step) / RATE
                phase = chord[i % 3] * root * t
                parts.append(
                    np.sin(2 * np.pi * phase) if pure else np.sign(np.sin(2 * np.pi * phase))
                )
            del bar
        assert not flagged(np.concatenate(parts)), pure


def test_a_tone_a_sweep_dtmf_and_a_pure_melody_are_not_data() -> None:
    t = np.arange(6 * RATE) / RATE
    tone = np.sin(2 * np.pi * 1000.0 * t)
    sweep = np.sin(2 * np.pi * 20.0 * 6 / np.log(1000) * (np.exp(t / 6 * np.log(1000)) - 1))
    rng = np.random.default_rng(4)
    low, high = (697, 770, 852, 941), (1209, 1336, 1477, 1633)
    digit = np.arange(int(0.07 * RATE)) / RATE
    dtmf = np.concatenate(
        [
            np.concatenate(
                (
                    np.sin(2 * np.pi * low[rng.integers(4)] * digit)
                    + np.sin(2 * np.pi * high[rng.integers(4)] * digit),
                    np.zeros(int(0.07 * RATE)),
                )
            )
            for _ in range(40)
        ]
    )
    note = np.arange(int(0.125 * RATE)) / RATE
    melody = np.concatenate(
        [np.sin(2 * np.pi * 440.0 * 2 ** (rng.integers(-12, 13) / 12) * note) for _ in range(48)]
    )
    for name, y in (("tone", tone), ("sweep", sweep), ("dtmf", dtmf), ("melody", melody)):
        assert not flagged(y), name


def single_tone(
    low_hz: float, spacing_hz: float, baud: float, values: npt.NDArray[np.int64]
) -> Floats:
    """One tone per symbol, each symbol's tone from a fresh oscillator (phase jumps at the
    change, as a modulator that switches between tone generators makes them)."""
    rng = np.random.default_rng(5)
    t = np.arange(int(RATE / baud)) / RATE
    return np.concatenate(
        [np.sin(2 * np.pi * (low_hz + spacing_hz * v) * t + rng.uniform(0, 6.3)) for v in values]
    )


def test_single_tone_mfsk_on_a_fine_grid_alone_is_read_inside_its_symbols() -> None:
    """Olivia-like: one tone of 32 spaced 25 Hz (finer than a 21 ms frame's bins) at 12.5 Bd,
    4 s alone. Only spectra centred in the symbols part the neighbouring tones."""
    values = np.random.default_rng(6).integers(0, 32, 50)
    found = flagged(single_tone(1500.0, 25.0, 12.5, values))
    assert len(found) == 1
    assert abs(float(found[0]["grid_spacing_hz"]) - 25.0) < 1.0  # type: ignore[arg-type]


def test_incremental_mfsk_is_flagged() -> None:
    """DominoEX-like: the tone steps 1 + the data (0-15) from the previous one, modulo 18."""
    steps = 1 + np.random.default_rng(7).integers(0, 16, 80)
    assert flagged(single_tone(1000.0, 60.0, 16.0, np.cumsum(steps) % 18))


def test_a_stepped_test_tone_and_bells_are_not_data() -> None:
    """A stepped-sine test signal (one pure tone climbing a linear 100 Hz grid, 100 ms a
    step) and a carillon (struck bells: inharmonic partials, decaying) are not data."""
    stepped = single_tone(500.0, 100.0, 10.0, np.arange(60) % 60)
    rng = np.random.default_rng(8)
    t = np.arange(int(0.25 * RATE)) / RATE
    strikes = []
    for _ in range(24):
        nominal = 440.0 * 2 ** (rng.integers(-7, 12) / 12)
        strike = sum(
            np.exp(-t * (2 + 3 * k)) * np.sin(2 * np.pi * nominal * ratio * t)
            for k, ratio in enumerate((0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0))
        )
        strikes.append(np.asarray(strike))
    bells = np.concatenate(strikes)
    for name, y in (("stepped", stepped), ("bells", bells)):
        assert not flagged(y), name


def test_an_executable_keyed_as_nibbles_is_carved() -> None:
    """ggwave-like: each byte one symbol of two tones, the high nibble's of 16 in the first
    group and the low nibble's in the second; the bytes open with an ELF header."""
    rng = np.random.default_rng(9)
    payload = (
        b"\x7fELF\x02\x01\x01\x00" + bytes(8) + rng.integers(0, 256, 56).astype(np.uint8).tobytes()
    )
    t = np.arange(int(RATE / 12.0)) / RATE
    symbols = [
        np.sin(2 * np.pi * (1500.0 + 50.0 * (byte >> 4)) * t)
        + np.sin(2 * np.pi * (1500.0 + 50.0 * (16 + (byte & 15))) * t)
        for byte in payload
    ]
    found = [
        f
        for f in scan_keyed_tones(
            np.round(0.4 * 32767 * np.concatenate(symbols) / 2).astype(np.int16), RATE
        ).report()
    ]
    assert [f.code for f in found] == ["signal.modem", "signal.modem_payload"]
    assert found[1].evidence["signature"] == "elf"
    assert found[1].evidence["signature_offset"] == 0


def test_joined_converts_a_stretch_of_the_tail_and_block_as_the_whole_would_be() -> None:
    rng = np.random.default_rng(16)
    tail = rng.integers(-65536, 65536, 300).astype(np.int32)
    level = rng.integers(-65536, 65536, 1000).astype(np.int32)
    whole = np.concatenate((tail, level)).astype(np.float32)
    for lo, hi in ((0, 10), (0, 300), (250, 300), (250, 700), (300, 1300), (900, 1400), (0, 1300)):
        got = _joined(tail, level, lo, hi)
        assert got.dtype == np.float32 and np.array_equal(got, whole[lo:hi]), (lo, hi)
    # the first block: an empty float32 tail
    empty = np.zeros(0, dtype=np.float32)
    assert np.array_equal(_joined(empty, level, 5, 50), level[5:50].astype(np.float32))
