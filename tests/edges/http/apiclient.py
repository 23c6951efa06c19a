"""An in-process client that drives the HTTP resolver with API Gateway HTTP API payload 2.0 events.

Other domains' route tests may import it (``from apiclient import Api``) after adding this folder to sys.path,
or copy the event shape.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from ieltsprep.edges.http.app import HttpApp

PASSWORD = "correct horse battery"
CONSENT = {"terms": True, "age_16_plus": True, "marketing": False}


@dataclass
class Reply:
    """One response of the resolver, decoded."""

    status: int
    headers: dict[str, str]
    cookies: list[str]
    text: str

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.text)

    @property
    def error_code(self) -> str:
        """``error.code`` of a uniform error body."""
        return str(self.json["error"]["code"])


@dataclass
class Api:
    """Builds payload 2.0 events like API Gateway does and resolves them in-process."""

    app: HttpApp
    source_ip: str = "203.0.113.7"
    headers: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: str | None = None,
        token: str | None = None,
        cookies: list[str] | None = None,
        headers: dict[str, str] | None = None,
        source_ip: str | None = None,
        base64_body: bool = False,
    ) -> Reply:
        """Send one request; ``raw`` is sent verbatim instead of ``body`` as JSON."""
        all_headers = {"content-type": "application/json", **self.headers, **(headers or {})}
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        text = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if text is not None and base64_body:
            text = base64.b64encode(text.encode()).decode()
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": all_headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "api.example.com",
                "domainPrefix": "api",
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip or self.source_ip,
                    "userAgent": "pytest",
                },
                "requestId": "req",
                "routeKey": "$default",
                "stage": "$default",
                "time": "25/Nov/2026:14:00:00 +0000",
                "timeEpoch": 1795615200000,
            },
            "isBase64Encoded": base64_body,
        }
        if text is not None:
            event["body"] = text
        if cookies:
            event["cookies"] = cookies
        out = self.app.resolve(event, None)
        body_text = out.get("body") or ""
        if out.get("isBase64Encoded"):
            body_text = base64.b64decode(body_text).decode()
        headers_out = {k.lower(): v for k, v in (out.get("headers") or {}).items()}
        return Reply(int(out["statusCode"]), headers_out, list(out.get("cookies") or []), body_text)

    def register(self, email: str, password: str = PASSWORD, **kwargs: Any) -> Reply:
        """POST /api/auth/register with full consent."""
        return self.call(
            "POST", "/api/auth/register", {"email": email, "password": password, "consent": CONSENT}, **kwargs
        )

    def login(self, email: str, password: str = PASSWORD, **kwargs: Any) -> Reply:
        """POST /api/auth/login."""
        return self.call("POST", "/api/auth/login", {"email": email, "password": password}, **kwargs)

    def signed_up(self, email: str) -> str:
        """Register and log in; the bearer token."""
        assert self.register(email).status == 201
        reply = self.login(email)
        assert reply.status == 200, reply.text
        return str(reply.json["token"])
