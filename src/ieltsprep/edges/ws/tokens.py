"""Short-lived internal tokens that let a speaking worker join the WebSocket API as a peer.

A worker token is an HS256 JWT bound to one assessment (and its owner), valid for 15 minutes (a Lambda's longest
run). The secret comes from settings; on the local stage it is generated once and kept under the data directory,
readable by its owner only.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import jwt

from ieltsprep.errors import ServiceUnavailable, Unauthorized
from ieltsprep.ids import now_epoch
from ieltsprep.settings import Settings

WORKER_TOKEN_TTL_SECONDS = 15 * 60
_AUDIENCE = "ieltsprep:ws-worker"
_ALGORITHM = "HS256"
SECRET_FILE = "internal_token_secret"

_lock = threading.Lock()


@dataclass(frozen=True)
class WorkerClaims:
    """Who a verified worker token speaks for."""

    assessment_id: str
    user_id: str
    expires_at: int


def looks_like_worker_token(token: str) -> bool:
    """Whether ``token`` has a JWT's shape (session tokens are opaque and carry no dots)."""
    return token.count(".") == 2


def _local_secret(data_dir: Path) -> str:
    path = data_dir / SECRET_FILE
    with _lock:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            # O_EXCL + 0600: never overwrite a secret another process just wrote, never expose it to other users.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


_parameter_cache: dict[tuple[str, str], str] = {}


def _parameter_secret(settings: Settings, name: str) -> str:
    # One SSM read per warm Lambda, not one per connection.
    key = (settings.region, name)
    if key not in _parameter_cache:
        from ieltsprep.adapters.stores.secrets import read_parameter

        _parameter_cache[key] = read_parameter(settings, name)
    return _parameter_cache[key]


def secret(settings: Settings) -> str:
    """The signing secret: from settings, from its SSM parameter, or (local stage only) the data directory's."""
    if settings.internal_token_secret:
        return settings.internal_token_secret
    if settings.internal_token_secret_parameter:
        return _parameter_secret(settings, settings.internal_token_secret_parameter)
    if settings.is_local:
        return _local_secret(settings.data_dir)
    raise ServiceUnavailable(
        "neither IELTSPREP_INTERNAL_TOKEN_SECRET nor IELTSPREP_INTERNAL_TOKEN_SECRET_PARAMETER is set",
        code="not_configured",
    )


def issue_worker_token(settings: Settings, *, assessment_id: str, user_id: str) -> str:
    """A token the speaking worker of ``assessment_id`` presents as ``?token=`` when it connects."""
    now = now_epoch()
    claims = {"aud": _AUDIENCE, "sub": user_id, "aid": assessment_id, "iat": now, "exp": now + WORKER_TOKEN_TTL_SECONDS}
    return jwt.encode(claims, secret(settings), algorithm=_ALGORITHM)


def verify_worker_token(settings: Settings, token: str) -> WorkerClaims:
    """The claims of a valid, unexpired worker token; raises ``Unauthorized`` otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret(settings),
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["exp", "aud", "sub", "aid"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid worker token", code="invalid_token") from exc
    assessment_id, user_id = claims.get("aid"), claims.get("sub")
    if not isinstance(assessment_id, str) or not isinstance(user_id, str):
        raise Unauthorized("invalid worker token", code="invalid_token")
    return WorkerClaims(assessment_id=assessment_id, user_id=user_id, expires_at=int(claims["exp"]))
