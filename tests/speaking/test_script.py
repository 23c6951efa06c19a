"""The question bank and how a test's parts are chosen from it."""

from __future__ import annotations

import random

from ieltsprep.adapters.storage.port import Put, Table
from ieltsprep.container import Container
from ieltsprep.speaking.script import build_parts, choose_parts, load_bank, seen_ids


def test_bank_has_enough_original_material() -> None:
    bank = load_bank()
    assert len(bank.part1) >= 20
    assert all(len(t.questions) == 4 for t in bank.part1)
    assert len(bank.cue_cards) >= 20
    for card in bank.cue_cards:
        assert card.topic.startswith("Describe ")
        assert 3 <= len(card.points) <= 4
        assert card.explain.startswith("and explain ")
        assert 1 <= len(card.rounding_off) <= 2
        assert len(card.part3_questions) >= 5
    ids = [t.id for t in bank.part1] + [c.id for c in bank.cue_cards]
    assert len(ids) == len(set(ids))


def test_parts_have_three_parts_with_linked_discussion() -> None:
    parts = choose_parts(set(), random.Random(1))
    assert [p["part"] for p in parts] == [1, 2, 3]
    assert len(parts[0]["topics"]) == 3
    card_id = parts[1]["cue_card"]["id"]
    card = next(c for c in load_bank().cue_cards if c.id == card_id)
    assert parts[2]["questions"] == list(card.part3_questions)


def test_choose_parts_avoids_what_was_seen() -> None:
    bank = load_bank()
    seen = {t.id for t in bank.part1[:-3]} | {c.id for c in bank.cue_cards[:-1]}
    parts = choose_parts(seen, random.Random(2))
    assert {t["id"] for t in parts[0]["topics"]} == {t.id for t in bank.part1[-3:]}
    assert parts[1]["cue_card"]["id"] == bank.cue_cards[-1].id


def test_choose_parts_repeats_only_when_bank_is_used_up() -> None:
    bank = load_bank()
    everything = {t.id for t in bank.part1} | {c.id for c in bank.cue_cards}
    parts = choose_parts(everything, random.Random(3))
    assert len(parts[0]["topics"]) == 3
    assert parts[1]["cue_card"]["id"] in everything


def test_build_parts_reads_the_users_earlier_tests(container: Container) -> None:
    first = build_parts(container, "u1")
    container.store.put(
        Put(Table.ASSESSMENTS, {"pk": "USER#u1", "sk": "ASSESSMENT#a1", "module": "academic_speaking", "parts": first})
    )
    for _ in range(5):
        again = build_parts(container, "u1")
        assert not (seen_ids([again]) & seen_ids([first]))
