"""Password policy and argon2id hashing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ieltsprep.accounts.passwords import Passwords, check_policy
from ieltsprep.errors import ValidationFailed

FAST = {"time_cost": 1, "memory_kib": 8 * 1024}


@pytest.mark.parametrize("password", ["1234567", "x" * 257, ""])
def test_policy_rejects_passwords_outside_8_to_256_characters(password: str) -> None:
    with pytest.raises(ValidationFailed):
        check_policy(password)


@pytest.mark.parametrize("password", ["12345678", "x" * 256, "pässwörd-ü"])
def test_policy_accepts_passwords_of_8_to_256_characters(password: str) -> None:
    check_policy(password)


def test_hash_is_salted_argon2id_and_verifies_only_the_right_password() -> None:
    passwords = Passwords(**FAST)
    first, second = passwords.hash("secret-pass"), passwords.hash("secret-pass")
    assert first.startswith("$argon2id$")
    assert first != second
    assert passwords.verify(first, "secret-pass")
    assert not passwords.verify(first, "secret-Pass")


def test_verify_treats_a_malformed_hash_as_a_mismatch() -> None:
    assert not Passwords(**FAST).verify("not-a-hash", "secret-pass")


def test_needs_rehash_when_parameters_change() -> None:
    old = Passwords(time_cost=1, memory_kib=8 * 1024).hash("secret-pass")
    assert not Passwords(time_cost=1, memory_kib=8 * 1024).needs_rehash(old)
    assert Passwords(time_cost=2, memory_kib=8 * 1024).needs_rehash(old)


def test_default_parameters_are_owasp_argon2id() -> None:
    assert Passwords().hash("secret-pass").startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_burn_spends_one_argon2_operation_on_every_call_including_the_first(
    count_argon2: Callable[[Passwords], list[str]],
) -> None:
    passwords = Passwords(**FAST)
    operations = count_argon2(passwords)
    for _ in range(3):
        passwords.burn("whatever")
    assert operations == ["hash", "verify", "verify"]
