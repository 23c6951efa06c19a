"""The Google adapter: Pub/Sub push token check, and the Play Developer API through a real service-account flow."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from google_oidc import AUDIENCE, PUSH_ACCOUNT, GoogleOidc

from ieltsprep.adapters.stores import StoreRejected, StoreUnavailable
from ieltsprep.adapters.stores.google import PENDING, PURCHASED, GooglePlay, PubSubTokenVerifier
from ieltsprep.adapters.stores.local_store import FakePlayApi


def _verifier(oidc: GoogleOidc) -> PubSubTokenVerifier:
    return PubSubTokenVerifier(audience=AUDIENCE, service_account_email=PUSH_ACCOUNT, certs_url=oidc.certs_url)


def test_pubsub_token_from_the_push_service_account_is_accepted(google_oidc: GoogleOidc) -> None:
    claims = _verifier(google_oidc).verify(f"Bearer {google_oidc.token()}")
    assert claims["email"] == PUSH_ACCOUNT and claims["aud"] == AUDIENCE


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://someone-else.example.com/push"},
        {"email": "attacker@evil-project.iam.gserviceaccount.com"},
        {"email_verified": False},
        {"iss": "https://evil.example.com"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    ],
    ids=["audience", "service-account", "unverified-email", "issuer", "expired"],
)
def test_pubsub_token_with_wrong_claims_is_rejected(google_oidc: GoogleOidc, overrides: dict[str, object]) -> None:
    with pytest.raises(StoreRejected):
        _verifier(google_oidc).verify(f"Bearer {google_oidc.token(**overrides)}")


def test_pubsub_token_signed_by_another_key_is_rejected(google_oidc: GoogleOidc) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    impostor = GoogleOidc(rsa.generate_private_key(public_exponent=65537, key_size=2048), google_oidc.certs_url)
    with pytest.raises(StoreRejected):
        _verifier(google_oidc).verify(f"Bearer {impostor.token()}")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", "Bearer not-a-jwt"])
def test_missing_or_malformed_authorization_is_rejected(google_oidc: GoogleOidc, header: str | None) -> None:
    with pytest.raises(StoreRejected):
        _verifier(google_oidc).verify(header)


@pytest.fixture
def play() -> Iterator[FakePlayApi]:
    fake = FakePlayApi("com.example.app")
    yield fake
    fake.close()


def _client(play: FakePlayApi) -> GooglePlay:
    return GooglePlay(
        package_name="com.example.app", service_account_info=play.service_account_info(), api_root=play.root,
        num_retries=0,
    )  # fmt: skip


def test_play_api_reads_a_purchase_with_a_service_account_token(play: FakePlayApi) -> None:
    transaction = play.add_purchase("pack", obfuscated_account_id="acct-1")
    purchase = _client(play).get_purchase("pack", transaction["purchaseToken"])
    assert purchase.purchase_state == PURCHASED and purchase.obfuscated_account_id == "acct-1"
    assert purchase.order_id == transaction["id"] and not purchase.is_test
    assert ("POST", "/token") in play.requests  # the OAuth exchange happened before the API call


def test_play_api_reports_pending_and_consumes(play: FakePlayApi) -> None:
    token = play.add_purchase("pack", state=PENDING)["purchaseToken"]
    client = _client(play)
    assert client.get_purchase("pack", token).purchase_state == PENDING
    client.consume("pack", token)
    assert client.get_purchase("pack", token).consumption_state == 1


def test_play_api_errors_map_to_rejected_or_unavailable(play: FakePlayApi) -> None:
    token = play.add_purchase("pack")["purchaseToken"]
    client = _client(play)
    with pytest.raises(StoreRejected):
        client.get_purchase("pack", "no-such-token")
    play.fail_consume = 1
    with pytest.raises(StoreUnavailable):
        client.consume("pack", token)


def test_play_api_lists_voided_purchases(play: FakePlayApi) -> None:
    token = play.add_purchase("pack")["purchaseToken"]
    play.void(token)
    [voided] = _client(play).voided_purchases(0)
    assert voided.purchase_token == token and voided.voided_time_ms is not None


def test_unreachable_play_api_is_unavailable() -> None:
    fake = FakePlayApi("com.example.app")
    client = _client(fake)
    fake.close()
    with pytest.raises(StoreUnavailable):
        client.get_purchase("pack", "token")
