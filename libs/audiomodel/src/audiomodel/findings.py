"""Findings: what the validator observed, with a stable code and the evidence behind it.

Every code the validator can emit is declared once in :data:`CODES`; ``FINDINGS.md`` in this
package's directory is the table for people and is checked against this registry by a test.
A code never changes meaning within an API version; new observations get new codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["CODES", "Finding", "Severity", "codes_table", "finding"]


class Severity(IntEnum):
    """How much one finding weighs; the decision is driven by the heaviest."""

    INFO = 1
    SUSPICIOUS = 2
    MALICIOUS = 3


EvidenceValue = int | float | str | bool


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation about a track."""

    code: str
    message: str
    severity: Severity
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form (the ``validate --format jsonl`` schema)."""
        return {
            "code": self.code,
            "message": self.message,
            "severity": self.severity.name.lower(),
            "evidence": dict(self.evidence),
        }


# code -> (default severity, what it means). The single source of truth for codes.
CODES: dict[str, tuple[Severity, str]] = {
    # -- the input itself ------------------------------------------------------------------
    "input.unreadable": (
        Severity.MALICIOUS,
        "The file could not be read (missing, permissions, I/O error).",
    ),
    "input.empty": (Severity.MALICIOUS, "The file has no bytes."),
    "limit.size_exceeded": (
        Severity.MALICIOUS,
        "The file is larger than the configured maximum; it is never accepted unseen.",
    ),
    "limit.duration_exceeded": (
        Severity.MALICIOUS,
        "The decoded duration exceeds the configured maximum.",
    ),
    "limit.time_budget_exceeded": (
        Severity.MALICIOUS,
        "Analysis did not finish within the per-file time budget.",
    ),
    "validator.failed": (
        Severity.SUSPICIOUS,
        "The validator's worker died or hung on this input twice; held for review, never accepted unseen.",
    ),
    # -- the container -------------------------------------------------------------------------
    "container.unknown_format": (
        Severity.MALICIOUS,
        "The bytes are not a supported audio container (sniffed by magic, never by extension).",
    ),
    "container.not_audio": (
        Severity.MALICIOUS,
        "The bytes are a known non-audio file type (executable, archive, document, script).",
    ),
    "container.undecodable": (
        Severity.MALICIOUS,
        "The container was recognised but its audio could not be decoded.",
    ),
    "container.truncated": (
        Severity.SUSPICIOUS,
        "A size field or frame promises more bytes than the file holds (how many are missing, "
        "and whether the file was cut inside a structure: a broken upload, judged by its own "
        "rule in FINDINGS.md).",
    ),
    "container.size_mismatch": (
        Severity.SUSPICIOUS,
        "A size field disagrees with the file's real layout.",
    ),
    "container.trailing_data": (Severity.SUSPICIOUS, "Bytes follow the end of the audio data."),
    "container.unknown_chunk": (
        Severity.INFO,
        "A chunk, block or frame type the format does not define.",
    ),
    "container.oversized_metadata": (
        Severity.SUSPICIOUS,
        "A metadata chunk, tag or picture is larger than any honest use needs.",
    ),
    "container.embedded_executable": (
        Severity.MALICIOUS,
        "An executable (ELF, PE, Mach-O, ...) is embedded in the file.",
    ),
    "container.embedded_archive": (
        Severity.MALICIOUS,
        "An archive or compressed stream is embedded in the file.",
    ),
    "container.embedded_script": (
        Severity.MALICIOUS,
        "A script or shell/PowerShell command is embedded in the file.",
    ),
    "container.embedded_data": (
        Severity.SUSPICIOUS,
        "High-entropy or structured non-audio data is embedded in the file.",
    ),
    "container.unaccounted_data": (
        Severity.SUSPICIOUS,
        "More bytes than vendors' private chunks take sit in structures of no known purpose "
        "(unknown chunks, LIST types, FLAC APPLICATION blocks, ID3 frames, APEv2 binary items, "
        "or the unparsed binary of known ones); encrypted or compressed bytes beyond that "
        "budget reject.",
    ),
    "container.extra_stream": (
        Severity.SUSPICIOUS,
        "A logical stream besides the one decoded (a second audio stream multiplexed or chained "
        "after the first, video, or a stream of no known codec): what it holds is not judged as "
        "audio.",
    ),
    "container.nonconforming_metadata": (
        Severity.SUSPICIOUS,
        "A tag frame, item or block holds more than, or other than, what its specification says "
        "it holds: a fixed-size field holding far more (a 4-byte PRIV AverageLevel holding "
        "kilobytes), a picture that does not parse as an image, bytes after the image's end.",
    ),
    "container.crc_mismatch": (
        Severity.SUSPICIOUS,
        "A page or frame checksum does not match its contents.",
    ),
    "container.nonconforming_stream": (
        Severity.MALICIOUS,
        "The codec's own bookkeeping in the audio frames is broken throughout: MPEG Layer III "
        "side information declaring more bits than the frames carry (bit-reservoir overruns and "
        "overlaps) in a large share of the frames, which no encoder writes; a file's bytes given "
        "frame headers, not encoded sound.",
    ),
    "container.extension_mismatch": (
        Severity.INFO,
        "The file name's extension names another format than the bytes are.",
    ),
    # -- the decoded signal --------------------------------------------------------------------
    "signal.data_as_audio": (
        Severity.MALICIOUS,
        "The samples look like data (text, code, binary, random bytes) rather than sound.",
    ),
    "signal.synthetic": (
        Severity.SUSPICIOUS,
        "The samples are a synthetic pattern (constant, ramp, square, byte pattern) with no sound.",
    ),
    "signal.silence": (
        Severity.SUSPICIOUS,
        "The track never leaves two codes of zero: noted as digital silence (one value) or a "
        "noise floor (three or more); held as a square of the lowest bit (two).",
    ),
    "signal.pure_tone": (
        Severity.INFO,
        "The track is a steady pure tone throughout (a test tone: noted, not held).",
    ),
    "signal.one_sided": (
        Severity.SUSPICIOUS,
        "The waveform never crosses zero over a second or more of sound, as samples written "
        "from text or many binaries do.",
    ),
    "signal.data_segment": (
        Severity.MALICIOUS,
        "Part of the track (time and byte range in the evidence) is white and shows the bytes of a file (one-sided, uniform, printable or zero-padded values, or floats no audio has), standing out from the rest of the same track.",
    ),
    "signal.held_steps": (
        Severity.SUSPICIOUS,
        "Loud sample values are repeated exactly, at many levels, over part of the track: values held as steps; a converter's noise floor never lets sound do that.",
    ),
    "signal.held_grid": (
        Severity.SUSPICIOUS,
        "Part of the track (time range, and byte range in PCM, in the evidence) leaps on a clock of a few samples and holds between, through a codec's noise, and the values it holds, one a step, are white: a file's bytes held as steps and then lossy coded (malicious when the held values read as bytes carry a dangerous file's header).",
    ),
    "signal.monotonic_run": (
        Severity.SUSPICIOUS,
        "The samples climb or fall without turning, by 1/8 of full scale, for longer than a half cycle of 25 Hz: sorted values, not sound, which oscillates around zero.",
    ),
    "signal.clipping": (Severity.INFO, "A large share of samples sit at full scale."),
    "signal.too_short": (
        Severity.INFO,
        "The track is too short for the signal model; judged on the container alone.",
    ),
    "signal.modem": (
        Severity.SUSPICIOUS,
        "Data sent as sound: two exact tones take turns on a steady symbol clock (FSK modem, "
        "or its cassette-tape form timed by zero crossings), one carrier's phase jumps by pi "
        "or pi/2 on a steady clock (BPSK/QPSK), or a picture scanned line by line onto one "
        "carrier (SSTV, fax, APT; evidence modulation), which no microphone, voice or "
        "instrument produces; the time range, rate and tones are given, and the bytes "
        "recovered when a common framing fits.",
    ),
    "signal.modem_payload": (
        Severity.MALICIOUS,
        "Bytes demodulated from a modem signal in the audio carry an executable, archive, "
        "script or document signature.",
    ),
    # -- hidden payloads -----------------------------------------------------------------------
    "stego.lsb_payload": (
        Severity.MALICIOUS,
        "A file signature, text or structured data was carved from the low bits of the samples.",
    ),
    "stego.lsb_length_header": (
        Severity.SUSPICIOUS,
        "The low bits open with a length that fits the file, then random-looking bytes: the "
        "layout of an encrypted hidden payload.",
    ),
    "stego.lsb_statistical": (
        Severity.SUSPICIOUS,
        "Statistics of the low bits say a large fraction of them were replaced.",
    ),
    "stego.lsb_below_noise_floor": (
        Severity.SUSPICIOUS,
        "The sound is stored wider than it was made (its low bits are empty), yet samples sit "
        "one or a few steps off that lattice: a payload written into the empty low bits.",
    ),
    "stego.lsb_noise_excess": (
        Severity.SUSPICIOUS,
        "Where a band of the sound is empty, its noise floor stands above the rounding floor by "
        "white +-1 noise: LSB matching or histogram-preserving embedding (steghide).",
    ),
    "stego.displaced_samples": (
        Severity.SUSPICIOUS,
        "Lone samples in predictable passages are displaced by several LSB from what both "
        "neighbours predict, as the value exchanges of histogram-preserving embedding "
        "(steghide) leave them.",
    ),
    "stego.phase_coding": (
        Severity.SUSPICIOUS,
        "Most bins of the track's opening segment have a phase of exactly +-pi/2: phase coding "
        "(malicious when the phases' signs read as a dangerous file).",
    ),
    "stego.spread_code": (
        Severity.SUSPICIOUS,
        "The whitened residual repeats at a fixed period with a sign that changes from window "
        "to window: a spreading code keyed by bits under the music.",
    ),
    "stego.twin_channels_broken": (
        Severity.SUSPICIOUS,
        "A mono signal stored as two channels whose channels part by one step at a few to a "
        "third of the frames, independently of each other, the level and the sound's sign: each "
        "channel changed on its own sample by sample (steghide, LSB matching), which no dither "
        "(per channel: 41 %+ of the frames), gain or codec does.",
    ),
    "stego.side_channel_data": (
        Severity.SUSPICIOUS,
        "The stereo side channel (L - R) is white and shaped as a file's words (flat, skewed, "
        "piled on exact zeros, or L and R on one parity), which noise drawn per channel never "
        "is, over two seconds or more (malicious when read back as bytes it carries a "
        "dangerous file's signature).",
    ),
    "stego.quiet_codes": (
        Severity.SUSPICIOUS,
        "Quiet passages hold codes, not a noise floor: values with holes between them (+-1 and "
        "no zero), spread flat, or piled on exact zeros, a fifth of a second or more (malicious "
        "when read back as bits or bytes they carry a dangerous file's signature).",
    ),
    # -- the pipeline (a track that could not be rebuilt from its stream records) -------------
    "pipeline.hash_mismatch": (
        Severity.MALICIOUS,
        "The rebuilt bytes do not hash to the sha256 the manifest names.",
    ),
    "pipeline.count_mismatch": (
        Severity.MALICIOUS,
        "The manifest's chunk count, sizes or indices disagree with its records.",
    ),
    "pipeline.missing_record": (
        Severity.MALICIOUS,
        "A stream record the manifest names could not be read.",
    ),
    # -- identification (a fingerprint index looked up by the caller) ------------------------
    "fingerprint.known_bad": (
        Severity.MALICIOUS,
        "The audio matches a known-bad reference (a track rejected before, re-encoded or not): "
        "which reference and list, the score, and the matched time range in each.",
    ),
    "fingerprint.duplicate": (
        Severity.INFO,
        "The audio matches an accepted track of the catalogue: the original's track id or path, "
        "the score, and the matched time range in each.",
    ),
    # -- the model -----------------------------------------------------------------------------
    "model.score": (Severity.INFO, "The learned score, with the features that drove it."),
}


def finding(
    code: str, message: str, severity: Severity | None = None, /, **evidence: EvidenceValue
) -> Finding:
    """Build a finding for a registered ``code``; its default severity applies unless given."""
    try:
        default, _ = CODES[code]
    except KeyError:
        raise ValueError(
            f"unregistered finding code {code!r}; add it to audiomodel.findings.CODES"
        ) from None
    return Finding(code=code, message=message, severity=severity or default, evidence=evidence)


def codes_table() -> str:
    """The markdown table of every code (FINDINGS.md embeds it; a test keeps the two equal)."""
    rows = ["| code | default severity | meaning |", "| --- | --- | --- |"]
    rows += [
        f"| `{code}` | {sev.name.lower()} | {meaning} |" for code, (sev, meaning) in CODES.items()
    ]
    return "\n".join(rows) + "\n"
