"""Who may use the agent's page: sign-in with the pairing token, kept in a cookie, and the checks
every page route runs.

The page is the agent owner's: signed in with the pairing token, it sees and acts on
every client's jobs. The cookie holds no token, only an HMAC of it, so it survives
a restart of the agent and stops working when the token changes. It is HttpOnly
(no script reads it), SameSite=Strict (no other site's page sends it) and
host-only with Path=/ (the agent's own origin). Not Secure: the agent speaks plain
HTTP on loopback, where a Secure cookie would never be sent. Its name carries the
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

from underpaint.config import Settings
from underpaint.core import ErrorCode
from underpaint.server.security import bearer_token, own_origin, token_ok

SESSION_DAYS = 30
_SESSION_CONTEXT = b"underpaint dashboard session v1"


def cookie_name(request: web.Request) -> str:
    """The session cookie of the port the request came in on (the settings may say 0: any free port)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if isinstance(sockname, tuple) and len(sockname) > 1 else request.url.port
    return f"underpaint_session_{port}"


def session_value(settings: Settings) -> str:
    """What the cookie holds: an HMAC of the token, never the token itself."""
    return hmac.new((settings.token or "").encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()


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
    return hmac.compare_digest(given.encode(), session_value(settings).encode())


def check_reader(request: web.Request, settings: Settings) -> None:
    """The page's session cookie or the token; 401 unauthorized otherwise."""
    if has_session(request, settings) or (bearer_token(request) is not None and token_ok(request, settings)):
        return
    raise refusal(401, ErrorCode.UNAUTHORIZED, "Sign in with the pairing token (`underpaint token` shows it).")


async def json_body(request: web.Request, settings: Settings) -> dict[str, Any]:
    """The JSON object a state-changing route was sent, after its caller is checked: the token, or the
    cookie from the agent's own page (its Origin); never a form or another content type."""
    if bearer_token(request) is None:
        check_reader(request, settings)
        if not own_origin(request.headers.get("Origin"), request.headers.get("Host")):
            raise refusal(403, "forbidden_origin", "Only the agent's own page may change things with its cookie.")
    elif not token_ok(request, settings):
        raise refusal(401, ErrorCode.UNAUTHORIZED, "Wrong pairing token.")
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
    expected = (settings.token or "").encode()
    if settings.require_token and not hmac.compare_digest(token.strip().encode(), expected):
        raise refusal(401, ErrorCode.UNAUTHORIZED, "Wrong pairing token. Run `underpaint token` and paste its output.")
    response = web.json_response({"signed_in": True})
    response.set_cookie(cookie_name(request), session_value(settings), max_age=SESSION_DAYS * 86400, path="/",
                        httponly=True, samesite="Strict")
    return response


def sign_out(request: web.Request) -> web.Response:
    response = web.json_response({"signed_in": False})
    response.del_cookie(cookie_name(request), path="/", samesite="Strict")
    return response
