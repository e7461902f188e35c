"""Data sent as DTMF digits (audiomodel.dtmf): a long run of varied digits is a 16-symbol modem
and its hex nibbles are carved; a dialled number, a keypad tune and speech are not."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audiomodel.dtmf import COLUMNS_HZ, HEX_ORDER, KEYPAD, ROWS_HZ, DtmfScanner
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

ELF_HEAD = bytes.fromhex("7f454c4602010100000000000000000003003e0001000000") + bytes(range(40))


def _digit_tone(digit: str, seconds: float, rate: int) -> npt.NDArray[np.float64]:
    index = KEYPAD.index(digit)
    t = np.arange(round(seconds * rate)) / rate
    low, high = ROWS_HZ[index // 4], COLUMNS_HZ[index % 4]
    return 0.35 * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))


def _dial(
    digits: str, rate: int, on_s: float = 0.05, off_s: float = 0.05
) -> npt.NDArray[np.float64]:
    pause = np.zeros(round(off_s * rate))
    return np.concatenate([part for d in digits for part in (_digit_tone(d, on_s, rate), pause)])


def _as_hex_digits(data: bytes) -> str:
    return "".join(HEX_ORDER[b >> 4] + HEX_ORDER[b & 15] for b in data)


def _wav(x: npt.NDArray[np.float64], rate: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def _runs(x: npt.NDArray[np.float64], rate: int) -> list[str]:
    scanner = DtmfScanner(rate)
    level = np.round(x * 32767).astype(np.int32)
    for start in range(0, level.size, 40_000):  # blocks that cut digits at arbitrary places
        scanner.update(level[start : start + 40_000])
    return [run.digits for run in scanner.runs()]


def test_an_executable_sent_as_dtmf_digits_is_rejected_with_its_header() -> None:
    rate = 44100
    x = _dial(_as_hex_digits(ELF_HEAD), rate)
    verdict = validate_bytes(_wav(x, rate), name="dtmf.wav")
    codes = {f.code for f in verdict.findings}
    assert {"signal.modem", "signal.modem_payload"} <= codes
    assert verdict.decision is Decision.REJECT
    payload = next(f for f in verdict.findings if f.code == "signal.modem_payload")
    assert payload.evidence["signature"] == "elf"
    assert payload.evidence["signature_offset"] == 0


def test_digits_at_q24s_shortest_timing_through_a_telephone_codec_are_all_read() -> None:
    # 8 kHz mu-law, 40 ms tones and 40 ms pauses; equal digits in a row are told apart
    rate = 8000
    rng = np.random.default_rng(7)
    digits = "".join(rng.choice(list(KEYPAD), size=96)) + "55" + "0000"
    x = _dial(digits, rate, on_s=0.04, off_s=0.04)
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), rate, format="WAV", subtype="ULAW")
    decoded, _ = sf.read(io.BytesIO(buf.getvalue()), dtype="float64")
    assert _runs(decoded, rate) == [digits]


def test_a_dialled_number_a_keypad_tune_and_a_voice_are_not_modems() -> None:
    rate = 16000
    rng = np.random.default_rng(3)
    number = _dial("0044207946000", rate, on_s=0.1, off_s=0.1)
    tune = _dial("159*159#2580" * 12, rate, on_s=0.08, off_s=0.04)  # a phrase played over and over
    # a voice-like sound: a pitched source with moving formants, never two clean DTMF tones
    t = np.arange(8 * rate) / rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    voice = sum(np.sin(2 * np.pi * np.cumsum(k * pitch) / rate) / k for k in range(1, 20)) * (
        1 + np.sin(2 * np.pi * 3 * t)
    )
    noise = 0.01 * rng.standard_normal(rate)
    x = np.concatenate([number, noise, tune, noise, 0.1 * voice])
    assert _runs(x, rate) == []
    verdict = validate_bytes(_wav(x, rate), name="prompt.wav")
    assert not any(f.evidence.get("modulation") == "DTMF" for f in verdict.findings)
