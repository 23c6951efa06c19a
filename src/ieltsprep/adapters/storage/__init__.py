"""Storage adapters behind the store port (``port.Store``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ieltsprep.adapters.storage.port import Store
    from ieltsprep.settings import Settings


def build_store(settings: Settings) -> Store:
    """The store the settings choose; DynamoDB's adapter (and boto3) is imported only when chosen."""
    if settings.store == "dynamodb":
        from ieltsprep.adapters.storage.dynamodb import DynamoStore

        return DynamoStore.from_settings(settings)
    from ieltsprep.adapters.storage.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
