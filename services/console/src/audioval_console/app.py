"""The console's routes: login, the queue, the track page, its picture and audio, decisions.

Handlers are plain functions (Starlette runs them in its thread pool): each reads or writes the
verdict table through :class:`audioval_pipeline.verdict_table.VerdictTable` and renders a
Jinja2 template. Every page but the login needs a session; every POST but the login's needs the
session's CSRF token (the login form carries one of its own, bound to a cookie).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.from_thread
from google.protobuf import timestamp_pb2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from audioval.v1 import verdict_pb2
from audioval_console.held import HeldTracks
from audioval_console.picture import PictureCache
from audioval_console.present import findings_of, matches_of, when
from audioval_console.sessions import COOKIE, LOCAL_MODERATOR, Session, SessionStore, check_token
from audioval_console.settings import ConsoleSettings
from audioval_pipeline.verdict_table import VerdictTable

__all__ = ["Console", "create_app"]

log = logging.getLogger(__name__)

_LOGIN_COOKIE = "audioval_console_login"
_DECISIONS = {"accept": verdict_pb2.DECISION_ACCEPT, "reject": verdict_pb2.DECISION_REJECT}
_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
_TEMPLATES.env.globals["when"] = when
_TEMPLATES.env.globals["decision_name"] = lambda d: (
    verdict_pb2.Decision.Name(d).removeprefix("DECISION_").lower()
)


@dataclass
class Console:
    """What the routes share: settings, the verdict table, held tracks, sessions, pictures,
    classify."""

    settings: ConsoleSettings
    table: VerdictTable
    held: HeldTracks
    sessions: SessionStore
    pictures: PictureCache
    # Adds a track as a known-bad reference (track id -> reference id); None: no index.
    add_reference: Callable[[str], str] | None = None

    @property
    def moderators(self) -> dict[str, str]:
        return self.settings.moderators()

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))


def create_app(
    settings: ConsoleSettings,
    table: VerdictTable,
    held: HeldTracks,
    *,
    add_reference: Callable[[str], str] | None = None,
) -> Starlette:
    """The console as an ASGI app over the verdict table and the quarantine bucket
    (``add_reference``: classify's AddReference, or None)."""
    console = Console(settings, table, held, SessionStore(), PictureCache(), add_reference)

    def bind(handler: Callable[[Console, Request], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            return handler(console, request)

        return endpoint

    routes = [
        Route("/", bind(queue_page)),
        Route("/login", bind(login), methods=["GET", "POST"]),
        Route("/logout", bind(logout), methods=["POST"]),
        Route("/healthz", bind(lambda _c, _r: PlainTextResponse("ok"))),
        Route("/tracks/{track_id}", bind(track_page)),
        Route("/tracks/{track_id}/claim", bind(claim), methods=["POST"]),
        Route("/tracks/{track_id}/release", bind(release), methods=["POST"]),
        Route("/tracks/{track_id}/decide", bind(decide), methods=["POST"]),
        Route("/tracks/{track_id}/picture.png", bind(picture)),
        Route("/tracks/{track_id}/audio", bind(audio)),
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    return app


# -- sessions ---------------------------------------------------------------------------------


def _login_page(request: Request, error: str = "", status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = _TEMPLATES.TemplateResponse(
        request, "login.html", {"error": error, "csrf": nonce}, status_code=status
    )
    response.set_cookie(_LOGIN_COOKIE, nonce, httponly=True, samesite="strict", path="/login")
    return response


def _start_session(console: Console, moderator: str, target: str) -> Response:
    session_id, _ = console.sessions.open(moderator)
    log.info("moderator logged in", extra={"moderator": moderator})
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        samesite="strict",
        secure=console.settings.tls_enabled,
        path="/",
    )
    return response


def _require(console: Console, request: Request) -> Session | Response:
    """The request's session, opening one from ``?token=`` (or, without tokens configured,
    for anyone); otherwise the login page."""
    session = console.session(request)
    if session is not None:
        return session
    if not console.moderators:
        return _start_session(console, LOCAL_MODERATOR, request.url.path)
    token = request.query_params.get("token")
    if token:
        moderator = check_token(token, console.moderators)
        if moderator is not None:
            # Redirect to the same page without the token in its address.
            return _start_session(console, moderator, request.url.path)
        return _login_page(request, "That token is not valid.", status=401)
    if request.url.path != "/":
        return PlainTextResponse("log in first", status_code=401)
    return _login_page(request)


def _require_post(console: Console, request: Request, form: Any) -> Session | Response:
    session = console.session(request)
    if session is None:
        return PlainTextResponse("log in first", status_code=401)
    if not session.csrf_ok(form.get("csrf")):
        return PlainTextResponse("stale or missing form token", status_code=403)
    return session


def login(console: Console, request: Request) -> Response:
    if request.method == "GET":
        return _login_page(request)
    form = _form(request)
    nonce = request.cookies.get(_LOGIN_COOKIE)
    sent = form.get("csrf")
    if not nonce or not isinstance(sent, str) or not secrets.compare_digest(nonce, sent):
        return _login_page(request, "The form expired; try again.", status=403)
    moderator = check_token(str(form.get("token", "")), console.moderators)
    if moderator is None:
        return _login_page(request, "That token is not valid.", status=401)
    return _start_session(console, moderator, "/")


def logout(console: Console, request: Request) -> Response:
    form = _form(request)
    checked = _require_post(console, request, form)
    if isinstance(checked, Response):
        return checked
    console.sessions.close(request.cookies.get(COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- pages ------------------------------------------------------------------------------------


def queue_page(console: Console, request: Request) -> Response:
    session = _require(console, request)
    if isinstance(session, Response):
        return session
    items = console.table.review_queue()
    codes = sorted({f.code for item in items for f in item.verdict.findings})
    wanted = request.query_params.get("finding", "")
    if wanted:
        items = [i for i in items if any(f.code == wanted for f in i.verdict.findings)]
    return _TEMPLATES.TemplateResponse(
        request,
        "queue.html",
        {
            "session": session,
            "items": items,
            "codes": codes,
            "finding": wanted,
            "notice": request.query_params.get("notice", ""),
        },
    )


def track_page(console: Console, request: Request) -> Response:
    session = _require(console, request)
    if isinstance(session, Response):
        return session
    track_id = request.path_params["track_id"]
    verdict = console.table.get(track_id)
    if verdict is None:
        return PlainTextResponse(f"no verdict for {track_id}", status_code=404)
    lease = console.table.lease_of(track_id)
    return _TEMPLATES.TemplateResponse(
        request,
        "track.html",
        {
            "session": session,
            "verdict": verdict,
            "decision": verdict_pb2.Decision.Name(verdict.decision)
            .removeprefix("DECISION_")
            .lower(),
            "findings": findings_of(verdict),
            "matches": matches_of(verdict),
            "audit": console.table.audit(track_id),
            "lease": lease,
            "mine": lease is not None and lease.moderator == session.moderator,
            "has_audio": console.held.has(track_id),
            "can_reference": console.add_reference is not None,
            "notice": request.query_params.get("notice", ""),
        },
    )


def picture(console: Console, request: Request) -> Response:
    if console.session(request) is None:
        return PlainTextResponse("log in first", status_code=401)
    track_id = request.path_params["track_id"]
    verdict = console.table.get(track_id)
    if verdict is None:
        return PlainTextResponse("no such track", status_code=404)
    png = console.pictures.get(verdict, lambda: console.held.read(track_id))
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


def audio(console: Console, request: Request) -> Response:
    if console.session(request) is None:
        return PlainTextResponse("log in first", status_code=401)
    held = console.held.open(request.path_params["track_id"])
    if held is None:
        return PlainTextResponse("the track's bytes are not held", status_code=404)
    return StreamingResponse(
        held.chunks(),
        media_type=held.content_type,
        headers={"Cache-Control": "private, no-store", "Content-Length": str(held.size_bytes)},
    )


# -- actions ----------------------------------------------------------------------------------


def claim(console: Console, request: Request) -> Response:
    form = _form(request)
    session = _require_post(console, request, form)
    if isinstance(session, Response):
        return session
    track_id = request.path_params["track_id"]
    lease = console.table.lease(track_id, session.moderator, ttl_s=console.settings.lease_s)
    if lease is None:
        holder = console.table.lease_of(track_id)
        who = holder.moderator if holder is not None else "another moderator"
        return RedirectResponse(f"/?notice={quote(f'held by {who}')}", status_code=303)
    log.info("track leased", extra={"track_id": track_id, "moderator": session.moderator})
    return RedirectResponse(f"/tracks/{track_id}", status_code=303)


def release(console: Console, request: Request) -> Response:
    form = _form(request)
    session = _require_post(console, request, form)
    if isinstance(session, Response):
        return session
    console.table.release(request.path_params["track_id"], session.moderator)
    return RedirectResponse("/", status_code=303)


def decide(console: Console, request: Request) -> Response:
    form = _form(request)
    session = _require_post(console, request, form)
    if isinstance(session, Response):
        return session
    track_id = request.path_params["track_id"]
    action = str(form.get("decision", ""))
    reason = str(form.get("reason", "")).strip()
    as_reference = action == "reject_reference"
    decision = _DECISIONS.get("reject" if as_reference else action)
    if decision is None or not reason:
        return PlainTextResponse("choose accept or reject and give a reason", status_code=400)
    stored = console.table.get(track_id)
    if stored is None or stored.decision != verdict_pb2.DECISION_REVIEW:
        return PlainTextResponse("this track is not under review", status_code=409)
    decided = decided_verdict(stored, decision)
    if not console.table.decide(
        decided, replaces=stored, moderator=session.moderator, reason=reason
    ):
        return PlainTextResponse(
            "not stored: your lease on this track expired or it was decided meanwhile",
            status_code=409,
        )
    log.info(
        "decision stored",
        extra={"track_id": track_id, "moderator": session.moderator, "decision": action},
    )
    notice = "decided"
    if as_reference and console.add_reference is not None:
        try:
            notice = f"decided; known-bad reference {console.add_reference(track_id)} added"
        except Exception as err:  # the decision stands; say why the reference did not
            log.warning("AddReference failed: %s", err, extra={"track_id": track_id})
            notice = f"decided; the reference was not added: {err}"
    return RedirectResponse(f"/tracks/{track_id}?notice={quote(notice)}", status_code=303)


def decided_verdict(
    stored: verdict_pb2.Verdict, decision: verdict_pb2.Decision
) -> verdict_pb2.Verdict:
    """The review verdict with a moderator's decision, judged now (findings, score and model
    stay: they are what the moderator decided on; who and why are in the audit trail)."""
    decided = verdict_pb2.Verdict()
    decided.CopyFrom(stored)
    decided.decision = decision
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    decided.judged_at.CopyFrom(stamp)
    return decided


def _form(request: Request) -> Any:
    """The request's form, parsed in this worker thread (handlers are synchronous)."""

    async def read() -> Any:
        return await request.form()

    return anyio.from_thread.run(read)
