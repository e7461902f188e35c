"""The validator actor pool on a real Ray head: same verdicts, retries, timeouts, backpressure."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import ray
import soundfile as sf

from audiomodel import Limits, validate_bytes
from audioval_classify import pool as pool_module
from audioval_classify.pool import OverloadedError, ValidatorPool
from audioval_classify.ray_connection import connect_ray
from audioval_classify.shm_transport import SharedTrackBuffer
from audioval_classify.validator_actor import ValidatorActor
from audioval_corpus import threats
from audioval_corpus.samples import synth_music
from audioval_localstack.ray_head import RayHead


def _wav(seconds: float, repeat: int = 1) -> bytes:
    clip = np.tile(synth_music(seconds), (repeat, 1))
    buf = io.BytesIO()
    sf.write(buf, clip, 44100, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def song() -> bytes:
    return _wav(4.0)


@pytest.fixture(scope="module")
def long_song() -> bytes:
    """Ten minutes of stereo (about 106 MB): a second or two of work for one actor."""
    return _wav(10.0, repeat=60)


@pytest.fixture(scope="module")
def pool(ray_cluster: RayHead) -> Iterator[ValidatorPool]:
    connect_ray(ray_cluster.address)
    pool = ValidatorPool(2, limits=Limits(), max_in_flight=8, call_timeout_s=120)
    yield pool
    pool.close()


def test_the_pool_gives_the_library_verdict(pool: ValidatorPool, song: bytes) -> None:
    assert pool.shared_actors == 2  # same node, same user: tracks go through shared buffers
    bad = threats.append_payload(song, threats.make_payload("elf", 8000))
    futures = [(content, pool.submit(content, "t.wav")) for content in (song, bad, b"")]
    for content, future in futures:
        got = future.result(timeout=60)
        want = validate_bytes(content, name="t.wav")
        assert got.decision == want.decision
        assert got.score == pytest.approx(want.score)
        assert [f.code for f in got.findings] == [f.code for f in want.findings]
        assert got.sha256 == want.sha256 and got.model_version == want.model_version
    assert [f.result().decision.value for _, f in futures] == ["accept", "reject", "reject"]


def _all_pids(pool: ValidatorPool, timeout_s: float = 30.0) -> list[int]:
    """Every actor's pid, once none is restarting; fails after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        pids = pool.actor_pids(timeout_s=max(0.1, deadline - time.monotonic()))
        if None not in pids:
            return [pid for pid in pids if pid is not None]
        assert time.monotonic() < deadline, f"actors still restarting after {timeout_s} s: {pids}"
        time.sleep(0.1)


@pytest.mark.parametrize("transport", ["object store", "shared buffer"])
def test_killing_an_actor_mid_request_still_yields_the_verdict(
    pool: ValidatorPool,
    long_song: bytes,
    song: bytes,
    transport: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The long song is over the shared buffers' cap, so it takes the object store unless the
    # cap is raised.
    assert len(long_song) > pool_module.SHARED_BUFFER_MAX
    if transport == "shared buffer":
        monkeypatch.setattr(pool_module, "SHARED_BUFFER_MAX", 2 * len(long_song))
    pids = _all_pids(pool)
    retries = pool.retries
    future = pool.submit(long_song, "long.wav")
    time.sleep(0.7)  # the object is in the store and an idle actor has started on it
    assert not future.done()
    victim = pids[0]  # an idle pool hands work to its first actor
    os.kill(victim, signal.SIGKILL)
    verdict = future.result(timeout=120)
    assert verdict.decision.value == "accept", [f.code for f in verdict.findings]
    assert "validator.failed" not in [f.code for f in verdict.findings]
    assert pool.retries == retries + 1
    # The pool recovers: the dead actor was restarted with a new process and serves again.
    # Ray may still be restarting it when the verdict arrives (the retry ran on the other
    # actor), so wait for both to answer.
    after = _all_pids(pool, timeout_s=60)
    assert victim not in after and len(after) == 2
    again = [pool.submit(song, "t.wav") for _ in range(4)]
    assert [f.result(timeout=60).decision.value for f in again] == ["accept"] * 4


def test_a_call_that_never_finishes_becomes_a_validator_failed_verdict(
    ray_cluster: RayHead, long_song: bytes
) -> None:
    connect_ray(ray_cluster.address)
    # A call timeout far below the work: the watchdog kills the actor on both attempts.
    impatient = ValidatorPool(1, limits=Limits(), max_in_flight=2, call_timeout_s=0.3)
    try:
        verdict = impatient.submit(long_song, "long.wav").result(timeout=120)
        (problem,) = verdict.findings
        assert problem.code == "validator.failed"
        assert problem.evidence["timed_out"] is True and problem.evidence["attempts"] == 2
        assert verdict.decision.value == "review"  # never accepted unseen
        assert verdict.size_bytes == len(long_song)
    finally:
        impatient.close()


def test_work_beyond_max_in_flight_is_refused_not_queued(
    ray_cluster: RayHead, long_song: bytes, song: bytes
) -> None:
    connect_ray(ray_cluster.address)
    small = ValidatorPool(1, limits=Limits(), max_in_flight=1, call_timeout_s=120)
    try:
        first = small.submit(long_song, "long.wav")
        with pytest.raises(OverloadedError):
            small.submit(song, "t.wav")
        with pytest.raises(OverloadedError):
            small.submit_uri("/nonexistent.wav", timeout=0.1)
        assert first.result(timeout=120).decision.value == "accept"
        # The slot is free again: the blocking form now goes through.
        missing = small.submit_uri("/nonexistent.wav", timeout=10).result(timeout=60)
        assert [f.code for f in missing.findings] == ["input.unreadable"]
    finally:
        small.close()


def test_an_actor_that_cannot_see_the_buffer_says_so(ray_cluster: RayHead, song: bytes) -> None:
    connect_ray(ray_cluster.address)
    actor = ValidatorActor(Limits())  # in this process: the checks, not the transport
    here = str(ray.get_runtime_context().get_node_id())
    missing = SharedTrackBuffer("/proc/self/fd/999999", here)
    assert actor.validate_shared(missing, len(song), "t.wav") is None
    with Path(__file__).open("rb") as handle:  # a real, readable descriptor of this process
        elsewhere = SharedTrackBuffer(f"/proc/{os.getpid()}/fd/{handle.fileno()}", "other-node")
        assert actor.read_shared(elsewhere, 4) is None  # another node's /proc means nothing
        local = SharedTrackBuffer(f"/proc/{os.getpid()}/fd/{handle.fileno()}", here)
        assert actor.read_shared(local, 3) == b'"""'


def test_a_lost_buffer_falls_back_to_the_object_store(ray_cluster: RayHead, song: bytes) -> None:
    connect_ray(ray_cluster.address)
    lone = ValidatorPool(1, limits=Limits(), max_in_flight=2, call_timeout_s=120)
    try:
        assert lone.shared_actors == 1
        # As if the actor had been restarted on another node: its buffer is not visible there.
        buffer = lone._buffers[0]
        assert buffer is not None
        buffer.shared = SharedTrackBuffer(buffer.shared.path, "another-node")
        verdict = lone.submit(song, "t.wav").result(timeout=60)
        assert verdict.decision.value == "accept"
        assert verdict.sha256 == validate_bytes(song).sha256
        assert lone.shared_actors == 0 and lone.retries == 0  # not counted against the track
        assert lone.submit(song, "t.wav").result(timeout=60).sha256 == verdict.sha256
    finally:
        lone.close()


def test_actor_pids_reports_none_for_an_actor_that_cannot_answer(ray_cluster: RayHead) -> None:
    connect_ray(ray_cluster.address)
    lone = ValidatorPool(
        1, limits=Limits(), max_in_flight=1, call_timeout_s=120, share_memory=False
    )
    try:
        (pid,) = lone.actor_pids()
        assert isinstance(pid, int) and pid != os.getpid()
    finally:
        lone.close()  # kills the actor for good (ray.kill returns before the process is gone)
    deadline = time.monotonic() + 30
    while (pids := lone.actor_pids(timeout_s=5)) != [None]:
        assert time.monotonic() < deadline, f"a killed actor still answers: {pids}"
        time.sleep(0.1)
