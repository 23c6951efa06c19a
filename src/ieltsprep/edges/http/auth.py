"""Who is calling: the bearer token (mobile) or the session cookie (web), verified by the accounts service."""

from __future__ import annotations

from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from ieltsprep.accounts.models import User
from ieltsprep.edges.http.context import container_of
from ieltsprep.errors import Forbidden, Unauthorized
from ieltsprep.settings import Settings

COOKIE_NAME = "ieltsprep_session"


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _bearer(router: APIGatewayHttpRouter) -> str | None:
    header = router.current_event.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _cookie(router: APIGatewayHttpRouter) -> str | None:
    for cookie in router.current_event.cookies or ():
        name, _, value = cookie.partition("=")
        if name.strip() == COOKIE_NAME and value.strip():
            return value.strip()
    return None


def request_token(router: APIGatewayHttpRouter) -> str | None:
    """The session token of the current request: ``Authorization: Bearer`` first, then the session cookie."""
    return _bearer(router) or _cookie(router)


def check_cookie_origin(router: APIGatewayHttpRouter, settings: Settings) -> None:
    """Forbidden when a cookie-authenticated write comes from a page of another origin (CSRF defence in depth).

    SameSite=Lax already keeps the cookie off cross-site writes; this also refuses same-site but cross-origin pages.
    Bearer tokens need no such check: browsers never attach them by themselves.
    """
    event = router.current_event
    origin = event.headers.get("origin")
    if event.http_method.upper() in SAFE_METHODS or not origin or origin in settings.cors_origins:
        return
    host = event.headers.get("host") or event.request_context.domain_name
    if urlsplit(origin).netloc != host:
        raise Forbidden("this request came from another site", code="cross_origin")


def current_user(router: APIGatewayHttpRouter) -> User:
    """The signed-in user of the current request; Unauthorized (401) without a live session."""
    container = container_of(router)
    token = _bearer(router)
    if token is None:
        token = _cookie(router)
        if token is None:
            raise Unauthorized("sign in required")
        check_cookie_origin(router, container.settings)
    return container.accounts.authenticate(token)


def session_cookie(settings: Settings, token: str, max_age: int) -> Cookie:
    """The web session cookie: HttpOnly, Secure (outside local http), SameSite=Lax, whole site."""
    return Cookie(
        name=COOKIE_NAME,
        value=token,
        path="/",
        secure=settings.cookie_secure,
        http_only=True,
        max_age=max_age,
        same_site=SameSite.LAX_MODE,
    )


def cleared_cookie(settings: Settings) -> Cookie:
    """A cookie that makes the browser forget the session cookie."""
    return session_cookie(settings, "", 0)
