"""Where accounts live in the store (keys documented in docs/ARCHITECTURE.md, "Accounts").

USERS    pk USER#<id>        sk PROFILE        the profile, consents and password hash
USERS    pk EMAIL#<email>    sk EMAIL          email uniqueness; carries user_id
SESSIONS pk SESSION#<sha256> sk SESSION        a login session (TTL expires_at); carries user_id;
                                               gsi1pk USER#<id>, gsi1sk SESSION#<created_at> lists a user's sessions
"""

from __future__ import annotations

from typing import Any

from ieltsprep.accounts.models import User
from ieltsprep.adapters.storage.port import (
    MUST_EXIST,
    MUST_NOT_EXIST,
    ConditionFailed,
    Delete,
    Item,
    Key,
    Put,
    Store,
    Table,
    Update,
)
from ieltsprep.errors import Conflict

PROFILE_SK = "PROFILE"
EMAIL_SK = "EMAIL"
SESSION_SK = "SESSION"
SESSION_INDEX = "gsi1"


def user_pk(user_id: str) -> str:
    """The partition of everything a user owns, in every table."""
    return f"USER#{user_id}"


def profile_key(user_id: str) -> Key:
    """Key of a user's profile item."""
    return Key(user_pk(user_id), PROFILE_SK)


def email_key(email: str) -> Key:
    """Key of the email-uniqueness item of a normalised email."""
    return Key(f"EMAIL#{email}", EMAIL_SK)


def session_key(token_hash: str) -> Key:
    """Key of a session item by the SHA-256 of its token."""
    return Key(f"SESSION#{token_hash}", SESSION_SK)


def _user(item: Item) -> User:
    return User(
        id=str(item["user_id"]),
        email=str(item["email"]),
        created_at=str(item["created_at"]),
        is_tester=bool(item.get("is_tester", False)),
        app_account_token=str(item.get("app_account_token", "")),
        consents=dict(item.get("consents") or {}),
    )


class AccountRepository:
    """Users, email lookups and sessions on the store port."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # --- users ----------------------------------------------------------------------------------------------
    def create(self, user: User, password_hash: str) -> None:
        """Store a new user and claim its email atomically; Conflict ``email_taken`` when the email is in use."""
        key = profile_key(user.id)
        profile: Item = {
            "pk": key.pk,
            "sk": key.sk,
            "user_id": user.id,
            "email": user.email,
            "created_at": user.created_at,
            "is_tester": user.is_tester,
            "app_account_token": user.app_account_token,
            "consents": {kind: dict(value) for kind, value in user.consents.items()},
            "password_hash": password_hash,
        }
        lookup = email_key(user.email)
        claim: Item = {"pk": lookup.pk, "sk": lookup.sk, "user_id": user.id, "created_at": user.created_at}
        try:
            self._store.transact([Put(Table.USERS, profile, MUST_NOT_EXIST), Put(Table.USERS, claim, MUST_NOT_EXIST)])
        except ConditionFailed as exc:
            raise Conflict("an account with this email already exists", code="email_taken") from exc

    def get(self, user_id: str) -> tuple[User, str] | None:
        """The user and their password hash, or None."""
        item = self._store.get(Table.USERS, profile_key(user_id))
        if item is None:
            return None
        return _user(item), str(item.get("password_hash", ""))

    def user_id_for_email(self, email: str) -> str | None:
        """The id of the user owning a normalised email, or None."""
        item = self._store.get(Table.USERS, email_key(email))
        return str(item["user_id"]) if item else None

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace a user's password hash (after a rehash with new parameters)."""
        self._store.update(
            Update(Table.USERS, profile_key(user_id), set={"password_hash": password_hash}, condition=MUST_EXIST)
        )

    def set_tester(self, user_id: str, is_tester: bool) -> User:
        """Flag or unflag a user as a store tester (sandbox purchases credit testers only)."""
        item = self._store.update(
            Update(Table.USERS, profile_key(user_id), set={"is_tester": is_tester}, condition=MUST_EXIST)
        )
        return _user(item)

    def delete_user(self, user: User) -> None:
        """Remove the profile and release the email, together."""
        self._store.transact([Delete(Table.USERS, profile_key(user.id)), Delete(Table.USERS, email_key(user.email))])

    # --- sessions -------------------------------------------------------------------------------------------
    def create_session(self, token_hash: str, user_id: str, created_at: str, expires_at: int) -> None:
        """Record a login session under the hash of its token."""
        key = session_key(token_hash)
        item: Item = {
            "pk": key.pk,
            "sk": key.sk,
            "user_id": user_id,
            "created_at": created_at,
            "expires_at": expires_at,
            "gsi1pk": user_pk(user_id),
            "gsi1sk": f"SESSION#{created_at}",
        }
        self._store.put(Put(Table.SESSIONS, item, MUST_NOT_EXIST))

    def get_session(self, token_hash: str) -> Item | None:
        """The live session item of a token hash, or None (expired items are invisible)."""
        return self._store.get(Table.SESSIONS, session_key(token_hash))

    def delete_session(self, token_hash: str) -> None:
        """Revoke one session."""
        self._store.delete(Delete(Table.SESSIONS, session_key(token_hash)))

    def sessions_of(self, user_id: str) -> list[Item]:
        """Every live session of a user (through the index)."""
        return self._store.query(Table.SESSIONS, user_pk(user_id), index=SESSION_INDEX, sk_prefix="SESSION#")

    def delete_sessions_of(self, user_id: str) -> None:
        """Revoke every session of a user."""
        for item in self.sessions_of(user_id):
            self._store.delete(Delete(Table.SESSIONS, Key(str(item["pk"]), str(item["sk"]))))


def public_session(item: Item) -> dict[str, Any]:
    """A session as an export shows it: when it started and when it ends, never the token hash."""
    return {"created_at": item.get("created_at"), "expires_at": item.get("expires_at")}
