"""The accounts service: registration, login sessions, authentication, lookups."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from ieltsprep.accounts.passwords import Passwords
from ieltsprep.accounts.repository import session_key
from ieltsprep.accounts.service import AccountService
from ieltsprep.adapters.storage.port import Key, Table
from ieltsprep.container import Container
from ieltsprep.errors import Conflict, NotFound, RateLimited, Unauthorized, ValidationFailed

PASSWORD = "correct horse battery"


def test_register_normalises_email_records_consent_time_and_issues_app_account_token(
    accounts: AccountService,
) -> None:
    user = accounts.register(" Alice@Example.com", PASSWORD, terms=True, age_16_plus=True, marketing=True)
    assert user.email == "alice@example.com"
    assert user.is_tester is False
    assert len(user.app_account_token) == 36 and user.app_account_token[14] == "4"  # UUID version 4
    assert set(user.consents) == {"terms", "age_16_plus", "marketing"}
    assert all(c["accepted"] is True and c["at"] == user.created_at for c in user.consents.values())
    assert accounts.get_user(user.id) == user


def test_register_stores_an_argon2id_hash_never_the_password(accounts: AccountService, container: Container) -> None:
    user = accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    item = container.store.get(Table.USERS, Key(f"USER#{user.id}", "PROFILE"))
    assert item is not None
    assert item["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in str(item)


@pytest.mark.parametrize(("terms", "age"), [(False, True), (True, False)])
def test_register_requires_terms_and_age_consent(accounts: AccountService, terms: bool, age: bool) -> None:
    with pytest.raises(ValidationFailed):
        accounts.register("a@example.com", PASSWORD, terms=terms, age_16_plus=age)
    assert accounts.find_by_email("a@example.com") is None


def test_register_rejects_short_password_and_bad_email(accounts: AccountService) -> None:
    with pytest.raises(ValidationFailed):
        accounts.register("a@example.com", "short", terms=True, age_16_plus=True)
    with pytest.raises(ValidationFailed):
        accounts.register("not an email", PASSWORD, terms=True, age_16_plus=True)


def test_duplicate_email_in_any_case_is_a_conflict_email_taken(accounts: AccountService) -> None:
    first = accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    with pytest.raises(Conflict) as caught:
        accounts.register("A@EXAMPLE.COM", "another password", terms=True, age_16_plus=True)
    assert caught.value.code == "email_taken"
    assert accounts.find_by_email("a@example.com") == first


def test_login_returns_a_256_bit_token_stored_only_as_its_sha256(
    accounts: AccountService, container: Container
) -> None:
    user = accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    session = accounts.login("A@example.com", PASSWORD)
    assert session.user == user
    assert len(session.token) == 43  # base64url of 32 bytes
    stored = container.store.get(Table.SESSIONS, session_key(hashlib.sha256(session.token.encode()).hexdigest()))
    assert stored is not None and stored["user_id"] == user.id
    assert session.token not in str(stored)
    assert accounts.authenticate(session.token) == user


@pytest.mark.parametrize(("email", "password"), [("a@example.com", "wrong password"), ("nobody@example.com", PASSWORD)])
def test_wrong_password_and_unknown_email_are_both_invalid_credentials(
    accounts: AccountService, email: str, password: str
) -> None:
    accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    with pytest.raises(Unauthorized) as caught:
        accounts.login(email, password)
    assert caught.value.code == "invalid_credentials"


def test_unknown_email_and_wrong_password_each_spend_one_argon2_operation(
    accounts: AccountService, count_argon2: Callable[[Passwords], list[str]]
) -> None:
    accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    operations = count_argon2(accounts.passwords)
    for email, password in [("nobody@example.com", PASSWORD)] * 2 + [("a@example.com", "wrong password")]:
        before = len(operations)
        with pytest.raises(Unauthorized):
            accounts.login(email, password)
        assert len(operations) == before + 1


def test_login_rehashes_a_hash_made_with_old_parameters(container: Container) -> None:
    old = AccountService(container.store, container.settings, passwords=Passwords(time_cost=1, memory_kib=8192))
    user = old.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    new = AccountService(container.store, container.settings, passwords=Passwords(time_cost=2, memory_kib=8192))
    new.login("a@example.com", PASSWORD)
    item = container.store.get(Table.USERS, Key(f"USER#{user.id}", "PROFILE"))
    assert item is not None and "t=2" in item["password_hash"]
    new.login("a@example.com", PASSWORD)  # the new hash still verifies


def test_logout_revokes_the_token(accounts: AccountService) -> None:
    accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    session = accounts.login("a@example.com", PASSWORD)
    other = accounts.login("a@example.com", PASSWORD)
    accounts.logout(session.token)
    with pytest.raises(Unauthorized):
        accounts.authenticate(session.token)
    assert accounts.authenticate(other.token).email == "a@example.com"  # only that session ends


def test_expired_token_is_rejected(container: Container) -> None:
    now = [1_800_000_000]
    accounts = AccountService(container.store, container.settings, clock=lambda: now[0])
    accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    session = accounts.login("a@example.com", PASSWORD)
    now[0] = session.expires_at
    with pytest.raises(Unauthorized):
        accounts.authenticate(session.token)


@pytest.mark.parametrize("token", ["", "x" * 500, "made-up-token"])
def test_authenticate_rejects_unknown_tokens(accounts: AccountService, token: str) -> None:
    with pytest.raises(Unauthorized):
        accounts.authenticate(token)


def test_login_is_rate_limited_per_email_across_ips(accounts: AccountService) -> None:
    accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    for n in range(5):  # the limit in tests/accounts/conftest.py
        with pytest.raises(Unauthorized):
            accounts.login("a@example.com", "wrong password", source_ip=f"198.51.100.{n}")
    with pytest.raises(RateLimited) as caught:
        accounts.login("a@example.com", PASSWORD, source_ip="198.51.100.99")
    assert caught.value.retry_after and caught.value.retry_after > 0


def test_login_is_rate_limited_per_source_ip_across_emails(accounts: AccountService) -> None:
    for n in range(7):  # login_ip_attempts_per_window in tests/accounts/conftest.py
        with pytest.raises(Unauthorized):
            accounts.login(f"user{n}@example.com", PASSWORD, source_ip="198.51.100.1")
    with pytest.raises(RateLimited):
        accounts.login("someone@example.com", PASSWORD, source_ip="198.51.100.1")


def test_registration_is_rate_limited_per_source_ip(accounts: AccountService) -> None:
    for n in range(3):
        accounts.register(f"u{n}@example.com", PASSWORD, terms=True, age_16_plus=True, source_ip="192.0.2.1")
    with pytest.raises(RateLimited):
        accounts.register("u9@example.com", PASSWORD, terms=True, age_16_plus=True, source_ip="192.0.2.1")
    assert accounts.find_by_email("u9@example.com") is None
    accounts.register("u9@example.com", PASSWORD, terms=True, age_16_plus=True, source_ip="192.0.2.2")


def test_get_user_of_unknown_id_is_not_found(accounts: AccountService) -> None:
    with pytest.raises(NotFound):
        accounts.get_user("nope")


def test_set_tester_flags_the_account(accounts: AccountService) -> None:
    user = accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    assert accounts.set_tester(user.id, True).is_tester is True
    assert accounts.get_user(user.id).is_tester is True
    with pytest.raises(NotFound):
        accounts.set_tester("nope", True)


def test_concurrent_registrations_of_one_email_create_exactly_one_account(accounts: AccountService) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def attempt(i: int) -> str:
        try:
            accounts.register("race@example.com", f"password number {i}", terms=True, age_16_plus=True)
        except Conflict:
            return "conflict"
        return "created"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    assert outcomes == ["conflict", "conflict", "conflict", "created"]
    user = accounts.find_by_email("race@example.com")
    assert user is not None
    winner = next(i for i in range(4) if _logs_in(accounts, f"password number {i}"))
    assert accounts.login("race@example.com", f"password number {winner}").user == user


def _logs_in(accounts: AccountService, password: str) -> bool:
    try:
        accounts.login("race@example.com", password)
    except Unauthorized:
        return False
    return True


def test_password_rechecks_count_against_the_login_limit(accounts: AccountService) -> None:
    user = accounts.register("a@example.com", PASSWORD, terms=True, age_16_plus=True)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            accounts.verify_password(user, "guess")
    with pytest.raises(RateLimited):
        accounts.verify_password(user, PASSWORD)
