"""Classify with a fingerprint index: known-bad copies rejected, duplicates named, accepted
tracks joining the catalogue; the landmarks come back from the Ray actors' own decode pass."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import grpc
import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from google.protobuf.json_format import MessageToDict
from scipy.signal import resample_poly

from audiomodel.validator import validate_bytes
from audiomodel.verdict import Verdict
from audioval.v1 import classify_pb2, classify_pb2_grpc, index_pb2, index_pb2_grpc, verdict_pb2
from audioval_classify.identity import TrackIndex
from audioval_classify.judge import TrackJudge, TrackToJudge
from audioval_classify.references import IndexUnavailableError, ReferenceDesk
from audioval_classify.server import serve
from audioval_classify.servicer import _STATUS
from audioval_classify.settings import ClassifySettings
from audioval_classify.store import InMemoryVerdictStore, VerdictBroadcaster
from audioval_corpus.samples import synth_notes
from audioval_index import FingerprintIndex
from audioval_localstack.ray_head import RayHead
from audioval_servicekit import RunningServer

RATE = 44100


def wav(y: npt.NDArray[np.float32], rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def reencoded(y: npt.NDArray[np.float32]) -> bytes:
    """15 s from 3 s in, 6 dB quieter, resampled to 48 kHz."""
    return wav(resample_poly(y[3 * RATE : 18 * RATE] * 0.5, 160, 147).astype(np.float32), 48000)


def codes(verdict: verdict_pb2.Verdict) -> dict[str, dict[str, object]]:
    return {f.code: MessageToDict(f.evidence) for f in verdict.findings}


class LibraryPool:
    """The library's verdict with its landmarks, as the actors return it."""

    def submit(
        self, content: bytes | bytearray, name: str = "", owner: str = ""
    ) -> Future[Verdict]:
        future: Future[Verdict] = Future()
        future.set_result(validate_bytes(bytes(content), name=name, fingerprint=True))
        return future


def test_an_unreadable_index_leaves_the_validators_verdict(tmp_path: Path) -> None:
    index = TrackIndex.open(tmp_path / "idx")
    index.close()  # every call now fails
    judge = TrackJudge(
        InMemoryVerdictStore(), VerdictBroadcaster(queue_size=4), LibraryPool(), index=index
    )  # type: ignore[arg-type]
    verdict = judge.judge(
        TrackToJudge(track_id="t"),
        wav(synth_notes(12.0, seed=40, rate=RATE)),
        time_left=lambda: None,
    )
    assert verdict.decision == verdict_pb2.DECISION_ACCEPT
    assert not any(f.code.startswith("fingerprint.") for f in verdict.findings)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("classify-index")


@pytest.fixture(scope="module")
def server(index_dir: Path, ray_cluster: RayHead) -> Iterator[RunningServer]:
    running = serve(
        ClassifySettings(
            port=0,
            store="memory",
            pool_size=1,
            ray_address=ray_cluster.address,
            index_dir=str(index_dir),
        )
    )
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def stub(server: RunningServer) -> Iterator[classify_pb2_grpc.ClassifyServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield classify_pb2_grpc.ClassifyServiceStub(channel)


def validate(
    stub: classify_pb2_grpc.ClassifyServiceStub, track_id: str, content: bytes
) -> verdict_pb2.Verdict:
    request = classify_pb2.ValidateTrackRequest(track_id=track_id, content=content)
    verdict: verdict_pb2.Verdict = stub.ValidateTrack(request, timeout=120).verdict
    return verdict


@pytest.mark.slow
def test_accepted_tracks_join_the_catalogue_and_copies_are_duplicates_of_them(
    stub: classify_pb2_grpc.ClassifyServiceStub, index_dir: Path
) -> None:
    original = synth_notes(25.0, seed=41, rate=RATE)
    first = validate(stub, "orig-1", wav(original))
    assert first.decision == verdict_pb2.DECISION_ACCEPT
    assert not any(code.startswith("fingerprint.") for code in codes(first))
    with FingerprintIndex(index_dir) as index:
        (entry,) = [r for r in index.references() if r.track_id == "orig-1"]
        assert entry.list == "catalogue" and entry.hashes > 0

    copy = validate(stub, "copy-1", reencoded(original))
    found = codes(copy)
    assert copy.decision == verdict_pb2.DECISION_ACCEPT  # a duplicate is information
    assert found["fingerprint.duplicate"]["track_id"] == "orig-1"
    assert found["fingerprint.duplicate"]["list"] == "catalogue"


@pytest.mark.slow
def test_a_reencoded_copy_of_a_known_bad_reference_is_rejected(
    stub: classify_pb2_grpc.ClassifyServiceStub, index_dir: Path
) -> None:
    bad = synth_notes(25.0, seed=42, rate=RATE)
    marks = validate_bytes(wav(bad), fingerprint=True).fingerprint
    assert marks is not None
    # Another process adds the reference (the index's lock serialises writers).
    with FingerprintIndex(index_dir) as index:
        ref = index.add(marks, list_name="known-bad", path="carrier.wav").ref
    verdict = validate(stub, "smuggler-1", reencoded(bad))
    assert verdict.decision == verdict_pb2.DECISION_REJECT
    evidence = codes(verdict)["fingerprint.known_bad"]
    assert evidence["ref"] == ref and evidence["list"] == "known-bad"
    assert evidence["ref_start_s"] == pytest.approx(3.0 + evidence["query_start_s"], abs=0.5)
    # A rejected track does not join the catalogue.
    with FingerprintIndex(index_dir) as index:
        assert not [r for r in index.references() if r.track_id == "smuggler-1"]


@pytest.fixture(scope="module")
def index_stub(server: RunningServer) -> Iterator[index_pb2_grpc.IndexServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield index_pb2_grpc.IndexServiceStub(channel)


def status_of(call: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    code: grpc.StatusCode = caught.value.code()  # type: ignore[attr-defined]
    return code


@pytest.mark.slow
def test_a_reference_added_by_bytes_rejects_copies_until_it_is_removed(
    stub: classify_pb2_grpc.ClassifyServiceStub, index_stub: index_pb2_grpc.IndexServiceStub
) -> None:
    bad = synth_notes(25.0, seed=43, rate=RATE)
    added = index_stub.AddReference(
        index_pb2.AddReferenceRequest(
            content=wav(bad), list=index_pb2.REFERENCE_LIST_KNOWN_BAD, name="case-17"
        ),
        timeout=120,
    ).reference
    assert added.list == index_pb2.REFERENCE_LIST_KNOWN_BAD and added.name == "case-17"
    assert added.hashes > 0 and added.duration_s == pytest.approx(25.0, abs=0.1)

    found = index_stub.MatchTrack(
        index_pb2.MatchTrackRequest(content=reencoded(bad)), timeout=120
    ).matches
    assert found and found[0].reference.ref == added.ref and 0 < found[0].score <= 1
    assert found[0].ref_start_s == pytest.approx(3.0 + found[0].query_start_s, abs=0.5)
    assert validate(stub, "bytes-copy-1", reencoded(bad)).decision == verdict_pb2.DECISION_REJECT

    removed = index_stub.RemoveReference(index_pb2.RemoveReferenceRequest(ref=added.ref))
    assert removed.reference.ref == added.ref
    assert not index_stub.MatchTrack(
        index_pb2.MatchTrackRequest(content=reencoded(bad)), timeout=120
    ).matches
    assert validate(stub, "bytes-copy-2", reencoded(bad)).decision == verdict_pb2.DECISION_ACCEPT
    assert (
        status_of(
            lambda: index_stub.RemoveReference(index_pb2.RemoveReferenceRequest(ref=added.ref))
        )
        == grpc.StatusCode.NOT_FOUND
    )


@pytest.mark.slow
def test_an_upload_becomes_a_reference_by_its_track_id(
    stub: classify_pb2_grpc.ClassifyServiceStub, index_stub: index_pb2_grpc.IndexServiceStub
) -> None:
    tune = synth_notes(20.0, seed=44, rate=RATE)
    assert validate(stub, "upload-7", wav(tune)).decision == verdict_pb2.DECISION_ACCEPT
    response = index_stub.AddReference(
        index_pb2.AddReferenceRequest(track_id="upload-7", list=index_pb2.REFERENCE_LIST_KNOWN_BAD)
    )
    added = response.reference
    # The upload itself was accepted: the re-scan rejects it now.
    assert list(response.superseded_track_ids) == ["upload-7"]
    assert added.track_id == "upload-7" and added.list == index_pb2.REFERENCE_LIST_KNOWN_BAD
    matches = index_stub.MatchTrack(index_pb2.MatchTrackRequest(track_id="upload-7")).matches
    assert {(m.reference.ref, m.reference.list) for m in matches} >= {
        (added.ref, index_pb2.REFERENCE_LIST_KNOWN_BAD)
    }
    verdict = validate(stub, "upload-8", reencoded(tune))
    assert verdict.decision == verdict_pb2.DECISION_REJECT
    assert codes(verdict)["fingerprint.known_bad"]["track_id"] == "upload-7"


@pytest.mark.slow
def test_index_requests_that_cannot_be_served_get_precise_statuses(
    index_stub: index_pb2_grpc.IndexServiceStub,
) -> None:
    add = index_stub.AddReference
    known_bad = index_pb2.REFERENCE_LIST_KNOWN_BAD
    cases = {
        "unknown track": (
            lambda: add(index_pb2.AddReferenceRequest(track_id="never-seen", list=known_bad)),
            grpc.StatusCode.NOT_FOUND,
        ),
        "no list": (
            lambda: add(
                index_pb2.AddReferenceRequest(content=wav(synth_notes(5.0, seed=45, rate=RATE)))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "no audio": (
            lambda: add(index_pb2.AddReferenceRequest(content=b"MZ" + bytes(900), list=known_bad)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "nothing to match": (
            lambda: index_stub.MatchTrack(index_pb2.MatchTrackRequest()),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "unknown ref": (
            lambda: index_stub.RemoveReference(index_pb2.RemoveReferenceRequest(ref=987654)),
            grpc.StatusCode.NOT_FOUND,
        ),
    }
    got = {name: status_of(call) for name, (call, _) in cases.items()}
    assert got == {name: code for name, (_, code) in cases.items()}


def test_without_an_index_reference_calls_are_a_failed_precondition() -> None:
    desk = ReferenceDesk(None, None, max_bytes=1024)
    with pytest.raises(IndexUnavailableError):
        desk.remove(1)
    assert (IndexUnavailableError, grpc.StatusCode.FAILED_PRECONDITION) in _STATUS


@pytest.mark.slow
def test_a_new_known_bad_reference_rejects_the_accepted_copies_and_watchers_hear_of_it(
    stub: classify_pb2_grpc.ClassifyServiceStub,
    index_stub: index_pb2_grpc.IndexServiceStub,
    index_dir: Path,
) -> None:
    tune, other = synth_notes(30.0, seed=46, rate=RATE), synth_notes(20.0, seed=47, rate=RATE)
    assert validate(stub, "cat-1", wav(tune)).decision == verdict_pb2.DECISION_ACCEPT
    copy = validate(stub, "cat-2", reencoded(tune))
    assert copy.decision == verdict_pb2.DECISION_ACCEPT
    assert validate(stub, "cat-3", wav(other)).decision == verdict_pb2.DECISION_ACCEPT
    watched = ["cat-1", "cat-2", "cat-3", "watch-ready"]
    watch = stub.WatchVerdicts(classify_pb2.WatchVerdictsRequest(track_ids=watched), timeout=120)
    # A fresh verdict arriving proves the watcher is subscribed before the re-scan.
    validate(stub, "watch-ready", wav(synth_notes(6.0, seed=48, rate=RATE)))
    assert next(watch).verdict.track_id == "watch-ready"

    # The reference arrives as another encoding again: 30 s, 6 dB quieter, at 22.05 kHz.
    reference = wav(resample_poly(tune * 0.5, 1, 2).astype(np.float32), RATE // 2)
    added = index_stub.AddReference(
        index_pb2.AddReferenceRequest(
            content=reference, list=index_pb2.REFERENCE_LIST_KNOWN_BAD, name="case-31"
        ),
        timeout=120,
    )
    assert sorted(added.superseded_track_ids) == ["cat-1", "cat-2"]
    heard = {next(watch).verdict.track_id: None for _ in range(2)}
    watch.cancel()
    assert sorted(heard) == ["cat-1", "cat-2"]
    for track_id in ("cat-1", "cat-2"):
        answer = stub.GetVerdict(classify_pb2.GetVerdictRequest(track_id=track_id))
        assert answer.verdict.decision == verdict_pb2.DECISION_REJECT
        evidence = codes(answer.verdict)["fingerprint.known_bad"]
        assert evidence["ref"] == added.reference.ref and evidence["path"] == "case-31"
    untouched = stub.GetVerdict(classify_pb2.GetVerdictRequest(track_id="cat-3")).verdict
    assert untouched.decision == verdict_pb2.DECISION_ACCEPT
    # Rejected now, the copies left the catalogue.
    with FingerprintIndex(index_dir) as index:
        assert not {"cat-1", "cat-2"} & {r.track_id for r in index.references()}


def test_the_memory_store_supersedes_only_the_verdict_read_and_keeps_the_trail() -> None:
    store = InMemoryVerdictStore()
    accepted = verdict_pb2.Verdict(track_id="t", decision=verdict_pb2.DECISION_ACCEPT)
    rejected = verdict_pb2.Verdict(track_id="t", decision=verdict_pb2.DECISION_REJECT)
    store.put_if_absent(accepted)
    assert not store.supersede(rejected, replaces=rejected, reason="stale")
    assert store.supersede(rejected, replaces=accepted, reason="ref 3")
    assert store.get("t") == rejected and store.superseded("t") == [(accepted, "ref 3")]
