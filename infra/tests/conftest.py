"""Fixtures: the program run once per committed stack under Pulumi's mocks."""

from __future__ import annotations

import pytest

from audioval_infra.mocks import StackRun, run_stack

STACKS = ("dev", "prod")
_runs: dict[str, StackRun] = {}


@pytest.fixture(scope="session", params=STACKS)
def stack_run(request: pytest.FixtureRequest) -> StackRun:
    stack = str(request.param)
    if stack not in _runs:
        _runs[stack] = run_stack(stack)
    return _runs[stack]
