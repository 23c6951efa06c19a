"""Structured logs, EMF metrics and X-Ray tracing for the HTTP edge, through Powertools.

Logs carry method, route, status and duration only: never bodies, headers, passwords or tokens.
Metrics and tracing exist only on AWS (CloudWatch EMF and X-Ray); locally they are off unless settings say otherwise,
and their modules are not even imported, which keeps the Lambda init small.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from ieltsprep.settings import Settings

SERVICE = "ieltsprep-http"
NAMESPACE = "IELTSPrep"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _enabled(flag: bool | None, settings: Settings) -> bool:
    return (not settings.is_local) if flag is None else flag


class Observability:
    """Wraps the HTTP handler with one access-log line, request metrics and (optionally) a trace segment."""

    def __init__(self, settings: Settings) -> None:
        self.logger = Logger(service=SERVICE, level=settings.log_level)
        self.metrics: Any = None
        self.tracer: Any = None
        if _enabled(settings.metrics_enabled, settings):
            from aws_lambda_powertools import Metrics

            self.metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
        if _enabled(settings.tracing_enabled, settings):
            from aws_lambda_powertools import Tracer

            self.tracer = Tracer(service=SERVICE)

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` with access logging, metrics and tracing around each invocation."""

        def observed(event: dict[str, Any], context: Any) -> dict[str, Any]:
            started = time.perf_counter()
            status = 500
            try:
                response = handler(event, context)
                status = int(response.get("statusCode", 200))
                return response
            finally:
                self._record(event, status, (time.perf_counter() - started) * 1000)

        if self.tracer is not None:
            wrapped: Handler = self.tracer.capture_lambda_handler(observed)
            return wrapped
        return observed

    def _record(self, event: dict[str, Any], status: int, duration_ms: float) -> None:
        http = (event.get("requestContext") or {}).get("http") or {}
        self.logger.info(
            "request",
            method=http.get("method"),
            route=event.get("routeKey"),
            path=event.get("rawPath"),
            status=status,
            duration_ms=round(duration_ms, 2),
            request_id=(event.get("requestContext") or {}).get("requestId"),
        )
        if self.metrics is not None:
            from aws_lambda_powertools.metrics import MetricUnit

            self.metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
            self.metrics.add_metric(name="LatencyMs", unit=MetricUnit.Milliseconds, value=duration_ms)
            if status >= 500:
                self.metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
            elif status >= 400:
                self.metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
            self.metrics.flush_metrics()
