"""Data sent as sound by phase keying: BPSK and QPSK carriers are found by their phase (the
M-th power of the baseband is one line, the phase changes sit on a steady lattice); tones,
notes, chords and beats are not."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.findings import Finding
from audiomodel.modem import PSK_MIN_POWER_LINE, _line_share, detect_phase_keying, scan_modem
from audiomodel.validator import validate_bytes

RATE = 48000


def keyed(
    seconds: float, carrier: float, baud: float, order: int, *, shaped: bool = False, seed: int = 0
) -> npt.NDArray[np.float64]:
    """Random symbols phase-keyed onto a carrier: BPSK reverses the phase on a 1 (as PSK31 does),
    QPSK takes one of four phases per symbol; ``shaped`` blends neighbouring symbols with a
    raised cosine (PSK31: the amplitude dips to zero at each reversal)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    count = int(seconds * baud) + 2
    symbols = rng.integers(0, order, count)
    phase = np.cumsum(symbols) * np.pi if order == 2 else symbols * (np.pi / 2)
    points = np.exp(1j * phase)
    position = t * baud
    index = np.minimum(position.astype(np.int64), count - 2)
    if shaped:
        weight = 0.5 * (1 + np.cos(np.pi * (position - index)))
        base = points[index] * weight + points[index + 1] * (1 - weight)
    else:
        base = points[index]
    return 0.5 * np.real(base * np.exp(2j * np.pi * carrier * t))


def harmonic(f0: float, t: npt.NDArray[np.float64], partials: int = 9) -> npt.NDArray[np.float64]:
    return sum(
        (np.sin(2 * np.pi * f0 * h * t + h) / h**1.5 for h in range(1, partials + 1)),
        np.zeros_like(t),
    )


def chord(seconds: float) -> npt.NDArray[np.float64]:
    """A held G major triad of harmonic notes (slightly out of tune, as played)."""
    t = np.arange(int(seconds * RATE)) / RATE
    return harmonic(196.0, t) + harmonic(245.3, t) + harmonic(293.4, t)


def under_chord(signal: npt.NDArray[np.float64], level_db: float) -> npt.NDArray[np.float64]:
    bed = chord(signal.size / RATE)
    scale = np.sqrt(np.mean(bed**2) / np.mean(signal**2)) * 10 ** (level_db / 20)
    return bed + signal * scale


def as_int16(y: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.rint(0.9 * y / np.abs(y).max() * 32767).astype(np.int16)


def phase_findings(y: npt.NDArray[np.float64]) -> list[Finding]:
    return [
        f
        for f in scan_modem(as_int16(y), RATE).findings
        if f.code == "signal.modem" and "modulation" in f.evidence
    ]


# (modulation, order, baud, shaped, carrier Hz): 10 Bd needs ~12 s for 32 changes (random data
# reverses on half the symbols); PSK31 is BPSK at 31.25 Bd, shaped; 63 Bd is PSK63.
KEYINGS = [
    ("BPSK", 2, 10.0, False, 1000.0),
    ("BPSK", 2, 10.0, True, 1000.0),
    ("BPSK", 2, 31.25, False, 2500.0),
    ("BPSK", 2, 31.25, True, 1000.0),
    ("BPSK", 2, 63.0, False, 1200.0),
    ("BPSK", 2, 63.0, True, 800.0),
    ("QPSK", 4, 31.25, False, 1500.0),
]


@pytest.mark.parametrize("level_db", [None, -6.0], ids=["alone", "under-chord-6dB"])
@pytest.mark.parametrize(("modulation", "order", "baud", "shaped", "carrier"), KEYINGS)
def test_a_phase_keyed_carrier_is_reported_with_its_carrier_rate_and_order(
    modulation: str, order: int, baud: float, shaped: bool, carrier: float, level_db: float | None
) -> None:
    seconds = 12.0
    y = keyed(seconds, carrier, baud, order, shaped=shaped)
    if level_db is not None:
        y = under_chord(y, level_db)
    (found,) = phase_findings(y)
    ev = found.evidence
    assert ev["modulation"] == modulation
    assert ev["order"] == order
    assert abs(float(ev["carrier_hz"]) - carrier) < 5.0
    assert abs(float(ev["baud"]) - baud) < 0.03 * baud  # a steady lattice, within a few %
    assert int(ev["transitions"]) >= 32
    # the time range spans the transmission (it fills the clip)
    assert float(ev["start_s"]) < 1.0 and float(ev["end_s"]) > seconds - 3.5


@pytest.mark.parametrize("baud", [2.0, 5.0])
def test_slow_unshaped_bpsk_is_timed_over_neighbouring_chunks(baud: float) -> None:
    # a few changes a chunk (at 2 Bd, none in some: those chunks are a steady line and are
    # bridged): the lattice is timed over the changes of several chunks together; 80 s at 2 Bd
    # gives ~80 changes, 32+ of them in chunks that hold several (the pure-tone rule used to be
    # the only one to see this)
    seconds = 80.0
    (found,) = phase_findings(keyed(seconds, 1000.0, baud, 2, seed=3))
    assert found.evidence["modulation"] == "BPSK"
    assert abs(float(found.evidence["baud"]) - baud) < 0.03 * baud
    assert int(found.evidence["transitions"]) >= 32


def test_the_validator_reports_psk31_in_a_wav_as_a_modem() -> None:
    # the scanner's findings reach a verdict (the pure-tone rule no longer does this job)
    buf = io.BytesIO()
    sf.write(buf, as_int16(keyed(10.0, 1000.0, 31.25, 2, shaped=True)), RATE, format="WAV")
    verdict = validate_bytes(buf.getvalue())
    found = [f for f in verdict.findings if f.code == "signal.modem"]
    assert found and found[0].evidence["modulation"] == "BPSK"


def test_one_chunk_of_keying_gives_its_carrier_and_lattice() -> None:
    y = keyed(3.0, 1800.0, 31.25, 2, shaped=True)[::2]  # 24 kHz, the scanner's reduced rate
    found = detect_phase_keying(y, RATE / 2, offset_s=10.0)
    assert found is not None
    assert found.modulation == "BPSK"
    assert abs(found.carrier_hz - 1800.0) < 5.0 and abs(found.baud - 31.25) < 0.3
    assert 10.0 <= found.start_s < found.end_s <= 13.0


def test_a_short_burst_of_slow_keying_is_not_enough_changes() -> None:
    # 10 Bd for 5 s: ~25 changes, fewer than the 32 a report needs (a chance lattice of a few
    # changes is not evidence)
    assert not phase_findings(keyed(5.0, 1000.0, 10.0, 2))


# -- what is not phase keying -------------------------------------------------------------------

SECONDS = 12.0
T = np.arange(int(SECONDS * RATE)) / RATE


def test_a_steady_sine_is_one_line_not_keying() -> None:
    # its band holds one line already (the M-th power test needs a spread band)
    assert not phase_findings(np.sin(2 * np.pi * 1000.0 * T))


def test_a_vibrato_sine_glides_its_phase() -> None:
    # +-20 Hz at 5.5 Hz: the band spreads, but its square spreads further (no line)
    assert not phase_findings(
        np.sin(2 * np.pi * 1000.0 * T + 20 / 5.5 * np.sin(2 * np.pi * 5.5 * T))
    )


def test_a_sine_with_tremolo_keeps_its_line() -> None:
    # amplitude modulation leaves the carrier line in place: the band is one line
    assert not phase_findings(
        (1 + 0.8 * np.sin(2 * np.pi * 6.0 * T)) * np.sin(2 * np.pi * 1000.0 * T)
    )


def test_a_chord_is_lines_not_keying() -> None:
    # every partial is its own steady line
    assert not phase_findings(chord(SECONDS))


def test_a_sweep_is_not_keying() -> None:
    # no narrow line stays put: the gate turns it away
    assert not phase_findings(np.sin(2 * np.pi * (300.0 * T + 100.0 * T**2)))


def test_two_partials_beating_at_a_keying_rate_carry_nothing() -> None:
    # 31.25 Hz apart: the phase reverses at every beat, like PSK31's idle, but every run is one
    # symbol long (data has runs of one and of several symbols)
    assert not phase_findings(np.sin(2 * np.pi * 1000.0 * T) + np.sin(2 * np.pi * 1031.25 * T))


def test_harmonic_notes_with_note_changes_are_not_keying() -> None:
    # a melody of harmonic notes, changing on a steady beat (a pulse, but each note is a set of
    # steady lines, so no band's square is one line while the band is spread)
    rng = np.random.default_rng(4)
    out = np.zeros_like(T)
    step = 0.25
    for start in np.arange(0.0, SECONDS, step):
        f0 = 220.0 * 2 ** (int(rng.integers(0, 12)) / 12)
        i, j = int(start * RATE), int((start + step) * RATE)
        tt = T[i:j] - start
        out[i:j] = harmonic(f0, tt, 6) * np.exp(-tt * 3.0)
    assert not phase_findings(out)


@pytest.mark.parametrize("size", [992, 1000, 1984])
def test_the_line_check_on_a_padded_grid_never_drops_a_line_that_reaches_the_bar(
    size: int,
) -> None:
    """The coarse check pads to a fast length, never coarser than twice the stretch: a line at
    the bar anywhere between two points of the 4x grid (under noise) is still measured in full."""
    rng = np.random.default_rng(size)
    rate = 1000.0
    t = np.arange(size) / rate
    reached = 0
    for share in (0.55, 0.6, 0.65, 0.7):
        for offset in np.linspace(0.0, 1.0, 9):
            freq = (100 + offset) * rate / (4 * size)  # between two bins of the 4x grid
            noise = (rng.normal(size=size) + 1j * rng.normal(size=size)) / np.sqrt(2)
            w = np.sqrt(share) * np.exp(2j * np.pi * freq * t) + np.sqrt(1 - share) * noise
            full = _line_share(w, rate, 40.0)
            checked = _line_share(w, rate, 40.0, at_least=PSK_MIN_POWER_LINE)
            if full[0] >= PSK_MIN_POWER_LINE:
                reached += 1
                assert checked == full
            else:
                assert checked[0] < PSK_MIN_POWER_LINE
    assert reached >= 9
