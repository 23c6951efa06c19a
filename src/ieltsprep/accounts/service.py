"""The accounts service: registration with consent, login sessions, authentication."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable

from ieltsprep.accounts.models import LoginSession, User, normalise_email
from ieltsprep.accounts.passwords import MAX_LENGTH, Passwords, check_policy
from ieltsprep.accounts.ratelimit import RateLimiter
from ieltsprep.accounts.repository import AccountRepository
from ieltsprep.adapters.storage.port import Store
from ieltsprep.errors import NotFound, Unauthorized, ValidationFailed
from ieltsprep.ids import new_id, now_epoch, now_iso
from ieltsprep.settings import Settings

MAX_TOKEN_LENGTH = 128  # token_urlsafe(32) is 43 characters; anything far longer is not ours


def hash_token(token: str) -> str:
    """The SHA-256 (hex) under which a session token is stored; the token itself never is."""
    return hashlib.sha256(token.encode()).hexdigest()


def _invalid_credentials() -> Unauthorized:
    return Unauthorized("wrong email or password", code="invalid_credentials")


class AccountService:
    """Register, log in, authenticate and look up users; every store access goes through the repository."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        passwords: Passwords | None = None,
        clock: Callable[[], int] = now_epoch,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self.repository = AccountRepository(store)
        self.passwords = passwords or Passwords(
            time_cost=settings.password_time_cost, memory_kib=settings.password_memory_kib
        )
        self._limiter = RateLimiter(store, clock=clock)

    # --- registration ---------------------------------------------------------------------------------------
    def register(
        self,
        email: str,
        password: str,
        *,
        terms: bool,
        age_16_plus: bool,
        marketing: bool = False,
        source_ip: str | None = None,
    ) -> User:
        """Create an account; ValidationFailed on bad input, Conflict ``email_taken``, RateLimited per source IP."""
        if source_ip:
            self._limiter.hit(
                "register-ip",
                source_ip,
                limit=self._settings.register_attempts_per_window,
                window_seconds=self._settings.rate_limit_window_seconds,
            )
        normalised = normalise_email(email)
        check_policy(password)
        if terms is not True:
            raise ValidationFailed("consent.terms: the terms must be accepted")
        if age_16_plus is not True:
            raise ValidationFailed("consent.age_16_plus: you must be 16 or older")
        at = now_iso()
        consents = {
            "terms": {"accepted": True, "at": at},
            "age_16_plus": {"accepted": True, "at": at},
            "marketing": {"accepted": bool(marketing), "at": at},
        }
        user = User(
            id=new_id(),
            email=normalised,
            created_at=at,
            is_tester=False,
            app_account_token=str(uuid.uuid4()),
            consents=consents,
        )
        self.repository.create(user, self.passwords.hash(password))
        return user

    # --- sessions -------------------------------------------------------------------------------------------
    def login(self, email: str, password: str, *, source_ip: str | None = None) -> LoginSession:
        """A new session for valid credentials; Unauthorized ``invalid_credentials`` otherwise (same timing)."""
        window = self._settings.rate_limit_window_seconds
        if source_ip:
            ip_limit = self._settings.login_ip_attempts_per_window
            self._limiter.hit("login-ip", source_ip, limit=ip_limit, window_seconds=window)
        try:
            normalised = normalise_email(email)
        except ValidationFailed:
            self.passwords.burn(password[:MAX_LENGTH])
            raise _invalid_credentials() from None
        limit = self._settings.login_attempts_per_window
        self._limiter.hit("login-email", normalised, limit=limit, window_seconds=window)
        user = self.verify_credentials(normalised, password)
        return self._open_session(user)

    def verify_credentials(self, email: str, password: str) -> User:
        """The user owning ``email`` when ``password`` is theirs; rehashes an outdated hash on the way."""
        if len(password) > MAX_LENGTH:
            raise _invalid_credentials()
        user_id = self.repository.user_id_for_email(email)
        found = self.repository.get(user_id) if user_id else None
        if found is None:
            self.passwords.burn(password)
            raise _invalid_credentials()
        user, stored_hash = found
        if not self.passwords.verify(stored_hash, password):
            raise _invalid_credentials()
        if self.passwords.needs_rehash(stored_hash):
            self.repository.set_password_hash(user.id, self.passwords.hash(password))
        return user

    def verify_password(self, user: User, password: str) -> None:
        """Re-check the password of a signed-in user (before deleting the account); Unauthorized if wrong."""
        # Counted like a login, so a stolen session cannot be used to guess the password.
        self._limiter.hit(
            "login-email",
            user.email,
            limit=self._settings.login_attempts_per_window,
            window_seconds=self._settings.rate_limit_window_seconds,
        )
        self.verify_credentials(user.email, password)

    def _open_session(self, user: User) -> LoginSession:
        token = secrets.token_urlsafe(32)  # 256 random bits
        expires_at = self._clock() + self._settings.session_ttl_seconds
        self.repository.create_session(hash_token(token), user.id, now_iso(), expires_at)
        return LoginSession(token=token, expires_at=expires_at, user=user)

    def logout(self, token: str) -> None:
        """Revoke the session of ``token`` (revoking an unknown token is a no-op)."""
        if token and len(token) <= MAX_TOKEN_LENGTH:
            self.repository.delete_session(hash_token(token))

    def authenticate(self, token: str) -> User:
        """The user a live session token belongs to; Unauthorized when missing, expired, revoked or orphaned."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized("sign in required")
        session = self.repository.get_session(hash_token(token))
        # The store hides expired items; the second check covers a backend clock that lags behind ours.
        if session is None or int(session.get("expires_at", 0)) <= self._clock():
            raise Unauthorized("your session has expired or was revoked; sign in again")
        found = self.repository.get(str(session["user_id"]))
        if found is None:
            raise Unauthorized("your session has expired or was revoked; sign in again")
        return found[0]

    # --- lookups --------------------------------------------------------------------------------------------
    def get_user(self, user_id: str) -> User:
        """The user with ``user_id``; NotFound otherwise."""
        found = self.repository.get(user_id)
        if found is None:
            raise NotFound("no such user")
        return found[0]

    def find_by_email(self, email: str) -> User | None:
        """The user registered with ``email`` (any case), or None."""
        try:
            normalised = normalise_email(email)
        except ValidationFailed:
            return None
        user_id = self.repository.user_id_for_email(normalised)
        found = self.repository.get(user_id) if user_id else None
        return found[0] if found else None

    def set_tester(self, user_id: str, is_tester: bool) -> User:
        """Flag (or unflag) an account as a store tester; operators only."""
        self.get_user(user_id)
        return self.repository.set_tester(user_id, is_tester)
