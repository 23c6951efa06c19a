from __future__ import annotations

from collections import Counter

import pytest
from pydantic import BaseModel

from ieltsprep.adapters.storage.port import Key, Store, Table
from ieltsprep.assessments.models import AcademicTask1Item, GeneralTask1Item, Task2Item
from ieltsprep.assessments.questionbank import (
    BANKS,
    Bank,
    ContentError,
    QuestionBank,
    bank_pk,
    item_id,
    load_all,
    load_bank,
    read_file,
)
from ieltsprep.errors import ServiceUnavailable


def test_packaged_banks_hold_the_promised_variety() -> None:
    academic = [i for i in read_file(BANKS["writing/academic_task1"])[0] if isinstance(i, AcademicTask1Item)]
    letters = [i for i in read_file(BANKS["writing/general_task1"])[0] if isinstance(i, GeneralTask1Item)]
    essays = [i for i in read_file(BANKS["writing/task2"])[0] if isinstance(i, Task2Item)]
    assert len(academic) >= 12 and len(letters) == 12 and len(essays) == 24
    assert {i.chart.type for i in academic} == {"line", "bar", "pie", "table", "process", "map"}
    assert Counter(i.tone for i in letters) == {"formal": 4, "semi_formal": 4, "informal": 4}
    assert all(len(i.bullets) == 3 for i in letters)
    assert set(Counter(i.type for i in essays)) == {
        "opinion",
        "discussion",
        "advantages_disadvantages",
        "problem_solution",
        "two_part",
    }
    assert min(Counter(i.type for i in essays).values()) >= 4


def test_numeric_charts_carry_units_and_periods() -> None:
    for item in read_file(BANKS["writing/academic_task1"])[0]:
        assert isinstance(item, AcademicTask1Item)
        if item.chart.type in ("line", "bar", "pie", "table"):
            assert item.chart.unit and item.chart.period, item.id


def test_load_copies_every_item_and_writes_meta_last(store: Store) -> None:
    counts = load_all(store)
    assert counts == {"writing/academic_task1": 12, "writing/general_task1": 12, "writing/task2": 24}
    meta = store.get(Table.CONTENT, Key(bank_pk("writing/task2"), "META"))
    assert meta is not None and meta["count"] == 24 and len(meta["version"]) == 64
    rows = store.query(Table.CONTENT, bank_pk("writing/task2"), sk_prefix="ITEM#")
    assert len(rows) == 24 and all(row["version"] == meta["version"] for row in rows)


def test_reload_removes_items_no_longer_in_the_file(store: Store) -> None:
    load_bank(store, BANKS["writing/task2"])
    from ieltsprep.adapters.storage.port import Put

    stale = {"pk": bank_pk("writing/task2"), "sk": "ITEM#t2-withdrawn", "id": "t2-withdrawn", "data": {}}
    store.put(Put(Table.CONTENT, stale))
    load_bank(store, BANKS["writing/task2"])
    assert store.get(Table.CONTENT, Key(bank_pk("writing/task2"), "ITEM#t2-withdrawn")) is None


def test_missing_data_file_is_a_clear_content_error() -> None:
    with pytest.raises(ContentError, match="missing"):
        read_file(Bank("writing/none", "writing/none.json", "items", "ieltsprep.assessments.models:Task2Item"))


def test_unknown_bank_names_are_refused(store: Store) -> None:
    with pytest.raises(ContentError, match="unknown bank"):
        load_all(store, ["writing/nope"])


def test_outside_local_an_unloaded_bank_is_reported_not_loaded_silently(store: Store) -> None:
    bank = QuestionBank(store, auto_load=False)
    with pytest.raises(ServiceUnavailable) as err:
        bank.pick("u1", "writing/task2")
    assert err.value.code == "content_not_loaded"
    load_all(store, ["writing/task2"])
    assert isinstance(bank.pick("u1", "writing/task2"), Task2Item)


def test_a_user_gets_every_question_once_before_any_repeats(store: Store) -> None:
    bank = QuestionBank(store, auto_load=True)
    given: list[str] = []
    for _ in range(24):
        question = bank.pick("u1", "writing/task2")
        given.append(item_id(question))
        store.update(bank.seen_op("u1", "writing/task2", item_id(question)))
    assert len(set(given)) == 24


def test_when_all_are_seen_the_least_recently_seen_comes_back(store: Store) -> None:
    bank = QuestionBank(store, auto_load=True)
    order: list[str] = []
    for _ in range(12):
        question = bank.pick("u1", "writing/general_task1")
        order.append(item_id(question))
        store.update(bank.seen_op("u1", "writing/general_task1", item_id(question)))
    again = bank.pick("u1", "writing/general_task1")
    assert item_id(again) == order[0]


def test_seen_questions_are_tracked_per_user(store: Store) -> None:
    bank = QuestionBank(store, auto_load=True)
    first = item_id(bank.pick("u1", "writing/task2"))
    store.update(bank.seen_op("u1", "writing/task2", first))
    assert item_id(bank.pick("u1", "writing/task2")) != first
    others = {item_id(bank.pick(f"user-{n}", "writing/task2")) for n in range(8)}
    assert len(others) > 1  # different candidates do not all start on the same question


class SpeakingTopic(BaseModel):
    """The shape of a Part 1 topic of the speaking bank, as another domain would declare it."""

    id: str
    title: str
    questions: list[str]


def test_the_loader_takes_other_domains_banks_such_as_speaking_topics(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = Bank("speaking/part1", "speaking/part1.json", "topics", SpeakingTopic)
    monkeypatch.setitem(BANKS, bank.name, bank)
    count = load_all(store, [bank.name])[bank.name]
    assert count >= 20
    questions = QuestionBank(store, auto_load=False)
    first = questions.pick("u1", bank.name)
    assert isinstance(first, SpeakingTopic) and len(first.questions) == 4
    store.update(questions.seen_op("u1", bank.name, first.id))
    assert questions.pick("u1", bank.name).id != first.id
