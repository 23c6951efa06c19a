"""Fixtures of the store adapter tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google_oidc import GoogleOidc, serve_google_oidc


@pytest.fixture(scope="session")
def google_oidc() -> Iterator[GoogleOidc]:
    """Google's OIDC signing, on loopback."""
    with serve_google_oidc() as oidc:
        yield oidc
