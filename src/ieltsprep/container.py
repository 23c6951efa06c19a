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
    from ieltsprep.adapters.storage.port import Store
    from ieltsprep.edges.connections import Connections
    from ieltsprep.edges.invoke import Invoker
    from ieltsprep.scoring.port import WritingScorer


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
        from ieltsprep.scoring.port import build_writing_scorer

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

    def close(self) -> None:
        """Release what the services hold (connections, models)."""
        if "invoker" in self.__dict__:
            self.invoker.close()
        if "store" in self.__dict__:
            self.store.close()


@lru_cache(maxsize=1)
def get_container() -> Container:
    """The process-wide container (reused across warm Lambda invocations)."""
    return Container(get_settings())
