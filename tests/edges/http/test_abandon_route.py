"""A speaking test that never connected can be left with its credit back (POST /api/assessments/{id}/abandon)."""

from __future__ import annotations

from apiclient import Api
from test_assessments_routes import signed_up, start

from ieltsprep.billing import ledger
from ieltsprep.container import Container
from ieltsprep.speaking.sessions import SpeakingStore, Turn


def test_an_unanswered_speaking_test_is_abandoned_with_its_credit_back_once(api: Api, container: Container) -> None:
    user_id, token = signed_up(api, container, "left@example.com", {"academic_speaking": 1})
    assessment = start(api, token, "academic_speaking")
    assert ledger.balances(container.store, user_id)["academic_speaking"] == 0
    SpeakingStore(container.store).open(user_id, assessment["id"], "c1")  # connected, Maya greeted, no answer yet

    left = api.call("POST", f"/api/assessments/{assessment['id']}/abandon", token=token)
    assert left.status == 200, left.text
    assert left.json["assessment"]["status"] == "failed"
    assert left.json["assessment"]["error"]["code"] == "abandoned"
    assert ledger.balances(container.store, user_id)["academic_speaking"] == 1
    session = SpeakingStore(container.store).get(assessment["id"])
    assert session is not None and session.finished, "a later start must not resume it"

    again = api.call("POST", f"/api/assessments/{assessment['id']}/abandon", token=token)
    assert again.status == 200
    assert ledger.balances(container.store, user_id)["academic_speaking"] == 1, "the credit comes back once"


def test_a_test_that_never_connected_has_no_session_and_is_abandoned_too(api: Api, container: Container) -> None:
    user_id, token = signed_up(api, container, "refused@example.com", {"general_speaking": 1})
    assessment = start(api, token, "general_speaking")
    assert api.call("POST", f"/api/assessments/{assessment['id']}/abandon", token=token).status == 200
    assert ledger.balances(container.store, user_id)["general_speaking"] == 1


def test_abandoning_is_refused_after_an_answer_for_writing_and_for_someone_else(api: Api, container: Container) -> None:
    user_id, token = signed_up(api, container, "spoke@example.com", {"academic_speaking": 1, "academic_writing": 1})
    speaking = start(api, token, "academic_speaking")
    SpeakingStore(container.store).append_turn(
        user_id, speaking["id"], 0, Turn("candidate", 1, "My name is Anna.", 0, 900)
    )
    refused = api.call("POST", f"/api/assessments/{speaking['id']}/abandon", token=token)
    assert (refused.status, refused.json["error"]["code"]) == (409, "already_answered")

    writing = start(api, token, "academic_writing")
    refused = api.call("POST", f"/api/assessments/{writing['id']}/abandon", token=token)
    assert (refused.status, refused.json["error"]["code"]) == (409, "not_speaking")

    _, other = signed_up(api, container, "other@example.com")
    assert api.call("POST", f"/api/assessments/{speaking['id']}/abandon", token=other).status == 404
    assert ledger.balances(container.store, user_id)["academic_speaking"] == 0
