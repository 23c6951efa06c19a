"""Billing's part in data export and account deletion (imported by ``ieltsprep.accounts.privacy``).

Ledger entries and balances live in the user's ``USER#<id>`` partition and are exported and erased generically.
Purchase claims are keyed by the purchase, so they are exported here, and on deletion they are pseudonymised rather
than deleted: the claim must outlive the account, or the same store purchase could be replayed to a new account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ieltsprep.accounts.privacy import register_eraser, register_exporter

if TYPE_CHECKING:
    from ieltsprep.container import Container


def export_purchases(container: Container, user_id: str) -> list[dict[str, Any]]:
    """The user's store purchases as billing recorded them."""
    return container.purchases.claims_of(user_id)


def pseudonymise_purchases(container: Container, user_id: str) -> None:
    """Detach the user from their purchase claims, keeping the claims against replay."""
    container.purchases.pseudonymise(user_id)


register_exporter("purchases", export_purchases)
register_eraser(pseudonymise_purchases)
