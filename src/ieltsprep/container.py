"""Wiring: builds each service once from the settings, lazily, so a Lambda init pays only for what it uses.

Handlers (HTTP, WebSocket, worker, jobs, CLI) ask the container for services; services never read settings
from the environment themselves.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from ieltsprep.settings import Settings, get_settings

if TYPE_CHECKING:
    from ieltsprep.accounts.service import AccountService
    from ieltsprep.adapters.speech.port import SpeechEngine
    from ieltsprep.adapters.storage.port import Store
    from ieltsprep.adapters.stores.apple import AppleServerApi, AppleVerifier
    from ieltsprep.adapters.stores.google import GooglePlay, PubSubTokenVerifier
    from ieltsprep.adapters.stores.local_store import FakePlayApi, LocalTestStore
    from ieltsprep.assessments.questionbank import QuestionBank
    from ieltsprep.assessments.service import AssessmentService
    from ieltsprep.billing.notifications import NotificationService
    from ieltsprep.billing.purchases import PurchaseService
    from ieltsprep.edges.connections import Connections
    from ieltsprep.edges.invoke import Invoker
    from ieltsprep.scoring.port import WritingScorer
    from ieltsprep.speaking.scoring import SpeakingScorer


class Container:
    """The services of one process, built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        """The configured store adapter."""
        from ieltsprep.adapters.storage import build_store

        return build_store(self.settings)

    @cached_property
    def writing_scorer(self) -> WritingScorer:
        """The configured writing scorer (local or bedrock)."""
        from ieltsprep.scoring.factory import build_writing_scorer

        return build_writing_scorer(self.settings)

    @cached_property
    def accounts(self) -> AccountService:
        """Registration, login sessions and authentication."""
        from ieltsprep.accounts.service import AccountService

        return AccountService(self.store, self.settings)

    @cached_property
    def invoker(self) -> Invoker:
        """Asynchronous invocations of the jobs and speaking-worker functions (in-process threads locally)."""
        from ieltsprep.edges.invoke import build_invoker

        return build_invoker(self)

    @cached_property
    def connections(self) -> Connections:
        """Posting to WebSocket connections through the @connections management API."""
        from ieltsprep.edges.connections import Connections

        return Connections(self.settings)

    # --- billing (built in ieltsprep.billing.wiring) --------------------------------------------------------
    @cached_property
    def local_test_store(self) -> LocalTestStore | None:
        """The local test store's signing chain (local stage with the test store on only)."""
        from ieltsprep.billing import wiring

        return wiring.local_test_store(self)

    @cached_property
    def fake_play_api(self) -> FakePlayApi | None:
        """The loopback fake of the Google Play Developer API (local test store only)."""
        from ieltsprep.billing import wiring

        return wiring.fake_play_api(self)

    @cached_property
    def apple_verifier(self) -> AppleVerifier:
        """Verifier of Apple signed transactions and notifications."""
        from ieltsprep.billing import wiring

        return wiring.apple_verifier(self)

    @cached_property
    def apple_server_api(self) -> AppleServerApi | None:
        """The App Store Server API client, when configured."""
        from ieltsprep.billing import wiring

        return wiring.apple_server_api(self)

    @cached_property
    def google_play(self) -> GooglePlay | None:
        """The Google Play Developer API client, when configured."""
        from ieltsprep.billing import wiring

        return wiring.google_play(self)

    @cached_property
    def pubsub_verifier(self) -> PubSubTokenVerifier | None:
        """The check of Pub/Sub push tokens (Google RTDN), when configured."""
        from ieltsprep.billing import wiring

        return wiring.pubsub_verifier(self)

    @cached_property
    def purchases(self) -> PurchaseService:
        """The purchase validator (verify, claim, credit once)."""
        from ieltsprep.billing import wiring

        return wiring.purchases(self)

    @cached_property
    def store_notifications(self) -> NotificationService:
        """Apple and Google store notifications."""
        from ieltsprep.billing import wiring

        return wiring.store_notifications(self)

    # --- assessments ------------------------------------------------------------------------------------------
    @cached_property
    def question_bank(self) -> QuestionBank:
        """Writing (and speaking) questions from the CONTENT table; loaded from the package when absent or outdated."""
        from ieltsprep.assessments.questionbank import QuestionBank

        return QuestionBank(self.store, auto_load=True)

    @cached_property
    def assessments(self) -> AssessmentService:
        """Starting assessments, drafts, submission and results."""
        from ieltsprep.assessments.wiring import build_assessments

        return build_assessments(self)

    @cached_property
    def speech_engine(self) -> SpeechEngine:
        """The speech engine of the speaking worker (local models or Nova Sonic), shared by its sessions."""
        from ieltsprep.edges.worker import build_speech_engine

        return build_speech_engine(self.settings)

    @cached_property
    def speaking_scorer(self) -> SpeakingScorer:
        """The configured speaking scorer (local or bedrock)."""
        from ieltsprep.speaking.scoring import build_speaking_scorer

        return build_speaking_scorer(self.settings)

    def close(self) -> None:
        """Release what the services hold (connections, models)."""
        fake_play_api = self.__dict__.get("fake_play_api")
        if fake_play_api is not None:
            fake_play_api.close()
        if "invoker" in self.__dict__:
            self.invoker.close()
        if "store" in self.__dict__:
            self.store.close()


@lru_cache(maxsize=1)
def get_container() -> Container:
    """The process-wide container (reused across warm Lambda invocations)."""
    return Container(get_settings())
