"""A real classify server on 127.0.0.1 port 0, called through the generated stubs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from audioval.v1 import classify_pb2, classify_pb2_grpc, verdict_pb2
from audioval_classify.server import SERVICE_NAME, serve
from audioval_classify.settings import ClassifySettings
from audioval_servicekit import RunningServer


@pytest.fixture
def server() -> Iterator[RunningServer]:
    running = serve(ClassifySettings(port=0, store="memory"), validate=False)
    yield running
    running.stop(0)


@pytest.fixture
def channel(server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


def test_health_says_serving_for_the_server_and_the_service(channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE_NAME):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_classify_service(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    replies = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = {s.name for s in replies[0].list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


def test_unknown_track_is_not_found(channel: grpc.Channel) -> None:
    stub = classify_pb2_grpc.ClassifyServiceStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.GetVerdict(classify_pb2.GetVerdictRequest(track_id="no-such-track"), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_empty_track_id_is_invalid_argument(channel: grpc.Channel) -> None:
    stub = classify_pb2_grpc.ClassifyServiceStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.GetVerdict(classify_pb2.GetVerdictRequest(track_id=""), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_stopping_turns_health_not_serving_before_the_port_closes() -> None:
    running = serve(ClassifySettings(port=0, store="memory"), validate=False)
    running.set_serving(False)
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    running.stop(0)
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_bearer_token_is_required_when_configured_but_health_stays_open() -> None:
    running = serve(
        ClassifySettings(port=0, store="memory", auth_tokens=["s3cret"]), validate=False
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
            stub = classify_pb2_grpc.ClassifyServiceStub(ch)
            request = classify_pb2.GetVerdictRequest(track_id="t1")
            with pytest.raises(grpc.RpcError) as missing:
                stub.GetVerdict(request, timeout=5)
            assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.RpcError) as wrong:
                stub.GetVerdict(request, timeout=5, metadata=[("authorization", "Bearer nope")])
            assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.RpcError) as right:
                stub.GetVerdict(request, timeout=5, metadata=[("authorization", "Bearer s3cret")])
            assert right.value.code() == grpc.StatusCode.NOT_FOUND  # past auth, to the servicer
            health = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        running.stop(0)


def test_watch_streams_published_verdicts_for_the_requested_user_only() -> None:
    from audioval_classify.judge import TrackJudge
    from audioval_classify.servicer import ClassifyServicer
    from audioval_classify.store import InMemoryVerdictStore, VerdictBroadcaster
    from audioval_servicekit import build_server

    broadcaster = VerdictBroadcaster(queue_size=16)
    servicer = ClassifyServicer(TrackJudge(InMemoryVerdictStore(), broadcaster))
    running = build_server(
        ClassifySettings(port=0),
        [lambda s: classify_pb2_grpc.add_ClassifyServiceServicer_to_server(servicer, s)],
        [SERVICE_NAME],
    )
    running.on_shutdown.append(broadcaster.close)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
            stream = classify_pb2_grpc.ClassifyServiceStub(ch).WatchVerdicts(
                classify_pb2.WatchVerdictsRequest(user_id="alice"), timeout=10
            )
            subscribed = threading.Event()

            def publish_when_subscribed() -> None:
                # The subscription is registered when the handler starts; poll for it.
                for _ in range(200):
                    if broadcaster._subscribers:
                        break
                    subscribed.wait(0.01)
                broadcaster.publish(verdict_pb2.Verdict(track_id="b1", user_id="bob"))
                broadcaster.publish(verdict_pb2.Verdict(track_id="a1", user_id="alice"))

            threading.Thread(target=publish_when_subscribed, daemon=True).start()
            first = next(stream)
            assert first.verdict.track_id == "a1"
            stream.cancel()
    finally:
        running.stop(0)


def test_get_verdict_answers_from_one_read_of_the_store() -> None:
    """State and verdict from one read: a verdict stored between two reads once made a pending
    track look unknown (NOT_FOUND); with a single lookup that cannot happen."""
    from audioval_classify.judge import TrackJudge
    from audioval_classify.servicer import ClassifyServicer
    from audioval_classify.store import InMemoryVerdictStore, VerdictBroadcaster
    from audioval_pipeline.verdict_table import TrackLookup
    from audioval_servicekit import build_server

    class CountingStore(InMemoryVerdictStore):
        def __init__(self) -> None:
            super().__init__()
            self.lookups = 0

        def lookup(self, track_id: str) -> tuple[TrackLookup, verdict_pb2.Verdict | None]:
            self.lookups += 1
            return super().lookup(track_id)

        def get(self, track_id: str) -> verdict_pb2.Verdict | None:
            raise AssertionError("GetVerdict must not read twice")

    store = CountingStore()
    store.mark_pending("t-pending", "u")
    store.put_if_absent(verdict_pb2.Verdict(track_id="t-judged", user_id="u"))
    servicer = ClassifyServicer(TrackJudge(store, VerdictBroadcaster(queue_size=1)))
    running = build_server(
        ClassifySettings(port=0, store="memory"),
        [lambda s: classify_pb2_grpc.add_ClassifyServiceServicer_to_server(servicer, s)],
        [SERVICE_NAME],
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
            stub = classify_pb2_grpc.ClassifyServiceStub(ch)
            judged = stub.GetVerdict(classify_pb2.GetVerdictRequest(track_id="t-judged"), timeout=5)
            pending = stub.GetVerdict(
                classify_pb2.GetVerdictRequest(track_id="t-pending"), timeout=5
            )
        assert (
            judged.state == classify_pb2.TRACK_STATE_JUDGED
            and judged.verdict.track_id == "t-judged"
        )
        assert pending.state == classify_pb2.TRACK_STATE_PENDING
        assert store.lookups == 2
    finally:
        running.stop(0)
