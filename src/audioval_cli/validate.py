"""``audioval validate``: judge local files, one JSON object (or table row) per input."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from audiomodel import Limits, ModelError, TreeEnsembleModel, load_default_model, validate_path
from audiomodel.findings import finding
from audiomodel.validator import verdict_from_findings
from audioval_index import FingerprintIndex, IndexStoreError, identify, open_index

# Each worker process loads the model once, not once per file.
_worker_model: TreeEnsembleModel | None = None
_worker_limits: Limits | None = None
_worker_plot_dir: Path | None = None
_worker_index: FingerprintIndex | None = None


def _init_worker(
    model_path: str | None, limits: Limits, plot_dir: Path | None, index_uri: str | None = None
) -> None:
    global _worker_model, _worker_limits, _worker_plot_dir, _worker_index
    _worker_model = TreeEnsembleModel.load(Path(model_path)) if model_path else load_default_model()
    _worker_limits = limits
    _worker_plot_dir = plot_dir
    # Each worker reads the index on its own (readers never wait for one another).
    _worker_index = open_index(index_uri) if index_uri else None


def _judge(path: str) -> tuple[dict[str, Any], str | None]:
    """Judge one file (and plot it, in the same worker); returns (result, plot error)."""
    assert _worker_model is not None
    verdict = validate_path(
        Path(path),
        model=_worker_model,
        limits=_worker_limits,
        fingerprint=_worker_index is not None,
    )
    if _worker_index is not None:
        verdict, _ = identify(verdict, _worker_index)
    result = {"path": path, **verdict.to_dict()}
    plot_error = None
    if _worker_plot_dir is not None:
        from audiomodel.plot import plot_track

        try:
            plot_track(Path(path), result, _worker_plot_dir)
        except OSError as err:
            plot_error = f"audioval: could not write the plot for {path}: {err}"
    return result, plot_error


_InitArgs = tuple[str | None, Limits, Path | None, str | None]


def _judge_all(
    files: list[str], workers: int, initargs: _InitArgs, model_version: str
) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every file's (result, plot error), in input order, whatever happens to a worker.

    A worker that dies (a crash in native code, the OOM killer) breaks the whole pool and every
    file not yet reported with it. The pool hands files out in order, at most ``workers + 1``
    ahead of those finished, so the file that killed it is usually among the next ``workers + 1``
    unreported ones (later, if an earlier file was slow while later ones finished). Those are
    judged again alone, each in a fresh process: the one that kills its worker alone gets
    ``validator.failed`` (held for review, as the classify service holds such a file), its
    innocent neighbours a real verdict; then a fresh pool goes on with the rest. Every break moves
    on by ``workers + 1`` files, and only a file that kills its worker alone is failed.
    """
    done = 0
    while done < len(files):
        try:
            with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=initargs) as pool:
                for outcome in pool.map(_judge, files[done:], chunksize=1):
                    done += 1
                    yield outcome
        except BrokenProcessPool:
            for path in files[done : done + workers + 1]:
                yield _judge_alone(path, initargs, model_version)
                done += 1


def _judge_alone(
    path: str, initargs: _InitArgs, model_version: str
) -> tuple[dict[str, Any], str | None]:
    try:
        with ProcessPoolExecutor(1, initializer=_init_worker, initargs=initargs) as pool:
            return pool.submit(_judge, path).result()
    except BrokenProcessPool:
        failed = finding(
            "validator.failed",
            "The validator's worker process died while judging this file, alone as well as "
            "beside others; held for review, never accepted unseen.",
            attempts=2,
        )
        return {"path": path, **verdict_from_findings([failed], model_version).to_dict()}, None


def expand_paths(paths: Iterable[str]) -> Iterator[str]:
    """Files as given; directories walked recursively in sorted order (hidden entries skipped)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield str(Path(root) / name)
        else:
            yield raw  # missing or unreadable files are still judged (and rejected) with a reason


def _table_row(result: dict[str, Any]) -> str:
    codes = (
        ",".join(sorted({f["code"] for f in result["findings"] if f["severity"] != "info"})) or "-"
    )
    return f"{result['verdict']:<7} {result['label']:<5} {result['score']:5.3f}  {result['format']:<8} {result['path']}  [{codes}]"


@click.command("validate")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "table"]),
    default="jsonl",
    show_default=True,
    help="Output format on stdout.",
)
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write a PNG per file (waveform, spectrogram, low-bit plane, byte histogram, findings) into this directory.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: CPUs available).",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Model JSON (default: the one shipped).",
)
@click.option(
    "--index",
    "index_uri",
    default=None,
    help="Look each track up in this fingerprint index (a local directory, as `audioval index "
    "add` builds): a known-bad match rejects (fingerprint.known_bad), a catalogue match is "
    "reported (fingerprint.duplicate).",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=Limits.max_bytes,
    show_default=True,
    help="Files larger than this are rejected unseen.",
)
@click.option(
    "--max-duration",
    type=click.FloatRange(min=0.0),
    default=Limits.max_duration_s,
    show_default=True,
    help="Seconds of audio beyond which a file is rejected.",
)
@click.option(
    "--time-budget",
    type=click.FloatRange(min=0.0),
    default=Limits.time_budget_s,
    show_default=True,
    help="Seconds one file may take before it is rejected.",
)
def validate_command(
    paths: tuple[str, ...],
    fmt: str,
    plot_dir: Path | None,
    jobs: int | None,
    model_path: str | None,
    max_bytes: int,
    max_duration: float,
    time_budget: float,
    index_uri: str | None,
) -> None:
    """Judge audio files: real audio, data in disguise, or a payload smuggler.

    Prints one JSON object per input (path, verdict, label, score, findings, ...) and exits 0
    when every input was judged, whatever the verdicts. Directories are walked.
    """
    try:
        model = TreeEnsembleModel.load(Path(model_path)) if model_path else load_default_model()
    except ModelError as err:
        raise click.ClickException(str(err)) from None
    if index_uri:
        try:
            open_index(index_uri).close()
        except IndexStoreError as err:
            raise click.ClickException(str(err)) from None
    limits = Limits(max_bytes=max_bytes, max_duration_s=max_duration, time_budget_s=time_budget)
    files = list(expand_paths(paths))
    workers = min(jobs or len(os.sched_getaffinity(0)), max(len(files), 1))
    # The bar goes to stderr, only for several files on a terminal; results stay clean on stdout.
    progress = tqdm(total=len(files), unit="file", file=sys.stderr, disable=len(files) < 4 or None)
    if plot_dir is not None:
        plot_dir.mkdir(parents=True, exist_ok=True)
    initargs = (model_path, limits, plot_dir, index_uri)
    for result, plot_error in _judge_all(files, workers, initargs, model.version):
        line = json.dumps(result) if fmt == "jsonl" else _table_row(result)
        if progress.disable:
            click.echo(line)
        else:
            progress.write(line, file=sys.stdout)  # prints above the bar, not through it
        if plot_error:
            click.echo(plot_error, err=True)
        progress.update()
    progress.close()
