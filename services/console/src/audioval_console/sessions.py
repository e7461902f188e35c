"""Moderators' logins: tokens compared in constant time, sessions held server-side.

A session is a random id in an ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` under TLS)
naming a moderator and a CSRF token of its own, which every form of the session carries and
every POST must return. Sessions live in this process: a console replica restarted, or another
replica, asks for the token again.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

__all__ = ["COOKIE", "LOCAL_MODERATOR", "Session", "SessionStore", "check_token"]

COOKIE = "audioval_console"
# Who a browser is when the console has no tokens (loopback development).
LOCAL_MODERATOR = "local"


@dataclass(frozen=True)
class Session:
    moderator: str
    csrf: str
    expires_at: float  # time.monotonic()

    def csrf_ok(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


def check_token(sent: str, moderators: dict[str, str]) -> str | None:
    """The moderator whose token ``sent`` is, or None. Every token is compared, each in
    constant time, so neither the answer's time nor its path tells how much matched."""
    found = None
    for token, name in moderators.items():
        if hmac.compare_digest(sent.encode(), token.encode()):
            found = name
    return found


class SessionStore:
    """Open sessions by id, each ending ``ttl_s`` after it was opened."""

    def __init__(self, ttl_s: float = 12 * 3600.0) -> None:
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(self, moderator: str) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(moderator, secrets.token_urlsafe(32), time.monotonic() + self._ttl_s)
        with self._lock:
            now = time.monotonic()
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
            self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None or session.expires_at <= time.monotonic():
            return None
        return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)
