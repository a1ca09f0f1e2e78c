"""Who may use the agent's page: sign-in with the pairing token, kept in a cookie, and the checks
every page route runs.

The page is the agent owner's: signed in with the pairing token (or, on a studio
agent, an admin user's token), it sees and acts on every client's jobs; other
users' tokens do not open it. The cookie holds no token, only an HMAC of it (an
admin's: their name and an HMAC keyed by their token's digest), so it survives a
restart of the agent and stops working when the token changes or the admin goes. It is HttpOnly
(no script reads it), SameSite=Strict (no other site's page sends it) and
host-only with Path=/ (the agent's own origin). Secure only when the agent serves
TLS (tls_certificate): on plain HTTP loopback a Secure cookie would never be sent. Its name carries the
port, as cookies are shared by every port of a host: two agents never clobber
each other's sign-in.

Routes that change something take JSON only, and a browser calling them with the
cookie must show the agent's own Origin (browsers always send one with a POST):
with the security middleware's Host and Origin checks, a page on any other origin
can neither read the JSON routes nor change anything through them. Scripts may
send `Authorization: Bearer <token>` instead of the cookie, as on the download routes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from aiohttp import web

from underpaint.cluster.users import Caller, User
from underpaint.config import Settings
from underpaint.core import ErrorCode
from underpaint.server.security import USERS, bearer_token, identify, own_origin, request_caller

SESSION_DAYS = 30
_SESSION_CONTEXT = b"underpaint dashboard session v1"


def cookie_name(request: web.Request) -> str:
    """The session cookie of the port the request came in on (the settings may say 0: any free port)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if isinstance(sockname, tuple) and len(sockname) > 1 else request.url.port
    return f"underpaint_session_{port}"


def session_value(settings: Settings, admin: User | None = None) -> str:
    """What the cookie holds: an HMAC of the pairing token, or an admin's name and an HMAC of their token's
    digest; never a token itself."""
    if admin is None:
        return hmac.new((settings.token or "").encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()
    return f"{admin.name}:{hmac.new(admin.token_digest.encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()}"


def may_open_page(caller: Caller | None) -> bool:
    """The page shows every user's jobs."""
    return caller is not None and caller.sees_whole_agent


def refusal(status: int, code: str, message: str) -> web.HTTPException:
    """An HTTP error with the JSON body every route of the agent answers with."""
    exception = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
                 409: web.HTTPConflict, 415: web.HTTPUnsupportedMediaType, 422: web.HTTPUnprocessableEntity,
                 503: web.HTTPServiceUnavailable}[status]
    return exception(text=json.dumps({"error": code, "message": message}), content_type="application/json")


def has_session(request: web.Request, settings: Settings) -> bool:
    if not settings.require_token:
        return True
    given = request.cookies.get(cookie_name(request), "")
    name, colon, _ = given.partition(":")
    admin = request.app[USERS].get(name) if colon else None
    if colon and (admin is None or not admin.admin):
        return False
    return hmac.compare_digest(given.encode(), session_value(settings, admin).encode())


def check_reader(request: web.Request, settings: Settings) -> None:
    """The page's session cookie or the token; 401 unauthorized otherwise."""
    if has_session(request, settings) or (bearer_token(request) is not None
                                          and may_open_page(request_caller(request, settings))):
        return
    raise refusal(401, ErrorCode.UNAUTHORIZED, "Sign in with the pairing token (`underpaint token` shows it).")


async def json_body(request: web.Request, settings: Settings) -> dict[str, Any]:
    """The JSON object a state-changing route was sent, after its caller is checked: the token, or the
    cookie from the agent's own page (its Origin); never a form or another content type."""
    if bearer_token(request) is None:
        check_reader(request, settings)
        if not own_origin(request.headers.get("Origin"), request.headers.get("Host"), request.scheme):
            raise refusal(403, "forbidden_origin", "Only the agent's own page may change things with its cookie.")
    elif not may_open_page(request_caller(request, settings)):
        raise refusal(401, ErrorCode.UNAUTHORIZED, "Wrong token: the page takes the pairing token or an admin's.")
    if request.content_type != "application/json":
        raise refusal(415, ErrorCode.INVALID_MESSAGE, "This route takes application/json only.")
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise refusal(400, ErrorCode.BAD_JSON, "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise refusal(400, ErrorCode.INVALID_MESSAGE, "The body must be a JSON object.")
    return body


async def sign_in(request: web.Request, settings: Settings) -> web.Response:
    if request.content_type != "application/json":
        raise refusal(415, ErrorCode.INVALID_MESSAGE, "This route takes application/json only.")
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        body = None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise refusal(400, ErrorCode.INVALID_MESSAGE, 'Send {"token": "<the pairing token>"}.')
    caller = identify(token.strip(), settings, request.app[USERS])
    if caller is None:
        raise refusal(401, ErrorCode.UNAUTHORIZED, "Wrong pairing token. Run `underpaint token` and paste its output.")
    if not may_open_page(caller):
        raise refusal(403, ErrorCode.UNAUTHORIZED, "This page shows every user's jobs, so only admins sign in to "
                                                   "it; your own jobs are in your plugin.")
    response = web.json_response({"signed_in": True})
    response.set_cookie(cookie_name(request), session_value(settings, caller.user), max_age=SESSION_DAYS * 86400,
                        path="/",
                        httponly=True, samesite="Strict", secure=request.secure)
    return response


def sign_out(request: web.Request) -> web.Response:
    response = web.json_response({"signed_in": False})
    response.del_cookie(cookie_name(request), path="/", samesite="Strict")
    return response
