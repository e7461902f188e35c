"""Judge one track: container facts, the decoded signal, the low bits, and the learned score.

The single entry point for every caller (CLI, classify service, Ray actors, batch job):
:func:`validate_stream` over a seekable binary stream, with :func:`validate_bytes` and
:func:`validate_path` as conveniences. Nothing here raises on bad input: every failure becomes
a finding, and limits fail closed (a file over a limit is rejected, never accepted unseen).
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import soundfile as sf
from soundfile import _ffi as sf_ffi
from soundfile import _snd as sf_lib
from threadpoolctl import ThreadpoolController

from audiomodel.adpcm import IMA, AdpcmScanner
from audiomodel.block_codes import MAX_CODE_BYTES, ms_adpcm_findings
from audiomodel.codec_draws import OpusDraws
from audiomodel.companded import COMPANDED_SUBTYPES, CodeScanner
from audiomodel.container import ContainerReport, inspect_container
from audiomodel.crossings import TapeScanner
from audiomodel.dtmf import DtmfScanner
from audiomodel.envelope_draws import GSM_RATE, EnvelopeDraws
from audiomodel.findings import EvidenceValue, Finding, Severity, finding
from audiomodel.fingerprint import Fingerprinter, Landmarks
from audiomodel.held_grid import HeldGridScanner
from audiomodel.mfsk import MfskScanner
from audiomodel.model import TreeEnsembleModel, load_default_model
from audiomodel.modem import ModemScanner
from audiomodel.morse import MorseScanner
from audiomodel.ofdm import OfdmScanner
from audiomodel.quiet_codes import QuietCodesScanner, SideChannelScanner
from audiomodel.readers import Wired, feed, reports, wire
from audiomodel.rounded_curves import RoundedCurves
from audiomodel.sample_kernels import render_int16
from audiomodel.signal import (
    TONAL_LINE_SHARE,
    SignalAnalyzer,
    SignalReport,
    channel_sum,
    to_int16,
)
from audiomodel.sstv import SstvScanner
from audiomodel.stego import LsbAnalyzer, StegoReport
from audiomodel.stego.twins import twin_scanner
from audiomodel.tone_track import ToneTrackScanner
from audiomodel.verdict import Thresholds, Verdict, decide
from audiomodel.watermarks import WatermarkScanner
from audiomodel.windows import ByteMap

__all__ = [
    "Limits",
    "TrackAnalysis",
    "analyse_stream",
    "validate_bytes",
    "validate_path",
    "validate_stream",
    "verdict_from_findings",
]

DECODABLE_FORMATS = frozenset({"wav", "flac", "ogg", "mp3", "aiff"})
# Frames decoded and measured at a time: every measure is streamed and does not depend on where
# blocks end, and half a million frames of one or two channels (1-4 MB a copy) keeps the
# per-block calls few (the analyzers' fixed cost a block, ~10 % of the non-modem stages on
# 3-minute songs at 2**18; FINDINGS "Songs' per-block costs"). More channels: WIDE_BLOCK_FRAMES.
BLOCK_FRAMES = 1 << 19
WIDE_BLOCK_FRAMES = 1 << 18
# Below this many samples (all channels) the signal statistics are too noisy to score; the
# container decides. ~12 ms of 44.1 kHz stereo: data files are often tiny, so score early.
MIN_SCORED_SAMPLES = 1024
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one validation may cost. Exceeding any of them rejects the file (fail closed)."""

    max_bytes: int = 2 * 1024**3
    max_duration_s: float = 4 * 3600.0
    time_budget_s: float = 300.0
    max_metadata_bytes: int = 1 << 20


@dataclass
class TrackAnalysis:
    """Everything the validator measured about one track (the verdict is built from it)."""

    size: int
    sha256: str
    container: ContainerReport | None = None
    signal: SignalReport | None = None
    stego: StegoReport | None = None
    # Landmarks from the same decode pass, when asked for (``fingerprint=True``).
    fingerprint: Landmarks | None = None
    findings: list[Finding] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    # CPU milliseconds per stage (hash, container, decode, signal, windows, modem, stego, ...),
    # filled only when :func:`analyse_stream` is asked to ``profile`` (bench/validate_speed.py).
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def features(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.signal is not None:
            out.update(self.signal.features)
        if self.stego is not None:
            out.update({f"stego_{k}": v for k, v in self.stego.features.items()})
        return out


class _Budget:
    """The per-file time budget, started before hashing: it covers the hash, the container
    walk, decoding and the reports."""

    def __init__(self, seconds: float) -> None:
        self.started = time.perf_counter()
        self.deadline = self.started + seconds
        self.seconds = seconds

    def exceeded(self) -> bool:
        return time.perf_counter() > self.deadline

    def finding(self, stage: str, **evidence: EvidenceValue) -> Finding:
        return finding(
            "limit.time_budget_exceeded",
            f"Analysis took longer than the {self.seconds:g} s budget ({stage}).",
            budget_s=self.seconds,
            stage=stage,
            elapsed_s=round(time.perf_counter() - self.started, 3),
            **evidence,
        )


class _Stopwatch:
    """CPU time per stage: each :meth:`lap` charges the CPU time since the previous lap to the
    stage named (``process_time``: on a shared machine, the waits for a core are nobody's)."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.last = time.process_time()

    def lap(self, stage: str) -> None:
        now = time.process_time()
        self.into[stage] = self.into.get(stage, 0.0) + (now - self.last) * 1e3
        self.last = now


def _no_lap(stage: str) -> None:
    """The lap of an unprofiled analysis: nothing is measured."""


class _Overlay(io.RawIOBase):
    """A read-only view of a seekable stream with some byte ranges replaced (what the container
    walk found, laid over what a header claims), for the decoder."""

    def __init__(self, stream: BinaryIO, patches: Sequence[tuple[int, bytes]]) -> None:
        self.stream = stream
        self.patches = list(patches)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = self.stream.seek(offset, whence)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        self.stream.seek(self.pos)
        data = self.stream.read(len(view))
        start, n = self.pos, len(data)
        if n and self.patches:
            out = bytearray(data)
            for at, patch in self.patches:
                lo, hi = max(at, start), min(at + len(patch), start + n)
                if lo < hi:
                    out[lo - start : hi - start] = patch[lo - at : hi - at]
            data = bytes(out)
        view[:n] = data
        self.pos += n
        return n


def _sha256(stream: BinaryIO) -> str:
    """The stream's SHA-256: bytes in memory hashed where they lie, a file read into one
    reused buffer (a fresh 1 MiB ``read`` per chunk costs a new mapping and its page faults)."""
    digest = hashlib.sha256()
    stream.seek(0)
    getbuffer = getattr(stream, "getbuffer", None)
    readinto = getattr(stream, "readinto", None)
    if getbuffer is not None:
        with getbuffer() as whole:
            digest.update(whole)
    elif readinto is not None:
        buffer = memoryview(bytearray(HASH_BLOCK))
        while n := readinto(buffer):
            digest.update(buffer[:n])
    else:
        while chunk := stream.read(HASH_BLOCK):
            digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _stream_size(stream: BinaryIO) -> int:
    position = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return position


def analyse_stream(
    stream: BinaryIO,
    *,
    name: str | None = None,
    limits: Limits | None = None,
    fingerprint: bool = False,
    profile: bool = False,
) -> TrackAnalysis:
    """Measure a track: container walk, streamed decode with signal and LSB analysis.

    With ``fingerprint``, the decoded blocks also feed a :class:`Fingerprinter` (no second
    decode) and ``analysis.fingerprint`` holds the track's landmarks. With ``profile``,
    ``analysis.cpu_ms`` holds the CPU time of each stage.
    """
    limits = limits or Limits()
    started = time.perf_counter()
    cpu_ms: dict[str, float] = {}
    lap = _Stopwatch(cpu_ms).lap if profile else _no_lap
    budget = _Budget(limits.time_budget_s)
    size = _stream_size(stream)
    analysis = TrackAnalysis(size=size, sha256=_sha256(stream), cpu_ms=cpu_ms)
    analysis.timings_ms["hash"] = (time.perf_counter() - started) * 1e3
    lap("hash")
    if budget.exceeded():
        analysis.findings.append(budget.finding("hashing"))
        return analysis
    if size > limits.max_bytes:
        analysis.findings.append(
            finding(
                "limit.size_exceeded",
                f"The file is {size} bytes, over the {limits.max_bytes}-byte limit; it is rejected unseen.",
                size=size,
                limit=limits.max_bytes,
            )
        )
        return analysis

    mark = time.perf_counter()
    container = inspect_container(
        stream,
        size=size,
        name=name,
        max_metadata_bytes=limits.max_metadata_bytes,
        deadline=budget.deadline,
    )
    analysis.container = container
    analysis.findings.extend(container.findings)
    analysis.timings_ms["container"] = (time.perf_counter() - mark) * 1e3
    lap("container")
    if container.format not in DECODABLE_FORMATS:
        return analysis
    if budget.exceeded():
        if not any(f.code == "limit.time_budget_exceeded" for f in container.findings):
            analysis.findings.append(budget.finding("container walk"))
        return analysis
    walked = container.walked_frames
    if walked and container.sample_rate and walked / container.sample_rate > limits.max_duration_s:
        # The walk counted what is really there: no need to decode hours to learn it.
        analysis.findings.append(
            _duration_finding(walked / container.sample_rate, limits, "container walk")
        )
        return analysis

    mark = time.perf_counter()
    source: BinaryIO = stream
    if container.decode_patches:
        source = io.BufferedReader(_Overlay(stream, container.decode_patches))
    # Small per-block BLAS calls are slower across threads than on one; callers run tracks in
    # parallel processes instead.
    with _thread_pools().limit(limits=1, user_api="blas"):
        _decode_and_measure(source, analysis, limits, budget, fingerprint=fingerprint, lap=lap)
    analysis.timings_ms["decode_and_signal"] = (time.perf_counter() - mark) * 1e3
    _settle_truncation(analysis)
    lap("findings")
    analysis.timings_ms["analysis"] = (time.perf_counter() - started) * 1e3
    return analysis


@cache
def _thread_pools() -> ThreadpoolController:
    """The process' thread pools, found once: ``threadpool_limits`` looks every loaded library
    up again on each use (~1 ms a track; BLAS is loaded with numpy, before any track)."""
    return ThreadpoolController()


def _decode_and_measure(
    stream: BinaryIO,
    analysis: TrackAnalysis,
    limits: Limits,
    budget: _Budget,
    *,
    fingerprint: bool = False,
    lap: Callable[[str], None] = _no_lap,
) -> None:
    stream.seek(0)
    try:
        with _open_sound(stream) as audio:
            rate, channels, frames = audio.samplerate, audio.channels, audio.frames
            if rate <= 0 or channels <= 0 or channels > 64:
                raise sf.LibsndfileError(
                    0, f"absurd stream parameters: {rate} Hz, {channels} channels"
                )
            declared = frames / rate if 0 < frames < 2**62 else 0.0
            if declared > limits.max_duration_s:
                analysis.findings.append(_duration_finding(declared, limits, "header"))
                return
            subtype = audio.subtype
            lap("decode")  # opening the decoder; each analyzer's set-up is its own stage's
            signal = SignalAnalyzer(
                sample_rate=rate,
                channels=channels,
                bits_per_sample=_STORED_BITS.get(subtype),
                byte_map=_byte_map(analysis.container, channels),
                lap=lap,
                transform_coded=subtype in _TRANSFORM_CODED,
                stored_finer=subtype in _FINER_THAN_16,
            )
            lap("signal")
            # The readers fed block by block (audiomodel.readers), in the order of their findings.
            adpcm = _adpcm_scanner(subtype, rate, analysis.container, channels)
            readers: list[Wired] = [
                # bytes stored as companded or ADPCM codes (audiomodel.companded, .adpcm)
                *wire(
                    "signal",
                    "samples",
                    _code_scanner(subtype, rate, analysis.container, channels),
                    adpcm,
                ),
                # ... held as steps through a lossy codec (.held_grid); keyed echoes, spreading
                # codes (.watermarks)
                *wire(
                    "signal",
                    "summed",
                    HeldGridScanner(rate, byte_map=_byte_map(analysis.container, channels)),
                    WatermarkScanner(rate),
                ),
                # ... given as Opus packets (.codec_draws)
                *wire("signal", "stored", OpusDraws(rate) if subtype == "OPUS" else None),
                # ... and as GSM 06.10 frames, at GSM's one rate (.envelope_draws)
                *wire("signal", "summed", EnvelopeDraws() if rate == GSM_RATE else None),
            ]
            lap("signal")
            stego = _stego_analyzer(subtype, channels)
            lap("stego")
            modem = ModemScanner(rate, channels)  # data sent as sound (audiomodel.modem)
            readers += wire(
                "modem",
                "summed",
                DtmfScanner(rate),  # ... and as DTMF digits (audiomodel.dtmf)
                MorseScanner(rate),  # ... and as Morse code (audiomodel.morse)
                OfdmScanner(rate),  # ... and as OFDM with a cyclic prefix (audiomodel.ofdm)
                ToneTrackScanner(rate),  # ... and as one tone's frequency (.tone_track)
                SstvScanner(rate),  # ... and as a picture's lines on one carrier (.sstv)
                # ... and as slow narrow-spaced MFSK (.mfsk; it keeps the blocks it is given)
                MfskScanner(rate),
                TapeScanner(rate),  # ... and as zero-crossing timing (audiomodel.crossings)
            )
            lap("modem")
            # a payload in the side channel or in quiet passages (audiomodel.quiet_codes)
            readers += wire("quiet", "stored", *_quiet_scanners(subtype, rate, channels))
            readers += wire("quiet", "stored", twin_scanner(_STORED_BITS.get(subtype), channels))
            lap("quiet")
            rounded = RoundedCurves(channels)  # test tones rounded without dither (.rounded_curves)
            readers += wire("stego", "stored", rounded)
            prints = Fingerprinter(rate) if fingerprint else None
            lap("fingerprint" if fingerprint else "decode")
            decoded = 0
            for samples, stored in _blocks(audio, subtype):
                lap("decode")
                # The mono level, shared by its readers: a fresh array each block (readers
                # such as audiomodel.mfsk keep references to the blocks they are fed).
                summed = channel_sum(samples)
                signal.update(
                    samples, stored if subtype in _FLOAT_SUBTYPES else None, summed=summed
                )
                if stored is not None and subtype in _FINER_THAN_16:
                    signal.update_stored(stored)
                lap("signal")
                modem.update(samples, summed=summed)
                lap("modem")
                feed(readers, samples, summed, stored, lap)
                if prints is not None:
                    prints.update(samples)
                    lap("fingerprint")
                if stego is not None and stored is not None:
                    stego.update(stored)
                    lap("stego")
                decoded += samples.shape[0]
                if decoded / rate > limits.max_duration_s:
                    analysis.findings.append(_duration_finding(decoded / rate, limits, "decoding"))
                    return
                if budget.exceeded():
                    analysis.findings.append(
                        budget.finding("decoding", decoded_s=round(decoded / rate, 3))
                    )
                    return
            error = sf_lib.sf_error(audio._file)
            if error and (decoded == 0 or not _cut_short(analysis)):
                message = sf_ffi.string(sf_lib.sf_strerror(audio._file)).decode("utf-8", "replace")
                raise sf.LibsndfileError(error, f"after {decoded} frames: {message}")
            lap("decode")
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError, EOFError) as err:
        analysis.findings.append(
            finding(
                "container.undecodable",
                f"The audio could not be decoded: {err}.",
                error=str(err)[:300],
            )
        )
        return
    analysis.signal = signal.report()
    lap("signal")
    if prints is not None:
        mark = time.perf_counter()
        analysis.fingerprint = prints.finish()
        analysis.timings_ms["fingerprint_finish"] = (time.perf_counter() - mark) * 1e3
        lap("fingerprint")
    if analysis.signal.frames == 0:
        analysis.findings.append(
            finding("container.undecodable", "The container holds no audio frames.", frames=0)
        )
        return
    analysis.findings.extend(analysis.signal.findings)
    analysis.findings.extend(reports(readers, "signal", lap))
    coded = analysis.container.coded if analysis.container is not None else None
    if subtype == "MS_ADPCM" and coded is not None:
        # bytes written as MS ADPCM codes, read from the file (audiomodel.block_codes)
        stream.seek(coded.data_offset)
        raw = stream.read(min(coded.data_size, MAX_CODE_BYTES))
        analysis.findings.extend(ms_adpcm_findings(raw, coded))
    lap("signal")
    # -- data sent as sound: demodulation stops at the time budget's deadline --------------
    mark = time.perf_counter()
    clipped = any(f.code == "signal.clipping" for f in analysis.signal.findings)
    analysis.findings.extend(modem.report(deadline=budget.deadline, clipped=clipped).findings)
    analysis.findings.extend(reports(readers, "modem", lap))
    analysis.timings_ms["modem"] = (time.perf_counter() - mark) * 1e3
    analysis.findings.extend(reports(readers, "quiet", lap))
    if stego is not None:
        counts = signal.value_counts if stego.wants_value_counts else None
        analysis.stego = stego.report(value_counts=counts)
        stego_findings = analysis.stego.findings
        if adpcm is not None and adpcm.decoder_output:
            stego_findings = [_adpcm_low_bits(f) for f in stego_findings]
        analysis.findings.extend(stego_findings)
        lap("stego")
    analysis.findings[:] = rounded.explain(analysis.findings)
    if budget.exceeded():
        analysis.findings.append(budget.finding("reports"))


def _open_sound(stream: BinaryIO) -> sf.SoundFile:
    """libsndfile over ``stream``: on its file descriptor when it is a file (libsndfile then
    reads it itself, rather than calling back into Python for every 8 KiB it reads), else
    through the stream's methods. A file it cannot open is opened again through the methods,
    so the failure reads as it always did."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return sf.SoundFile(stream)
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        return sf.SoundFile(fd, closefd=False)
    except sf.LibsndfileError:
        stream.seek(0)
        return sf.SoundFile(stream)


def _duration_finding(seconds: float, limits: Limits, measured_by: str) -> Finding:
    return finding(
        "limit.duration_exceeded",
        f"The audio lasts {seconds:.0f} s, over the {limits.max_duration_s:.0f} s limit "
        f"(measured by the {measured_by}).",
        duration_s=round(seconds, 3),
        limit_s=limits.max_duration_s,
        measured_by=measured_by,
    )


def _cut_short(analysis: TrackAnalysis) -> bool:
    """Whether the container walk found the file cut short inside a structure (an upload that
    stopped), so a decoder that runs out of bytes is no surprise."""
    return any(f.code == "container.truncated" and f.evidence.get("cut") for f in analysis.findings)


def _settle_truncation(analysis: TrackAnalysis) -> None:
    """Decide what a truncated file weighs: a broken upload is not an attack.

    ``container.truncated`` drops to INFO when every truncation the walk found is a cut (the
    file ends inside a frame, page or chunk, and the enclosing sizes agree it was longer),
    audio decoded from what is there (so it is judged like any track, by its other findings
    and its score), and no more is missing than arrived. It stays SUSPICIOUS (review) when a
    size claims whole structures that never come (a lie, not a cut), when nothing decodes, or
    when more than half of the file is missing: too little to judge the track that was meant,
    and the shape of a size field inflated to make readers allocate or wait. A truncated file
    that does not decode at all is held for review rather than rejected as undecodable.
    """
    # Truncations the walk already judged harmless (a cut last MPEG frame, an Ogg stream
    # without its end page) stay as they are and do not weigh on the others.
    truncations = [
        f
        for f in analysis.findings
        if f.code == "container.truncated" and f.severity > Severity.INFO
    ]
    if not truncations:
        return
    cut = all(f.evidence.get("cut") is True for f in truncations)
    missing = max(_int(f.evidence.get("missing_bytes"), analysis.size + 1) for f in truncations)
    decoded = analysis.signal is not None and analysis.signal.frames > 0
    broken_upload = cut and decoded and missing <= analysis.size
    settled: list[Finding] = []
    for f in analysis.findings:
        if f.code == "container.truncated" and f.severity != Severity.INFO:
            severity = Severity.INFO if broken_upload else Severity.SUSPICIOUS
            f = replace(
                f, severity=severity, evidence={**f.evidence, "broken_upload": broken_upload}
            )
        elif f.code == "container.undecodable" and cut and f.severity > Severity.SUSPICIOUS:
            f = replace(f, severity=Severity.SUSPICIOUS, evidence={**f.evidence, "cut_short": True})
        settled.append(f)
    analysis.findings[:] = settled


def _int(value: EvidenceValue | None, default: int) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _byte_map(container: ContainerReport | None, channels: int) -> ByteMap | None:
    """Frame -> file offset for uncompressed PCM (WAV/AIFF); None for coded audio."""
    pcm = container.pcm if container is not None else None
    if pcm is None or pcm.channels != channels:
        return None
    frame_bytes = pcm.block_align or channels * ((pcm.bits_per_sample + 7) // 8)
    return ByteMap(offset=pcm.data_offset, frame_bytes=frame_bytes) if frame_bytes > 0 else None


def _code_scanner(
    subtype: str, rate: int, container: ContainerReport | None, channels: int
) -> CodeScanner | None:
    """The reader of bytes stored as companded codes (:mod:`audiomodel.companded`): for a
    mu-law/A-law file (one byte per code per channel from where the audio starts), and for
    16-bit PCM, whose values may be codes expanded to their lattice; None for anything else."""
    if subtype in COMPANDED_SUBTYPES:
        start = container.audio_start if container is not None else None
        byte_map = None if start is None else ByteMap(offset=start, frame_bytes=channels)
        return CodeScanner(subtype, rate, byte_map)
    if subtype == "PCM_16":
        return CodeScanner(subtype, rate, _byte_map(container, channels))
    return None


def _adpcm_scanner(
    subtype: str, rate: int, container: ContainerReport | None, channels: int
) -> AdpcmScanner | None:
    """The reader of bytes stored as IMA or OKI ADPCM codes (:mod:`audiomodel.adpcm`): for an
    IMA ADPCM file (its decoded samples) and for 16-bit PCM, which may be such a file (or a
    .vox) converted; None for anything else (no other decoder's samples are all 16-bit values
    it made)."""
    if subtype == "IMA_ADPCM":
        return AdpcmScanner(rate, None, (IMA,))
    if subtype == "PCM_16":
        return AdpcmScanner(rate, _byte_map(container, channels))
    return None


def _adpcm_low_bits(found: Finding) -> Finding:
    """A low-bit sign of a track that is an IMA ADPCM decoder's output throughout, noted only:
    its low bits are the decoder's step arithmetic (which no recording's noise resembles), and
    any bit written after the decoder would leave the moves it allows (the track would not fit
    it). What its codes carry is judged by :mod:`audiomodel.adpcm`."""
    if found.severity <= Severity.INFO:
        return found
    return replace(
        found, severity=Severity.INFO, evidence={**found.evidence, "adpcm_decoder_output": True}
    )


_FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
_STORED_BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
# Sources whose stored values are finer than the 16-bit rendering the signal is measured on.
_FINER_THAN_16 = _FLOAT_SUBTYPES | {"PCM_24", "PCM_32"}
# Codecs that store quantised spectra (subbands, MDCT), whose decoders synthesise every sample.
_TRANSFORM_CODED = frozenset({"MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III", "VORBIS", "OPUS"})


def _quiet_scanners(
    subtype: str, rate: int, channels: int
) -> tuple[QuietCodesScanner | SideChannelScanner, ...]:
    """A payload in the side channel or in quiet passages: lossless integer PCM only."""
    bits = _STORED_BITS.get(subtype)
    if bits is None:
        return ()
    quiet = QuietCodesScanner(rate, bits)
    return (quiet, SideChannelScanner(rate, bits)) if channels == 2 else (quiet,)


def _stego_analyzer(subtype: str, channels: int) -> LsbAnalyzer | None:
    """LSB analysis applies to lossless integer PCM only (lossy decoding rewrites low bits)."""
    bits = _STORED_BITS.get(subtype)
    if not bits:
        return None
    # 16-bit values are exactly what the signal analyzer histograms: the report borrows its
    # histogram rather than counting every sample twice.
    return LsbAnalyzer(bits_per_sample=bits, channels=channels, count_values=bits != 16)


def _blocks(
    audio: sf.SoundFile, subtype: str
) -> Iterator[tuple[npt.NDArray[np.int16], npt.NDArray[Any] | None]]:
    """Yield (16-bit samples for the signal, stored values or None) blocks, (frames, channels).

    Integer PCM is read as integers (exact low bits for steganalysis); everything else
    (float, 8-bit, lossy) is decoded to float and rendered to 16 bits. For float files the
    stored values are the decoded floats (values no audio has are data: see ``windows.py``), and
    for Opus too (levels over full scale are not sound: see ``codec_draws.py``).
    """
    if subtype == "PCM_16":
        for ints in _decoded(audio, "int16"):
            yield ints, ints
    elif subtype in ("PCM_24", "PCM_32"):
        for wide in _decoded(audio, "int32"):
            yield to_int16(wide), wide
    elif subtype in ("PCM_U8", "PCM_S8"):
        # libsndfile reads 8-bit s as s / 128 exactly: x 32768 gives s << 8, the stored value
        # left-justified in 16 bits (the same as to_int16 renders for the signal).
        rendered = np.empty((_block_frames(audio.channels), audio.channels), dtype=np.int16)
        for floats in _decoded(audio, "float32"):
            ints = _render(floats, rendered)
            yield ints, ints
    else:
        # The decoded floats of an Opus stream are kept unclipped for audiomodel.codec_draws.
        keep = subtype in _FLOAT_SUBTYPES or subtype == "OPUS"
        rendered = np.empty((_block_frames(audio.channels), audio.channels), dtype=np.int16)
        for floats in _decoded(audio, "float32"):
            yield _render(floats, rendered), floats if keep else None


def _render(
    floats: npt.NDArray[np.float32], buffer: npt.NDArray[np.int16]
) -> npt.NDArray[np.int16]:
    """``to_int16(floats)``, written into the start of ``buffer`` (one buffer refilled block
    after block, as the decoded floats are: see ``_decoded``)."""
    out = buffer[: floats.shape[0]]
    render_int16(floats.reshape(-1), out.reshape(-1))
    return out


def _decoded(audio: sf.SoundFile, dtype: str) -> Iterator[npt.NDArray[Any]]:
    """Blocks of up to ``_block_frames`` frames, until the decoder delivers no more.

    Not ``SoundFile.blocks``: it counts on the header's frame count and yields whole blocks
    even when the decoder delivered fewer frames, leaving the rest of the block as it found the
    memory. A truncated MP3 (its Xing header still counts every frame) then gave the validator
    up to half a file of stale memory, different on every run (values up to 1e35 measured).
    Nor ``read``: after a short read it seeks to where it thinks the decoder is, which fails
    (``psf_fseek``) when a header promised more frames than there are (a FLAC cut short, or
    one whose STREAMINFO count is laid over as unknown), losing the frames just decoded. The
    decoder is called directly; its count is what was decoded, and errors are checked by the
    caller.

    One buffer is refilled block after block (a fresh one per block costs its page faults):
    each block is measured before the next is read, and every analyzer copies what it keeps.
    """
    read, ctype = _READERS[dtype]
    frames = _block_frames(audio.channels)
    block = np.empty((frames, audio.channels), dtype=dtype)
    into = sf_ffi.cast(ctype, block.ctypes.data)
    while True:
        n = read(audio._file, into, frames)
        if n <= 0:
            return
        yield block[:n]


def _block_frames(channels: int) -> int:
    """Frames a block holds: ``BLOCK_FRAMES`` for one or two channels, fewer for more (a
    block's copies stay a few MB)."""
    return BLOCK_FRAMES if channels <= 2 else WIDE_BLOCK_FRAMES


_READERS: dict[str, tuple[Any, str]] = {
    "int16": (sf_lib.sf_readf_short, "short *"),
    "int32": (sf_lib.sf_readf_int, "int *"),
    "float32": (sf_lib.sf_readf_float, "float *"),
}


# A level shape a recording can have: mastering sets the crest factor, the silence ratio and
# the share of samples at full scale (limiters and hard clips bring any master to 0-3 dB, a
# sine has 3 dB; a hard clip drives its peaks to the rails; a quiet master is "mostly silent"
# against the absolute -60 dBFS), so none is evidence of data by itself.
# The clip ratio is only lowered, to one sample in a thousand at full scale (the peaks of a loud
# master that is not clipped), and only in a tonal track (see TONAL_LINE_SHARE).
LEVEL_SHAPE_OF_SOUND = {"crest_db": 10.0, "silence_ratio": 0.0, "clip_ratio": 0.001}
# A tonal track (signal.TONAL_LINE_SHARE) keeps its power in a few partials however hard it is
# limited or clipped, so its full-scale samples are mastering; in white, broadband bytes they
# are the file's own bytes (0x00 and 0xFF at the rails of an offset encoding), and stay as
# evidence. (Bytes that look tonal, one-sided text or XOR with a short key, keep their score
# by their sign of bytes, which is checked first.)
# What the model's score is held to when it rests on the level's shape alone: under review.
UNCORROBORATED_CAP = 0.5


def _corroborated_score(score: float, analysis: TrackAnalysis, model: TreeEnsembleModel) -> float:
    """The model's score, or at most ``UNCORROBORATED_CAP`` when it rests on the level's shape.

    The score stands when (a) the model still calls the samples data with a recording's level
    shape put in place of their own (a crest factor of at least 10 dB, no silence, and for a
    tonal track at most one sample in a thousand at full scale), or (b) the
    samples carry a sign of bytes that does not depend on the level's shape
    (:meth:`audiomodel.signal.SignalAnalyzer.data_signs`), or (c) another finding already
    holds the track. Otherwise a test tone, a sweep, a limited or clipped master or a quiet
    room scored high only for its crest factor and silence, which mastering sets.
    """
    review = model.thresholds.review
    signal = analysis.signal
    if score < review or signal is None:
        return score
    if signal.square_wave:
        # Two values in a steady period: a signal generator's square wave carries nothing but
        # its frequency and level (bits sent as polarity are broadband and not one).
        return min(score, UNCORROBORATED_CAP)
    if signal.data_signs:
        return score
    if any(f.severity >= Severity.SUSPICIOUS for f in analysis.findings):
        return score
    features = dict(analysis.features)
    features["crest_db"] = max(features.get("crest_db", 0.0), LEVEL_SHAPE_OF_SOUND["crest_db"])
    features["silence_ratio"] = LEVEL_SHAPE_OF_SOUND["silence_ratio"]
    if features.get("peak_ratio_median", 0.0) >= TONAL_LINE_SHARE:
        features["clip_ratio"] = min(
            features.get("clip_ratio", 0.0), LEVEL_SHAPE_OF_SOUND["clip_ratio"]
        )
    if model.score(features) >= review:
        return score
    return min(score, UNCORROBORATED_CAP)


def verdict_from_analysis(analysis: TrackAnalysis, model: TreeEnsembleModel) -> Verdict:
    """Combine the hard findings with the learned score into the verdict."""
    findings = list(analysis.findings)
    score: float | None = None
    signal = analysis.signal
    silent = any(f.code == "signal.silence" for f in findings)
    if signal is not None and signal.frames * signal.channels >= MIN_SCORED_SAMPLES and not silent:
        raw = model.score(analysis.features)
        drivers = model.explain(analysis.features)
        score = _corroborated_score(raw, analysis, model)
        evidence: dict[str, EvidenceValue] = {"score": round(score, 4)}
        if score != raw:
            evidence["level_shape_only"] = round(raw, 4)
        evidence.update(
            {f"driver_{i + 1}": f"{name} ({c:+.2f})" for i, (name, c) in enumerate(drivers)}
        )
        if score >= model.thresholds.review:
            severity = (
                Severity.MALICIOUS if score >= model.thresholds.reject else Severity.SUSPICIOUS
            )
            findings.append(
                finding(
                    "signal.data_as_audio",
                    f"The samples look like data rather than sound (score {score:.2f}; driven by {drivers[0][0]}).",
                    severity,
                    **evidence,
                )
            )
        findings.append(finding("model.score", f"Learned score {score:.3f}.", **evidence))
    elif signal is not None and not silent:
        findings.append(
            finding(
                "signal.too_short",
                f"{signal.duration_s * 1000:.0f} ms of audio is too short to score; judged on the container.",
                duration_s=round(signal.duration_s, 4),
            )
        )
    decision, label, final = decide(findings, score, model.thresholds)
    findings.sort(key=lambda f: -f.severity)
    fmt = analysis.container.format if analysis.container else "unknown"
    return Verdict(
        decision=decision,
        label=label,
        score=final,
        findings=tuple(findings),
        model_version=model.version,
        format=fmt,
        size_bytes=analysis.size,
        sha256=analysis.sha256,
        timings_ms=analysis.timings_ms,
        duration_s=signal.duration_s if signal is not None else 0.0,
        fingerprint=analysis.fingerprint,
    )


def validate_stream(
    stream: BinaryIO,
    *,
    name: str | None = None,
    model: TreeEnsembleModel | None = None,
    limits: Limits | None = None,
    fingerprint: bool = False,
) -> Verdict:
    """Judge the track in a seekable binary stream; with ``fingerprint``, ``verdict.fingerprint``
    holds its landmarks (None when nothing decoded)."""
    started = time.perf_counter()
    model = model or load_default_model()
    analysis = analyse_stream(stream, name=name, limits=limits, fingerprint=fingerprint)
    analysis.timings_ms["total"] = (time.perf_counter() - started) * 1e3
    return verdict_from_analysis(analysis, model)


def validate_bytes(
    data: bytes,
    *,
    name: str | None = None,
    model: TreeEnsembleModel | None = None,
    limits: Limits | None = None,
    fingerprint: bool = False,
) -> Verdict:
    """Judge a track held in memory."""
    return validate_stream(
        io.BytesIO(data), name=name, model=model, limits=limits, fingerprint=fingerprint
    )


def validate_path(
    path: Path,
    *,
    model: TreeEnsembleModel | None = None,
    limits: Limits | None = None,
    fingerprint: bool = False,
) -> Verdict:
    """Judge a file; a file that cannot be read still gets a (rejecting) verdict."""
    model = model or load_default_model()
    try:
        with path.open("rb") as stream:
            return validate_stream(
                stream, name=path.name, model=model, limits=limits, fingerprint=fingerprint
            )
    except OSError as err:
        problem = finding(
            "input.unreadable",
            f"The file could not be read: {err.strerror or err}.",
            error=type(err).__name__,
        )
        return verdict_from_findings([problem], model.version)


def verdict_from_findings(
    findings: Sequence[Finding], model_version: str, content: bytes | bytearray | None = None
) -> Verdict:
    """The verdict for input nothing could be measured in (unreadable, or the validator itself
    failed): the findings alone decide, as :func:`decide` says. ``content``, when there is
    some, gives the size and hash."""
    decision, label, score = decide(findings, None, Thresholds())
    return Verdict(
        decision=decision,
        label=label,
        score=score,
        findings=tuple(findings),
        model_version=model_version,
        format="unknown",
        size_bytes=len(content) if content is not None else 0,
        sha256=hashlib.sha256(content).hexdigest() if content is not None else "",
    )
