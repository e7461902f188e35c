"""The state of one inspection: the source being read, the report being filled, and the
bookkeeping every format walker shares (findings under a per-code cap, segments, metadata
sizes, bounded region reads)."""

from __future__ import annotations

import time
from dataclasses import replace

from audiomodel.container.limits import (
    BLOCK_BYTES,
    MAX_FINDINGS_PER_CODE,
    MAX_SEGMENTS,
    SAMPLE_BYTES,
)
from audiomodel.container.report import ContainerReport, Segment
from audiomodel.container.source import Source
from audiomodel.findings import EvidenceValue, Severity, finding
from audiomodel.payload import PayloadGuess, PayloadKind, identify_payload


class Inspection:
    """One file being inspected.

    Parameters
    ----------
    src
        Bounded reads from the file.
    report
        The report the walkers fill in.
    max_meta
        Metadata larger than this many bytes is reported as ``container.oversized_metadata``.
    """

    def __init__(
        self, src: Source, report: ContainerReport, max_meta: int, deadline: float | None = None
    ) -> None:
        self.src = src
        self.size = src.size
        self.report = report
        self.max_meta = max_meta
        self.deadline = deadline
        self.counts: dict[str, int] = {}
        #: Regions of no purpose the walk can account for: (offset, size, where, high entropy).
        self.unaccounted: list[tuple[int, int, str, bool]] = []

    def out_of_time(self, offset: int) -> bool:
        """Whether the walk is past its deadline (``time.perf_counter`` seconds); reports it
        once, with where the walk stopped. Walkers that loop per frame or page ask every few
        thousand units."""
        if self.deadline is None or time.perf_counter() <= self.deadline:
            return False
        if not self.has("limit.time_budget_exceeded"):
            self.add(
                "limit.time_budget_exceeded",
                f"the container walk ran out of time at byte {offset} of {self.size}",
                offset=offset,
                size=self.size,
                stage="container walk",
            )
        return True

    # -- bookkeeping ---------------------------------------------------------------------------

    def add(
        self, code: str, message: str, *, severity: Severity | None = None, **ev: EvidenceValue
    ) -> None:
        """Report a finding whose evidence is the keyword arguments."""
        self.emit(code, message, ev, severity)

    def emit(
        self,
        code: str,
        message: str,
        ev: dict[str, EvidenceValue],
        severity: Severity | None = None,
    ) -> None:
        """Report a finding, or count it as suppressed past :data:`MAX_FINDINGS_PER_CODE`."""
        seen = self.counts.get(code, 0)
        self.counts[code] = seen + 1
        if seen >= MAX_FINDINGS_PER_CODE:
            suppressed = self.report.suppressed_findings
            suppressed[code] = suppressed.get(code, 0) + 1
            return
        base = finding(code, message, severity)  # checks the code is registered
        self.report.findings.append(replace(base, evidence=dict(ev)))

    def segment(self, kind: str, name: str, offset: int, size: int, count: int = 1) -> None:
        """Record a structural unit (up to :data:`MAX_SEGMENTS` of them)."""
        if len(self.report.segments) < MAX_SEGMENTS:
            self.report.segments.append(Segment(kind, name, offset, size, count))

    def has(self, code: str) -> bool:
        """Whether a finding of ``code`` was reported (or suppressed)."""
        return code in self.counts

    def reported(self) -> int:
        """Findings reported so far, counting those suppressed by the per-code cap."""
        return sum(self.counts.values())

    def metadata(self, offset: int, length: int, what: str, *, declared: int | None = None) -> None:
        """Count metadata bytes and flag oversized ones."""
        self.report.metadata_bytes += length
        self.check_size(what, offset, declared if declared is not None else length)

    def check_size(self, what: str, offset: int, size: int, *, where: str | None = None) -> None:
        """Report ``what`` (at ``offset``) if its ``size`` is over the metadata limit."""
        if size > self.max_meta:
            self.add(
                "container.oversized_metadata",
                f"{what} is {size} bytes (limit {self.max_meta})",
                offset=offset,
                size=size,
                where=what if where is None else where,
                limit=self.max_meta,
            )

    def unaccount(self, offset: int, size: int, where: str, guess: PayloadGuess) -> None:
        """Count a region whose bytes no structure or text check here accounts for (zeros
        are padding and do not count)."""
        if size > 0 and guess.kind is not PayloadKind.PADDING:
            high = guess.kind is PayloadKind.HIGH_ENTROPY
            self.unaccounted.append((offset, size, where, high))

    # -- regions -------------------------------------------------------------------------------

    def identify(self, offset: int, length: int) -> tuple[bytes, PayloadGuess]:
        """The sample of a region that is read to identify it, and what it looks like."""
        sample = self.src.read(offset, min(length, SAMPLE_BYTES))
        return sample, identify_payload(sample)

    def first_nonzero(self, offset: int, length: int) -> int | None:
        """Offset of the first non-zero byte of a region, scanning at most 16 blocks."""
        pos, end = offset, offset + min(length, 16 * BLOCK_BYTES)
        while pos < end:
            block = self.src.read(pos, min(BLOCK_BYTES, end - pos))
            if not block:
                return None
            zeros = len(block) - len(block.lstrip(b"\x00"))
            if zeros < len(block):
                return pos + zeros
            pos += len(block)
        return None

    def is_padding(self, offset: int, length: int) -> bool:
        """Whether a region is all zero bytes."""
        return self.first_nonzero(offset, length) is None
