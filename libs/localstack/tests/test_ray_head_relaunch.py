"""The Ray head is started again once when Ray's own fixed raylet wait runs out, and only then.

The real ``ray start`` is replaced by a small stand-in process, so the test is about the
supervision rule, not about Ray: a head that prints Ray's start-up timeout and exits 1 comes
back (same ports), a second such exit or any other exit is reported, not retried.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from audioval_localstack.ray_head import DASHBOARD_START_FAILED, RAYLET_START_TIMEOUT, RayHead
from audioval_localstack.supervision import Child, ChildExitedError

TIMED_OUT = f"print('Exception: The current node {RAYLET_START_TIMEOUT}.'); raise SystemExit(1)"
OTHER_FAILURE = "print('ValueError: --port is not a number'); raise SystemExit(1)"
HOLDS_ON = "import time; time.sleep(60)"


class ScriptedHead(RayHead):
    """A RayHead whose launches run the given Python snippets in turn instead of ``ray start``."""

    def __init__(self, scripts: list[str]) -> None:
        super().__init__(port=1, dashboard_port=2)
        self.scripts = list(scripts)
        self.launched = 0

    def launch(self) -> RayHead:
        script = self.scripts[min(self.launched, len(self.scripts) - 1)]
        self.launched += 1
        self.child = Child(
            self.name,
            [sys.executable, "-c", script],
            log_path=self.log_path,
            discard=self.log_path is None,
        )
        return self


@pytest.fixture
def heads() -> Iterator[list[ScriptedHead]]:
    made: list[ScriptedHead] = []
    yield made
    for head in made:
        head.stop(grace=1.0)


def _exited(head: RayHead) -> None:
    assert head.child is not None
    head.child.process.wait(timeout=30)
    head.child.tail()  # lets the copier read its last line


def test_a_start_up_timeout_is_relaunched_once_on_the_same_ports(
    heads: list[ScriptedHead],
) -> None:
    head = ScriptedHead([TIMED_OUT, HOLDS_ON])
    heads.append(head)
    head.launch()
    first = head.child
    _exited(head)
    assert head.relaunch_if_start_timed_out()
    assert head.child is not first and head.child is not None and head.child.alive()
    assert (head.port, head.dashboard_port, head.relaunches) == (1, 2, 1)
    # alive now: nothing to do
    assert not head.relaunch_if_start_timed_out()


def test_a_second_timeout_is_reported_not_retried(heads: list[ScriptedHead]) -> None:
    head = ScriptedHead([TIMED_OUT, TIMED_OUT])
    heads.append(head)
    head.launch()
    _exited(head)
    assert head.relaunch_if_start_timed_out()
    _exited(head)
    assert not head.relaunch_if_start_timed_out()
    assert head.launched == 2


def test_any_other_exit_is_not_retried(heads: list[ScriptedHead]) -> None:
    head = ScriptedHead([OTHER_FAILURE, HOLDS_ON])
    heads.append(head)
    head.launch()
    _exited(head)
    assert not head.relaunch_if_start_timed_out()
    assert head.launched == 1


def test_wait_ready_follows_the_relaunched_head(heads: list[ScriptedHead], tmp_path: Path) -> None:
    """wait_ready checks the current child, so a relaunch inside its check is not reported as
    the first child's death; the second (holding) child times out the wait instead."""
    head = ScriptedHead([TIMED_OUT, HOLDS_ON])
    head.token_path = tmp_path / "token"
    head.token_path.write_text("t")
    heads.append(head)
    head.launch()
    _exited(head)
    with pytest.raises(TimeoutError):
        head.wait_ready(time.monotonic() + 1.0, head.relaunch_if_start_timed_out)
    assert head.relaunches == 1


def test_without_the_relaunch_the_death_is_named(heads: list[ScriptedHead], tmp_path: Path) -> None:
    head = ScriptedHead([TIMED_OUT])
    head.token_path = tmp_path / "token"
    head.token_path.write_text("t")
    heads.append(head)
    head.launch()
    _exited(head)
    with pytest.raises(ChildExitedError, match=RAYLET_START_TIMEOUT):
        head.wait_ready(time.monotonic() + 5.0)


def test_a_dashboard_start_failure_found_above_the_tail_is_relaunched(
    heads: list[ScriptedHead], tmp_path: Path
) -> None:
    """Ray prints why the dashboard failed, then quotes 20 lines of its log: the reason is
    above the tail, so the head reads its own log for it."""
    quoted = "; ".join(f"print('dashboard log line {n}')" for n in range(40))
    failed = (
        f"print('ERROR services.py -- {DASHBOARD_START_FAILED} '); {quoted}; raise SystemExit(1)"
    )
    head = ScriptedHead([failed, HOLDS_ON])
    head.log_path = tmp_path / "ray.log"
    heads.append(head)
    head.launch()
    _exited(head)
    assert head.child is not None
    assert not any(DASHBOARD_START_FAILED in line for line in head.child.tail())
    assert head.relaunch_if_start_timed_out()
