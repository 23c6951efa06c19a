"""Asynchronous invocations: in-process background threads locally, Lambda Event invocations on AWS."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ieltsprep.container import Container
from ieltsprep.edges import jobs
from ieltsprep.edges.invoke import InvocationFailed, LambdaInvoker, LocalInvoker, build_invoker
from ieltsprep.errors import ServiceUnavailable, ValidationFailed
from ieltsprep.settings import Settings

seen: list[tuple[str, dict[str, Any]]] = []
release = threading.Event()


def record_job(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    release.wait(5)
    seen.append((threading.current_thread().name, payload))
    return {"ok": True}


def failing_job(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("scoring exploded")


@pytest.fixture(autouse=True)
def test_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(jobs.JOBS, "record", f"{__name__}:record_job")
    monkeypatch.setitem(jobs.JOBS, "fail", f"{__name__}:failing_job")
    seen.clear()
    release.set()


def test_the_local_stage_gets_the_in_process_invoker(container: Container) -> None:
    assert isinstance(container.invoker, LocalInvoker)


def test_a_job_runs_in_the_background_after_invoke_returns(container: Container) -> None:
    release.clear()
    container.invoker.invoke_async("jobs", {"job": "record", "n": 1})
    assert seen == []  # invoke_async did not wait for the job
    release.set()
    container.invoker.drain(5)
    assert len(seen) == 1
    thread, payload = seen[0]
    assert thread.startswith("invoke") and payload == {"job": "record", "n": 1}


def test_the_payload_is_a_json_copy_taken_at_invoke_time(container: Container) -> None:
    release.clear()
    payload: dict[str, Any] = {"job": "record", "items": [1]}
    container.invoker.invoke_async("jobs", payload)
    payload["items"].append(2)
    release.set()
    container.invoker.drain(5)
    assert seen[0][1]["items"] == [1]


def test_a_payload_that_is_not_json_is_refused_at_once(container: Container) -> None:
    with pytest.raises(ValidationFailed):
        container.invoker.invoke_async("jobs", {"job": "record", "when": object()})


def test_an_unknown_target_is_refused(container: Container) -> None:
    with pytest.raises(ValidationFailed):
        container.invoker.invoke_async("billing", {})  # type: ignore[arg-type]


def test_drain_reports_a_failed_background_invocation(container: Container) -> None:
    container.invoker.invoke_async("jobs", {"job": "fail"})
    with pytest.raises(InvocationFailed) as failed:
        container.invoker.drain(5)
    assert failed.value.target == "jobs" and isinstance(failed.value.error, RuntimeError)
    container.invoker.drain(5)  # reported once


def test_drain_times_out_while_work_is_still_running(container: Container) -> None:
    release.clear()
    container.invoker.invoke_async("jobs", {"job": "record"})
    with pytest.raises(TimeoutError):
        container.invoker.drain(0.1)
    release.set()
    container.invoker.drain(5)


# --- on AWS ----------------------------------------------------------------------------------------------------


def lambda_client() -> Any:
    return boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_the_lambda_invoker_sends_an_event_invocation_with_the_json_payload() -> None:
    client = lambda_client()
    invoker = LambdaInvoker(client, {"jobs": "ielts-jobs-prod", "speaking_worker": "ielts-worker-prod"})
    payload = {"job": "score_writing", "assessment_id": "a1"}
    with Stubber(client) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {
                "FunctionName": "ielts-jobs-prod",
                "InvocationType": "Event",
                "Payload": json.dumps(payload, separators=(",", ":")).encode(),
            },
        )
        invoker.invoke_async("jobs", payload)
        stub.assert_no_pending_responses()


def test_the_lambda_invoker_needs_a_function_name() -> None:
    invoker = LambdaInvoker(lambda_client(), {"jobs": None, "speaking_worker": None})
    with pytest.raises(ServiceUnavailable):
        invoker.invoke_async("speaking_worker", {"assessment_id": "a1"})


def test_the_lambda_invoker_reports_a_refused_invocation() -> None:
    client = lambda_client()
    invoker = LambdaInvoker(client, {"jobs": "f", "speaking_worker": "w"})
    with Stubber(client) as stub:
        stub.add_client_error("invoke", service_error_code="TooManyRequestsException", http_status_code=429)
        with pytest.raises(Exception, match="TooManyRequests"):
            invoker.invoke_async("jobs", {"job": "x"})


def test_deployed_stages_get_the_lambda_invoker() -> None:
    deployed = Settings(stage="prod", store="dynamodb", scoring_function_name="jobs-fn", region="eu-west-1")
    invoker = build_invoker(Container(deployed))
    assert isinstance(invoker, LambdaInvoker)


def test_the_speaking_worker_runs_in_process_against_the_same_container_with_a_lambda_like_context(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ieltsprep.edges import worker

    calls: list[tuple[Container, dict[str, Any], Any]] = []

    def fake_run(target_container: Container, event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append((target_container, event, context))
        return {"status": "finished"}

    monkeypatch.setattr(worker, "run", fake_run)
    container.invoker.invoke_async("speaking_worker", {"assessment_id": "a1", "worker_token": "t"})
    container.invoker.drain(5)
    ((ran_with, event, context),) = calls
    assert ran_with is container
    assert event == {"assessment_id": "a1", "worker_token": "t"}
    assert context.function_name == "speaking_worker"
    assert 14 * 60 * 1000 < context.get_remaining_time_in_millis() <= 15 * 60 * 1000


def test_a_long_speaking_worker_does_not_hold_up_jobs(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    from ieltsprep.edges import worker

    finish_worker = threading.Event()

    def long_test(target_container: Container, event: dict[str, Any], context: Any) -> dict[str, Any]:
        finish_worker.wait(10)
        return {}

    monkeypatch.setattr(worker, "run", long_test)
    for _ in range(20):
        container.invoker.invoke_async("speaking_worker", {"assessment_id": "a"})
    container.invoker.invoke_async("jobs", {"job": "record"})
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(seen) == 1
    finish_worker.set()
    container.invoker.drain(10)
