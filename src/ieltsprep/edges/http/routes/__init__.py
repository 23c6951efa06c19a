"""One router per domain; app.py includes them all in this order."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ieltsprep.edges.http.routes import accounts, assessments, billing, dev_store, health

ROUTERS: tuple[APIGatewayHttpRouter, ...] = (
    health.router,
    accounts.router,
    billing.router,
    assessments.router,
    dev_store.router,
)
