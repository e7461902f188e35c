"""The batch validator: judge every object under an S3 prefix (or every file in a directory).

Runs as a Ray job's entrypoint (``python -m audioval_classify.batch SOURCE --out DEST``; the
``audioval batch`` command submits it) on the same :class:`ValidatorPool` that serves
``ValidateTrack``: actors fetch and judge the objects themselves, so the driver ships names,
not bytes.

Results go to ``DEST/results/part-*.jsonl`` (one line per object: the ``audioval validate``
schema plus ``key``), flushed every ``part_size`` results so a failed job loses little, and
``DEST/summary.json`` (counts per verdict and per finding code, throughput). A rerun skips every
key already in the results: the job is resumable. DEST is ``s3://bucket/prefix`` or a directory.

The actors fingerprint each file in its decode pass (pool ``fingerprint=True``); the landmarks are
kept beside each part (``DEST/fingerprints/part-*.npz``, written before the part's results), and at
the end ``DEST/duplicates.jsonl`` groups the near-identical files of every run
(:mod:`audioval_classify.duplicates`).

Progress (files, files/s, x realtime) goes to the job log every few seconds and to Ray metrics
(``audioval_batch_files``, ``_file_seconds``, ``_stage_seconds`` per validator stage,
``_remaining``), and each result line carries its timings, so the dashboard shows where
the time goes.
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urlparse

from audiomodel import Limits, Verdict
from audiomodel.fingerprint import Landmarks
from audioval_classify.duplicates import (
    duplicate_groups,
    duplicates_jsonl,
    pack_landmarks,
    unpack_landmarks,
)
from audioval_classify.pool import ValidatorPool
from audioval_classify.ray_connection import connect_ray, pool_size_default
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings

__all__ = ["BatchReport", "Source", "list_sources", "open_results", "run_batch"]

log = logging.getLogger("audioval.batch")

PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True)
class Source:
    """One input: ``key`` names it in the results, ``uri`` is what an actor reads."""

    key: str
    uri: str


def list_sources(source: str, s3: Any = None) -> Iterator[Source]:
    """Every object under ``s3://bucket/prefix``, or every file under a directory, by key."""
    parsed = urlparse(source)
    if parsed.scheme == "s3":
        bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):  # "directory" placeholders hold nothing
                    yield Source(item["Key"], f"s3://{bucket}/{item['Key']}")
        return
    if parsed.scheme:
        raise ValueError(f"unsupported source {source!r}: use s3://bucket/prefix or a directory")
    root = Path(source)
    if not root.is_dir():
        raise ValueError(f"{source} is not a directory")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        yield Source(path.relative_to(root).as_posix(), str(path.resolve()))


class ResultStore(Protocol):
    def done_records(self) -> Iterator[dict[str, Any]]: ...

    def write_part(self, name: str, lines: list[str]) -> None: ...

    def write_summary(self, summary: dict[str, Any]) -> None: ...

    def write_fingerprints(self, name: str, data: bytes) -> None: ...

    def fingerprint_parts(self) -> Iterator[bytes]: ...

    def write_duplicates(self, text: str) -> None: ...


class LocalResults:
    """Results in a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "results").mkdir(parents=True, exist_ok=True)

    def done_records(self) -> Iterator[dict[str, Any]]:
        for part in sorted((self.root / "results").glob("part-*.jsonl")):
            yield from _records(part.read_text())

    def write_part(self, name: str, lines: list[str]) -> None:
        final = self.root / "results" / name
        partial = final.with_suffix(".tmp")
        partial.write_text("".join(lines))
        partial.replace(final)  # a part is there whole or not at all

    def write_summary(self, summary: dict[str, Any]) -> None:
        (self.root / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    def write_fingerprints(self, name: str, data: bytes) -> None:
        final = self.root / "fingerprints" / name
        final.parent.mkdir(exist_ok=True)
        partial = final.with_suffix(".tmp")
        partial.write_bytes(data)
        partial.replace(final)

    def fingerprint_parts(self) -> Iterator[bytes]:
        for part in sorted((self.root / "fingerprints").glob("part-*.npz")):
            yield part.read_bytes()

    def write_duplicates(self, text: str) -> None:
        partial = self.root / "duplicates.jsonl.tmp"
        partial.write_text(text)
        partial.replace(self.root / "duplicates.jsonl")


class S3Results:
    """Results under an S3 prefix (objects are written whole, so parts never show half)."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def done_records(self) -> Iterator[dict[str, Any]]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=f"{self._prefix}results/part-"
        )
        for page in pages:
            for item in page.get("Contents", []):
                body = self._s3.get_object(Bucket=self._bucket, Key=item["Key"])["Body"]
                yield from _records(body.read().decode("utf-8"))

    def write_part(self, name: str, lines: list[str]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=f"{self._prefix}results/{name}",
            Body="".join(lines).encode("utf-8"),
            ContentType="application/x-ndjson",
        )

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=f"{self._prefix}summary.json",
            Body=(json.dumps(summary, indent=2) + "\n").encode("utf-8"),
            ContentType="application/json",
        )

    def write_fingerprints(self, name: str, data: bytes) -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=f"{self._prefix}fingerprints/{name}", Body=data
        )

    def fingerprint_parts(self) -> Iterator[bytes]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=f"{self._prefix}fingerprints/part-"
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield self._s3.get_object(Bucket=self._bucket, Key=item["Key"])["Body"].read()

    def write_duplicates(self, text: str) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=f"{self._prefix}duplicates.jsonl",
            Body=text.encode("utf-8"),
            ContentType="application/x-ndjson",
        )


def _records(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def open_results(dest: str, s3: Any = None) -> ResultStore:
    """The result store at ``s3://bucket/prefix`` or a local directory."""
    parsed = urlparse(dest)
    if parsed.scheme == "s3":
        return S3Results(s3, parsed.netloc, parsed.path)
    if parsed.scheme:
        raise ValueError(f"unsupported destination {dest!r}: use s3://bucket/prefix or a directory")
    return LocalResults(Path(dest))


@dataclass
class BatchReport:
    """What one run did (the summary adds the totals over every run's results)."""

    listed: int = 0
    skipped: int = 0
    judged: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    decisions: Counter[str] = field(default_factory=Counter)
    duplicate_groups: int = 0

    def rates(self) -> dict[str, float]:
        wall = max(self.wall_s, 1e-9)
        return {
            "files_per_s": round(self.judged / wall, 3),
            "x_realtime": round(self.audio_s / wall, 1),
        }


class _Metrics:
    """Ray metrics of the batch (exported by the node's metrics agent to the dashboard)."""

    def __init__(self) -> None:
        from ray.util import metrics

        self.files = metrics.Counter(
            "audioval_batch_files", "Files judged by the batch job.", tag_keys=("verdict",)
        )
        self.seconds = metrics.Histogram(
            "audioval_batch_file_seconds",
            "Wall time per file in the validator (fetch included).",
            boundaries=[0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
        )
        self.stage_seconds = metrics.Histogram(
            "audioval_batch_stage_seconds",
            "Wall time per file in each validator stage (the verdict's timings).",
            boundaries=[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
            tag_keys=("stage",),
        )
        self.remaining = metrics.Gauge("audioval_batch_remaining", "Files not judged yet.")

    def record(self, verdict: Verdict) -> None:
        self.files.inc(tags={"verdict": verdict.decision.value})
        self.seconds.observe(verdict.timings_ms.get("total", 0.0) / 1e3)
        for stage, ms in verdict.timings_ms.items():
            if stage != "total":
                self.stage_seconds.observe(ms / 1e3, tags={"stage": stage})


def run_batch(
    source: str,
    dest: str,
    pool: ValidatorPool,
    *,
    s3: Any = None,
    part_size: int = 100,
    flush_every_s: float = 30.0,
) -> BatchReport:
    """Judge every not-yet-judged input of ``source`` on ``pool``; results into ``dest``."""
    started = time.monotonic()
    store = open_results(dest, s3)
    done = {record["key"] for record in store.done_records()}
    sources = list(list_sources(source, s3))
    todo = [item for item in sources if item.key not in done]
    report = BatchReport(listed=len(sources), skipped=len(sources) - len(todo))
    log.info(
        "batch start",
        extra={"source": source, "dest": dest, "listed": report.listed, "todo": len(todo)},
    )
    metrics = _Metrics()
    metrics.remaining.set(len(todo))
    finished: queue.Queue[tuple[Source, Future[Verdict]]] = queue.Queue()
    submitter = threading.Thread(
        target=_submit_all, args=(todo, pool, finished), name="batch-submit", daemon=True
    )
    submitter.start()
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    buffer: list[str] = []
    marks: dict[str, Landmarks] = {}
    parts = 0
    last_flush = last_progress = time.monotonic()

    def flush() -> None:
        nonlocal parts, last_flush
        if buffer:
            name = f"part-{run_id}-{parts:05d}"
            if marks:  # before the results: a key judged always has its fingerprint kept
                store.write_fingerprints(f"{name}.npz", pack_landmarks(marks))
                marks.clear()
            store.write_part(f"{name}.jsonl", buffer)
            parts += 1
            buffer.clear()
        last_flush = time.monotonic()

    for _ in range(len(todo)):
        item, future = finished.get()
        verdict = future.result()
        record = {"path": item.uri, "key": item.key, **verdict.to_dict()}
        buffer.append(json.dumps(record, separators=(",", ":")) + "\n")
        if verdict.fingerprint is not None and len(verdict.fingerprint):
            marks[item.key] = verdict.fingerprint
        report.judged += 1
        report.audio_s += verdict.duration_s
        report.decisions[verdict.decision.value] += 1
        metrics.record(verdict)
        metrics.remaining.set(len(todo) - report.judged)
        now = time.monotonic()
        if len(buffer) >= part_size or now - last_flush >= flush_every_s:
            flush()
        if now - last_progress >= PROGRESS_EVERY_S:
            last_progress = now
            report.wall_s = now - started
            log.info(
                "batch progress",
                extra={"judged": report.judged, "of": len(todo), **report.rates()},
            )
    flush()
    submitter.join()
    groups = duplicate_groups(
        (key, landmarks)
        for part in store.fingerprint_parts()
        for key, landmarks in unpack_landmarks(part)
    )
    store.write_duplicates(duplicates_jsonl(groups))
    report.duplicate_groups = len(groups)
    report.wall_s = time.monotonic() - started
    store.write_summary(summarise(store.done_records(), report))
    log.info("batch done", extra={"judged": report.judged, "skipped": report.skipped})
    return report


def _submit_all(
    todo: Iterable[Source],
    pool: ValidatorPool,
    finished: queue.Queue[tuple[Source, Future[Verdict]]],
) -> None:
    def report(item: Source) -> Callable[[Future[Verdict]], None]:
        return lambda future: finished.put((item, future))

    for item in todo:
        # Blocks while the pool is full: the listing is never turned into an unbounded queue.
        pool.submit_uri(item.uri).add_done_callback(report(item))


def summarise(records: Iterable[dict[str, Any]], run: BatchReport) -> dict[str, Any]:
    """Counts per verdict and per finding code over every result, plus this run's figures."""
    verdicts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    total = 0
    for record in records:
        total += 1
        verdicts[record["verdict"]] += 1
        codes.update({f["code"] for f in record["findings"]})
    return {
        "files": total,
        "verdicts": dict(sorted(verdicts.items())),
        "finding_codes": dict(sorted(codes.items())),
        "last_run": {
            "listed": run.listed,
            "skipped_already_judged": run.skipped,
            "judged": run.judged,
            "wall_s": round(run.wall_s, 3),
            "audio_s": round(run.audio_s, 3),
            "duplicate_groups": run.duplicate_groups,
            **run.rates(),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audioval_classify.batch")
    parser.add_argument("source", help="s3://bucket/prefix or a directory")
    parser.add_argument("--out", required=True, help="s3://bucket/prefix or a directory")
    parser.add_argument("--ray-address", default="auto", help="the cluster (inside a job: auto)")
    parser.add_argument("--pool-size", type=int, default=0, help="actors (0: the free CPUs)")
    parser.add_argument("--max-in-flight", type=int, default=0, help="0: twice the pool")
    parser.add_argument("--part-size", type=int, default=100)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s %(extra_fields)s"
    )
    logging.getLogger().handlers[0].addFilter(_ExtraFields())
    storage = PipelineSettings()
    s3 = aws_client("s3", storage)
    connect_ray(args.ray_address)
    size = args.pool_size or pool_size_default(free_only=True)
    pool = ValidatorPool(
        size,
        limits=Limits(),
        max_in_flight=args.max_in_flight or 2 * size,
        storage=storage,
        fingerprint=True,  # landmarks from the decode pass, for DEST/duplicates.jsonl
    )
    try:
        report = run_batch(args.source, args.out, pool, s3=s3, part_size=args.part_size)
    except ValueError as err:
        print(f"batch: {err}", file=sys.stderr)
        return 2
    finally:
        pool.close()
    print(json.dumps({"judged": report.judged, "skipped": report.skipped, **report.rates()}))
    return 0


class _ExtraFields(logging.Filter):
    """Render a record's ``extra`` fields as JSON after the message (job logs are plain text)."""

    _standard: ClassVar[frozenset[str]] = frozenset(
        vars(logging.LogRecord("", 0, "", 0, "", None, None))
    )

    def filter(self, record: logging.LogRecord) -> bool:
        # Ray adds its own bookkeeping (``_ray_*``) to every record; the job log needs none of it.
        extra = {
            k: v
            for k, v in vars(record).items()
            if k not in self._standard and not k.startswith("_ray")
        }
        extra.pop("extra_fields", None)
        record.extra_fields = json.dumps(extra, default=str) if extra else ""
        return True


if __name__ == "__main__":
    sys.exit(main())
