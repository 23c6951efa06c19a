"""The assessment flow on the DynamoDB adapter (moto server over HTTP on loopback), not only on SQLite.

It pins what differs between backends: float chart data and nested maps round-tripping, the index of a cancelled
transaction (402 vs a retry), and the conditional draft and status updates.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from assessment_fakes import RecordingInvoker, ScriptedScorer, give, retryable

from ieltsprep.adapters.storage.port import Store, Table
from ieltsprep.assessments.questionbank import QuestionBank
from ieltsprep.assessments.repository import AssessmentRepository
from ieltsprep.assessments.service import AssessmentService, public
from ieltsprep.billing import ledger
from ieltsprep.errors import Conflict, PaymentRequired
from ieltsprep.ids import new_id
from ieltsprep.settings import Settings


@pytest.fixture(scope="module")
def dynamo(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One set of tables for the module (loading the question banks once); each test uses its own user."""
    from ieltsprep.adapters.storage.dynamodb import DynamoStore

    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    suffix = new_id()[-8:]
    names = {f"{t.value}_table": f"t-{t.value}-{suffix}" for t in Table}
    settings = Settings(
        stage="local",
        data_dir=tmp_path_factory.mktemp("dynamo"),
        store="dynamodb",
        dynamodb_endpoint_url=moto_endpoint,
        cookie_secure=False,
        **names,
    )
    store = DynamoStore.from_settings(settings)
    yield store
    store.close()
    patch.undo()


@pytest.fixture
def on_dynamo(dynamo: Store) -> AssessmentService:
    return AssessmentService(
        AssessmentRepository(dynamo), QuestionBank(dynamo, auto_load=True), invoke=RecordingInvoker()
    )


def test_the_writing_flow_round_trips_on_dynamodb(on_dynamo: AssessmentService, dynamo: Store) -> None:
    give(dynamo, "u1", "academic_writing")
    item = on_dynamo.create("u1", "academic_writing")
    stored = on_dynamo.get("u1", item["id"])
    assert stored["tasks"] == item["tasks"]  # chart floats and nested maps come back as written
    assert public(stored)["tasks"][0]["chart"]["svg"].startswith("<svg")
    assert on_dynamo.save_answer("u1", item["id"], 2, "A short essay.")["word_count"] == 3
    on_dynamo.submit("u1", item["id"])
    with pytest.raises(Conflict):
        on_dynamo.save_answer("u1", item["id"], 2, "too late")
    scored = on_dynamo.score_writing("u1", item["id"], ScriptedScorer, sleep=lambda _s: None)
    assert scored is not None and scored["status"] == "scored" and scored["result"]["overall_band"] == 6.0


def test_no_credit_is_402_and_writes_nothing_on_dynamodb(on_dynamo: AssessmentService, dynamo: Store) -> None:
    with pytest.raises(PaymentRequired):
        on_dynamo.create("u2", "general_writing")
    assert dynamo.query(Table.ASSESSMENTS, "USER#u2") == []


def test_a_failed_scoring_returns_the_credit_once_on_dynamodb(on_dynamo: AssessmentService, dynamo: Store) -> None:
    give(dynamo, "u3", "general_writing")
    item = on_dynamo.create("u3", "general_writing")
    on_dynamo.submit("u3", item["id"])
    failing = ScriptedScorer(errors=[retryable(), retryable()])
    failed = on_dynamo.score_writing("u3", item["id"], lambda: failing, attempts=2, sleep=lambda _s: None)
    assert failed is not None and failed["status"] == "failed"
    assert on_dynamo.fail("u3", item["id"], "again", "again")["error"]["code"] == "scoring_failed"
    assert ledger.balances(dynamo, "u3")["general_writing"] == 1
