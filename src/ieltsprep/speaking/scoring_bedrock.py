"""The Bedrock speaking scorer: Converse with one forced tool, so the model answers in our schema.

The model gets the transcript (examiner and candidate turns by part) and only what was measured: the features of
speaking/measures.py that the engine could measure (timing from the candidate's audio; recogniser confidence only
when the speech engine gave it), never a stand-in. It judges each answer against its question itself and names
off-topic or memorised answers, which limit Fluency and Coherence as on the local engine. Pronunciation it cannot
hear: with no recogniser confidence it is reported as not measured whatever the model says. The evidence rules of
``scoring.result_from`` apply. Its model is ``settings.bedrock_speaking_model_id``. Nova uses constrained decoding
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
from ieltsprep.speaking.measures import Metrics, measure
from ieltsprep.speaking.relevance import exchanges
from ieltsprep.speaking.scoring import (
    CRITERIA,
    CriterionResult,
    SpeakingResult,
    cap_for,
    not_measured,
    result_from,
    scorable,
)
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
    "or name evidence from the candidate's own words. Judge each answer against the question it answers and list "
    "in off_topic_answers every answer that does not answer its question or repeats a prepared answer; such "
    "answers limit Fluency and Coherence. Base fluency only on the measured features given (timing was measured "
    "in the candidate's audio). You cannot hear the audio: judge pronunciation only from the measured recogniser "
    "confidence and say that it is a proxy; if no confidence is given, say it was not measured. Use British English."
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
    "properties": {
        **{key: _criterion_schema() for key in CRITERIA},
        "off_topic_answers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"question": {"type": "string"}, "quote": {"type": "string"}},
                "required": ["question", "quote"],
            },
        },
    },
    "required": [*CRITERIA, "off_topic_answers"],
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
        return cls(runtime_client(settings, read_timeout=READ_TIMEOUT_SECONDS), settings.bedrock_speaking_model_id)

    def request(self, turns: Sequence[Turn]) -> dict[str, Any]:
        """The Converse request for ``turns`` (public so that tests can pin it)."""
        return self._request(turns, measure(turns))

    def _request(self, turns: Sequence[Turn], metrics: Metrics) -> dict[str, Any]:
        lines = [f"[Part {t.part}] {t.role.upper()}: {t.text}" for t in turns if t.text.strip()]
        unmeasured = "" if metrics.mean_confidence is not None else " No recogniser confidence was measured."
        user = (
            "Measured features of the candidate's speech (JSON):\n"
            f"{json.dumps(metrics.public(), sort_keys=True)}{unmeasured}\n\nTranscript:\n" + "\n".join(lines)
        )
        return forced_tool_request(
            self._model_id,
            system=SYSTEM_PROMPT,
            user=user,
            tool_name=TOOL_NAME,
            description="Record the four IELTS Speaking criterion bands with feedback.",
            schema=TOOL_SCHEMA,
        )

    def score(self, turns: Sequence[Turn], *, complete: bool) -> SpeakingResult:
        """Ask the model for the four criteria; raises ScoringFailed on errors or an answer out of schema."""
        metrics = measure(turns)
        if not scorable(metrics):
            # Nothing for a model to judge: the same no-band result as the local engine, without a model call.
            unmarked = {key: CriterionResult(band=None, feedback="") for key in CRITERIA}
            return result_from(unmarked, metrics, turns, engine="bedrock", version=self._model_id, complete=complete)
        tool_input = self._caller.call(self._request(turns, metrics))
        try:
            criteria = {
                key: CriterionResult(band=tool_input[key]["band"], feedback=str(tool_input[key]["feedback"]))
                for key in CRITERIA
            }
            off_topic = [str(a["quote"]) for a in tool_input.get("off_topic_answers") or []]
        except (KeyError, TypeError, ValidationError) as exc:
            raise ScoringFailed("the model's scores did not match the schema", retryable=True) from exc
        judged = len(exchanges(turns))
        cap = cap_for(min(len(off_topic), judged), judged)
        fc = criteria["fluency_coherence"]
        if cap is not None and fc.band is not None and fc.band > cap:
            note = f' Answers that did not answer the question (e.g. "{off_topic[0]}") limit this band to {cap}.'
            criteria["fluency_coherence"] = CriterionResult(band=cap, feedback=fc.feedback + note)
        if metrics.mean_confidence is None:
            criteria["pronunciation"] = not_measured()
        return result_from(criteria, metrics, turns, engine="bedrock", version=self._model_id, complete=complete)
