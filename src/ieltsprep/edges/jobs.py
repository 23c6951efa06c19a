"""The jobs function: asynchronous and scheduled work, dispatched by name.

An event is ``{"job": "<name>", ...}``: from ``container.invoker.invoke_async("jobs", ...)`` or from an EventBridge
schedule whose input is that object. Each job is ``fn(container, payload) -> dict`` named in ``JOBS`` as
``"module:function"`` and imported only when it runs, so the function's init stays small.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ieltsprep.errors import ValidationFailed

if TYPE_CHECKING:
    from ieltsprep.container import Container

logger = logging.getLogger(__name__)

# Job name → "module:function". Domains add their jobs here.
JOBS: dict[str, str] = {
    "purge_expired": "ieltsprep.edges.jobs:purge_expired",
    "score_writing": "ieltsprep.assessments.jobs:score_writing",
    "load_questions": "ieltsprep.assessments.jobs:load_questions",
    "sweep_google_voided": "ieltsprep.billing.jobs:sweep_google_voided",
    "retry_google_consumes": "ieltsprep.billing.jobs:retry_google_consumes",
    "recover_apple_notifications": "ieltsprep.billing.jobs:recover_apple_notifications",
}

Job = Callable[["Container", dict[str, Any]], dict[str, Any]]


@runtime_checkable
class PurgesExpired(Protocol):
    """A store whose backend does not delete expired items by itself (DynamoDB's TTL does; SQLite does not)."""

    def purge_expired(self) -> int:
        """Delete expired items; returns how many."""
        ...


def purge_expired(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    """Scheduled sweep: delete items whose ``expires_at`` has passed, where the backend does not do it itself."""
    store = container.store
    if isinstance(store, PurgesExpired):
        return {"purged": store.purge_expired()}
    return {"purged": 0, "note": "the backend expires items itself"}


def resolve(name: str) -> Job:
    """The job function registered under ``name``."""
    target = JOBS.get(name)
    if target is None:
        raise ValidationFailed(f"unknown job {name!r}", code="unknown_job")
    module_name, _, attribute = target.partition(":")
    function: Job = getattr(importlib.import_module(module_name), attribute)
    return function


def run(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    """Run the job an event names against ``container``; the job's own errors propagate (Lambda retries them)."""
    name = event.get("job") if isinstance(event, dict) else None
    if not isinstance(name, str):
        raise ValidationFailed('a jobs event needs a "job" name', code="unknown_job")
    job = resolve(name)
    logger.info("job %s starting", name)
    result = job(container, event)
    logger.info("job %s done", name)
    return {"job": name, "result": result}


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda handler body of the jobs function."""
    from ieltsprep.container import get_container

    try:
        return run(get_container(), event)
    except ValidationFailed as exc:
        # A malformed event would fail the same way on every retry: report it instead of raising into a retry loop.
        logger.error("rejected jobs event: %s", exc.message)
        return {"error": {"code": exc.code, "message": exc.message}}
