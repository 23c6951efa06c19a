"""The question bank: data files in the package, validated on load, copied into the CONTENT table, served fresh.

Keys (see docs/ARCHITECTURE.md, "Assessments and the question bank"):
- CONTENT ``pk = BANK#<bank>``, ``sk = ITEM#<question id>``: ``{"id", "bank", "version", "data"}``.
- CONTENT ``pk = BANK#<bank>``, ``sk = META``: ``{"version", "count", "loaded_at"}``, written last, so its presence
  means the whole bank is there. ``version`` is the SHA-256 of the data file.
- ASSESSMENTS ``pk = USER#<user id>``, ``sk = SEEN#<bank>#<question id>``: ``{"seen_at", "seen_ns", "times"}``, written in the
  same transaction that creates the assessment, so a question counts as seen only if the candidate really got it.

A bank is any JSON file under ``ieltsprep/content/`` holding a list of objects with an ``id`` under one key, plus the
pydantic model that validates an item; speaking content registers itself the same way in ``BANKS``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import BaseModel, ValidationError

from ieltsprep.adapters.storage.port import Delete, Key, Put, Store, Table, Update
from ieltsprep.errors import ServiceUnavailable
from ieltsprep.ids import now_iso


class ContentError(ValueError):
    """A data file of the bank is missing or does not validate."""


@dataclass(frozen=True)
class Bank:
    """Where a bank's items come from and how they are validated."""

    name: str  # also the key part in storage, e.g. "writing/task2"
    file: str  # path under ieltsprep/content/
    list_key: str  # the key of the item list inside the JSON object
    model: str | type[BaseModel]  # the pydantic model of one item, or "module:Class" to import it only when used


BANKS: dict[str, Bank] = {
    bank.name: bank
    for bank in (
        Bank(
            "writing/academic_task1",
            "writing/academic_task1.json",
            "items",
            "ieltsprep.assessments.models:AcademicTask1Item",
        ),
        Bank(
            "writing/general_task1",
            "writing/general_task1.json",
            "items",
            "ieltsprep.assessments.models:GeneralTask1Item",
        ),
        Bank("writing/task2", "writing/task2.json", "items", "ieltsprep.assessments.models:Task2Item"),
    )
}

CACHE_SECONDS = 300.0  # a warm process re-reads the bank after this, so a reload reaches it without a restart


def bank_pk(bank: str) -> str:
    """The CONTENT partition of one bank."""
    return f"BANK#{bank}"


def seen_key(user_id: str, bank: str, question_id: str) -> Key:
    """Key of the record that ``user_id`` was given ``question_id``."""
    return Key(f"USER#{user_id}", f"SEEN#{bank}#{question_id}")


def model_of(bank: Bank) -> type[BaseModel]:
    """The pydantic class validating one item of ``bank``."""
    if not isinstance(bank.model, str):
        return bank.model
    module_name, _, attribute = bank.model.partition(":")
    model = getattr(importlib.import_module(module_name), attribute)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ContentError(f"{bank.model} is not a pydantic model")
    return model


def read_file(bank: Bank) -> tuple[list[BaseModel], str]:
    """The validated items of a bank's data file and the file's version (SHA-256)."""
    try:
        raw = resources.files("ieltsprep.content").joinpath(bank.file).read_bytes()
    except FileNotFoundError as exc:
        raise ContentError(f"bank {bank.name}: data file content/{bank.file} is missing") from exc
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ContentError(f"bank {bank.name}: content/{bank.file} is not valid JSON ({exc})") from exc
    entries = document.get(bank.list_key) if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ContentError(f"bank {bank.name}: content/{bank.file} has no list under {bank.list_key!r}")
    model = model_of(bank)
    items: list[BaseModel] = []
    for position, entry in enumerate(entries):
        try:
            items.append(model.model_validate(entry))
        except ValidationError as exc:
            ident = entry.get("id", f"#{position}") if isinstance(entry, dict) else f"#{position}"
            raise ContentError(f"bank {bank.name}: item {ident} is invalid: {exc}") from exc
    ids = [item_id(item) for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ContentError(f"bank {bank.name}: duplicate ids {', '.join(duplicates)}")
    return items, hashlib.sha256(raw).hexdigest()


def item_id(item: BaseModel) -> str:
    """The ``id`` every bank item carries."""
    value = getattr(item, "id", None)
    if not isinstance(value, str) or not value:
        raise ContentError(f"{type(item).__name__} items need a string id")
    return value


def load_bank(store: Store, bank: Bank) -> int:
    """Copy one bank into the CONTENT table, removing items no longer in the file; returns the item count."""
    items, version = read_file(bank)
    pk = bank_pk(bank.name)
    wanted = {item_id(item) for item in items}
    for item in items:
        ident = item_id(item)
        store.put(
            Put(
                Table.CONTENT,
                {
                    "pk": pk,
                    "sk": f"ITEM#{ident}",
                    "id": ident,
                    "bank": bank.name,
                    "version": version,
                    "data": item.model_dump(mode="json"),
                },
            )
        )
    for stale in store.query(Table.CONTENT, pk, sk_prefix="ITEM#"):
        if stale.get("id") not in wanted:
            store.delete(Delete(Table.CONTENT, Key(pk, stale["sk"])))
    store.put(
        Put(
            Table.CONTENT,
            {
                "pk": pk,
                "sk": "META",
                "bank": bank.name,
                "version": version,
                "count": len(items),
                "loaded_at": now_iso(),
            },
        )
    )
    return len(items)


def load_all(store: Store, names: Iterable[str] | None = None) -> dict[str, int]:
    """Load the named banks (all registered ones by default); returns item counts by bank."""
    chosen = list(names) if names is not None else list(BANKS)
    unknown = [name for name in chosen if name not in BANKS]
    if unknown:
        raise ContentError(f"unknown bank(s) {', '.join(unknown)}; known: {', '.join(BANKS)}")
    return {name: load_bank(store, BANKS[name]) for name in chosen}


def _spread(user_id: str, question_id: str) -> str:
    # A per-user order over unseen questions: candidates do not all get the same first question, and the choice
    # stays reproducible (no hidden randomness to explain when a candidate asks why they got a question).
    return hashlib.sha256(f"{user_id}\x00{question_id}".encode()).hexdigest()


class QuestionBank:
    """Serves questions from the store; with ``auto_load`` a bank absent or older than its packaged file is loaded.

    The container turns ``auto_load`` on in every stage, so a deployment brings its questions with it; without it
    (an operator-managed table) a missing bank is 503 ``content_not_loaded``.
    """

    def __init__(self, store: Store, *, auto_load: bool, clock: Any = time.monotonic) -> None:
        self._store = store
        self._auto_load = auto_load
        self._clock = clock
        self._cache: dict[str, tuple[float, list[BaseModel]]] = {}

    def ensure_loaded(self, name: str) -> None:
        """Make sure bank ``name`` is in the store (loading it when absent or outdated, with ``auto_load``)."""
        bank = self._bank(name)
        meta = self._store.get(Table.CONTENT, Key(bank_pk(name), "META"))
        if self._auto_load:
            _, version = read_file(bank)
            if meta is None or meta.get("version") != version:
                load_bank(self._store, bank)
        elif meta is None:
            raise ServiceUnavailable(
                f"the question bank {name} is not loaded; an operator must run `ieltsprep questions load`",
                code="content_not_loaded",
            )

    def items(self, name: str) -> list[BaseModel]:
        """Every question of bank ``name``, validated."""
        cached = self._cache.get(name)
        if cached and self._clock() - cached[0] < CACHE_SECONDS:
            return cached[1]
        self.ensure_loaded(name)
        model = model_of(self._bank(name))
        rows = self._store.query(Table.CONTENT, bank_pk(name), sk_prefix="ITEM#")
        items = [model.model_validate(row["data"]) for row in rows]
        self._cache[name] = (self._clock(), items)
        return items

    def pick(self, user_id: str, name: str) -> BaseModel:
        """A question the user has not seen while any remain, else the one they saw least recently."""
        items = self.items(name)
        if not items:
            raise ServiceUnavailable(f"the question bank {name} is empty", code="content_not_loaded")
        # Nanoseconds, not the ISO time: several assessments in one millisecond must still have an order.
        seen = {
            row["sk"].rpartition("#")[2]: int(row.get("seen_ns", 0))
            for row in self._store.query(Table.ASSESSMENTS, f"USER#{user_id}", sk_prefix=f"SEEN#{name}#")
        }
        unseen = [item for item in items if item_id(item) not in seen]
        if unseen:
            return min(unseen, key=lambda item: _spread(user_id, item_id(item)))
        return min(items, key=lambda item: (seen[item_id(item)], item_id(item)))

    @staticmethod
    def seen_op(user_id: str, name: str, question_id: str) -> Update:
        """The write that records the question as given; put it in the transaction creating the assessment."""
        return Update(
            Table.ASSESSMENTS,
            seen_key(user_id, name, question_id),
            set={
                "user_id": user_id,
                "bank": name,
                "question_id": question_id,
                "seen_at": now_iso(),
                "seen_ns": time.time_ns(),
            },
            add={"times": 1},
        )

    def seen_ops(self, user_id: str, picks: Sequence[tuple[str, str]]) -> list[Update]:
        """``seen_op`` for each (bank, question id)."""
        return [self.seen_op(user_id, name, question_id) for name, question_id in picks]

    @staticmethod
    def _bank(name: str) -> Bank:
        bank = BANKS.get(name)
        if bank is None:
            raise ContentError(f"unknown bank {name!r}")
        return bank
