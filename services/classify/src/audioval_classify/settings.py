"""Settings of the classify service (``AUDIOVAL_CLASSIFY_*``)."""

from __future__ import annotations

from audioval_servicekit import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class ClassifySettings(ServiceSettings):
    """Where classify listens and how much it may take on."""

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_CLASSIFY_", extra="ignore")

    port: int = Field(default=50053, ge=0, le=65535)
    # WatchVerdicts subscribers each get a bounded queue; a subscriber that falls this far
    # behind is cut off with RESOURCE_EXHAUSTED rather than growing memory without bound.
    watch_queue_size: int = Field(default=1024, ge=1)
