"""The console over Starlette's TestClient, against a real moto server's verdict table."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from starlette.testclient import TestClient

from audioval.v1 import verdict_pb2
from audioval_console import ConsoleSettings, create_app
from audioval_console.held import HeldTracks
from audioval_console.sessions import check_token
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.verdict_table import VerdictTable

ReviewTrack = Callable[[], tuple[bytes, verdict_pb2.Verdict]]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _settings(pipeline: PipelineSettings) -> ConsoleSettings:
    return ConsoleSettings(
        tokens=[SecretStr("alice:alice-token"), SecretStr("bob:bob-token")],
        lease_s=60,
        pipeline=pipeline,
    )


def _held_tracks(pipeline: PipelineSettings) -> HeldTracks:
    return HeldTracks(aws_client("s3", pipeline), pipeline.quarantine_bucket)


@pytest.fixture
def held_bytes(
    pipeline: PipelineSettings, table: VerdictTable, review_track: ReviewTrack
) -> tuple[bytes, verdict_pb2.Verdict]:
    """A review verdict whose bytes rebuild put in the quarantine bucket."""
    cut, verdict = review_track()
    assert table.put_first(verdict)
    aws_client("s3", pipeline).put_object(
        Bucket=pipeline.quarantine_bucket, Key=verdict.track_id, Body=cut, ContentType="audio/wav"
    )
    return cut, verdict


@pytest.fixture
def held(held_bytes: tuple[bytes, verdict_pb2.Verdict]) -> verdict_pb2.Verdict:
    return held_bytes[1]


def _client(pipeline: PipelineSettings, table: VerdictTable, _tracks: Path) -> TestClient:
    app = create_app(_settings(pipeline), table, _held_tracks(pipeline))
    return TestClient(app, follow_redirects=False)


def _login(client: TestClient, token: str) -> None:
    reply = client.get("/", params={"token": token})
    assert reply.status_code == 303, reply.text
    assert reply.headers["location"] == "/"  # the token does not stay in the address


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_without_a_session_the_queue_asks_for_a_token_and_nothing_else_is_served(
    pipeline: PipelineSettings, table: VerdictTable, tmp_path: Path, held: verdict_pb2.Verdict
) -> None:
    client = _client(pipeline, table, tmp_path)
    page = client.get("/")
    assert page.status_code == 200 and 'name="token"' in page.text
    assert held.track_id not in page.text
    for path in ("picture.png", "audio", ""):
        assert client.get(f"/tracks/{held.track_id}/{path}".rstrip("/")).status_code == 401
    assert client.get("/", params={"token": "nope"}).status_code == 401


def test_a_token_opens_a_strict_httponly_session(
    pipeline: PipelineSettings, table: VerdictTable, tmp_path: Path
) -> None:
    client = _client(pipeline, table, tmp_path)
    reply = client.get("/", params={"token": "alice-token"})
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert 'id="moderator">alice<' in client.get("/").text


def test_the_login_form_logs_in_and_refuses_a_post_without_its_form_token(
    pipeline: PipelineSettings, table: VerdictTable, tmp_path: Path
) -> None:
    client = _client(pipeline, table, tmp_path)
    assert client.post("/login", data={"token": "bob-token"}).status_code == 403
    form = client.get("/login")
    reply = client.post("/login", data={"token": "bob-token", "csrf": _csrf(form.text)})
    assert reply.status_code == 303
    assert 'id="moderator">bob<' in client.get("/").text


def test_queue_lists_review_tracks_oldest_first_and_filters_by_finding(
    pipeline: PipelineSettings, table: VerdictTable, tmp_path: Path, review_track: ReviewTrack
) -> None:
    ids = []
    for _ in range(2):
        _, verdict = review_track()
        table.put_first(verdict)
        ids.append(verdict.track_id)
    accepted = verdict_pb2.Verdict(track_id="accepted-1", decision=verdict_pb2.DECISION_ACCEPT)
    table.put_first(accepted)
    client = _client(pipeline, table, tmp_path)
    _login(client, "alice-token")
    page = client.get("/").text
    listed = re.findall(r'data-track-id="([^"]+)"', page)
    assert listed == ids
    assert re.findall(r'data-track-id="([^"]+)"', client.get("/?finding=fingerprint.x").text) == []
    filtered = client.get("/?finding=container.truncated").text
    assert re.findall(r'data-track-id="([^"]+)"', filtered) == ids


def test_posts_without_the_sessions_csrf_token_are_refused(
    pipeline: PipelineSettings, table: VerdictTable, tmp_path: Path, held: verdict_pb2.Verdict
) -> None:
    client = _client(pipeline, table, tmp_path)
    _login(client, "alice-token")
    track = held.track_id
    assert client.post(f"/tracks/{track}/claim").status_code == 403
    assert client.post(f"/tracks/{track}/claim", data={"csrf": "forged"}).status_code == 403
    assert table.lease_of(track) is None


def test_a_claimed_track_is_held_by_one_moderator_and_her_decision_is_stored_with_its_history(
    pipeline: PipelineSettings, table: VerdictTable, tmp_path: Path, held: verdict_pb2.Verdict
) -> None:
    alice = _client(pipeline, table, tmp_path)
    bob = _client(pipeline, table, tmp_path)
    _login(alice, "alice-token")
    _login(bob, "bob-token")
    track = held.track_id
    claimed = alice.post(f"/tracks/{track}/claim", data={"csrf": _csrf(alice.get("/").text)})
    assert claimed.headers["location"] == f"/tracks/{track}"
    refused = bob.post(f"/tracks/{track}/claim", data={"csrf": _csrf(bob.get("/").text)})
    assert "held%20by%20alice" in refused.headers["location"]
    assert 'id="held"' in bob.get(f"/tracks/{track}").text

    page = alice.get(f"/tracks/{track}").text
    assert "container.truncated" in page and 'id="decide"' in page and 'id="player"' in page
    picture = alice.get(f"/tracks/{track}/picture.png")
    assert picture.content.startswith(PNG_MAGIC)
    assert alice.get(f"/tracks/{track}/audio").content[:4] == b"RIFF"
    # Bob cannot decide a track Alice holds, even with his own valid form token.
    bob_csrf = _csrf(bob.get("/").text)
    late = bob.post(
        f"/tracks/{track}/decide", data={"csrf": bob_csrf, "decision": "accept", "reason": "x"}
    )
    assert late.status_code == 409
    decided = alice.post(
        f"/tracks/{track}/decide",
        data={"csrf": _csrf(page), "decision": "reject", "reason": "a cut file hiding data"},
    )
    assert decided.status_code == 303, decided.text
    stored = table.get(track)
    assert stored is not None and stored.decision == verdict_pb2.DECISION_REJECT
    (entry,) = table.audit(track)
    assert entry.verdict == held and entry.by == "alice"
    assert entry.reason == "a cut file hiding data"
    assert table.lease_of(track) is None
    assert track not in alice.get("/").text  # out of the queue
    assert "a cut file hiding data" in alice.get(f"/tracks/{track}").text


def test_an_expired_lease_is_free_for_another_moderator(table: VerdictTable) -> None:
    assert table.lease("t-1", "alice", ttl_s=1, at_ms=1_000) is not None
    assert table.lease("t-1", "bob", ttl_s=1, at_ms=1_500) is None
    assert table.lease("t-1", "alice", ttl_s=1, at_ms=1_500) is not None  # renewed
    lease = table.lease("t-1", "bob", ttl_s=1, at_ms=2_501)
    assert lease is not None and lease.moderator == "bob"


def test_the_console_refuses_to_listen_beyond_loopback_without_tls() -> None:
    with pytest.raises(ValidationError, match="without TLS"):
        ConsoleSettings(host="0.0.0.0", token=SecretStr("t"))
    with pytest.raises(ValidationError, match="name:token"):
        ConsoleSettings(tokens=[SecretStr("no-name")])


def test_tokens_name_their_moderator() -> None:
    moderators = {"alice-token": "alice", "bob-token": "bob"}
    assert check_token("bob-token", moderators) == "bob"
    assert check_token("bob-toke", moderators) is None
    assert check_token("", moderators) is None


def test_without_held_bytes_the_picture_still_shows_the_verdict_and_no_audio_is_served(
    pipeline: PipelineSettings, table: VerdictTable, review_track: ReviewTrack
) -> None:
    _, verdict = review_track()
    table.put_first(verdict)
    settings = ConsoleSettings(token=SecretStr("t0ken"), pipeline=pipeline)
    client = TestClient(create_app(settings, table, _held_tracks(pipeline)), follow_redirects=False)
    _login(client, "t0ken")
    page = client.get(f"/tracks/{verdict.track_id}").text
    assert 'id="no-audio"' in page and 'id="player"' not in page
    assert client.get(f"/tracks/{verdict.track_id}/picture.png").content.startswith(PNG_MAGIC)
    assert client.get(f"/tracks/{verdict.track_id}/audio").status_code == 404
    assert client.get("/tracks/..%2F..%2Fetc%2Fpasswd/audio").status_code in (401, 404)


def test_reject_and_add_as_known_bad_reference_asks_the_index_for_that_track(
    pipeline: PipelineSettings, table: VerdictTable, tmp_path: Path, held: verdict_pb2.Verdict
) -> None:
    added: list[str] = []

    def add_reference(track_id: str) -> str:
        added.append(track_id)
        return "17"

    settings = _settings(pipeline)
    app = create_app(settings, table, _held_tracks(pipeline), add_reference=add_reference)
    client = TestClient(app)
    _login_following(client, "alice-token")
    track = held.track_id
    page = client.post(f"/tracks/{track}/claim", data={"csrf": _csrf(client.get("/").text)})
    assert 'id="reject-reference"' in page.text
    done = client.post(
        f"/tracks/{track}/decide",
        data={"csrf": _csrf(page.text), "decision": "reject_reference", "reason": "known spam"},
    )
    assert "known-bad reference 17 added" in done.text
    assert added == [track]
    stored = table.get(track)
    assert stored is not None and stored.decision == verdict_pb2.DECISION_REJECT


def _login_following(client: TestClient, token: str) -> None:
    assert client.get("/", params={"token": token}).url.path == "/"


def test_the_player_streams_the_held_bytes_from_the_quarantine_bucket_only_with_a_session(
    pipeline: PipelineSettings,
    table: VerdictTable,
    tmp_path: Path,
    held_bytes: tuple[bytes, verdict_pb2.Verdict],
) -> None:
    cut, verdict = held_bytes
    client = _client(pipeline, table, tmp_path)
    audio = f"/tracks/{verdict.track_id}/audio"
    assert client.get(audio).status_code == 401
    assert client.get(audio, params={"token": "alice-token"}).status_code == 401
    _login(client, "alice-token")
    page = client.get(f"/tracks/{verdict.track_id}").text
    assert f'id="player" src="{audio}"' in page
    reply = client.get(audio)
    assert reply.status_code == 200
    assert reply.content == cut
    assert reply.headers["content-type"] == "audio/wav"
    assert reply.headers["content-length"] == str(len(cut))
    assert reply.headers["cache-control"] == "private, no-store"


def test_the_picture_draws_the_held_bytes_audio_panels(
    pipeline: PipelineSettings,
    table: VerdictTable,
    tmp_path: Path,
    held_bytes: tuple[bytes, verdict_pb2.Verdict],
) -> None:
    _, verdict = held_bytes
    client = _client(pipeline, table, tmp_path)
    _login(client, "alice-token")
    with_audio = client.get(f"/tracks/{verdict.track_id}/picture.png").content
    aws_client("s3", pipeline).delete_object(
        Bucket=pipeline.quarantine_bucket, Key=verdict.track_id
    )
    fresh = _client(pipeline, table, tmp_path)  # a new console: nothing cached
    _login(fresh, "alice-token")
    without = fresh.get(f"/tracks/{verdict.track_id}/picture.png").content
    assert with_audio.startswith(PNG_MAGIC) and without.startswith(PNG_MAGIC)
    assert with_audio != without  # the waveform and spectrogram panels are drawn
