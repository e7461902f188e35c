"""The envelope's symbol-rate line (audiomodel.cyclic): PSK/QAM/baseband made here with numpy."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.cyclic import conversion_shifts
from audiomodel.modem import ModemScanner, scan_modem
from audiomodel.validator import validate_path

RATE = 48000


def _shaped_symbols(
    symbols: npt.NDArray[np.complex128], baud: float, rng: np.random.Generator
) -> npt.NDArray[np.complex128]:
    """Symbols at ``baud`` through a Hann pulse one symbol long: the band stays narrow and the
    power dips between symbols, as a shaped modem's does."""
    per = RATE / baud
    size = int(symbols.size * per) + int(4 * per)
    out = np.zeros(size, dtype=np.complex128)
    pulse = np.hanning(int(per))
    for i, s in enumerate(symbols):
        at = round(i * per)
        out[at : at + pulse.size] += s * pulse
    return out


def _psk(
    baud: float, carrier: float, order: int, seconds: float, seed: int
) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    phases = rng.integers(0, order, int(seconds * baud)) * 2 * np.pi / order
    base = _shaped_symbols(np.exp(1j * phases), baud, rng)
    t = np.arange(base.size) / RATE
    return np.real(base * np.exp(2j * np.pi * carrier * t))


def _qam16(baud: float, carrier: float, seconds: float, seed: int) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    levels = np.array([-3, -1, 1, 3])
    n = int(seconds * baud)
    symbols = levels[rng.integers(0, 4, n)] + 1j * levels[rng.integers(0, 4, n)]
    base = _shaped_symbols(symbols.astype(np.complex128), baud, rng)
    t = np.arange(base.size) / RATE
    return np.real(base * np.exp(2j * np.pi * carrier * t))


def _findings(y: npt.NDArray[np.float64]) -> list[dict[str, object]]:
    y = 0.5 * y / np.max(np.abs(y))
    report = scan_modem((y * 32767).astype(np.int16), RATE)
    return [dict(f.evidence) for f in report.findings if f.code == "signal.modem"]


def _chords(seconds: float, seed: int) -> npt.NDArray[np.float64]:
    """Piano-like chords: harmonic notes with decaying partials and vibrato, a new chord every
    half second."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros(t.size)
    step = RATE // 2
    for at in range(0, t.size, step):
        for _ in range(3):
            f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
            tt = t[: t.size - at]
            vibrato = 1 + 0.004 * np.sin(2 * np.pi * 5.5 * tt)
            for k in range(1, 8):
                out[at:] += np.sin(2 * np.pi * k * f0 * vibrato * tt) * np.exp(-tt * (1 + k)) / k
    return out


@pytest.mark.parametrize(
    ("name", "signal", "baud"),
    [
        ("QPSK 1200 Bd", lambda: _psk(1200, 1800, 4, 8.0, 1), 1200),
        ("16-QAM 2400 Bd", lambda: _qam16(2400, 3000, 8.0, 3), 2400),
        ("8PSK 1600 Bd", lambda: _psk(1600, 1800, 8, 8.0, 2), 1600),
    ],
)
def test_psk_and_qam_are_found_by_their_symbol_rate(name: str, signal, baud: float) -> None:  # type: ignore[no-untyped-def]
    found = _findings(signal())
    rates = [f["baud"] for f in found if f.get("modulation") == "cyclostationary"]
    assert rates, name
    assert abs(float(rates[0]) - baud) <= 0.005 * baud  # type: ignore[arg-type]


def test_8psk_six_db_under_chords_is_found() -> None:
    """Hann one-symbol pulses are read by the light reading (8,192 samples, every fourth chunk and the next):
    found at -6 dB under chords (whole-chunk readings, twice the cost, found -10 dB)."""
    chords = _chords(10.0, 4)
    modem = _psk(1600, 1800, 8, 8.0, 5)
    pad = np.zeros(chords.size)
    pad[RATE : RATE + modem.size] = modem[: chords.size - RATE]
    gain = np.sqrt(np.mean(chords**2) / np.mean(modem**2)) * 10 ** (-6 / 20)
    found = _findings(chords + gain * pad)
    assert any(f.get("modulation") == "cyclostationary" for f in found)


@pytest.mark.parametrize("seed", [6, 7])
def test_chords_with_vibrato_and_a_steady_drum_loop_are_not_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    chords = _chords(10.0, seed)
    step = int(RATE * 60 / 128 / 4)  # sixteenths at 128 BPM, one identical hit each
    hit = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    loop = np.zeros(chords.size + hit.size)
    for at in range(0, chords.size, step):
        loop[at : at + hit.size] += hit
    assert _findings(chords + 0.3 * loop[: chords.size]) == []


@pytest.mark.skipif(shutil.which("gen_packets") is None, reason="direwolf's gen_packets absent")
def test_direwolf_qpsk_packets_are_found(tmp_path: Path) -> None:
    data = Path("/usr/bin/env").read_bytes()[:3000]
    lines = [f"N0CALL>APRS:{data[i : i + 100].hex()}" for i in range(0, len(data), 100)]
    (tmp_path / "p.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "qpsk.wav"
    subprocess.run(
        [
            "gen_packets",
            "-B",
            "2400",
            "-j",
            "-r",
            str(RATE),
            "-o",
            str(out),
            str(tmp_path / "p.txt"),
        ],
        check=True,
        capture_output=True,
    )
    y, _ = sf.read(out, dtype="float64")
    found = _findings(y[: 10 * RATE])
    assert any(
        f.get("modulation") == "cyclostationary" and abs(float(f["baud"]) - 1200) < 6  # type: ignore[arg-type]
        for f in found
    )


def _clipped_sweep_converted(tmp_path: Path, rate: int) -> Path:
    """A triangle sweep made at 48 kHz (sox's generator), driven 7.7 dB into hard clipping,
    converted to ``rate`` by sox and stored at 16 bits (the conversion's overshoots clip again):
    a converter chain's clipped master."""
    source, out = tmp_path / "clipped.wav", tmp_path / f"converted-{rate}.wav"
    synth = ["sox", "-R", "-n", "-r", "48000", "-e", "floating-point", "-b", "32", str(source)]
    subprocess.run(
        [*synth, "synth", "9.42", "triangle", "100:20000", "gain", "-n", "-2.9", "gain", "7.7"],
        check=True,
        capture_output=True,
    )
    y, _ = sf.read(source, dtype="float64")
    sf.write(source, np.clip(y, -1.0, 1.0), 48000, subtype="FLOAT")
    subprocess.run(
        [
            "sox",
            "-R",
            str(source),
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(out),
            "rate",
            "-v",
            str(rate),
        ],
        check=True,
        capture_output=True,
    )
    return out


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox absent")
def test_a_clipped_sweep_converted_from_48_to_44_1_khz_is_not_data(tmp_path: Path) -> None:
    """Clipped at 48 kHz and again at 44.1 kHz, every component has a companion 3,900 Hz away
    (48,000 - 44,100): the envelope's line at 3,900 Bd (349x at d270aee) is the conversion's."""
    path = _clipped_sweep_converted(tmp_path, 44100)
    y, _ = sf.read(path, dtype="int16")
    scanner = ModemScanner(44100, 1)
    scanner.update(y)
    unclipped = [f for f in scanner.report().findings if f.code == "signal.modem"]
    assert any(abs(float(f.evidence["baud"]) - 3900) < 8 for f in unclipped)
    verdict = validate_path(path)
    assert "signal.clipping" in {f.code for f in verdict.findings}
    assert not [f for f in verdict.findings if f.code == "signal.modem"]


def test_conversion_shifts_are_the_down_conversions_of_standard_rates() -> None:
    assert conversion_shifts(44100) == (3900.0, 7800.0)
    assert conversion_shifts(48000) == (7800.0,)  # from 44.1 kHz is a conversion up: none
    assert 1200.0 not in conversion_shifts(8000) and 2400.0 not in conversion_shifts(8000)


@pytest.mark.parametrize(("baud", "clipped"), [(3900.0, False), (2400.0, True)])
def test_a_modem_in_a_clipped_file_or_at_a_conversion_rate_is_still_found(
    baud: float, clipped: bool
) -> None:
    """The exception holds only for a clipped file's conversion rates: 16-QAM at 3,900 Bd
    unclipped, and at 2,400 Bd clipped, are still reported."""
    rate = 44100
    rng = np.random.default_rng(int(baud))
    levels = np.array([-3, -1, 1, 3])
    n = int(8.0 * baud)
    symbols = levels[rng.integers(0, 4, n)] + 1j * levels[rng.integers(0, 4, n)]
    per = rate / baud
    base = np.zeros(int(n * per) + int(4 * per), dtype=np.complex128)
    pulse = np.hanning(int(per))
    for i, s in enumerate(symbols):
        base[round(i * per) : round(i * per) + pulse.size] += s * pulse
    t = np.arange(base.size) / rate
    y = np.real(base * np.exp(2j * np.pi * 5000 * t))
    y = (0.5 * y / np.max(np.abs(y)) * 32767).astype(np.int16)
    scanner = ModemScanner(rate, 1)
    scanner.update(y)
    found = [f for f in scanner.report(clipped=clipped).findings if f.code == "signal.modem"]
    assert any(abs(float(f.evidence["baud"]) - baud) <= 0.005 * baud for f in found)
