"""The accounts domain's values: users, their consents and login sessions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ieltsprep.errors import ValidationFailed

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
CONSENT_KINDS: tuple[str, ...] = ("terms", "age_16_plus", "marketing")
# Deliberately loose: one @, no spaces, a dot in the domain. Deliverability is the mailbox's business.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def normalise_email(raw: str) -> str:
    """The canonical form of an email address (trimmed, NFKC, lower case), or ValidationFailed."""
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    if not email or len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email) or ".." in email:
        raise ValidationFailed("email: not a valid email address")
    return email


@dataclass(frozen=True)
class User:
    """A registered candidate. ``app_account_token`` (UUID4) ties store purchases to this account."""

    id: str
    email: str
    created_at: str
    is_tester: bool = False
    app_account_token: str = ""
    # kind → {"accepted": bool, "at": ISO time}; recorded at registration (and whenever changed).
    consents: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """The short form API responses embed: ``{"id", "email"}``."""
        return {"id": self.id, "email": self.email}

    def profile(self) -> dict[str, Any]:
        """Everything about the account a client or an export may see (never secrets)."""
        return {
            "id": self.id,
            "email": self.email,
            "created_at": self.created_at,
            "is_tester": self.is_tester,
            "app_account_token": self.app_account_token,
            "consents": {kind: dict(value) for kind, value in self.consents.items()},
        }


@dataclass(frozen=True)
class LoginSession:
    """What a successful login hands back: the bearer token (shown once, stored only hashed) and its expiry."""

    token: str
    expires_at: int
    user: User
