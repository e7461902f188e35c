"""The pool's backlog: one user's calls in order, users served in turn, retries first."""

from __future__ import annotations

import pytest

from audioval_classify.fair_backlog import FairBacklog


def _drain(backlog: FairBacklog[str], running: list[str] | None = None) -> list[str]:
    return [backlog.pop(running or []) for _ in range(len(backlog))]


def test_one_users_calls_come_out_in_arrival_order() -> None:
    backlog: FairBacklog[str] = FairBacklog()
    for i in range(5):
        backlog.append(f"album-{i}", "alice")
    assert _drain(backlog) == [f"album-{i}" for i in range(5)]


def test_calls_without_an_owner_are_served_first_come_first_served() -> None:
    backlog: FairBacklog[str] = FairBacklog()
    for i in range(4):
        backlog.append(f"batch-{i}")
    assert _drain(backlog) == ["batch-0", "batch-1", "batch-2", "batch-3"]


def test_users_who_arrive_after_an_album_get_a_turn_before_the_rest_of_it() -> None:
    backlog: FairBacklog[str] = FairBacklog()
    for i in range(4):
        backlog.append(f"album-{i}", "alice")
    backlog.append("single", "bob")
    backlog.append("other", "carol")
    # One actor: alice's first track, then each user who has not had a turn, then alice again.
    assert _drain(backlog) == ["album-0", "single", "other", "album-1", "album-2", "album-3"]


def test_a_user_with_a_track_running_waits_for_users_with_none() -> None:
    backlog: FairBacklog[str] = FairBacklog()
    backlog.append("album-1", "alice")
    backlog.append("single", "bob")
    assert backlog.pop(running=["alice"]) == "single"
    assert backlog.pop(running=["alice"]) == "album-1"


def test_a_call_put_back_goes_ahead_of_its_owners_others() -> None:
    backlog: FairBacklog[str] = FairBacklog()
    backlog.append("album-1", "alice")
    backlog.append("album-2", "alice")
    backlog.appendleft("album-0 retried", "alice")
    assert _drain(backlog) == ["album-0 retried", "album-1", "album-2"]
    assert list(backlog) == []


def test_popping_an_empty_backlog_is_an_index_error() -> None:
    with pytest.raises(IndexError):
        FairBacklog[str]().pop()
