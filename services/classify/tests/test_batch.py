"""The batch driver on a real actor pool: results per file, summary, resume, bad inputs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from scipy.signal import resample_poly

from audiomodel import Limits, Verdict, validate_path
from audioval_classify.batch import list_sources, run_batch
from audioval_classify.pool import ValidatorPool
from audioval_classify.ray_connection import connect_ray
from audioval_corpus.samples import synth_notes, write_samples
from audioval_localstack.ray_head import RayHead


@pytest.fixture(scope="module")
def pool(ray_cluster: RayHead) -> Iterator[ValidatorPool]:
    connect_ray(ray_cluster.address)
    pool = ValidatorPool(2, limits=Limits(), max_in_flight=3)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalogue")
    write_samples(root / "samples")
    (root / "odd").mkdir()
    (root / "odd" / "empty.wav").write_bytes(b"")
    (root / "odd" / "notes.txt").write_text("not audio at all\n" * 50)
    return root


def _results(out: Path) -> list[dict[str, object]]:
    lines = []
    for part in sorted((out / "results").glob("part-*.jsonl")):
        lines += [json.loads(line) for line in part.read_text().splitlines()]
    return lines


def test_every_file_gets_one_result_line_with_the_library_verdict(
    pool: ValidatorPool, catalogue: Path, tmp_path: Path
) -> None:
    report = run_batch(str(catalogue), str(tmp_path), pool, part_size=4)
    files = sorted(p for p in catalogue.rglob("*") if p.is_file())
    results = _results(tmp_path)
    assert report.judged == len(files) == len(results)
    assert sorted(r["key"] for r in results) == [p.relative_to(catalogue).as_posix() for p in files]
    # Parts of at most part_size lines, so a failed job loses at most one part.
    assert len(list((tmp_path / "results").glob("part-*.jsonl"))) == -(-len(files) // 4)
    for record in results:
        local = validate_path(Path(str(record["path"])))
        assert record["verdict"] == local.decision.value, record["key"]
        assert [f["code"] for f in record["findings"]] == [f.code for f in local.findings]  # type: ignore[attr-defined]
    by_key = {r["key"]: r for r in results}
    assert by_key["odd/empty.wav"]["verdict"] == "reject"
    assert by_key["samples/good-song.flac"]["verdict"] == "accept"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["files"] == len(files)
    assert summary["verdicts"] == dict(Counter(str(r["verdict"]) for r in results))
    codes = Counter(c for r in results for c in {f["code"] for f in r["findings"]})  # type: ignore[attr-defined]
    assert summary["finding_codes"] == dict(codes)
    assert summary["last_run"]["judged"] == len(files)


def test_a_rerun_skips_everything_already_judged(
    pool: ValidatorPool, catalogue: Path, tmp_path: Path
) -> None:
    first = run_batch(str(catalogue / "samples"), str(tmp_path), pool)
    (catalogue / "samples" / "late-arrival.wav").write_bytes(
        (catalogue / "samples" / "good-song.wav").read_bytes()
    )
    try:
        second = run_batch(str(catalogue / "samples"), str(tmp_path), pool)
        third = run_batch(str(catalogue / "samples"), str(tmp_path), pool)
    finally:
        (catalogue / "samples" / "late-arrival.wav").unlink()
    assert (second.judged, second.skipped) == (1, first.judged)
    assert (third.judged, third.skipped) == (0, first.judged + 1)
    keys = [r["key"] for r in _results(tmp_path)]
    assert len(keys) == len(set(keys)) == first.judged + 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["files"] == first.judged + 1
    assert summary["last_run"]["skipped_already_judged"] == first.judged + 1


def test_a_source_that_is_neither_s3_nor_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported source"):
        list(list_sources("http://example.invalid/x"))
    with pytest.raises(ValueError, match="not a directory"):
        list(list_sources(str(tmp_path / "missing")))


class InProcessPool:
    """What run_batch asks of a pool (``submit_uri``), judging here, landmarks kept as a
    fingerprinting pool's actors keep them (``validate_path(..., fingerprint=True)``)."""

    def submit_uri(self, uri: str, timeout: float | None = None) -> Future[Verdict]:
        future: Future[Verdict] = Future()
        future.set_result(validate_path(Path(uri), fingerprint=True))
        return future


@pytest.mark.slow
def test_near_identical_files_are_grouped_in_duplicates_jsonl_across_resumed_runs(
    tmp_path: Path,
) -> None:
    fingerprinting_pool: Any = InProcessPool()
    rate = 44100
    a, b, c = (synth_notes(30.0, seed=seed) for seed in (51, 52, 53))
    catalogue = tmp_path / "catalogue"
    (catalogue / "uploads").mkdir(parents=True)
    sf.write(catalogue / "a.wav", a, rate)
    # A copy resampled to 48 kHz, 6 dB down, as FLAC; another trimmed by 2 s at each end.
    sf.write(catalogue / "uploads" / "a-again.flac", 0.5 * resample_poly(a, 160, 147), 48000)
    sf.write(catalogue / "uploads" / "a-trimmed.wav", a[2 * rate : -2 * rate], rate)
    sf.write(catalogue / "b.wav", b, rate)
    sf.write(catalogue / "c.wav", c, rate)
    out = tmp_path / "out"
    run_batch(str(catalogue), str(out), fingerprinting_pool, part_size=2)
    # A file added later, judged by a resumed run: grouped with what earlier runs kept.
    sf.write(catalogue / "uploads" / "b-copy.ogg", b, rate, format="OGG", subtype="VORBIS")
    second = run_batch(str(catalogue), str(out), fingerprinting_pool, part_size=2)
    assert second.judged == 1 and second.skipped == 5
    groups = [json.loads(line) for line in (out / "duplicates.jsonl").read_text().splitlines()]
    assert [g["keys"] for g in groups] == [
        ["a.wav", "uploads/a-again.flac", "uploads/a-trimmed.wav"],
        ["b.wav", "uploads/b-copy.ogg"],
    ]
    assert [g["size"] for g in groups] == [3, 2]
    trimmed = next(
        link
        for link in groups[0]["links"]
        if link["key"] == "uploads/a-trimmed.wav" and link["other"] == "a.wav"
    )
    # The trimmed copy starts 2 s into the original.
    assert trimmed["ref_start_s"] == pytest.approx(trimmed["query_start_s"] + 2.0, abs=0.5)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["last_run"]["duplicate_groups"] == 2
    # Results lines carry no landmarks; the fingerprints sit beside them.
    assert all("fingerprint" not in r for r in _results(out))
    assert len(list((out / "fingerprints").glob("part-*.npz"))) == 4
