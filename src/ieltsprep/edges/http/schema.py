"""The base of the HTTP API's request and response models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """A request or response model of the HTTP API, validated and documented by Powertools."""

    # Built on first use rather than at import: building every model of every route costs the cold start of the
    # HTTP Lambda about 20 ms of CPU, and a route's first request pays only for its own models.
    model_config = ConfigDict(defer_build=True)
