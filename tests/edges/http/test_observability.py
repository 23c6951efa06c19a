"""Access logs, metrics and tracing around the HTTP handler."""

from __future__ import annotations

import io
import json
import logging

import pytest
from apiclient import PASSWORD, Api

from ieltsprep.container import Container
from ieltsprep.edges.http.app import create_app
from ieltsprep.edges.http.observability import Observability


def _observed_api(container: Container) -> tuple[Api, Observability]:
    app = create_app(container)
    observability = Observability(container.settings)
    app_resolve = observability.wrap(app.resolve)

    class ObservedApp:
        """The app as the Lambda handler sees it: wrapped by observability."""

        container = app.container

        def resolve(self, event: dict, context: object) -> dict:
            return app_resolve(event, context)

    return Api(ObservedApp()), observability  # type: ignore[arg-type]


def test_each_request_logs_one_json_line_with_status_and_no_secrets(container: Container) -> None:
    api, observability = _observed_api(container)
    api.register("a@example.com")
    token = api.login("a@example.com").json["token"]
    # Powertools keeps the first stream its service logger was given; point it at a buffer for this test.
    handler = observability.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        api.call("GET", "/api/me", token=token)
        api.login("a@example.com", "wrong password")
    finally:
        handler.setStream(previous)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    assert [(line["message"], line["status"], line["path"]) for line in lines] == [
        ("request", 200, "/api/me"),
        ("request", 401, "/api/auth/login"),
    ]
    assert all(line["service"] == "ieltsprep-http" and line["duration_ms"] >= 0 for line in lines)
    text = json.dumps(lines)
    assert token not in text and PASSWORD not in text and "wrong password" not in text


def test_metrics_and_tracing_are_off_locally_by_default(container: Container) -> None:
    observability = Observability(container.settings)
    assert observability.metrics is None
    assert observability.tracer is None


def test_metrics_emit_emf_in_the_ieltsprep_namespace_when_enabled(
    container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    enabled = Container(container.settings.model_copy(update={"metrics_enabled": True}))
    try:
        api, observability = _observed_api(enabled)
        assert observability.metrics is not None
        api.call("GET", "/api/nope")
        emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
        assert emf, "no EMF document printed"
        directive = emf[-1]["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "IELTSPrep"
        names = {metric["Name"] for metric in directive["Metrics"]}
        assert {"Requests", "LatencyMs", "ClientErrors"} <= names
    finally:
        enabled.close()


def test_powertools_debug_switch_cannot_make_the_handler_print_tokens(
    container: Container, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_DEV", "true")
    api = Api(create_app(container))
    token = api.signed_up("a@example.com")
    capsys.readouterr()
    assert api.call("GET", "/api/me", token=token).status == 200
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err


def test_tracing_when_enabled_wraps_the_handler_with_a_powertools_tracer(container: Container) -> None:
    from aws_lambda_powertools import Tracer

    traced = Container(container.settings.model_copy(update={"tracing_enabled": True}))
    try:
        api, observability = _observed_api(traced)
        assert isinstance(observability.tracer, Tracer)
        # Outside Lambda the tracer records nothing, but the wrapped handler must still answer.
        assert api.call("GET", "/api/health").status == 200
    finally:
        traced.close()
