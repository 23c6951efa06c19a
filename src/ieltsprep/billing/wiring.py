"""Builds billing's services and store adapters from the settings (called by the container's properties)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ieltsprep.adapters.stores.apple import AppleServerApi, AppleVerifier
    from ieltsprep.adapters.stores.google import GooglePlay, PubSubTokenVerifier
    from ieltsprep.adapters.stores.local_store import FakePlayApi, LocalTestStore
    from ieltsprep.billing.notifications import NotificationService
    from ieltsprep.billing.purchases import PurchaseService
    from ieltsprep.container import Container

log = logging.getLogger(__name__)


def local_test_store(container: Container) -> LocalTestStore | None:
    """The local test store's signing chain (stage local with the test store on), else None."""
    settings = container.settings
    if not (settings.is_local and settings.test_store_enabled):
        return None
    from ieltsprep.adapters.stores.local_store import LocalTestStore

    return LocalTestStore(
        settings.data_dir / "test-store", bundle_id=settings.apple_bundle_id, app_apple_id=settings.apple_app_id
    )


def fake_play_api(container: Container) -> FakePlayApi | None:
    """The loopback fake of the Play Developer API, when the local test store is on and no API root is set."""
    settings = container.settings
    if not (settings.is_local and settings.test_store_enabled) or settings.google_play_api_root:
        return None
    from ieltsprep.adapters.stores.local_store import FakePlayApi

    return FakePlayApi(settings.google_package_name)


def apple_verifier(container: Container) -> AppleVerifier:
    """The Apple verifier: configured roots, plus the local test store's root in the local stage only."""
    from ieltsprep.adapters.stores.apple import AppleVerifier

    settings = container.settings
    roots = [path.read_bytes() for path in settings.apple_root_certificates]
    app_id = settings.apple_app_id
    test_store = container.local_test_store
    if test_store is not None:
        roots.append(test_store.root_der)
        app_id = app_id or test_store.app_apple_id
    return AppleVerifier(
        roots,
        bundle_id=settings.apple_bundle_id,
        app_apple_id=app_id,
        environments=settings.apple_environments,
        online_checks=not settings.is_local,  # OCSP at Apple in the cloud; the local chain has no responder
    )


def apple_server_api(container: Container) -> AppleServerApi | None:
    """The App Store Server API client, when its key is configured."""
    settings = container.settings
    if not (settings.apple_private_key_parameter and settings.apple_key_id and settings.apple_issuer_id):
        return None
    from ieltsprep.adapters.stores.apple import AppleServerApi
    from ieltsprep.adapters.stores.secrets import read_parameter

    return AppleServerApi(
        signing_key=read_parameter(settings, settings.apple_private_key_parameter).encode(),
        key_id=settings.apple_key_id,
        issuer_id=settings.apple_issuer_id,
        bundle_id=settings.apple_bundle_id,
    )


def google_play(container: Container) -> GooglePlay | None:
    """The Play Developer API client: the configured service account, or the local fake's in the local stage."""
    from ieltsprep.adapters.stores.google import GooglePlay, parse_service_account

    settings = container.settings
    fake = container.fake_play_api
    if fake is not None:
        return GooglePlay(
            package_name=settings.google_package_name, service_account_info=fake.service_account_info(),
            api_root=fake.root, num_retries=0,  # loopback: a failure is deliberate, retrying only slows tests
        )  # fmt: skip
    if not settings.google_service_account_parameter:
        return None
    from ieltsprep.adapters.stores.secrets import read_parameter

    info = parse_service_account(read_parameter(settings, settings.google_service_account_parameter))
    return GooglePlay(
        package_name=settings.google_package_name, service_account_info=info, api_root=settings.google_play_api_root
    )


def pubsub_verifier(container: Container) -> PubSubTokenVerifier | None:
    """The Pub/Sub push token check, when audience and push service account are configured."""
    settings = container.settings
    if not (settings.google_pubsub_audience and settings.google_pubsub_service_account):
        return None
    from ieltsprep.adapters.stores.google import PubSubTokenVerifier

    return PubSubTokenVerifier(
        audience=settings.google_pubsub_audience, service_account_email=settings.google_pubsub_service_account
    )


def purchases(container: Container) -> PurchaseService:
    """The purchase validator service."""
    from ieltsprep.billing.purchases import PurchaseService

    return PurchaseService(
        container.store, apple=container.apple_verifier, apple_api=container.apple_server_api,
        google=container.google_play, test_store=container.local_test_store is not None,
    )  # fmt: skip


def consumption_data_consent(container: Container, user_id: str) -> bool:
    """Whether the user agreed to share consumption data with Apple: part of the terms accepted at registration."""
    from ieltsprep.errors import NotFound

    try:
        user = container.accounts.get_user(user_id)
    except NotFound:
        return False
    terms = user.consents.get("terms") or {}
    return bool(terms.get("accepted"))


def store_notifications(container: Container) -> NotificationService:
    """The App Store and Google Play notification handler."""
    from ieltsprep.billing.notifications import NotificationService

    return NotificationService(
        container.store,
        container.purchases,
        apple=container.apple_verifier,
        apple_api=container.apple_server_api,
        consumption_data_consent=lambda user_id: consumption_data_consent(container, user_id),
        google_package_name=container.settings.google_package_name,
    )
