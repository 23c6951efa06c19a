"""``ieltsprep credits grant`` (an operator's grant, recorded in the ledger) and ``ieltsprep users set-tester``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ieltsprep.settings import MODULES


def add_parser(subparsers: Any) -> None:
    """Register ``credits grant`` and ``users set-tester``."""
    credits = subparsers.add_parser("credits", help="manage assessment credits")
    credit_actions = credits.add_subparsers(dest="credits_command", required=True)
    grant = credit_actions.add_parser("grant", help="grant credits to an account (recorded in the ledger)")
    grant.add_argument("--email", required=True, help="the account's email address")
    grant.add_argument("--module", required=True, choices=MODULES, help="which assessment the credits pay for")
    grant.add_argument("--count", required=True, type=int, help="how many credits (1-1000)")
    grant.add_argument("--key", help="idempotency key: a repeated grant with the same key adds nothing")
    grant.add_argument("--reason", default="", help="why (kept in the ledger entry)")
    grant.add_argument("--data-dir", help="data directory of the local store (same as IELTSPREP_DATA_DIR)")
    grant.set_defaults(func=run_grant)

    users = subparsers.add_parser("users", help="manage accounts")
    user_actions = users.add_subparsers(dest="users_command", required=True)
    tester = user_actions.add_parser("set-tester", help="allow (or stop) sandbox/test purchases crediting an account")
    tester.add_argument("--email", required=True, help="the account's email address")
    tester.add_argument("--off", action="store_true", help="remove the tester flag instead of setting it")
    tester.add_argument("--data-dir", help="data directory of the local store (same as IELTSPREP_DATA_DIR)")
    tester.set_defaults(func=run_set_tester)


def run_grant(args: argparse.Namespace) -> int:
    """Grant credits to the account with ``--email``; prints the new balances as JSON."""
    from ieltsprep.billing import ledger
    from ieltsprep.container import get_container
    from ieltsprep.errors import AppError
    from ieltsprep.ids import new_id

    container = get_container()
    try:
        user = container.accounts.find_by_email(args.email)
        if user is None:
            print(f"error: no account with email {args.email!r}", file=sys.stderr)
            return 1
        key = f"operator:{args.key or new_id()}"
        granted = ledger.grant(
            container.store, user.id, args.module, args.count, source="operator", idempotency_key=key,
            reason=args.reason[:500],
        )  # fmt: skip
        balances = ledger.balances(container.store, user.id)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        container.close()
    print(json.dumps({"user_id": user.id, "granted": args.count if granted else 0, "key": key, "credits": balances}))
    return 0


def run_set_tester(args: argparse.Namespace) -> int:
    """Set or clear the tester flag of the account with ``--email``."""
    from ieltsprep.container import get_container
    from ieltsprep.errors import AppError

    container = get_container()
    try:
        user = container.accounts.find_by_email(args.email)
        if user is None:
            print(f"error: no account with email {args.email!r}", file=sys.stderr)
            return 1
        updated = container.accounts.set_tester(user.id, not args.off)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        container.close()
    print(json.dumps({"user_id": updated.id, "is_tester": updated.is_tester}))
    return 0
