"""Picks the writing engine named by the settings; beside the container, so the port imports no implementation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ieltsprep.scoring.port import WritingScorer
    from ieltsprep.settings import Settings


def build_writing_scorer(settings: Settings) -> WritingScorer:
    """The engine named by ``settings.writing_engine``."""
    if settings.writing_engine == "bedrock":
        from ieltsprep.scoring.bedrock import BedrockWritingScorer

        return BedrockWritingScorer.from_settings(settings)
    from ieltsprep.scoring.local import LocalWritingScorer

    return LocalWritingScorer.load()
