"""Judge one track: container facts, the decoded signal, the low bits, and the learned score.

The single entry point for every caller (CLI, classify service, Ray actors, batch job):
:func:`validate_stream` over a seekable binary stream, with :func:`validate_bytes` and
:func:`validate_path` as conveniences. Nothing here raises on bad input: every failure becomes
a finding, and limits fail closed (a file over a limit is rejected, never accepted unseen).
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import soundfile as sf
from threadpoolctl import threadpool_limits

from audiomodel.container import ContainerReport, inspect_container
from audiomodel.findings import EvidenceValue, Finding, Severity, finding
from audiomodel.model import TreeEnsembleModel, load_default_model
from audiomodel.signal import SignalAnalyzer, SignalReport, to_int16
from audiomodel.stego import LsbAnalyzer, StegoReport
from audiomodel.verdict import Thresholds, Verdict, decide

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
BLOCK_FRAMES = 65536
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
    findings: list[Finding] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def features(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.signal is not None:
            out.update(self.signal.features)
        if self.stego is not None:
            out.update({f"stego_{k}": v for k, v in self.stego.features.items()})
        return out


class _Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.perf_counter() + seconds
        self.seconds = seconds

    def exceeded(self) -> bool:
        return time.perf_counter() > self.deadline


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(HASH_BLOCK):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _stream_size(stream: BinaryIO) -> int:
    position = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return position


def analyse_stream(
    stream: BinaryIO, *, name: str | None = None, limits: Limits | None = None
) -> TrackAnalysis:
    """Measure a track: container walk, streamed decode with signal and LSB analysis."""
    limits = limits or Limits()
    started = time.perf_counter()
    budget = _Budget(limits.time_budget_s)
    size = _stream_size(stream)
    analysis = TrackAnalysis(size=size, sha256=_sha256(stream))
    analysis.timings_ms["hash"] = (time.perf_counter() - started) * 1e3
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
        stream, size=size, name=name, max_metadata_bytes=limits.max_metadata_bytes
    )
    analysis.container = container
    analysis.findings.extend(container.findings)
    analysis.timings_ms["container"] = (time.perf_counter() - mark) * 1e3
    if container.format not in DECODABLE_FORMATS:
        return analysis

    mark = time.perf_counter()
    # Small per-block BLAS calls are slower across threads than on one; callers run tracks in
    # parallel processes instead.
    with threadpool_limits(limits=1, user_api="blas"):
        _decode_and_measure(stream, analysis, limits, budget)
    analysis.timings_ms["decode_and_signal"] = (time.perf_counter() - mark) * 1e3
    analysis.timings_ms["analysis"] = (time.perf_counter() - started) * 1e3
    return analysis


def _decode_and_measure(
    stream: BinaryIO, analysis: TrackAnalysis, limits: Limits, budget: _Budget
) -> None:
    stream.seek(0)
    try:
        with sf.SoundFile(stream) as audio:
            rate, channels, frames = audio.samplerate, audio.channels, audio.frames
            if rate <= 0 or channels <= 0 or channels > 64:
                raise sf.LibsndfileError(
                    0, f"absurd stream parameters: {rate} Hz, {channels} channels"
                )
            declared = frames / rate if 0 < frames < 2**62 else 0.0
            if declared > limits.max_duration_s:
                analysis.findings.append(_duration_finding(declared, limits))
                return
            subtype = audio.subtype
            signal = SignalAnalyzer(
                sample_rate=rate, channels=channels, bits_per_sample=_STORED_BITS.get(subtype)
            )
            stego = _stego_analyzer(subtype, channels)
            decoded = 0
            for samples, stored in _blocks(audio, subtype):
                signal.update(samples)
                if stego is not None and stored is not None:
                    stego.update(stored)
                decoded += samples.shape[0]
                if decoded / rate > limits.max_duration_s:
                    analysis.findings.append(_duration_finding(decoded / rate, limits))
                    return
                if budget.exceeded():
                    analysis.findings.append(
                        finding(
                            "limit.time_budget_exceeded",
                            f"Analysis took longer than the {budget.seconds:g} s budget.",
                            budget_s=budget.seconds,
                            decoded_s=round(decoded / rate, 3),
                        )
                    )
                    return
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
    if analysis.signal.frames == 0:
        analysis.findings.append(
            finding("container.undecodable", "The container holds no audio frames.", frames=0)
        )
        return
    analysis.findings.extend(analysis.signal.findings)
    if stego is not None:
        counts = signal.value_counts if stego.wants_value_counts else None
        analysis.stego = stego.report(value_counts=counts)
        analysis.findings.extend(analysis.stego.findings)


def _duration_finding(seconds: float, limits: Limits) -> Finding:
    return finding(
        "limit.duration_exceeded",
        f"The audio lasts {seconds:.0f} s, over the {limits.max_duration_s:.0f} s limit.",
        duration_s=round(seconds, 3),
        limit_s=limits.max_duration_s,
    )


_STORED_BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


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
) -> Iterator[tuple[npt.NDArray[np.int16], npt.NDArray[np.integer] | None]]:
    """Yield (16-bit samples for the signal, stored integers or None) blocks, (frames, channels).

    Integer PCM is read as integers (exact low bits for steganalysis); everything else
    (float, 8-bit, lossy) is decoded to float and rendered to 16 bits.
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
        for floats in _decoded(audio, "float32"):
            ints = to_int16(floats)
            yield ints, ints
    else:
        for floats in _decoded(audio, "float32"):
            yield to_int16(floats), None


def _decoded(audio: sf.SoundFile, dtype: str) -> Iterator[npt.NDArray[Any]]:
    """Blocks of up to ``BLOCK_FRAMES`` frames, until the decoder delivers no more.

    Not ``SoundFile.blocks``: it counts on the header's frame count and yields whole blocks
    even when the decoder delivered fewer frames, leaving the rest of the block as it found the
    memory. A truncated MP3 (its Xing header still counts every frame) then gave the validator
    up to half a file of stale memory, different on every run (values up to 1e35 measured).
    ``read`` returns only what was decoded.
    """
    while True:
        block = audio.read(BLOCK_FRAMES, dtype=dtype, always_2d=True)
        if block.shape[0] == 0:
            return
        yield block


def verdict_from_analysis(analysis: TrackAnalysis, model: TreeEnsembleModel) -> Verdict:
    """Combine the hard findings with the learned score into the verdict."""
    findings = list(analysis.findings)
    score: float | None = None
    signal = analysis.signal
    silent = any(f.code == "signal.silence" for f in findings)
    if signal is not None and signal.frames * signal.channels >= MIN_SCORED_SAMPLES and not silent:
        score = model.score(analysis.features)
        drivers = model.explain(analysis.features)
        evidence: dict[str, EvidenceValue] = {"score": round(score, 4)}
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
    )


def validate_stream(
    stream: BinaryIO,
    *,
    name: str | None = None,
    model: TreeEnsembleModel | None = None,
    limits: Limits | None = None,
) -> Verdict:
    """Judge the track in a seekable binary stream."""
    started = time.perf_counter()
    model = model or load_default_model()
    analysis = analyse_stream(stream, name=name, limits=limits)
    analysis.timings_ms["total"] = (time.perf_counter() - started) * 1e3
    return verdict_from_analysis(analysis, model)


def validate_bytes(
    data: bytes,
    *,
    name: str | None = None,
    model: TreeEnsembleModel | None = None,
    limits: Limits | None = None,
) -> Verdict:
    """Judge a track held in memory."""
    return validate_stream(io.BytesIO(data), name=name, model=model, limits=limits)


def validate_path(
    path: Path, *, model: TreeEnsembleModel | None = None, limits: Limits | None = None
) -> Verdict:
    """Judge a file; a file that cannot be read still gets a (rejecting) verdict."""
    model = model or load_default_model()
    try:
        with path.open("rb") as stream:
            return validate_stream(stream, name=path.name, model=model, limits=limits)
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
