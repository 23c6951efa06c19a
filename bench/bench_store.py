"""Store throughput: get/put/transact per second on SQLite, and on DynamoDB via a loopback moto server for reference.

Run: ``.venv/bin/python bench/bench_store.py [--ops N] [--moto-ops N] [--threads N]``. moto is a Python emulator, so
its figures measure the adapter's request path over HTTP, not DynamoDB's latency.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ieltsprep.adapters.storage.port import Condition, Key, Put, Store, Table, Update
from ieltsprep.adapters.storage.sqlite import SqliteStore
from ieltsprep.settings import Settings

USER = "USER#bench"


def _put(i: int) -> Put:
    return Put(Table.ASSESSMENTS, {"pk": USER, "sk": f"ASSESSMENT#{i:08}", "module": "academic_writing", "n": i})


def _transaction(i: int) -> list[Put | Update]:
    # The shape of starting an assessment: a conditional balance decrement plus two new items.
    return [
        Update(
            Table.LEDGER,
            Key(USER, "BALANCE#academic_writing"),
            add={"balance": -1},
            condition=Condition(at_least={"balance": 1}),
        ),
        Put(Table.LEDGER, {"pk": USER, "sk": f"ENTRY#{i:08}", "delta": -1}),
        Put(Table.ASSESSMENTS, {"pk": USER, "sk": f"STARTED#{i:08}", "status": "open"}),
    ]


def _measure(name: str, count: int, action: Callable[[int], object]) -> None:
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        action(i)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"  {name:<10} {count / elapsed:>9.0f} ops/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   ({count} ops)")


def _measure_threads(name: str, threads: int, per_thread: int, action: Callable[[int], object]) -> None:
    def run(offset: int) -> None:
        for i in range(per_thread):
            action(offset + i)

    workers = [threading.Thread(target=run, args=(1_000_000 * (t + 1),)) for t in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    print(f"  {name:<10} {threads * per_thread / elapsed:>9.0f} ops/s   ({threads} threads x {per_thread} ops)")


def bench(label: str, store: Store, ops: int, threads: int) -> None:
    """Print the figures of one store."""
    print(f"{label}:")
    store.put(Put(Table.LEDGER, {"pk": USER, "sk": "BALANCE#academic_writing", "balance": 10 * ops * (threads + 1)}))
    _measure("put", ops, lambda i: store.put(_put(i)))
    _measure("get", ops, lambda i: store.get(Table.ASSESSMENTS, Key(USER, f"ASSESSMENT#{i:08}")))
    _measure("transact", ops, lambda i: store.transact(_transaction(i)))
    _measure(
        "query 20", max(ops // 10, 10), lambda i: store.query(Table.ASSESSMENTS, USER, newest_first=True, limit=20)
    )
    if threads > 1:
        _measure_threads("put", threads, ops // threads, lambda i: store.put(_put(i)))
        _measure_threads("transact", threads, ops // threads, lambda i: store.transact(_transaction(i)))


def main() -> None:
    """Benchmark SQLite, then DynamoDB on moto."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=2000, help="operations per measurement on SQLite")
    parser.add_argument("--moto-ops", type=int, default=100, help="operations per measurement on moto (0 skips)")
    parser.add_argument("--threads", type=int, default=4, help="threads for the concurrent measurements")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStore(Path(tmp) / "bench.sqlite3")
        try:
            bench("SQLite (WAL, one file)", sqlite, args.ops, args.threads)
        finally:
            sqlite.close()

        if args.moto_ops > 0:
            import boto3
            from moto.server import ThreadedMotoServer

            from ieltsprep.adapters.storage.dynamodb import BOTO_CONFIG, DynamoStore, create_tables, table_names

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            client = boto3.client(
                "dynamodb",
                region_name="us-east-1",
                endpoint_url=f"http://{host}:{port}",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
                config=BOTO_CONFIG,
            )
            settings = Settings(stage="local", data_dir=Path(tmp))
            create_tables(client, settings)
            try:
                bench(
                    "DynamoDB adapter on moto server (loopback HTTP)",
                    DynamoStore(client, table_names(settings)),
                    args.moto_ops,
                    1,
                )
            finally:
                client.close()
                server.stop()


if __name__ == "__main__":
    main()
