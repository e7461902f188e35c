"""``audioval upload``: stream files to ingest and print each verdict as it arrives."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import grpc
from tqdm import tqdm

from audioval.v1 import classify_pb2, classify_pb2_grpc, ingest_pb2, ingest_pb2_grpc, verdict_pb2
from audioval_servicekit.verdict_codec import from_proto

CHUNK_BYTES = 1024 * 1024


def _requests(path: Path, user_id: str, progress: tqdm) -> Iterator[ingest_pb2.UploadTrackRequest]:  # type: ignore[type-arg]
    size = path.stat().st_size
    yield ingest_pb2.UploadTrackRequest(
        metadata=ingest_pb2.TrackMetadata(user_id=user_id, track_name=path.name, size_bytes=size)
    )
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            progress.update(len(chunk))
            yield ingest_pb2.UploadTrackRequest(chunk=chunk)


def _await_verdict(
    stub: classify_pb2_grpc.ClassifyServiceStub,
    track_id: str,
    deadline: float,
    metadata: list[tuple[str, str]],
) -> verdict_pb2.Verdict:
    delay = 0.05
    while True:
        try:
            reply = stub.GetVerdict(
                classify_pb2.GetVerdictRequest(track_id=track_id), timeout=5, metadata=metadata
            )
            if reply.state == classify_pb2.TRACK_STATE_JUDGED:
                judged: verdict_pb2.Verdict = reply.verdict
                return judged
        except grpc.RpcError as err:
            if err.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE):
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"no verdict for {track_id} yet")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def verdict_json(verdict: verdict_pb2.Verdict, path: Path) -> dict[str, object]:
    """The verdict in the one JSON form (``Verdict.to_dict``, as ``audioval validate`` prints
    it) plus its ``track_id``; without ``duration_s``, which the API's verdict does not carry."""
    doc = from_proto(verdict).to_dict()
    del doc["duration_s"]
    return {"path": str(path), "track_id": verdict.track_id, **doc}


@click.command("upload")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--user-id", default="local-user", show_default=True)
@click.option("--ingest", "ingest_address", default="127.0.0.1:50051", show_default=True)
@click.option("--classify", "classify_address", default="127.0.0.1:50053", show_default=True)
@click.option(
    "--token", envvar="AUDIOVAL_TOKEN", default=None, help="Bearer token (or AUDIOVAL_TOKEN)."
)
@click.option(
    "--timeout", default=300.0, show_default=True, help="Seconds to wait for each verdict."
)
def upload_command(
    paths: tuple[Path, ...],
    user_id: str,
    ingest_address: str,
    classify_address: str,
    token: str | None,
    timeout: float,
) -> None:
    """Stream files through the funnel (ingest) and print each verdict as JSON when it is stored."""
    metadata = [("authorization", f"Bearer {token}")] if token else []
    with (
        grpc.insecure_channel(ingest_address) as ingest_channel,
        grpc.insecure_channel(classify_address) as classify_channel,
    ):
        ingest = ingest_pb2_grpc.IngestServiceStub(ingest_channel)
        classify = classify_pb2_grpc.ClassifyServiceStub(classify_channel)
        for path in paths:
            size = path.stat().st_size
            with tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                desc=path.name,
                file=sys.stderr,
                leave=False,
                disable=None,
            ) as progress:
                try:
                    receipt = ingest.UploadTrack(
                        _requests(path, user_id, progress), timeout=timeout, metadata=metadata
                    )
                except grpc.RpcError as err:
                    raise click.ClickException(
                        f"{path}: upload failed: {err.code().name}: {err.details()}"
                    ) from None
            try:
                verdict = _await_verdict(
                    classify, receipt.track_id, time.monotonic() + timeout, metadata
                )
            except (TimeoutError, grpc.RpcError) as err:
                raise click.ClickException(f"{path}: {err}") from None
            click.echo(json.dumps(verdict_json(verdict, path)))
