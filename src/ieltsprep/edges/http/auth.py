"""Who is calling: the bearer token (mobile) or the session cookie (web), verified by the accounts service."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from ieltsprep.accounts.models import User
from ieltsprep.edges.http.context import container_of
from ieltsprep.errors import Unauthorized
from ieltsprep.settings import Settings

COOKIE_NAME = "ieltsprep_session"


def request_token(router: APIGatewayHttpRouter) -> str | None:
    """The session token of the current request: ``Authorization: Bearer`` first, then the session cookie."""
    event = router.current_event
    header = event.headers.get("authorization") or event.headers.get("Authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for cookie in event.cookies or ():
        name, _, value = cookie.partition("=")
        if name.strip() == COOKIE_NAME and value.strip():
            return value.strip()
    return None


def current_user(router: APIGatewayHttpRouter) -> User:
    """The signed-in user of the current request; Unauthorized (401) without a live session."""
    token = request_token(router)
    if token is None:
        raise Unauthorized("sign in required")
    return container_of(router).accounts.authenticate(token)


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
