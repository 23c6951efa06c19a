"""The speaking test script: our own question bank, and the parts of one assessment picked from it.

An assessment's ``parts`` (API.md) is the examiner's script as far as the client needs it: Part 1 topics with their
questions, the Part 2 cue card with its rounding-off questions, and the linked Part 3 discussion questions.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ieltsprep.adapters.storage.port import Table

if TYPE_CHECKING:
    from ieltsprep.container import Container

PART1_TOPICS_PER_TEST = 3
EXAMINER_NAME = "Maya"


@dataclass(frozen=True)
class Part1Topic:
    """One familiar topic of the Part 1 interview."""

    id: str
    title: str
    questions: tuple[str, ...]


@dataclass(frozen=True)
class CueCard:
    """A Part 2 cue card with its rounding-off questions and the linked Part 3 discussion."""

    id: str
    topic: str
    points: tuple[str, ...]
    explain: str
    rounding_off: tuple[str, ...]
    part3_theme: str
    part3_questions: tuple[str, ...]


@dataclass(frozen=True)
class Bank:
    """The whole original question bank (shared by Academic and General Training, as in the real exam)."""

    part1: tuple[Part1Topic, ...]
    cue_cards: tuple[CueCard, ...]


def _read(name: str) -> dict[str, Any]:
    text = resources.files("ieltsprep.content").joinpath("speaking", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=1)
def load_bank() -> Bank:
    """The question bank packaged with the code (read once per process)."""
    part1 = tuple(
        Part1Topic(id=t["id"], title=t["title"], questions=tuple(t["questions"])) for t in _read("part1.json")["topics"]
    )
    cards = tuple(
        CueCard(
            id=c["id"],
            topic=c["topic"],
            points=tuple(c["points"]),
            explain=c["explain"],
            rounding_off=tuple(c["rounding_off"]),
            part3_theme=c["part3"]["theme"],
            part3_questions=tuple(c["part3"]["questions"]),
        )
        for c in _read("part2.json")["cue_cards"]
    )
    return Bank(part1=part1, cue_cards=cards)


def parts_for(topics: list[Part1Topic], card: CueCard) -> list[dict[str, Any]]:
    """The ``parts`` JSON of one test built from chosen topics and a cue card."""
    return [
        {
            "part": 1,
            "topics": [{"id": t.id, "title": t.title, "questions": list(t.questions)} for t in topics],
        },
        {
            "part": 2,
            "cue_card": {"id": card.id, "topic": card.topic, "points": list(card.points), "explain": card.explain},
            "rounding_off": list(card.rounding_off),
            "prep_seconds": 60,
            "talk_seconds": 120,
        },
        {"part": 3, "theme": card.part3_theme, "questions": list(card.part3_questions)},
    ]


def seen_ids(parts_list: list[list[dict[str, Any]]]) -> set[str]:
    """Ids of every topic and cue card used by earlier tests."""
    seen: set[str] = set()
    for parts in parts_list:
        for part in parts:
            seen.update(t["id"] for t in part.get("topics", []) if "id" in t)
            card = part.get("cue_card")
            if isinstance(card, dict) and "id" in card:
                seen.add(card["id"])
    return seen


def choose_parts(seen: set[str], rng: random.Random | None = None) -> list[dict[str, Any]]:
    """Pick Part 1 topics and a cue card the candidate has not had yet (repeats only once the bank is used up)."""
    rng = rng or random.SystemRandom()
    bank = load_bank()
    fresh_topics = [t for t in bank.part1 if t.id not in seen]
    if len(fresh_topics) < PART1_TOPICS_PER_TEST:
        fresh_topics = list(bank.part1)
    fresh_cards = [c for c in bank.cue_cards if c.id not in seen] or list(bank.cue_cards)
    return parts_for(rng.sample(fresh_topics, PART1_TOPICS_PER_TEST), rng.choice(fresh_cards))


def build_parts(container: Container, user_id: str) -> list[dict[str, Any]]:
    """The parts of a new speaking test for ``user_id``, avoiding topics and cards of their earlier tests."""
    items = container.store.query(Table.ASSESSMENTS, f"USER#{user_id}", sk_prefix="ASSESSMENT#")
    earlier = [item["parts"] for item in items if isinstance(item.get("parts"), list)]
    return choose_parts(seen_ids(earlier))
