"""The Bedrock speaking scorer: Converse with one forced tool, so the model answers in our schema.

The model gets the transcript (examiner and candidate turns by part) and the measured features of the local
engine, which it cannot hear for itself (speech rate, pauses, recogniser confidence). Nova uses constrained decoding
when a tool is forced (nova_sonic.md section 12); the answer is still validated here before it is trusted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ieltsprep.scoring.port import ScoringFailed
from ieltsprep.speaking.scoring import CRITERIA, CriterionResult, SpeakingResult, measure, result_from
from ieltsprep.speaking.sessions import Turn

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

    from ieltsprep.settings import Settings

TOOL_NAME = "record_speaking_scores"
RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "InternalServerException", "ModelTimeoutException"}
)
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

    def __init__(self, client: BedrockRuntimeClient, model_id: str) -> None:
        self._client = client
        self._model_id = model_id

    @classmethod
    def from_settings(cls, settings: Settings) -> BedrockSpeakingScorer:
        """A scorer with a boto3 client for the configured region and model."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "bedrock-runtime",
            region_name=settings.bedrock_region or settings.region,
            config=Config(read_timeout=120, retries={"max_attempts": 3, "mode": "adaptive"}),
        )
        return cls(client, settings.bedrock_writing_model_id)

    def request(self, turns: Sequence[Turn]) -> dict[str, Any]:
        """The Converse request for ``turns`` (public so that tests can pin it)."""
        metrics = measure(turns).public()
        lines = [f"[Part {t.part}] {t.role.upper()}: {t.text}" for t in turns if t.text.strip()]
        user = (
            "Measured features of the candidate's speech (JSON):\n"
            f"{json.dumps(metrics, sort_keys=True)}\n\nTranscript:\n" + "\n".join(lines)
        )
        return {
            "modelId": self._model_id,
            "system": [{"text": SYSTEM_PROMPT}],
            "messages": [{"role": "user", "content": [{"text": user}]}],
            "inferenceConfig": {"maxTokens": 1500, "temperature": 0.0},
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": TOOL_NAME,
                            "description": "Record the four IELTS Speaking criterion bands with feedback.",
                            "inputSchema": {"json": TOOL_SCHEMA},
                        }
                    }
                ],
                "toolChoice": {"tool": {"name": TOOL_NAME}},
            },
        }

    def score(self, turns: Sequence[Turn]) -> SpeakingResult:
        """Ask the model for the four criteria; raises ScoringFailed on errors or an answer out of schema."""
        if not any(t.role == "candidate" and t.text.strip() for t in turns):
            raise ScoringFailed("the candidate said nothing that could be scored", retryable=False)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.converse(**self.request(turns))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise ScoringFailed(f"Bedrock refused the request: {code}", retryable=code in RETRYABLE_CODES) from exc
        except BotoCoreError as exc:
            raise ScoringFailed(f"Bedrock could not be reached: {exc}", retryable=True) from exc
        tool_input = _tool_input(response)
        try:
            criteria = {key: CriterionResult.model_validate(tool_input[key]) for key in CRITERIA}
        except (KeyError, TypeError, ValidationError) as exc:
            raise ScoringFailed("the model's scores did not match the schema", retryable=True) from exc
        return result_from(criteria, measure(turns), turns, engine="bedrock", version=self._model_id)


def _tool_input(response: Any) -> dict[str, Any]:
    for block in response.get("output", {}).get("message", {}).get("content", []):
        use = block.get("toolUse") if isinstance(block, dict) else None
        if use and use.get("name") == TOOL_NAME and isinstance(use.get("input"), dict):
            return dict(use["input"])
    raise ScoringFailed(
        f"the model did not call {TOOL_NAME} (stop reason {response.get('stopReason')})", retryable=True
    )
