"""HTTP routes of the accounts domain: register, login, logout, me, export, delete."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from ieltsprep.accounts.models import MAX_EMAIL_LENGTH, User
from ieltsprep.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from ieltsprep.container import Container
from ieltsprep.edges.http.auth import cleared_cookie, current_user, request_token, session_cookie
from ieltsprep.edges.http.context import container_of
from ieltsprep.edges.http.errors import ErrorBody
from ieltsprep.edges.http.errors import ErrorDetail as ErrorDetail  # re-exported: other routes import it from here
from ieltsprep.edges.http.schema import ApiModel

router = APIGatewayHttpRouter()


class Consent(ApiModel):
    """What the candidate agreed to at registration."""

    model_config = ConfigDict(extra="forbid")
    terms: bool
    age_16_plus: bool
    marketing: bool = False


class RegisterRequest(ApiModel):
    """POST /api/auth/register."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=MAX_EMAIL_LENGTH)
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    consent: Consent


class LoginRequest(ApiModel):
    """POST /api/auth/login."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=1, max_length=MAX_EMAIL_LENGTH)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class DeleteAccountRequest(ApiModel):
    """DELETE /api/me: the password again, so a stolen session cannot delete the account."""

    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class UserRef(ApiModel):
    """The short form of a user in responses."""

    id: str
    email: str


class ConsentRecord(ApiModel):
    """One consent as recorded."""

    accepted: bool
    at: str


class Profile(UserRef):
    """The caller's profile."""

    created_at: str
    is_tester: bool
    app_account_token: str = Field(description="UUID4 to pass as Apple appAccountToken / Google obfuscated account id")
    consents: dict[str, ConsentRecord]


class RegisterResponse(ApiModel):
    """201 of POST /api/auth/register."""

    user: UserRef


class LoginResponse(ApiModel):
    """200 of POST /api/auth/login (the same token is also set as the HttpOnly session cookie)."""

    token: str
    expires_at: str = Field(description="ISO 8601 UTC")
    user: UserRef


class MeResponse(ApiModel):
    """200 of GET /api/me."""

    user: Profile
    credits: dict[str, int] = Field(description="remaining assessments per module (all four modules present)")


def _doc(
    status: int, description: str, model: type[BaseModel] | None = None, errors: Mapping[int, str] | None = None
) -> dict[int, Any]:
    # OpenAPI documentation only: responses are not re-validated at run time (that would cost every request).
    responses: dict[int, Any] = {status: {"description": description}}
    if model is not None:
        responses[status]["content"] = {"application/json": {"model": model}}
    for code, text in (errors or {}).items():
        responses[code] = {"description": text, "content": {"application/json": {"model": ErrorBody}}}
    return responses


_AUTH = {401: "unauthorized: no live session"}
_BODY = {400: "invalid_json", 413: "payload_too_large", 422: "validation_error"}


def _json(status: int, payload: dict[str, Any], **kwargs: Any) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(payload), **kwargs)


def _source_ip() -> str | None:
    return router.current_event.request_context.http.source_ip or None


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@router.post(
    "/api/auth/register",
    responses=_doc(201, "Account created", RegisterResponse, {**_BODY, 409: "email_taken", 429: "rate_limited"}),
)
def register(body: RegisterRequest) -> Response[str]:
    """Create an account with recorded consent."""
    user = container_of(router).accounts.register(
        body.email,
        body.password,
        terms=body.consent.terms,
        age_16_plus=body.consent.age_16_plus,
        marketing=body.consent.marketing,
        source_ip=_source_ip(),
    )
    return _json(201, {"user": user.public()})


@router.post(
    "/api/auth/login",
    responses=_doc(200, "Session opened", LoginResponse, {**_BODY, 401: "invalid_credentials", 429: "rate_limited"}),
)
def login(body: LoginRequest) -> Response[str]:
    """Open a session: a bearer token in the body and the same token in an HttpOnly cookie."""
    container = container_of(router)
    session = container.accounts.login(body.email, body.password, source_ip=_source_ip())
    cookie = session_cookie(container.settings, session.token, container.settings.session_ttl_seconds)
    payload = {"token": session.token, "expires_at": _iso(session.expires_at), "user": session.user.public()}
    return _json(200, payload, cookies=[cookie])


@router.post("/api/auth/logout", responses=_doc(204, "Session revoked", errors=_AUTH))
def logout() -> Response[str]:
    """Revoke the caller's session and clear the cookie."""
    container = container_of(router)
    current_user(router)
    token = request_token(router)
    if token:
        container.accounts.logout(token)
    return Response(status_code=204, body="", cookies=[cleared_cookie(container.settings)])


def _credits(container: Container, user: User) -> dict[str, int]:
    # Imported on use so the other routes' cold start does not pay for billing's modules.
    from ieltsprep.billing.ledger import balances

    return dict(balances(container.store, user.id))


@router.get("/api/me", responses=_doc(200, "Profile and credits", MeResponse, _AUTH))
def me() -> dict[str, Any]:
    """The caller's profile and credit balance per module."""
    user = current_user(router)
    container = container_of(router)
    # Beyond API.md's id/email/created_at: the app needs app_account_token to bind store purchases.
    return {"user": user.profile(), "credits": _credits(container, user)}


@router.get("/api/me/export", responses=_doc(200, "Every stored datum about the caller", errors=_AUTH))
def export() -> Response[str]:
    """Every stored datum about the caller, as one JSON document."""
    from ieltsprep.accounts import privacy

    user = current_user(router)
    document = privacy.export_user(container_of(router), user)
    return _json(200, document)


@router.delete("/api/me", responses=_doc(204, "Account and data deleted", errors={**_BODY, **_AUTH}))
def delete_me(body: DeleteAccountRequest) -> Response[str]:
    """Delete the caller's account and every datum about them, after re-checking the password."""
    from ieltsprep.accounts import privacy

    user = current_user(router)
    container = container_of(router)
    container.accounts.verify_password(user, body.password)
    privacy.erase_user(container, user)
    return Response(status_code=204, body="", cookies=[cleared_cookie(container.settings)])
