"""Access to the container from inside a route."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ieltsprep.container import Container


def container_of(router: APIGatewayHttpRouter) -> Container:
    """The container the app was created with (shared with every included router)."""
    container = router.context["container"]
    assert isinstance(container, Container)
    return container
