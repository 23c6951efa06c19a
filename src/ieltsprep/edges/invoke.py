"""Asynchronous invocations of the jobs and speaking-worker functions.

On AWS a handler hands work to another Lambda with ``invoke(InvocationType="Event")`` and returns at once. Locally
the same payload (round-tripped through JSON, so nothing that would not survive the wire slips through) runs the same
handler body in a background thread pool of this process. Callers use ``container.invoker.invoke_async`` and cannot
tell the two apart.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ieltsprep.errors import ServiceUnavailable, ValidationFailed
from ieltsprep.ids import new_id

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

    from ieltsprep.container import Container

Target = Literal["jobs", "speaking_worker"]
TARGETS: tuple[Target, ...] = ("jobs", "speaking_worker")
# Lambda's own ceiling for one invocation; the speaking worker plans its stream roll-overs against it.
LAMBDA_TIMEOUT_MS = 15 * 60 * 1000

logger = logging.getLogger(__name__)


class LocalContext:
    """The attributes of a Lambda context object that handlers and Powertools read, for in-process invocations."""

    def __init__(self, function_name: str, *, timeout_ms: int = LAMBDA_TIMEOUT_MS, region: str = "us-east-1") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:000000000000:function:{function_name}"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = new_id()
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (simulated) Lambda timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InvocationFailed(Exception):
    """A local background invocation raised; carries the target and the original error."""

    def __init__(self, target: str, error: BaseException) -> None:
        super().__init__(f"{target} invocation failed: {error!r}")
        self.target = target
        self.error = error


class Invoker(Protocol):
    """Fire-and-forget invocation of another function of the platform."""

    def invoke_async(self, target: Target, payload: dict[str, Any]) -> None:
        """Start ``target`` with ``payload`` and return without waiting for it."""
        ...

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every invocation started so far (and any they start) has finished."""
        ...

    def close(self) -> None:
        """Release threads and clients."""
        ...


def _encode(target: str, payload: dict[str, Any]) -> bytes:
    if target not in TARGETS:
        raise ValidationFailed(f"unknown invocation target {target!r}", code="unknown_target")
    try:
        return json.dumps(payload, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"payload for {target} is not JSON: {exc}", code="bad_payload") from exc


def run_target(container: Container, target: Target, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run the body of ``target``'s Lambda handler against ``container`` (what the local invoker executes)."""
    if target == "jobs":
        from ieltsprep.edges.jobs import run

        return run(container, event)
    # The worker module belongs to the speaking domain; it offers run(container, event, context) for in-process use
    # (so tests and the local gateway share one container) next to its Lambda handle(event, context).
    worker = importlib.import_module("ieltsprep.edges.worker")
    run_worker = getattr(worker, "run", None)
    result = run_worker(container, event, context) if run_worker else worker.handle(event, context)
    return result if isinstance(result, dict) else {}


class LocalInvoker:
    """Runs invocations in a background thread pool of this process, against the same container."""

    def __init__(self, container: Container, *, jobs: int = 4, speaking_workers: int = 16) -> None:
        self._container = container
        # One pool per function, like separate Lambda concurrency: 15-minute speaking tests never queue jobs.
        self._pools: dict[Target, ThreadPoolExecutor] = {
            "jobs": ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="invoke-jobs"),
            "speaking_worker": ThreadPoolExecutor(max_workers=speaking_workers, thread_name_prefix="invoke-worker"),
        }
        self._pending: set[Future[dict[str, Any]]] = set()
        self._failures: list[InvocationFailed] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def invoke_async(self, target: Target, payload: dict[str, Any]) -> None:
        """Queue ``target`` with a JSON copy of ``payload``."""
        event = json.loads(_encode(target, payload))
        with self._lock:
            future = self._pools[target].submit(self._run, target, event)
            self._pending.add(future)
        future.add_done_callback(self._finished)

    def _run(self, target: Target, event: dict[str, Any]) -> dict[str, Any]:
        context = LocalContext(target, region=self._container.settings.region)
        try:
            return run_target(self._container, target, event, context)
        except BaseException as exc:
            # An Event invocation has no caller to raise to: log it like Lambda would, and keep it for drain().
            logger.exception("asynchronous %s invocation failed", target)
            with self._lock:
                self._failures.append(InvocationFailed(target, exc))
            raise

    def _finished(self, future: Future[dict[str, Any]]) -> None:
        with self._lock:
            self._pending.discard(future)
            self._idle.notify_all()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for every pending invocation; raise the first failure seen since the last drain."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._pending)} invocation(s) still running after {timeout} s")
                self._idle.wait(left)
            failures, self._failures = self._failures, []
        if failures:
            raise failures[0]

    def close(self) -> None:
        """Stop accepting work; running invocations finish in the background."""
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)


class LambdaInvoker:
    """Invokes the platform's other Lambda functions with ``InvocationType="Event"``."""

    def __init__(self, client: LambdaClient, function_names: dict[Target, str | None]) -> None:
        self._client = client
        self._names = function_names

    def invoke_async(self, target: Target, payload: dict[str, Any]) -> None:
        """Queue ``target`` on Lambda's asynchronous invocation queue."""
        body = _encode(target, payload)
        name = self._names.get(target)
        if not name:
            raise ServiceUnavailable(f"no function name configured for {target}", code="not_configured")
        response = self._client.invoke(FunctionName=name, InvocationType="Event", Payload=body)
        if response.get("StatusCode") != 202:
            raise ServiceUnavailable(f"Lambda refused the {target} invocation", code="invoke_failed")

    def drain(self, timeout: float = 30.0) -> None:
        """Nothing to wait for: Lambda owns asynchronous invocations once accepted."""

    def close(self) -> None:
        """Nothing to release (the boto3 client has no open resources to close explicitly)."""


def build_invoker(container: Container) -> Invoker:
    """The local thread-pool invoker on the local stage, the Lambda invoker elsewhere."""
    settings = container.settings
    if settings.is_local:
        return LocalInvoker(container)
    import boto3

    client = boto3.client("lambda", region_name=settings.region)
    return LambdaInvoker(
        client,
        {"jobs": settings.scoring_function_name, "speaking_worker": settings.speaking_worker_function_name},
    )
