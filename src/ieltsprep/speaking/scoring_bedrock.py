"""The Bedrock speaking scorer: Converse with one forced tool, so the model answers in our schema.

The model gets the transcript (examiner and candidate turns by part) and the measured features of the local
engine, which it cannot hear for itself (speech rate, pauses, recogniser confidence). Nova uses constrained decoding
when a tool is forced (nova_sonic.md section 12); the answer is still validated here before it is trusted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ieltsprep.adapters.bedrock.converse import MAX_ATTEMPTS, ForcedToolCaller, forced_tool_request, runtime_client
from ieltsprep.scoring.port import ScoringFailed
from ieltsprep.speaking.scoring import CRITERIA, CriterionResult, SpeakingResult, measure, result_from
from ieltsprep.speaking.sessions import Turn

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

    from ieltsprep.settings import Settings

TOOL_NAME = "record_speaking_scores"
# A whole test's transcript is longer than an essay: allow the model more time per call.
READ_TIMEOUT_SECONDS = 120
SYSTEM_PROMPT = (
    "You are an experienced IELTS Speaking examiner. Rate the candidate's performance in the transcript against "
    "the public IELTS Speaking band descriptors: Fluency and Coherence, Lexical Resource, Grammatical Range and "
    "Accuracy, Pronunciation. Give each a whole band from 0 to 9 and two or three sentences of feedback that quote "
    "or name evidence from the candidate's own words. You cannot hear the audio: judge pronunciation from the "
    "measured recogniser confidence and say that it is a proxy. Use British English."
)


def _criterion_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "band": {"type": "integer", "minimum": 0, "maximum": 9},
            "feedback": {"type": "string"},
        },
        "required": ["band", "feedback"],
    }


TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {key: _criterion_schema() for key in CRITERIA},
    "required": list(CRITERIA),
}


class BedrockSpeakingScorer:
    """Scores a speaking transcript with a Bedrock model through the Converse API."""

    engine = "bedrock"

    def __init__(
        self,
        client: BedrockRuntimeClient,
        model_id: str,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._caller = ForcedToolCaller(client, max_attempts=max_attempts, sleep=sleep)
        self._model_id = model_id

    @classmethod
    def from_settings(cls, settings: Settings) -> BedrockSpeakingScorer:
        """A scorer with a bounded bedrock-runtime client for the configured region and model."""
        return cls(runtime_client(settings, read_timeout=READ_TIMEOUT_SECONDS), settings.bedrock_writing_model_id)

    def request(self, turns: Sequence[Turn]) -> dict[str, Any]:
        """The Converse request for ``turns`` (public so that tests can pin it)."""
        metrics = measure(turns).public()
        lines = [f"[Part {t.part}] {t.role.upper()}: {t.text}" for t in turns if t.text.strip()]
        user = (
            "Measured features of the candidate's speech (JSON):\n"
            f"{json.dumps(metrics, sort_keys=True)}\n\nTranscript:\n" + "\n".join(lines)
        )
        return forced_tool_request(
            self._model_id,
            system=SYSTEM_PROMPT,
            user=user,
            tool_name=TOOL_NAME,
            description="Record the four IELTS Speaking criterion bands with feedback.",
            schema=TOOL_SCHEMA,
        )

    def score(self, turns: Sequence[Turn]) -> SpeakingResult:
        """Ask the model for the four criteria; raises ScoringFailed on errors or an answer out of schema."""
        if not any(t.role == "candidate" and t.text.strip() for t in turns):
            raise ScoringFailed("the candidate said nothing that could be scored", retryable=False)
        tool_input = self._caller.call(self.request(turns))
        try:
            criteria = {key: CriterionResult.model_validate(tool_input[key]) for key in CRITERIA}
        except (KeyError, TypeError, ValidationError) as exc:
            raise ScoringFailed("the model's scores did not match the schema", retryable=True) from exc
        return result_from(criteria, measure(turns), turns, engine="bedrock", version=self._model_id)
