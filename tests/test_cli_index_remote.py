"""`audioval index add/match/remove --index grpc://host:port` against an IndexService.

The service here is a stand-in speaking the real proto (classify's own IndexService is tested in
services/classify/tests/test_identification.py): what matters is what the CLI sends and how it
prints the answers and refusals.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner

from audioval.v1 import index_pb2, index_pb2_grpc
from audioval_cli.index import index_group


class StandIn(index_pb2_grpc.IndexServiceServicer):
    """References by content: a file matches the reference holding the same bytes."""

    def __init__(self) -> None:
        self.refs: dict[int, tuple[bytes, index_pb2.Reference]] = {}
        self.tokens: list[str] = []

    def _seen(self, context: grpc.ServicerContext) -> None:
        self.tokens.append(dict(context.invocation_metadata()).get("authorization", ""))

    def AddReference(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        self._seen(context)
        if request.content == b"":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the content holds no audio")
        if request.content.startswith(b"noise"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the content holds no audio")
        ref = len(self.refs) + 1
        reference = index_pb2.Reference(
            ref=ref, list=request.list, name=request.name, duration_s=12.5, hashes=300
        )
        self.refs[ref] = (request.content, reference)
        return index_pb2.AddReferenceResponse(
            reference=reference,
            superseded_track_ids=["t-9"]
            if request.list == index_pb2.REFERENCE_LIST_KNOWN_BAD
            else [],
        )

    def MatchTrack(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        self._seen(context)
        found = [
            index_pb2.ReferenceMatch(
                reference=reference,
                score=0.5,
                query_start_s=1.0,
                ref_start_s=4.0,
                matched_s=8.0,
                scale=1.03,
            )
            for content, reference in self.refs.values()
            if content == request.content
        ]
        return index_pb2.MatchTrackResponse(matches=found[: request.limit or 5])

    def RemoveReference(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        self._seen(context)
        if request.ref not in self.refs:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no reference {request.ref}")
        _, reference = self.refs.pop(request.ref)
        return index_pb2.RemoveReferenceResponse(reference=reference)


@pytest.fixture
def service() -> Iterator[tuple[StandIn, str]]:
    servicer = StandIn()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    index_pb2_grpc.add_IndexServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"grpc://127.0.0.1:{port}"
    server.stop(0)


def lines(output: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_add_match_and_remove_go_to_the_index_service_with_the_token(
    service: tuple[StandIn, str], tmp_path: Path
) -> None:
    servicer, uri = service
    bad, other = tmp_path / "bad.wav", tmp_path / "other.wav"
    bad.write_bytes(b"RIFF-bad")
    other.write_bytes(b"RIFF-other")
    runner = CliRunner()
    added = runner.invoke(
        index_group, ["add", "--index", uri, "--list", "known-bad", "--token", "s3cret", str(bad)]
    )
    assert added.exit_code == 0, added.output
    (row,) = lines(added.output)
    assert row["path"] == str(bad) and row["ref"] == 1 and row["list"] == "known-bad"
    assert row["superseded_track_ids"] == ["t-9"] and row["hashes"] == 300

    matched = runner.invoke(
        index_group, ["match", "--index", uri, "--token", "s3cret", str(bad), str(other)]
    )
    assert matched.exit_code == 0, matched.output
    first, second = lines(matched.output)
    assert [m["ref"] for m in first["matches"]] == [1]
    hit = first["matches"][0]
    assert hit["list"] == "known-bad" and hit["ref_path"] == str(bad)
    assert (hit["score"], hit["query_start_s"], hit["ref_start_s"], hit["matched_s"]) == (
        0.5,
        1.0,
        4.0,
        8.0,
    )
    assert second == {"path": str(other), "matches": []}

    removed = runner.invoke(index_group, ["remove", "--index", uri, "--token", "s3cret", "1", "7"])
    assert removed.exit_code == 0, removed.output
    gone, unknown = lines(removed.output)
    assert gone["ref"] == 1 and gone["deleted"] is True
    assert unknown == {"ref": 7, "deleted": False}
    assert servicer.refs == {}
    assert set(servicer.tokens) == {"Bearer s3cret"}


def test_a_refused_or_unreadable_file_prints_an_error_and_the_command_exits_1(
    service: tuple[StandIn, str], tmp_path: Path
) -> None:
    _, uri = service
    noise = tmp_path / "noise.wav"
    noise.write_bytes(b"noise")
    good = tmp_path / "good.wav"
    good.write_bytes(b"RIFF-good")
    result = CliRunner().invoke(index_group, ["add", "--index", uri, str(noise), str(good)])
    assert result.exit_code == 1
    refused, added = lines(result.output)
    assert refused["status"] == "INVALID_ARGUMENT" and "no audio" in refused["error"]
    assert added["ref"] == 1


def test_an_unreachable_index_service_stops_the_command_with_a_message(tmp_path: Path) -> None:
    song = tmp_path / "a.wav"
    song.write_bytes(b"RIFF")
    result = CliRunner().invoke(index_group, ["match", "--index", "grpc://127.0.0.1:1", str(song)])
    assert result.exit_code == 1
    assert "UNAVAILABLE" in result.output
