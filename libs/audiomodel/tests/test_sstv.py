"""Pictures sent as sound (audiomodel.sstv): slow-scan TV lines with sync pulses, an AM
subcarrier's picture lines (APT), against sirens, vibrato and sequenced notes that are not."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from audiomodel.findings import CODES
from audiomodel.sstv import SstvScanner, scan_sstv

RATE = 11025
Floats = npt.NDArray[np.float64]
SCALE = 20000.0  # 16-bit counts


def tone(freqs: Floats, rate: int = RATE) -> Floats:
    """One phase-continuous sine following ``freqs`` (a value per sample)."""
    return SCALE * np.sin(2 * np.pi * np.cumsum(freqs) / rate)


def sstv_lines(lines: int, line_s: float, sync_s: float, seed: int, rate: int = RATE) -> Floats:
    """A scan of random bytes: each line a 1200 Hz sync, then pixels at 1500-2300 Hz."""
    rng = np.random.default_rng(seed)
    n, s = round(line_s * rate), round(sync_s * rate)
    pixels = 256
    out = []
    for _ in range(lines):
        values = rng.integers(0, 256, pixels)
        image = 1500 + 800 / 255 * np.repeat(values, -(-(n - s) // pixels))[: n - s]
        out.append(np.concatenate([np.full(s, 1200.0), image]))
    return np.concatenate(out)


def test_bytes_scanned_as_sstv_lines_are_read() -> None:
    freqs = sstv_lines(80, 0.2, 0.006, seed=1)
    readings = scan_sstv(tone(freqs), RATE)
    assert [r.modulation for r in readings] == ["sstv"]
    assert abs(readings[0].period_s - 0.2) < 0.001
    assert readings[0].lines >= 70 and abs(readings[0].sync_ms - 6) < 2


def test_a_mostly_blank_picture_is_still_read_by_its_written_lines() -> None:
    freqs = sstv_lines(90, 0.15, 0.009, seed=2)
    n = round(0.15 * RATE)
    blank = np.arange(freqs.size) >= 25 * n  # lines 25 on: black with their syncs
    freqs = np.where(blank & (freqs > 1300), 1500.0, freqs)
    readings = scan_sstv(tone(freqs) + np.random.default_rng(3).normal(0, 200, freqs.size), RATE)
    assert [r.modulation for r in readings] == ["sstv"]


def test_a_picture_on_an_am_subcarrier_is_read() -> None:
    rng = np.random.default_rng(4)
    words = 2080  # NOAA APT: 4160 words/s, 2 lines/s, each line two channels of 909 words
    line = []
    for i in range(60):
        wedge = np.full(45, i // 8 / 8)  # telemetry: a wedge a few lines long
        sync_a = np.concatenate(
            [np.full(4, 0.05), np.tile([0.95, 0.95, 0.05, 0.05], 7), [0.05] * 7]
        )
        sync_b = np.concatenate([np.tile([0.95, 0.95, 0.95, 0.05, 0.05], 7), [0.05] * 4])
        # channel A's space is black, B's white; the pictures here are random bytes
        a = np.concatenate([sync_a, np.full(47, 0.05), rng.random(909), wedge])
        b = np.concatenate([sync_b, np.full(47, 0.95), rng.random(909), wedge])
        line.append(np.concatenate([a, b]))
    env = np.concatenate(line)
    t = np.arange(round(env.size / (2 * words) * RATE)) / RATE
    level = np.interp(t * 2 * words, np.arange(env.size), env)
    x = SCALE * (0.15 + 0.85 * level) * np.sin(2 * np.pi * 2400 * t)
    readings = scan_sstv(x, RATE)
    assert [r.modulation for r in readings] == ["apt"]
    assert abs(readings[0].period_s - 0.5) < 0.003


def test_sirens_vibrato_and_sequenced_notes_are_not_pictures() -> None:
    t = np.arange(30 * RATE) / RATE
    rng = np.random.default_rng(5)
    cases = {
        "yelp": 900 + 800 * ((t * 4.0) % 1.0),
        "phaser": 1200 + 900 * ((t * 11.0) % 1.0),
        "vibrato": 1900 + 400 * np.sin(2 * np.pi * 7 * t),
        # a steady tone dipping to 1200 Hz for 20 ms every 0.3 s: a sync with no picture
        "dip": np.where((t % 0.3) < 0.02, 1200.0, 1900 + 300 * np.sin(2 * np.pi * t / 0.3)),
        "arpeggio": np.repeat(np.tile([1318.5, 1568.0, 2093.0, 1661.0], 200), round(0.06 * RATE))[
            : t.size
        ],
        "notes": np.repeat(1000 * 2 ** (rng.integers(0, 14, 60) / 12), round(0.5 * RATE))[: t.size],
    }
    for name, freqs in cases.items():
        assert scan_sstv(tone(freqs), RATE) == [], name


def test_music_is_not_tracked_and_the_finding_is_a_modem() -> None:
    rng = np.random.default_rng(6)
    x = np.convolve(rng.normal(0, 3000, 20 * RATE), np.ones(4) / 4, mode="same")
    scanner = SstvScanner(RATE)
    for i in range(0, x.size, 4096):
        scanner.update(x[i : i + 4096])
    assert scanner.report() == [] and scanner.tracked_s == 0.0
    found = SstvScanner(RATE)
    found.update(tone(sstv_lines(80, 0.2, 0.006, seed=7)))
    (report,) = found.report()
    assert report.code == "signal.modem" and report.code in CODES
    assert report.evidence["modulation"] == "sstv"
    assert abs(float(report.evidence["line_ms"]) - 200.0) < 0.5
