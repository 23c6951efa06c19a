"""The credit ledger: every change of a balance is an entry written in the same transaction as the balance.

Keys (LEDGER table, partition ``USER#<user_id>``; see docs/ARCHITECTURE.md, "Billing"):
- ``BALANCE#<module>``: ``{"balance": int, "module": str}``; the running balance, kept in the same write as entries.
- ``ENTRY#<kind>#<ref>``: one entry per change; ``kind`` is grant, use, return or revoke and ``ref`` the
  idempotency key (grant/revoke) or the assessment id (use/return). Because the key is derived from what caused the
  change, writing the entry with "must not exist" makes every change happen at most once, whatever the retries.

Consuming requires a balance of at least 1 (checked by the store, atomically); revocations (refunds) may drive a
balance negative, which then blocks new assessments until it is positive again.
"""

from __future__ import annotations

from typing import Any, Literal

from ieltsprep.adapters.storage.port import (
    MUST_EXIST,
    MUST_NOT_EXIST,
    Check,
    Condition,
    ConditionFailed,
    Key,
    Operation,
    Put,
    Store,
    Table,
    Update,
)
from ieltsprep.errors import ValidationFailed
from ieltsprep.ids import now_iso
from ieltsprep.settings import MODULES

EntryKind = Literal["grant", "use", "return", "revoke"]
GrantSource = Literal["apple", "google", "operator", "test_store"]
MAX_GRANT = 1000  # an operator typo (an extra zero or two) should fail loudly, not mint credits


def user_pk(user_id: str) -> str:
    """The partition of a user's ledger items."""
    return f"USER#{user_id}"


def balance_key(user_id: str, module: str) -> Key:
    """Key of the balance item of one module."""
    return Key(user_pk(user_id), f"BALANCE#{module}")


def entry_key(user_id: str, kind: EntryKind, ref: str) -> Key:
    """Key of the ledger entry caused by ``ref`` (idempotency key or assessment id)."""
    return Key(user_pk(user_id), f"ENTRY#{kind}#{ref}")


def _check_module(module: str) -> None:
    if module not in MODULES:
        raise ValidationFailed(f"unknown module {module!r}; expected one of {', '.join(MODULES)}")


def _check_ref(name: str, value: str) -> None:
    if not value or not isinstance(value, str) or len(value) > 1024:
        raise ValidationFailed(f"{name} must be a non-empty string of at most 1024 characters")


def _entry(user_id: str, kind: EntryKind, ref: str, module: str, delta: int, **extra: Any) -> Put:
    key = entry_key(user_id, kind, ref)
    item: dict[str, Any] = {
        "pk": key.pk,
        "sk": key.sk,
        "kind": kind,
        "ref": ref,
        "module": module,
        "delta": delta,
        "created_at": now_iso(),
        **extra,
    }
    return Put(Table.LEDGER, item, MUST_NOT_EXIST)


def _balance_change(user_id: str, module: str, delta: int, condition: Condition | None = None) -> Update:
    return Update(
        Table.LEDGER, balance_key(user_id, module), set={"module": module}, add={"balance": delta}, condition=condition
    )


def consume_credit_ops(user_id: str, module: str, assessment_id: str) -> list[Operation]:
    """Operations that use one credit for an assessment; put them in the same transaction as the assessment.

    The FIRST operation is the balance update conditioned on ``balance >= 1``: ``ConditionFailed`` with index 0
    means no credits (map it to ``PaymentRequired``).
    """
    _check_module(module)
    _check_ref("assessment_id", assessment_id)
    return [
        _balance_change(user_id, module, -1, Condition(at_least={"balance": 1})),
        _entry(user_id, "use", assessment_id, module, -1),
    ]


def return_credit_ops(user_id: str, module: str, assessment_id: str) -> list[Operation]:
    """Operations that give back the credit an assessment used (scoring failed for good).

    Idempotent: the first operation (the return entry) fails with ``ConditionFailed`` when the credit was already
    returned, and a return is only possible when the assessment did use a credit (checked in the transaction).
    """
    _check_module(module)
    _check_ref("assessment_id", assessment_id)
    return [
        _entry(user_id, "return", assessment_id, module, 1),
        Check(Table.LEDGER, entry_key(user_id, "use", assessment_id), MUST_EXIST),
        _balance_change(user_id, module, 1),
    ]


def return_credit(store: Store, user_id: str, module: str, assessment_id: str) -> bool:
    """Give back an assessment's credit; False when it was already returned or never used."""
    try:
        store.transact(return_credit_ops(user_id, module, assessment_id))
    except ConditionFailed:
        return False
    return True


def grant_ops(
    user_id: str, module: str, count: int, *, source: GrantSource, idempotency_key: str, **details: Any
) -> list[Operation]:
    """Operations that grant ``count`` credits once per ``idempotency_key`` (the entry Put comes first)."""
    _check_module(module)
    _check_ref("idempotency_key", idempotency_key)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_GRANT:
        raise ValidationFailed(f"count must be a whole number from 1 to {MAX_GRANT}")
    return [
        _entry(user_id, "grant", idempotency_key, module, count, source=source, **details),
        _balance_change(user_id, module, count),
    ]


def grant(
    store: Store, user_id: str, module: str, count: int, *, source: GrantSource, idempotency_key: str, **details: Any
) -> bool:
    """Grant credits; True when granted now, False when this idempotency key was already granted."""
    try:
        store.transact(grant_ops(user_id, module, count, source=source, idempotency_key=idempotency_key, **details))
    except ConditionFailed:
        return False
    return True


def revoke_ops(user_id: str, module: str, count: int, *, source: str, idempotency_key: str) -> list[Operation]:
    """Operations that take back ``count`` credits once per key (a refund); the balance may go negative."""
    _check_module(module)
    _check_ref("idempotency_key", idempotency_key)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValidationFailed("count must be a positive whole number")
    return [
        _entry(user_id, "revoke", idempotency_key, module, -count, source=source),
        _balance_change(user_id, module, -count),
    ]


def revoke(store: Store, user_id: str, module: str, count: int, *, source: str, idempotency_key: str) -> bool:
    """Revoke credits; True when revoked now, False when this key was already revoked."""
    try:
        store.transact(revoke_ops(user_id, module, count, source=source, idempotency_key=idempotency_key))
    except ConditionFailed:
        return False
    return True


def balances(store: Store, user_id: str) -> dict[str, int]:
    """Balance per module, every module present (0 when never touched)."""
    result = dict.fromkeys(MODULES, 0)
    for item in store.query(Table.LEDGER, user_pk(user_id), sk_prefix="BALANCE#"):
        module = str(item["sk"]).removeprefix("BALANCE#")
        if module in result:
            result[module] = int(item.get("balance", 0))
    return result


def entries(store: Store, user_id: str) -> list[dict[str, Any]]:
    """The user's ledger entries, oldest first."""
    items = store.query(Table.LEDGER, user_pk(user_id), sk_prefix="ENTRY#")
    return sorted(
        (
            {k: item[k] for k in ("kind", "ref", "module", "delta", "created_at", "source") if k in item}
            for item in items
        ),
        key=lambda e: str(e["created_at"]),
    )
