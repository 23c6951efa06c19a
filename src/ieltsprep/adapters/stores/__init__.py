"""Adapters to the app stores (Apple, Google) and the local test store.

They translate the stores' libraries into small frozen dataclasses and two errors the billing domain understands.
"""

from __future__ import annotations


class StoreRejected(Exception):
    """The store (or its signature) says this purchase or notification is not valid; retrying will not help."""


class StoreUnavailable(Exception):
    """The store could not be asked right now (network, 5xx, OCSP); the caller may retry later."""
