"""``audioval index``: add recordings to a fingerprint index and find them in other recordings.

The index is the embedded store of ``audioval_index`` (a local directory, created on first
use). The running stack's index (a URI served by classify) comes in a later release; until
then ``--index`` takes a directory or a ``file://`` URI.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import soundfile as sf

from audiomodel.fingerprint import FingerprintError, Landmarks, read_landmarks
from audioval_cli.validate import expand_paths
from audioval_index import LISTS, FingerprintIndex, IndexStoreError, open_index

DEFAULT_INDEX = Path.home() / ".local" / "share" / "audioval" / "index"

_index_option = click.option(
    "--index",
    "index_uri",
    envvar="AUDIOVAL_INDEX",
    default=str(DEFAULT_INDEX),
    show_default=True,
    help="Index: a local directory or file:// URI (created on first use; env AUDIOVAL_INDEX). "
    "The running stack's index URI is not served yet.",
)


def _open(uri: str) -> FingerprintIndex:
    try:
        return open_index(uri)
    except IndexStoreError as err:
        raise click.ClickException(str(err)) from None


def _landmarks(path: str) -> tuple[Landmarks | None, str | None]:
    """The file's landmarks, or why it could not be read (never a traceback)."""
    try:
        return read_landmarks(path), None
    except OSError as err:
        return None, f"cannot read the file: {err.strerror or err}"
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, EOFError) as err:
        return None, f"cannot decode the audio: {err}"
    except FingerprintError as err:
        return None, str(err)


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj))


@click.group("index")
def index_group() -> None:
    """Fingerprint index: known-bad recordings and the accepted catalogue.

    Fingerprints survive re-encoding (MP3, Ogg), resampling, gain, noise, cutting and speed
    changes of a few percent. One JSON object per input on stdout; a file that cannot be read
    gets an object with ``error`` and the command exits 1 after the others.
    """


@index_group.command("add")
@_index_option
@click.option(
    "--list",
    "list_name",
    type=click.Choice(LISTS),
    default="catalogue",
    show_default=True,
    help="Which list the references join.",
)
@click.option("--track-id", default=None, help="Track id to record (one input only).")
@click.argument("paths", nargs=-1, required=True)
def add_command(
    index_uri: str, list_name: str, track_id: str | None, paths: tuple[str, ...]
) -> None:
    """Fingerprint each file and add it to the index: prints path, ref, list, duration_s, hashes."""
    files = list(expand_paths(paths))
    if track_id is not None and len(files) != 1:
        raise click.UsageError("--track-id names one track: give exactly one file")
    failed = False
    with _open(index_uri) as index:
        try:
            with index.writer() as writer:
                for path in files:
                    marks, error = _landmarks(path)
                    if marks is None:
                        failed = True
                        _emit({"path": path, "error": error})
                        continue
                    ref = writer.add(marks, list_name=list_name, path=path, track_id=track_id)
                    writer.flush()  # each printed ref is committed before it is printed
                    _emit(
                        {
                            "path": path,
                            "ref": ref.ref,
                            "list": ref.list,
                            "duration_s": round(ref.duration_s, 3),
                            "hashes": ref.hashes,
                            "added_at": ref.added_at,
                        }
                    )
        except IndexStoreError as err:
            raise click.ClickException(str(err)) from None
    if failed:
        sys.exit(1)


@index_group.command("match")
@_index_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl"]),
    default="jsonl",
    show_default=True,
    help="Output format on stdout.",
)
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True)
@click.argument("paths", nargs=-1, required=True)
def match_command(index_uri: str, fmt: str, limit: int, paths: tuple[str, ...]) -> None:
    """Look each file up: prints path and matches (best first; empty when nothing matches).

    Each match: ref, list, score (0-1), query_start_s, ref_start_s, matched_s, scale (reference
    seconds per query second), count (agreeing hashes), ref_path, track_id.
    """
    del fmt  # one format so far
    failed = False
    with _open(index_uri) as index:
        for path in expand_paths(paths):
            marks, error = _landmarks(path)
            if marks is None:
                failed = True
                _emit({"path": path, "matches": [], "error": error})
                continue
            matches = []
            for m in index.match(marks, limit=limit):
                entry = m.to_dict()
                entry["ref_path"] = entry.pop("path")
                matches.append(entry)
            _emit({"path": path, "matches": matches})
    if failed:
        sys.exit(1)


@index_group.command("delete")
@_index_option
@click.argument("refs", nargs=-1, type=int, required=True)
def delete_command(index_uri: str, refs: tuple[int, ...]) -> None:
    """Remove references (by the ref ``index add`` printed): prints ref and deleted."""
    with _open(index_uri) as index:
        for ref in refs:
            _emit({"ref": ref, "deleted": index.delete(ref)})


@index_group.command("stats")
@_index_option
def stats_command(index_uri: str) -> None:
    """References, segments, postings, bytes and hours of audio in the index."""
    with _open(index_uri) as index:
        stats = index.stats()
        _emit({"index": str(index.root), **stats.__dict__})
