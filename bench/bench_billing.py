"""Billing benchmark (in process, SQLite, local test store): what a purchase and a refund cost on the server.

Run: ``.venv/bin/python bench/bench_billing.py [--count N]``. Prints figures; asserts nothing.
- apple verify: StoreKit 2 JWS signature + chain check alone (offline checks, as in the local stage; production adds
  OCSP, cached 15 minutes by the library).
- validator apple / google: ``PurchaseService.verify`` end to end (verify, claim + grant transaction; Google adds
  the Play API read and the consume over loopback HTTP).
- retry: the same purchase presented again (the idempotent path).
- refund: an Apple REFUND notification (outer and nested JWS verified, dedupe + revoke transaction).
- consume: the ledger operations of starting an assessment, alone in a transaction.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ieltsprep.billing import ledger  # noqa: E402
from ieltsprep.container import Container  # noqa: E402
from ieltsprep.settings import Settings  # noqa: E402

PRODUCT = "com.ieltsgenaiprep.academic_writing"


class _Buyer:
    def __init__(self, user_id: str) -> None:
        self.id = user_id
        self.is_tester = False
        self.app_account_token = ""


def _measure(name: str, count: int, action: Callable[[int], object]) -> None:
    latencies = []
    for i in range(count):
        t0 = time.perf_counter()
        action(i)
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"  {name:<16} {count / sum(latencies):>8.0f} ops/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   ({count} ops)")


def main() -> int:
    """Print the billing figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as tmp:
        container = Container(Settings(stage="local", data_dir=Path(tmp), test_store_enabled=True))
        try:
            store = container.local_test_store
            play = container.fake_play_api
            assert store is not None and play is not None
            purchases = container.purchases
            apple = [store.apple_transaction(PRODUCT) for _ in range(count)]
            google = [play.add_purchase(PRODUCT) for _ in range(count)]
            print("billing (SQLite, local test store):")
            _measure("apple verify", count, lambda i: container.apple_verifier.verify_transaction(apple[i][0]))

            def body(i: int) -> dict[str, object]:
                return {"transaction": {"type": "apple-sk2", "id": PRODUCT, "jwsRepresentation": apple[i][0]}}

            _measure("validator apple", count, lambda i: purchases.verify(_Buyer(f"u{i}"), body(i)))
            _measure("retry apple", count, lambda i: purchases.verify(_Buyer(f"u{i}"), body(i)))
            _measure(
                "validator google",
                count,
                lambda i: purchases.verify(_Buyer(f"g{i}"), {"id": PRODUCT, "transaction": google[i]}),
            )
            notes = [store.apple_notification("REFUND", str(apple[i][1]["transactionId"])) for i in range(count)]
            _measure(
                "refund apple",
                count,
                lambda i: container.store_notifications.apple_notification({"signedPayload": notes[i]}),
            )
            ledger.grant(container.store, "heavy", "academic_writing", 1000, source="operator", idempotency_key="bench")
            _measure(
                "consume",
                count,
                lambda i: container.store.transact(ledger.consume_credit_ops("heavy", "academic_writing", f"a{i}")),
            )
        finally:
            container.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
