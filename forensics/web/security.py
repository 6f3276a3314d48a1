"""Authentication, sessions, CSRF and response headers for ``forensics serve``.

- One random token per server run (or ``FORENSICS_TOKEN``). It is accepted as ``Authorization: Bearer <token>``
  or once in the URL (``?token=``), which sets a session cookie (HttpOnly, SameSite=Strict) and redirects to the
  same address without it, so the token does not linger in the address bar or the history.
- The session cookie is ``<nonce>.<HMAC(token, nonce)>``: nothing is kept on the server, and a new token (a new
  run) invalidates every session.
- CSRF: a request authenticated by the cookie that changes anything (POST, PUT, PATCH, DELETE) must also carry
  ``HMAC(token, "csrf" + nonce)`` in the ``X-CSRF-Token`` header or a ``csrf`` form field (the pages put it in
  every form). A request authenticated by the Bearer header needs none (browsers never add that header).
- Every response carries a Content-Security-Policy that forbids loading anything from elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

# Pages: only this server's own vendored script and style; images from here or inline data URIs (heat maps).
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "frame-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'")
# The court report as written (it carries the same policy in a meta tag), sandboxed: no script can run in it.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
# JSON, PNG, zip and other non-page responses.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """``True`` for addresses that only this machine can reach (127.0.0.0/8, ::1, ``localhost``)."""
    h = host.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


class Auth:
    """The token of this run and the sessions and CSRF tokens derived from it."""

    def __init__(self, token: str, cookie_name: str = "forensics_session") -> None:
        if len(token) < 16:
            raise ValueError("the token must be at least 16 characters long")
        self.token = token
        self.cookie_name = cookie_name
        self._key = hashlib.sha256(b"forensics-serve\x00" + token.encode("utf-8")).digest()

    def _mac(self, what: str) -> str:
        return hmac.new(self._key, what.encode("ascii"), hashlib.sha256).hexdigest()

    def token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def bearer_ok(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(value.strip())

    def new_session(self) -> str:
        nonce = secrets.token_hex(16)
        return f"{nonce}.{self._mac('session' + nonce)}"

    def session_ok(self, cookie: str | None) -> bool:
        if not cookie or "." not in cookie:
            return False
        nonce, _, mac = cookie.partition(".")
        if len(nonce) != 32 or not all(c in "0123456789abcdef" for c in nonce):
            return False
        return hmac.compare_digest(mac.encode("utf-8", "replace"), self._mac("session" + nonce).encode())

    def csrf_for(self, cookie: str) -> str:
        return self._mac("csrf" + cookie.partition(".")[0])

    def csrf_ok(self, cookie: str | None, given: str | None) -> bool:
        return bool(cookie and given) and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                              self.csrf_for(cookie).encode())


def security_headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"cache-control", b"no-store"),
    ]
