"""Generated requests (schemathesis, from our own OpenAPI document) against the account routes.

Whatever arrives, the edge answers without a server error, and every error has the uniform body.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from apiclient import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

ACCOUNT_OPERATIONS = [
    ("/api/auth/register", "POST"),
    ("/api/auth/login", "POST"),
    ("/api/auth/logout", "POST"),
    ("/api/me", "GET"),
    ("/api/me/export", "GET"),
    ("/api/me", "DELETE"),
]


def test_generated_requests_never_crash_and_errors_are_uniform(api: Api) -> None:
    schema = schemathesis.openapi.from_dict(api.call("GET", "/api/openapi.json").json)
    token = api.signed_up("fuzz@example.com")
    strategies = [
        schema[path][method].as_strategy(generation_mode=mode)
        for path, method in ACCOUNT_OPERATIONS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)  # valid and deliberately invalid requests
    ]
    seen: list[int] = []

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=st.one_of(strategies), signed_in=st.booleans())
    def run(case: Any, signed_in: bool) -> None:
        body = case.body  # schemathesis marks "no body" with a sentinel
        raw = json.dumps(body) if isinstance(body, dict | list | str | int | float | bool) else None
        reply = api.call(
            case.method, case.formatted_path, raw=raw, token=token if signed_in and case.method != "DELETE" else None
        )
        seen.append(reply.status)
        assert reply.status < 500, reply.text
        if reply.status >= 400:
            assert set(reply.json) == {"error"} and set(reply.json["error"]) == {"code", "message"}, reply.text

    run()
    assert seen
