"""Assessment items in the store (ASSESSMENTS table, partition ``USER#<user id>``, sort key ``ASSESSMENT#<id>``).

Every read is scoped to the caller's partition, so another user's id is simply not found. Status changes are
conditional writes on the status read or expected, which makes them safe under retries and concurrent jobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ieltsprep.adapters.storage.port import (
    MUST_NOT_EXIST,
    Condition,
    Item,
    Key,
    Operation,
    Put,
    Store,
    Table,
    Update,
)
from ieltsprep.errors import NotFound

PREFIX = "ASSESSMENT#"


def user_pk(user_id: str) -> str:
    """The partition holding a user's assessments."""
    return f"USER#{user_id}"


def assessment_key(user_id: str, assessment_id: str) -> Key:
    """Key of one assessment item."""
    return Key(user_pk(user_id), f"{PREFIX}{assessment_id}")


class AssessmentRepository:
    """Reads and conditional writes of assessment items."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def new_item_op(self, item: Mapping[str, Any]) -> Put:
        """The Put creating an assessment (must not exist yet), for the transaction that also uses a credit."""
        key = assessment_key(item["user_id"], item["id"])
        return Put(Table.ASSESSMENTS, {"pk": key.pk, "sk": key.sk, **item}, MUST_NOT_EXIST)

    def get(self, user_id: str, assessment_id: str) -> Item:
        """The user's assessment, or NotFound (also for another user's id)."""
        item = self.find(user_id, assessment_id)
        if item is None:
            raise NotFound("no such assessment", code="assessment_not_found")
        return item

    def find(self, user_id: str, assessment_id: str) -> Item | None:
        """The user's assessment or None."""
        if not assessment_id or len(assessment_id) > 64:
            return None
        return self.store.get(Table.ASSESSMENTS, assessment_key(user_id, assessment_id))

    def list(self, user_id: str, *, limit: int | None = None) -> list[Item]:
        """The user's assessments, newest first (ids sort by creation time)."""
        return self.store.query(Table.ASSESSMENTS, user_pk(user_id), sk_prefix=PREFIX, newest_first=True, limit=limit)

    def update_op(
        self,
        user_id: str,
        assessment_id: str,
        *,
        expect_status: str,
        set: Mapping[str, Any],
        expect: Mapping[str, Any] | None = None,
        remove: Sequence[str] = (),
    ) -> Update:
        """An update applied only while the assessment is in ``expect_status`` (and carries ``expect``)."""
        return Update(
            Table.ASSESSMENTS,
            assessment_key(user_id, assessment_id),
            set=set,
            remove=remove,
            condition=Condition(equals={**(expect or {}), "status": expect_status}),
        )

    def update(
        self,
        user_id: str,
        assessment_id: str,
        *,
        expect_status: str,
        set: Mapping[str, Any],
        expect: Mapping[str, Any] | None = None,
        remove: Sequence[str] = (),
    ) -> Item:
        """Apply ``update_op``; raises ConditionFailed when the status is not ``expect_status``."""
        op = self.update_op(user_id, assessment_id, expect_status=expect_status, set=set, expect=expect, remove=remove)
        return self.store.update(op)

    def transact(self, ops: Sequence[Operation]) -> None:
        """All-or-nothing write of assessment and ledger operations."""
        self.store.transact(ops)
