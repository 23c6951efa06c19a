"""Amazon Nova through the Bedrock Converse API with one forced tool: how both Bedrock scorers call the model.

Forcing the tool makes Nova answer in our JSON schema (constrained decoding; reference nova_sonic.md section 12);
the caller still validates what comes back. Throttling, 5xx and timeouts are retried here with exponential backoff
(botocore's own retries are off, so one policy governs); each call is bounded by botocore's read timeout.
boto3/botocore are imported only when a client is built or a call fails, so importing this costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ieltsprep.scoring.port import ScoringFailed

if TYPE_CHECKING:
    from ieltsprep.settings import Settings

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "TooManyRequestsException",
    }
)
# One scoring call is a few thousand tokens in and about a thousand out: 60 s covers Nova Lite with margin while
# leaving the calling Lambda time for a retry.
READ_TIMEOUT_SECONDS = 60
MAX_ATTEMPTS = 4
BASE_DELAY_SECONDS = 0.5
REFUSALS = frozenset({"guardrail_intervened", "content_filtered"})


def runtime_client(settings: Settings, *, read_timeout: int = READ_TIMEOUT_SECONDS) -> Any:
    """A bedrock-runtime client for the configured Bedrock region, bounded in time, without botocore retries."""
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=read_timeout, connect_timeout=5, retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client("bedrock-runtime", region_name=settings.bedrock_region or settings.region, config=config)


def forced_tool_request(
    model_id: str,
    *,
    system: str,
    user: str,
    tool_name: str,
    description: str,
    schema: Mapping[str, Any],
    max_tokens: int = 1500,
) -> dict[str, Any]:
    """A Converse request at temperature 0 whose only possible answer is a call of ``tool_name``."""
    return {
        "modelId": model_id,
        "system": [{"text": system}],
        "messages": [{"role": "user", "content": [{"text": user}]}],
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0},
        "toolConfig": {
            "tools": [{"toolSpec": {"name": tool_name, "description": description, "inputSchema": {"json": schema}}}],
            "toolChoice": {"tool": {"name": tool_name}},
        },
    }


class ForcedToolCaller:
    """Sends Converse requests with retries and returns the forced tool's input."""

    def __init__(
        self,
        client: Any,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        base_delay: float = BASE_DELAY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.sleep = sleep

    def converse(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The raw Converse response; ScoringFailed (retryable or not) once retries are exhausted."""
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

        for attempt in range(1, self.max_attempts + 1):
            try:
                response: dict[str, Any] = self.client.converse(**request)
                return response
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                retryable = code in RETRYABLE_CODES or status >= 500
                if not retryable or attempt == self.max_attempts:
                    raise ScoringFailed(f"Bedrock converse failed: {code or status}", retryable=retryable) from exc
            except (ReadTimeoutError, ConnectionError) as exc:
                if attempt == self.max_attempts:
                    raise ScoringFailed(f"Bedrock did not answer: {exc}", retryable=True) from exc
            except BotoCoreError as exc:
                raise ScoringFailed(f"Bedrock call failed: {exc}", retryable=False) from exc
            self.sleep(self.base_delay * 2 ** (attempt - 1))
        raise ScoringFailed("Bedrock converse failed", retryable=True)  # pragma: no cover - the loop returns

    def call(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The input the model passed to the request's forced tool."""
        tool_name = request["toolConfig"]["toolChoice"]["tool"]["name"]
        return tool_input(self.converse(request), tool_name)


def tool_input(response: Mapping[str, Any], tool_name: str) -> dict[str, Any]:
    """The input of the ``tool_name`` call in a Converse response; ScoringFailed when there is none."""
    stop = response.get("stopReason")
    if stop in REFUSALS:
        raise ScoringFailed(f"Bedrock refused to score ({stop})", retryable=False)
    content = ((response.get("output") or {}).get("message") or {}).get("content") or []
    for block in content:
        use = block.get("toolUse") if isinstance(block, dict) else None
        if isinstance(use, dict) and use.get("name") == tool_name and isinstance(use.get("input"), dict):
            return dict(use["input"])
    raise ScoringFailed(f"Bedrock answered without the {tool_name} tool (stopReason {stop})", retryable=True)
