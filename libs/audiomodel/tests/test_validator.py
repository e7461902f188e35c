"""The whole validator on small generated inputs: each threat class, limits, and garbage."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.findings import CODES
from audiomodel.fingerprint import Fingerprinter
from audiomodel.model import TreeEnsembleModel, load_default_model
from audiomodel.validator import (
    BLOCK_FRAMES,
    Limits,
    analyse_stream,
    validate_bytes,
    validate_path,
    verdict_from_analysis,
)
from audiomodel.verdict import Decision, Label, Severity
from audioval_corpus import threats

RATE = 44100
TESTS = Path(__file__).resolve().parent


def music(seconds: float = 4.0, seed: int = 3, channels: int = 2) -> npt.NDArray[np.int16]:
    """Plucked notes with harmonics over a quiet noise floor, as a stand-in for a recording."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for start in np.arange(0.0, seconds, 0.2):
        f0 = 98.0 * 2 ** (rng.integers(0, 30) / 12)
        idx = slice(int(start * RATE), n)
        tt = t[idx] - start
        env = np.exp(-tt * 5.0) * (1 - np.exp(-tt * 300.0))
        for h in range(1, 8):
            out[idx] += env * np.sin(2 * np.pi * f0 * h * tt + h) / h**1.3
    out = 0.25 * out / np.abs(out).max() + rng.normal(0, 2e-4, n)
    stereo = np.stack([out, 0.8 * np.roll(out, 7)], axis=1)[:, :channels]
    return np.clip(np.rint(stereo * 32767), -32768, 32767).astype(np.int16)


def wav(
    samples: npt.NDArray[np.int16], rate: int = RATE, fmt: str = "WAV", subtype: str = "PCM_16"
) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def codes(data: bytes, **kwargs: object) -> set[str]:
    return {f.code for f in validate_bytes(data, **kwargs).findings}  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def clean_wav() -> bytes:
    return wav(music())


def test_a_clean_recording_is_accepted_as_real(clean_wav: bytes) -> None:
    verdict = validate_bytes(clean_wav)
    assert verdict.decision is Decision.ACCEPT, verdict.to_dict()
    assert verdict.label is Label.REAL
    assert verdict.model_version == load_default_model().version
    assert verdict.format == "wav" and verdict.size_bytes == len(clean_wav)


@pytest.mark.parametrize("fmt", ["FLAC", "OGG"])
def test_clean_recordings_in_other_formats_are_accepted(fmt: str) -> None:
    subtype = "VORBIS" if fmt == "OGG" else "PCM_16"
    verdict = validate_bytes(wav(music(seed=5), fmt=fmt, subtype=subtype))
    assert verdict.decision is Decision.ACCEPT, verdict.to_dict()


def test_a_32_bit_recording_touching_negative_full_scale_is_decoded() -> None:
    # The most negative 32-bit value has no absolute value in 32 bits: it once made the quiet-value
    # histogram refuse the block, and a clipped recording came back `container.undecodable`.
    samples = music(seed=6).astype(np.int32) << 16
    samples[1000, 0] = np.iinfo(np.int32).min
    verdict = validate_bytes(wav(samples, subtype="PCM_32"))  # type: ignore[arg-type]
    assert "container.undecodable" not in {f.code for f in verdict.findings}, verdict.to_dict()
    assert verdict.decision is Decision.ACCEPT, verdict.to_dict()


def test_source_code_as_samples_is_rejected_as_data() -> None:
    source = (Path(threats.__file__).read_text() * 4)[: RATE * 3]
    verdict = validate_bytes(threats.text_as_pcm(source, sample_rate=22050))
    assert verdict.decision is Decision.REJECT, verdict.to_dict()
    assert "signal.data_as_audio" in {f.code for f in verdict.findings}


@pytest.mark.parametrize("encoding", ["u8", "s16", "s24"])
def test_random_bytes_as_samples_are_flagged(encoding: str) -> None:
    data = np.random.default_rng(7).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    verdict = validate_bytes(threats.bytes_as_pcm(data, encoding=encoding))  # type: ignore[arg-type]
    assert verdict.decision is not Decision.ACCEPT, verdict.to_dict()


@pytest.mark.parametrize("encoding", ["u8", "s16", "s24", "f32_from_s16"])
def test_an_executable_written_out_as_samples_is_rejected_by_its_header(encoding: str) -> None:
    payload = threats.make_payload("elf", 40_000)
    verdict = validate_bytes(threats.bytes_as_pcm(payload, encoding=encoding))  # type: ignore[arg-type]
    assert verdict.decision is Decision.REJECT, verdict.to_dict()
    found = {f.evidence.get("found") or f.evidence.get("payload_name") for f in verdict.findings}
    assert "elf" in found, verdict.to_dict()


def test_an_elf_appended_after_the_data_chunk_is_rejected_with_its_offset(clean_wav: bytes) -> None:
    payload = threats.make_payload("elf", 4096)
    verdict = validate_bytes(threats.append_payload(clean_wav, payload))
    assert verdict.decision is Decision.REJECT
    trailing = next(f for f in verdict.findings if f.code == "container.trailing_data")
    assert trailing.evidence["offset"] == len(clean_wav)
    assert "container.embedded_executable" in {f.code for f in verdict.findings}


def test_a_zip_hidden_in_the_low_bits_is_rejected(clean_wav: bytes) -> None:
    samples, _ = sf.read(io.BytesIO(clean_wav), dtype="int16", always_2d=True)
    from audioval_corpus.stego_embed import embed_lsb

    stego = embed_lsb(samples, threats.make_payload("zip", 20_000), bits=1, fraction=0.5)
    assert "stego.lsb_payload" in codes(wav(stego))


def test_an_encrypted_payload_with_a_length_header_in_a_short_crash_goes_to_review() -> None:
    """A one-second crash cymbal: too few samples for the statistics, and random payload bits
    carve to nothing, but the length the loader needs is there; a person looks at it."""
    from audioval_corpus.stego_embed import embed_lsb

    rng = np.random.default_rng(9)
    crash = (rng.normal(0, 5000, (44100, 2)) * np.exp(-np.arange(44100) / 20000)[:, None]).astype(
        np.int16
    )
    clean = validate_bytes(wav(crash))
    assert clean.decision is Decision.ACCEPT, clean.to_dict()
    payload = rng.bytes(6000)  # what encrypted data looks like
    verdict = validate_bytes(wav(embed_lsb(crash, payload, fraction=0.9, length_prefix=True)))
    assert verdict.decision is Decision.REVIEW, verdict.to_dict()
    header = next(f for f in verdict.findings if f.code == "stego.lsb_length_header")
    assert header.evidence["payload_bytes"] == 6000


def test_a_truncated_mp3_is_judged_on_the_frames_it_decodes() -> None:
    """A partial upload: the Xing header still counts every frame of the whole file. Only the
    frames the decoder delivers are analysed, never the rest of a block's buffer (stale memory
    that once made the verdict change from run to run)."""
    whole = wav(music(3.0), fmt="MP3", subtype="MPEG_LAYER_III")
    cut = whole[: len(whole) // 2]
    declared = sf.info(io.BytesIO(cut)).frames
    decodable = sf.read(io.BytesIO(cut), always_2d=True)[0].shape[0]
    assert decodable < 0.7 * declared  # the premise: the header promises more than is there
    analysis = analyse_stream(io.BytesIO(cut))
    assert analysis.signal is not None
    assert analysis.signal.frames == decodable
    assert validate_bytes(cut).to_dict()["findings"] == validate_bytes(cut).to_dict()["findings"]


def test_empty_input_is_rejected_with_a_reason() -> None:
    verdict = validate_bytes(b"")
    assert verdict.decision is Decision.REJECT and "input.empty" in {
        f.code for f in verdict.findings
    }


@pytest.mark.parametrize(
    "blob",
    [
        b"\x7fELF" + bytes(200),
        b"PK\x03\x04" + bytes(100),
        b"hello, world\n" * 10,
        bytes(range(256)) * 4,
    ],
)
def test_non_audio_bytes_are_rejected(blob: bytes) -> None:
    assert validate_bytes(blob).decision is Decision.REJECT


def test_a_recognised_but_corrupt_stream_is_undecodable() -> None:
    blob = b"fLaC" + b"\x00\x00\x00\x22" + bytes(34) + b"\xff\xf8" + bytes(64)
    verdict = validate_bytes(blob)
    assert verdict.decision is Decision.REJECT, verdict.to_dict()


def test_a_file_over_the_size_limit_is_rejected_unseen(clean_wav: bytes) -> None:
    verdict = validate_bytes(clean_wav, limits=Limits(max_bytes=1000))
    assert verdict.decision is Decision.REJECT
    assert [f.code for f in verdict.findings] == ["limit.size_exceeded"]


def test_audio_longer_than_the_duration_limit_is_rejected(clean_wav: bytes) -> None:
    assert "limit.duration_exceeded" in codes(clean_wav, limits=Limits(max_duration_s=1.0))


def test_a_header_promising_absurd_duration_is_rejected_before_decoding() -> None:
    lying = threats.lie_about_sizes(wav(music(seconds=0.5)), "data_oversized")
    verdict = validate_bytes(lying, limits=Limits(max_duration_s=0.6))
    assert verdict.decision is not Decision.ACCEPT


def test_running_out_of_time_fails_closed(clean_wav: bytes) -> None:
    verdict = validate_bytes(clean_wav, limits=Limits(time_budget_s=0.0))
    assert verdict.decision is Decision.REJECT
    assert "limit.time_budget_exceeded" in {f.code for f in verdict.findings}


def test_a_very_short_clip_is_judged_on_its_container() -> None:
    verdict = validate_bytes(wav(music(seconds=0.005)))
    assert "signal.too_short" in {f.code for f in verdict.findings}
    assert verdict.decision is Decision.ACCEPT


def test_an_unreadable_path_gets_a_rejecting_verdict(tmp_path: Path) -> None:
    verdict = validate_path(tmp_path / "missing.wav")
    assert verdict.decision is Decision.REJECT
    assert [f.code for f in verdict.findings] == ["input.unreadable"]
    # The same score and label as any other rejection on a malicious finding alone.
    empty = validate_bytes(b"")
    assert (verdict.label, verdict.score) == (empty.label, empty.score)


@pytest.mark.parametrize("kind", ["clean", "random_s24", "flac", "garbage"])
def test_a_file_decoded_from_its_descriptor_is_judged_as_its_bytes_are(
    kind: str, clean_wav: bytes, tmp_path: Path
) -> None:
    # validate_path hands libsndfile the file's descriptor; bytes in memory go through the
    # stream's methods. The same audio must give the same verdict either way.
    noise = np.random.default_rng(8).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    blob = {
        "clean": clean_wav,
        "random_s24": threats.bytes_as_pcm(noise, encoding="s24"),
        "flac": wav(music(3.0), fmt="FLAC"),
        "garbage": b"RIFF" + noise,
    }[kind]
    path = tmp_path / f"{kind}.wav"
    path.write_bytes(blob)
    from_path, from_bytes = validate_path(path), validate_bytes(blob, name=path.name)
    assert from_path.score == from_bytes.score
    assert [f.code for f in from_path.findings] == [f.code for f in from_bytes.findings]
    assert from_path.duration_s == from_bytes.duration_s


def test_the_sha256_is_of_the_bytes_judged(clean_wav: bytes) -> None:
    import hashlib

    assert validate_bytes(clean_wav).sha256 == hashlib.sha256(clean_wav).hexdigest()


class _ReadOnly:
    """A seekable stream with ``read`` alone (no ``readinto`` or ``getbuffer`` to lean on)."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self.inner.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()


def test_the_sha256_is_the_same_from_memory_a_file_and_a_read_only_stream(
    clean_wav: bytes, tmp_path: Path
) -> None:
    import hashlib

    from audiomodel.validator import _sha256

    path = tmp_path / "clean.wav"
    path.write_bytes(clean_wav * 3)  # ~2 MB: several hash blocks through the one buffer
    expected = hashlib.sha256(clean_wav * 3).hexdigest()
    with path.open("rb") as stream:
        assert _sha256(stream) == expected
        assert stream.tell() == 0  # left at the start for the container walk
    assert _sha256(io.BytesIO(clean_wav * 3)) == expected
    assert _sha256(_ReadOnly(clean_wav * 3)) == expected  # type: ignore[arg-type]


def test_a_profiled_analysis_charges_cpu_time_to_each_stage_and_a_plain_one_to_none(
    clean_wav: bytes,
) -> None:
    plain = analyse_stream(io.BytesIO(clean_wav))
    assert plain.cpu_ms == {}
    profiled = analyse_stream(io.BytesIO(clean_wav), profile=True)
    for stage in ("hash", "container", "decode", "signal", "windows", "modem", "quiet", "stego"):
        assert profiled.cpu_ms[stage] >= 0.0, stage
    assert sum(profiled.cpu_ms.values()) > 0.0
    # Profiling measures; it does not change what is measured.
    assert profiled.features == plain.features
    assert [f.code for f in profiled.findings] == [f.code for f in plain.findings]


def test_every_registered_code_is_exercised_by_some_test() -> None:
    root = TESTS.parent.parent.parent
    text = "\n".join(
        p.read_text() for p in root.glob("**/tests/test_*.py") if ".venv" not in p.parts
    )
    untested = [code for code in CODES if not re.search(re.escape(f'"{code}"'), text)]
    assert untested == []


def test_fingerprint_comes_from_the_validators_own_decode_pass() -> None:
    samples = music(seconds=12.0, seed=5)
    verdict = validate_bytes(wav(samples), fingerprint=True)
    assert verdict.decision is Decision.ACCEPT
    marks = verdict.fingerprint
    assert marks is not None and len(marks) > 5 * 12
    assert marks.duration_s == pytest.approx(12.0)
    # The same blocks fed to a Fingerprinter directly give the same landmarks.
    direct = Fingerprinter(RATE)
    for start in range(0, samples.shape[0], BLOCK_FRAMES):
        direct.update(samples[start : start + BLOCK_FRAMES])
    expected = direct.finish()
    np.testing.assert_allclose(marks.times, expected.times)
    np.testing.assert_allclose(marks.bands, expected.bands)
    # Not asked for: not computed, and never part of the verdict's JSON.
    assert validate_bytes(wav(samples)).fingerprint is None
    assert "fingerprint" not in verdict.to_dict()


def test_undecodable_input_has_no_fingerprint() -> None:
    assert validate_bytes(b"\x7fELF" + bytes(4000), fingerprint=True).fingerprint is None


def test_a_steady_test_tone_is_accepted_and_noted_as_a_pure_tone() -> None:
    """A signal generator's tone is real audio: noted, not held (FINDINGS.md)."""
    t = np.arange(5 * 48000) / 48000
    buf = io.BytesIO()
    sf.write(buf, 0.5 * np.sin(2 * np.pi * 1000 * t), 48000, format="WAV", subtype="PCM_16")
    verdict = validate_bytes(buf.getvalue(), name="tone.wav")
    assert "signal.pure_tone" in {f.code for f in verdict.findings}
    assert verdict.decision is Decision.ACCEPT and verdict.label is Label.REAL


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24"])
def test_a_digitally_silent_track_is_accepted_and_noted_but_a_lowest_bit_square_is_held(
    subtype: str,
) -> None:
    """One value carries nothing (a silent interlude is published as it is); two values in
    runs can carry bits in their lengths and no converter's noise makes them."""
    silent = io.BytesIO()
    sf.write(silent, np.zeros((3 * 16000, 2)), 16000, format="WAV", subtype=subtype)
    verdict = validate_bytes(silent.getvalue(), name="silent.wav")
    found = {f.code: f.severity for f in verdict.findings}
    assert found.get("signal.silence") is Severity.INFO, verdict.to_dict()
    assert verdict.decision is Decision.ACCEPT
    lowest_bit = -(np.arange(3 * 16000) // 40 % 2).astype(np.int16)
    square = validate_bytes(wav(lowest_bit, 16000), name="square.wav")
    assert {f.code: f.severity for f in square.findings}.get("signal.silence") is (
        Severity.SUSPICIOUS
    )
    assert square.decision is not Decision.ACCEPT


@pytest.mark.parametrize("subtype", ["PCM_24", "PCM_32", "FLOAT"])
def test_a_noise_floor_finer_than_16_bits_is_near_silence_but_a_wide_two_value_square_is_held(
    subtype: str,
) -> None:
    """A 24-bit, 32-bit or float track within one 16-bit step of zero (a quiet room through a
    24-bit converter, a fade's dithered tail) renders to the 16-bit codes -1 and 0 and would
    read as a square of the lowest bit; its stored values are a noise floor (StoredLevels).
    Two stored values in runs are still held, at any width."""
    rng = np.random.default_rng(5)
    offset = 0.3 if subtype == "FLOAT" else 0.0  # floats round: off-centre to reach two codes
    floor = (rng.normal(offset, 0.15, (3 * 48000, 1)) / 32768).clip(-1 / 32768, 0.99 / 32768)
    buf = io.BytesIO()
    sf.write(buf, floor, 48000, format="WAV", subtype=subtype)
    verdict = validate_bytes(buf.getvalue(), name="room.wav")
    silence = [f for f in verdict.findings if f.code == "signal.silence"]
    assert silence and silence[0].severity is Severity.INFO, verdict.to_dict()
    assert silence[0].evidence["distinct_values"] == 2  # the rendering alone is two codes
    assert verdict.decision is Decision.ACCEPT
    runs = -(np.arange(3 * 48000) // 40 % 2).reshape(-1, 1) / 32768  # 0 and -1 16-bit LSB
    square = io.BytesIO()
    sf.write(square, runs, 48000, format="WAV", subtype=subtype)
    held = validate_bytes(square.getvalue(), name="square.wav")
    assert {f.code: f.severity for f in held.findings}.get("signal.silence") is (
        Severity.SUSPICIOUS
    )
    assert held.decision is not Decision.ACCEPT


class _CrestModel:
    """A stand-in for the learned model that calls anything with a low crest factor data (as
    the real one does for limited sweeps), or everything data with ``always``."""

    version = "crest-stub"
    thresholds = load_default_model().thresholds

    def __init__(self, *, always: bool = False) -> None:
        self.always = always

    def score(self, features: Mapping[str, float]) -> float:
        return 1.0 if self.always or features["crest_db"] < 6.0 else 0.1

    def explain(self, features: Mapping[str, float], top: int = 3) -> list[tuple[str, float]]:
        return [("crest_db", 2.0)]


def _verdict_with(model: _CrestModel, samples: npt.NDArray[np.int16]) -> Decision:
    analysis = analyse_stream(io.BytesIO(wav(samples)))
    return verdict_from_analysis(analysis, cast(TreeEnsembleModel, model)).decision


def test_a_score_resting_on_the_crest_factor_alone_does_not_flag_a_limited_tone() -> None:
    t = np.arange(4 * RATE) / RATE
    limited = np.clip(1.5 * np.sin(2 * np.pi * 440.0 * t), -1, 1) * 0.7  # crest ~1 dB
    samples = np.rint(limited * 32767).astype(np.int16).reshape(-1, 1)
    assert _verdict_with(_CrestModel(), samples) is Decision.ACCEPT
    # The same score that does not rest on the level's shape still stands.
    assert _verdict_with(_CrestModel(always=True), samples) is Decision.REJECT


class _ClipModel(_CrestModel):
    """A stand-in that calls anything with many samples at full scale data (as the real model
    does for clipped sweeps and synth notes)."""

    def score(self, features: Mapping[str, float]) -> float:
        return 1.0 if features["clip_ratio"] > 0.003 else 0.1


def test_a_score_resting_on_the_clipped_peaks_of_a_tonal_sweep_does_not_flag_it() -> None:
    t = np.arange(4 * RATE) / RATE
    k = np.log(10000.0 / 100.0) / 4.0
    sweep = np.clip(2.0 * np.sin(2 * np.pi * 100.0 * (np.exp(k * t) - 1) / k), -1, 1)
    samples = np.rint(sweep * 32767).astype(np.int16).reshape(-1, 1)  # hard clip, +6 dB
    assert _verdict_with(_ClipModel(), samples) is Decision.ACCEPT


def test_a_score_resting_on_full_scale_samples_of_broadband_sound_still_stands() -> None:
    # Low-passed noise clipped at the rails: no partial holds its power, so the full-scale
    # samples are not put down to mastering a tone.
    rng = np.random.default_rng(21)
    noise = np.convolve(rng.normal(0, 1, 4 * RATE), np.ones(8) / 8, mode="same")
    clipped = np.clip(noise / noise.std() * 0.6, -1, 1)
    samples = np.rint(clipped * 32767).astype(np.int16).reshape(-1, 1)
    assert _verdict_with(_ClipModel(), samples) is Decision.REJECT


def test_a_score_on_bytes_with_a_skewed_low_byte_stands_whatever_the_crest_factor() -> None:
    alphabet = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/", np.uint8)
    raw = np.random.default_rng(7).choice(alphabet, 4 * RATE * 2)
    key = np.resize(np.frombuffer(b"\x8f\x13\xa2\x5c\x07\xe1\x90\x3b", np.uint8), raw.size)
    samples = (raw ^ key).view(np.int16).reshape(-1, 1)
    assert _verdict_with(_CrestModel(), samples) is Decision.REJECT


@pytest.mark.parametrize("half_period", [24, 54, 240])
def test_a_signal_generators_square_wave_is_accepted_though_a_model_calls_it_data(
    half_period: int,
) -> None:
    """Two values in a steady period carry a frequency and a level, nothing else: a score that
    calls them data (as a model that never saw square-wave chiptune or call tones did, for the
    0 dB crest factor and the line spectrum) is held under review."""
    square = np.where(np.arange(48000 * 11) // half_period % 2 == 0, 7087, -7087)
    data = wav(square.astype(np.int16), 48000)
    analysis = analyse_stream(io.BytesIO(data))
    model = cast(TreeEnsembleModel, _CrestModel(always=True))
    verdict = verdict_from_analysis(analysis, model)
    assert verdict.decision is Decision.ACCEPT, verdict.to_dict()
    assert validate_bytes(data).decision is Decision.ACCEPT


def test_bits_sent_as_the_polarity_of_a_square_are_still_flagged() -> None:
    """The same two values held for runs of whole bits: broadband, not a square wave, so a
    score that calls them data stands; the default model calls two levels sound (square-wave
    chiptune is), and the held levels' own finding keeps them from being accepted."""
    rng = np.random.default_rng(8)
    bits = np.repeat(rng.choice([7087, -7087], 48000 * 11 // 24), 24).astype(np.int16)
    data = wav(bits, 48000)
    analysis = analyse_stream(io.BytesIO(data))
    verdict = verdict_from_analysis(analysis, cast(TreeEnsembleModel, _CrestModel(always=True)))
    assert verdict.decision is not Decision.ACCEPT
    assert "signal.data_as_audio" in {f.code for f in verdict.findings}
    default = validate_bytes(data)
    assert default.decision is not Decision.ACCEPT
    assert "signal.synthetic" in {f.code for f in default.findings}
