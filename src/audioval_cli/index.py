"""``audioval index``: add recordings to a fingerprint index and find them in other recordings.

``--index`` takes the embedded store of ``audioval_index`` (a local directory or ``file://``
URI, created on first use) or a running stack's index, ``grpc://host:port`` (classify's
``IndexService``: the files' bytes are sent, classify fingerprints them; see
:mod:`audioval_cli.index_remote`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import soundfile as sf

from audiomodel.fingerprint import FingerprintError, Landmarks, read_landmarks
from audioval_cli.index_remote import GRPC_SCHEME, RemoteIndex, RemoteIndexError
from audioval_cli.validate import expand_paths
from audioval_index import LISTS, FingerprintIndex, IndexStoreError, open_index

DEFAULT_INDEX = Path.home() / ".local" / "share" / "audioval" / "index"

_index_option = click.option(
    "--index",
    "index_uri",
    envvar="AUDIOVAL_INDEX",
    default=str(DEFAULT_INDEX),
    show_default=True,
    help="Index: a local directory or file:// URI (created on first use), or a running stack's "
    "index as grpc://host:port (classify's IndexService); env AUDIOVAL_INDEX.",
)
_token_option = click.option(
    "--token",
    envvar="AUDIOVAL_TOKEN",
    default=None,
    help="Bearer token for a grpc:// index (or AUDIOVAL_TOKEN).",
)


def _remote(uri: str, token: str | None) -> RemoteIndex | None:
    """The IndexService client for a ``grpc://`` URI; None for the embedded index."""
    if not uri.startswith(GRPC_SCHEME):
        return None
    try:
        return RemoteIndex(uri, token=token)
    except RemoteIndexError as err:
        raise click.ClickException(str(err)) from None


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
@_token_option
@click.argument("paths", nargs=-1, required=True)
def add_command(
    index_uri: str,
    list_name: str,
    track_id: str | None,
    token: str | None,
    paths: tuple[str, ...],
) -> None:
    """Fingerprint each file and add it to the index: prints path, ref, list, duration_s, hashes.

    Into a grpc:// index, a known-bad reference is also re-scanned against the accepted
    catalogue: ``superseded_track_ids`` names the tracks it rejected.
    """
    files = list(expand_paths(paths))
    if track_id is not None and len(files) != 1:
        raise click.UsageError("--track-id names one track: give exactly one file")
    remote = _remote(index_uri, token)
    if remote is not None:
        if track_id is not None:
            raise click.UsageError(
                "--track-id is for the embedded index (the service names uploads)"
            )
        with remote:
            failed = _each(files, lambda path: remote.add(path, list_name=list_name))
        if failed:
            sys.exit(1)
        return
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
@_token_option
@click.argument("paths", nargs=-1, required=True)
def match_command(
    index_uri: str, fmt: str, limit: int, token: str | None, paths: tuple[str, ...]
) -> None:
    """Look each file up: prints path and matches (best first; empty when nothing matches).

    Each match: ref, list, score (0-1), query_start_s, ref_start_s, matched_s, scale (reference
    seconds per query second), count (agreeing hashes; embedded index only), ref_path, track_id.
    """
    del fmt  # one format so far
    remote = _remote(index_uri, token)
    if remote is not None:
        with remote:
            failed = _each(
                list(expand_paths(paths)),
                lambda path: {"matches": remote.match(path, limit=limit)},
                on_error={"matches": []},
            )
        if failed:
            sys.exit(1)
        return
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


@index_group.command("remove")
@_index_option
@_token_option
@click.argument("refs", nargs=-1, type=int, required=True)
def remove_command(index_uri: str, token: str | None, refs: tuple[int, ...]) -> None:
    """Remove references (by the ref ``index add`` printed): prints ref and deleted.

    ``delete`` is the same command.
    """
    remote = _remote(index_uri, token)
    if remote is not None:
        with remote:
            for ref in refs:
                try:
                    _emit({"ref": ref, "deleted": True, "reference": remote.remove(ref)})
                except RemoteIndexError as err:
                    if err.status != "NOT_FOUND":
                        raise click.ClickException(str(err)) from None
                    _emit({"ref": ref, "deleted": False})
        return
    with _open(index_uri) as index:
        for ref in refs:
            _emit({"ref": ref, "deleted": index.delete(ref)})


index_group.add_command(remove_command, "delete")


def _each(
    files: list[str],
    call: Any,
    *,
    on_error: dict[str, Any] | None = None,
) -> bool:
    """``call(path)`` per file against a grpc:// index, one JSON line each; True if any failed.

    A file that cannot be read or that the service refuses prints ``error`` (and ``status``);
    the service being unreachable stops the command.
    """
    failed = False
    for path in files:
        try:
            _emit({"path": path, **call(path)})
        except OSError as err:
            failed = True
            _emit({"path": path, **(on_error or {}), "error": f"cannot read the file: {err}"})
        except RemoteIndexError as err:
            if err.status in ("UNAVAILABLE", "UNAUTHENTICATED", "PERMISSION_DENIED"):
                raise click.ClickException(str(err)) from None
            failed = True
            _emit({"path": path, **(on_error or {}), "error": str(err), "status": err.status})
    return failed


@index_group.command("stats")
@_index_option
def stats_command(index_uri: str) -> None:
    """References, segments, postings, bytes and hours of audio in the index."""
    if index_uri.startswith(GRPC_SCHEME):
        raise click.ClickException("stats reads an embedded index (IndexService has no stats call)")
    with _open(index_uri) as index:
        stats = index.stats()
        _emit({"index": str(index.root), **stats.__dict__})
