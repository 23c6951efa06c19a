"""Password policy and argon2id hashing (argon2-cffi)."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from ieltsprep.errors import ValidationFailed

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 8
MAX_LENGTH = 256


def check_policy(password: str) -> None:
    """Raise ValidationFailed unless the password is 8-256 characters."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValidationFailed(f"password: must be {MIN_LENGTH} to {MAX_LENGTH} characters")


class Passwords:
    """argon2id hashes with configurable cost; the defaults follow OWASP (19 MiB, 2 passes, 1 lane).

    RFC 9106's low-memory profile (64 MiB, 3 passes, 4 lanes) costs ~300 ms per hash on a shared 2-core machine,
    too slow for a login Lambda; OWASP's minimum costs ~50 ms and is still memory-hard.
    """

    def __init__(self, *, time_cost: int = 2, memory_kib: int = 19 * 1024, parallelism: int = 1) -> None:
        self._time_cost, self._memory_kib, self._parallelism = time_cost, memory_kib, parallelism
        self._dummy: str | None = None
        self._lock = threading.Lock()

    @cached_property
    def _hasher(self) -> PasswordHasher:
        # Imported on first use: requests that only check a session token never load argon2.
        from argon2 import PasswordHasher

        return PasswordHasher(time_cost=self._time_cost, memory_cost=self._memory_kib, parallelism=self._parallelism)

    def hash(self, password: str) -> str:
        """A fresh salted argon2id hash of ``password``."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash`` (False for a malformed hash too)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` was made with other parameters than the current ones."""
        from argon2.exceptions import InvalidHashError

        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def burn(self, password: str) -> None:
        """Spend the time of one verification, so an unknown email answers as slowly as a wrong password."""
        with self._lock:
            dummy = self._dummy
            if dummy is None:
                # Making the dummy hash costs what a verification costs, so even the first call is not faster.
                self._dummy = self._hasher.hash(password)
                return
        self.verify(dummy, password)
