"""The review console: where a ``review`` verdict goes to be decided by a person."""

from audioval_console.app import create_app
from audioval_console.settings import ConsoleSettings

__all__ = ["ConsoleSettings", "create_app"]
