"""GET /api/sample-result: the project's own sample paper, really scored by the platform's writing scorer."""

from __future__ import annotations

from apiclient import Api

from ieltsprep.assessments.sample import sample_paper


def test_the_public_sample_is_the_projects_paper_scored_by_the_writing_scorer_and_marked_sample(api: Api) -> None:
    reply = api.call("GET", "/api/sample-result")  # no session: anyone may see what they would get
    assert reply.status == 200, reply.text
    body = reply.json
    assert body["sample"] is True and "not by a candidate" in body["about"]
    paper = sample_paper()
    assert body["answers"]["2"]["text"] == paper["tasks"][1]["text"]
    result = body["result"]
    assert [t["task"] for t in result["tasks"]] == [1, 2]
    assert 0 <= result["overall_band"] <= 9 and (result["overall_band"] * 2).is_integer()
    assert result["tasks"][1]["word_count"] == len(paper["tasks"][1]["text"].split())
    assert api.call("GET", "/api/sample-result").json == body, "scored once, the same every time"
