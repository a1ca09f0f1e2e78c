"""Who may talk to the agent: Host and Origin checks, and the token on HTTP routes.

Web pages must not reach a process that runs code on the GPU and reads
files: the Host check stops DNS rebinding, the Origin allowlist stops
cross-site pages, and the token proves the caller was paired. A token is
the pairing token or a named user's (cluster/users.py); once users exist,
the pairing token is the agent owner's, an admin's.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from underpaint.cluster.users import Caller, UserStore
from underpaint.config import Settings
from underpaint.wire.messages import WEBSOCKET_PATH

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
USERS = web.AppKey("users", UserStore)


def host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]")[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def allowed_host(host_header: str | None, settings: Settings) -> bool:
    if not host_header:
        return False
    name = host_name(host_header).lower()
    return name in LOOPBACK_NAMES or name in settings.allowed_hosts or (
        not settings.is_loopback and name == settings.host.lower())


def allowed_origin(origin: str | None, settings: Settings) -> bool:
    """No Origin means a non-browser client (CLI, UXP, scripts): the token still applies."""
    return origin is None or origin in settings.allowed_origins


def own_origin(origin: str | None, host_header: str | None, scheme: str = "http") -> bool:
    """Whether `origin` is the agent's own (its page): the request's scheme (http, or https with TLS) on the
    very host and port the request was sent to, which the Host check has already found to be a loopback or
    allowed name."""
    return origin is not None and host_header is not None and \
        origin.lower() == f"{scheme}://{host_header}".lower()


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return request.query.get("token")


def token_ok(request: web.Request, settings: Settings) -> bool:
    if not settings.require_token:
        return True
    given = bearer_token(request) or ""
    return secrets.compare_digest(given.encode(), (settings.token or "").encode())


def identify(token: str, settings: Settings, users: UserStore) -> Caller | None:
    """Who `token` belongs to: a named user; the agent's owner (the pairing token, an admin once users
    exist); or nobody (None)."""
    user = users.find(token)
    if user is not None:
        return Caller(user, user.admin)
    if not settings.require_token or secrets.compare_digest(token.encode(), (settings.token or "").encode()):
        return Caller(None, admin=users.any())
    return None


def request_caller(request: web.Request, settings: Settings) -> Caller | None:
    """The caller an HTTP request's `Authorization: Bearer` (or `?token=`) names."""
    return identify(bearer_token(request) or "", settings, request.app[USERS])


def security_middleware(settings: Settings) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not allowed_host(request.headers.get("Host"), settings):
            return web.json_response({"error": "forbidden_host", "message": "Host must be a loopback name."},
                                     status=403)
        origin = request.headers.get("Origin")
        if not (allowed_origin(origin, settings) or own_origin(origin, request.headers.get("Host"), request.scheme)):
            return web.json_response({"error": "forbidden_origin",
                                      "message": "This Origin is not on the agent's allowlist."}, status=403)
        # Sandboxed iframes (Figma) send Origin null, and so can any page; such callers
        # must show the token on every route (websockets show it in their hello).
        if request.headers.get("Origin") == "null" and request.path != WEBSOCKET_PATH \
                and request_caller(request, settings) is None:
            return web.json_response({"error": "unauthorized",
                                      "message": "Origin null needs the pairing token."}, status=401)
        return await handler(request)

    return check
