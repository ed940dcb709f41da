"""Access control for the review app: loopback by default, a token otherwise.

Without a token the app answers only requests whose ``Host`` is a loopback
name, which stops pages on other sites from reaching it through DNS
rebinding. With a token every request must carry it, in an
``Authorization: Bearer`` or ``X-Beholder-Token`` header, or in the cookie
that a first ``GET ...?token=T`` sets. Requests that change state and come
from a page on another origin are rejected, and every response carries
headers that keep other sites from framing the pages or embedding images.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from beholder.errors import BeholderError

logger = logging.getLogger(__name__)

COOKIE_NAME = "beholder_token"
TOKEN_HEADER = b"x-beholder-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Distinct rejected hosts, origins and clients logged before logging stops.
MAX_LOGGED_REJECTIONS = 100
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        (
            b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
            b"script-src 'self'; object-src 'none'; base-uri 'none'; "
            b"frame-ancestors 'none'; form-action 'self'"
        ),
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class ReviewConfigError(BeholderError, ValueError):
    """The review server cannot start with the given host, port or token."""


def is_loopback(host: str) -> bool:
    """Return True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Raise ReviewConfigError when binding ``host`` without a token is unsafe."""
    if is_loopback(host):
        return
    if not token:
        raise ReviewConfigError(
            f"binding the review app to {host} exposes it beyond this machine; "
            "pass --token SECRET (every request must then carry it), or bind "
            "127.0.0.1."
        )


class AccessMiddleware:
    """ASGI middleware that checks the Host, Origin and token of each request.

    Parameters
    ----------
    app : ASGI app
        The app to protect.
    token : str or None
        Shared secret; None allows loopback ``Host`` names only.
    """

    def __init__(self, app, *, token: str | None):
        self.app = app
        self.token = token.encode() if token else None
        self._logged: set[tuple] = set()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        rejection = self._reject(scope, headers)
        if rejection is not None:
            status, message, extra = rejection
            await _send_json(send, status, {"detail": message}, extra)
            return
        if self._valid_query_token(scope):
            await self._redirect_with_cookie(scope, send)
            return
        await self.app(scope, receive, _with_headers(send))

    def _reject(self, scope, headers):
        host = headers.get(b"host", b"").decode("latin-1")
        if self.token is None and not is_loopback(_hostname(host)):
            self._log_once(("host", host), "rejected request for Host %r", host)
            return (
                400,
                (
                    f"Host {host!r} is not a loopback name; open the app at "
                    "http://127.0.0.1:PORT/ or start it with --token."
                ),
                [],
            )
        origin = headers.get(b"origin", b"").decode("latin-1") or None
        unsafe = scope["method"] not in SAFE_METHODS
        if unsafe and origin is not None and urlsplit(origin).netloc != host:
            self._log_once(
                ("origin", origin),
                "rejected %s from Origin %r",
                scope["method"],
                origin,
            )
            return (403, "cross-origin requests may not change decisions.", [])
        if self.token is None:
            return None
        if self._authorised(headers):
            return None
        if self._valid_query_token(scope):
            return None
        client = (scope.get("client") or ("unknown",))[0]
        self._log_once(
            ("token", client), "rejected request without a valid token from %s", client
        )
        return (
            401,
            (
                "missing or wrong token; open the address with ?token=TOKEN, or "
                "send the header 'Authorization: Bearer TOKEN'."
            ),
            [(b"www-authenticate", b"Bearer")],
        )

    def _log_once(self, key: tuple, message: str, *args) -> None:
        """Log a rejection once per key, so a flood of requests is one line."""
        if key in self._logged or len(self._logged) >= MAX_LOGGED_REJECTIONS:
            return
        self._logged.add(key)
        logger.warning(message, *args)

    def _valid_query_token(self, scope) -> bool:
        if self.token is None or scope["method"] != "GET":
            return False
        query = _query_token(scope)
        return query is not None and hmac.compare_digest(query.encode(), self.token)

    def _authorised(self, headers) -> bool:
        candidates = []
        authorization = headers.get(b"authorization", b"")
        if authorization[:7].lower() == b"bearer ":
            candidates.append(authorization[7:].strip())
        if TOKEN_HEADER in headers:
            candidates.append(headers[TOKEN_HEADER].strip())
        cookie = headers.get(b"cookie")
        if cookie:
            jar = SimpleCookie()
            try:
                jar.load(cookie.decode("latin-1"))
            except CookieError:
                jar = SimpleCookie()
            if COOKIE_NAME in jar:
                candidates.append(jar[COOKIE_NAME].value.encode("latin-1"))
        return any(hmac.compare_digest(value, self.token) for value in candidates)

    async def _redirect_with_cookie(self, scope, send):
        """Respond to ``GET path?token=T`` with the cookie and a redirect."""
        kept = [
            (key, value)
            for key, value in parse_qsl(
                scope.get("query_string", b"").decode("latin-1")
            )
            if key != "token"
        ]
        location = scope.get("root_path", "") + scope["path"]
        if kept:
            location += "?" + urlencode(kept)
        cookie = (
            f"{COOKIE_NAME}={self.token.decode()}; Path=/; HttpOnly; SameSite=Strict"
        )
        headers = [
            (b"location", location.encode("latin-1")),
            (b"set-cookie", cookie.encode("latin-1")),
            (b"content-length", b"0"),
            (b"cache-control", b"no-store"),
        ]
        headers += SECURITY_HEADERS
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _headers(scope) -> dict[bytes, bytes]:
    return {key.lower(): value for key, value in scope.get("headers", [])}


def _hostname(host: str) -> str:
    """Return the name part of a Host header (``[::1]:8765`` gives ``::1``)."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _query_token(scope) -> str | None:
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if key == "token":
            return value
    return None


def _with_headers(send):
    async def send_with_headers(message):
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
        await send(message)

    return send_with_headers


async def _send_json(send, status: int, body: dict, extra_headers) -> None:
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-store"),
    ]
    headers += list(extra_headers) + SECURITY_HEADERS
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
