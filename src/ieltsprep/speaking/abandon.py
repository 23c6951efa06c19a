"""Leaving a speaking test before answering: the test ends as failed with code ``abandoned`` and its credit back.

A candidate whose test never connected (a refused WebSocket, no microphone, a closed laptop) must not lose a paid
credit. Once they have answered at least once, the test is theirs to finish or stop (what was said is scored), so
abandoning is refused with 409 ``already_answered``.
"""

from __future__ import annotations

import contextlib

from ieltsprep.adapters.storage.port import Item
from ieltsprep.assessments.models import SPEAKING_MODULES
from ieltsprep.assessments.service import AssessmentService
from ieltsprep.errors import Conflict, NotFound
from ieltsprep.speaking.sessions import SpeakingStore

ABANDONED = "abandoned"
ABANDONED_MESSAGE = "You left this speaking test before answering, so it was not scored. Your credit was returned."


def abandon(assessments: AssessmentService, sessions: SpeakingStore, user_id: str, assessment_id: str) -> Item:
    """End an unanswered speaking test with its credit returned; returns the failed assessment."""
    item = assessments.get(user_id, assessment_id)
    if item["module"] not in SPEAKING_MODULES:
        raise Conflict("only a speaking test can be abandoned; submit a writing paper instead", code="not_speaking")
    if item["status"] == "failed" and (item.get("error") or {}).get("code") == ABANDONED:
        return item  # asked twice: the same answer
    if item["status"] != "in_progress":
        raise Conflict(f"this test is {item['status']}; it can no longer be abandoned", code="not_in_progress")
    if any(turn.role == "candidate" and turn.text.strip() for turn in sessions.turns(user_id, assessment_id)):
        raise Conflict(
            "you have already answered in this test; resume it, or stop it to have what you said scored",
            code="already_answered",
        )
    with contextlib.suppress(NotFound):  # a test that never connected has no session record
        sessions.finish(assessment_id)  # a later `start` must not resume it
    return assessments.fail(user_id, assessment_id, ABANDONED, ABANDONED_MESSAGE)
