"""Settings of the classify service (``AUDIOVAL_CLASSIFY_*``)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from audioval_servicekit import PipelineSettings, ServiceSettings


class ClassifySettings(ServiceSettings):
    """Where classify listens and how much it may take on."""

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_CLASSIFY_", extra="ignore")

    port: int = Field(default=50053, ge=0, le=65535)
    # WatchVerdicts subscribers each get a bounded queue; a subscriber that falls this far
    # behind is cut off with RESOURCE_EXHAUSTED rather than growing memory without bound.
    watch_queue_size: int = Field(default=1024, ge=1)
    # "dynamodb" keeps verdicts in the pipeline's verdict table (shared by replicas and the
    # rebuild worker); "memory" is for a single replica without AWS.
    store: Literal["dynamodb", "memory"] = "dynamodb"
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    # Validator processes, and how many tracks may be in flight before RESOURCE_EXHAUSTED.
    validator_workers: int = Field(default_factory=lambda: len(os.sched_getaffinity(0)), ge=1)
    max_in_flight: int = Field(default=32, ge=1)
    # Limits of one validation (fail closed: over a limit is a reject, never unseen).
    max_track_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_duration_s: float = Field(default=4 * 3600.0, gt=0)
    time_budget_s: float = Field(default=300.0, gt=0)
