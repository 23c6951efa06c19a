"""Data export and account deletion across every domain.

Everything a user owns lives in partition ``USER#<id>`` of some table, so export and erase walk those partitions
generically. A domain with data elsewhere (lookup items keyed by something else, e.g. purchase idempotency keys)
registers an exporter and/or an eraser from its own module ``ieltsprep.<domain>.privacy``, which is imported here
on demand so the hooks exist in every process, whatever it imported before.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ieltsprep.accounts.models import User
from ieltsprep.accounts.repository import PROFILE_SK, public_session, user_pk
from ieltsprep.adapters.storage.port import Delete, Item, Key, Table

if TYPE_CHECKING:
    from ieltsprep.container import Container

Exporter = Callable[["Container", str], Any]
Eraser = Callable[["Container", str], None]

# Domains whose ``privacy`` module (when it exists) registers hooks.
DOMAINS: tuple[str, ...] = ("billing", "assessments", "speaking", "scoring", "content", "edges.ws")
# Attributes that are secrets or storage plumbing, never exported.
SECRET_ATTRIBUTES = frozenset({"password_hash", "token_hash", "worker_token", "secret"})
PLUMBING_ATTRIBUTES = frozenset({"pk", "gsi1pk", "gsi1sk"})

_exporters: dict[str, Exporter] = {}
_erasers: list[Eraser] = []
_loaded = False


def register_exporter(name: str, fn: Exporter) -> None:
    """Add ``fn(container, user_id)``'s result to every export under ``name``."""
    _exporters[name] = fn


def register_eraser(fn: Eraser) -> None:
    """Run ``fn(container, user_id)`` when an account is deleted, before its partitions are emptied."""
    if fn not in _erasers:
        _erasers.append(fn)


def _load_domain_hooks() -> None:
    global _loaded
    if _loaded:
        return
    for domain in DOMAINS:
        name = f"ieltsprep.{domain}.privacy"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    _loaded = True


def _clean(item: Item) -> Item:
    return {k: v for k, v in item.items() if k not in SECRET_ATTRIBUTES and k not in PLUMBING_ATTRIBUTES}


def export_user(container: Container, user: User) -> dict[str, Any]:
    """Every stored datum about ``user``: profile, every item of their partitions, sessions, domain exports."""
    _load_domain_hooks()
    store = container.store
    tables = {table.value: [_clean(item) for item in store.query(table, user_pk(user.id))] for table in Table}
    sessions = [public_session(item) for item in container.accounts.repository.sessions_of(user.id)]
    document: dict[str, Any] = {
        "user": user.profile(),
        "sessions": sessions,
        "tables": tables,
    }
    if _exporters:
        document["domains"] = {name: fn(container, user.id) for name, fn in sorted(_exporters.items())}
    return document


def erase_user(container: Container, user: User) -> None:
    """Delete every datum about ``user``; safe to repeat if interrupted (the profile goes last)."""
    _load_domain_hooks()
    for eraser in _erasers:
        eraser(container, user.id)
    store = container.store
    repository = container.accounts.repository
    profile = repository.get(user.id)
    for table in Table:
        for item in store.query(table, user_pk(user.id)):
            key = Key(str(item["pk"]), str(item["sk"]))
            if table is Table.USERS and key.sk == PROFILE_SK:
                continue
            store.delete(Delete(table, key))
    repository.delete_sessions_of(user.id)
    if profile is not None:
        repository.delete_user(profile[0])
