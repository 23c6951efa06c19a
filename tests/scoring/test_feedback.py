"""Feedback points both engines share: each grounded in the text, none telling a candidate to fix what is done."""

from __future__ import annotations

import re

from ieltsprep.assessments.sample import sample_paper
from ieltsprep.scoring.features import analyse
from ieltsprep.scoring.feedback import criterion_feedback
from ieltsprep.scoring.port import FeedbackPoint, WritingTask

BANDS = {"task_response": 6, "coherence_cohesion": 6, "lexical_resource": 6, "grammatical_range_accuracy": 6}


def points(task: WritingTask) -> dict[str, list[FeedbackPoint]]:
    bands = BANDS if task.task == 2 else {k.replace("task_response", "task_achievement"): v for k, v in BANDS.items()}
    return {key: found for key, (found, _) in criterion_feedback(task, analyse(task), bands, ()).items()}


def essay(text: str) -> WritingTask:
    return WritingTask(
        2, "Some people think a teacher is no longer needed to learn a language. Discuss.", text, 250, "essay"
    )


def test_a_long_body_paragraph_with_its_own_examples_is_not_told_to_add_one() -> None:
    sample = next(t for t in sample_paper()["tasks"] if t["kind"] == "essay")
    advice = " ".join(p.advice for p in points(essay(sample["text"]))["task_response"])
    assert "Support this main idea" not in advice
    # The same paragraph cut to two sentences is told to develop it.
    short = essay(
        "Learning a language is hard, and people disagree about teachers. I believe a teacher helps most.\n\n"
        "On the one hand, learning alone online is cheap and flexible. It suits many people.\n\n"
        "On the other hand, a classroom gives speaking practice, and the teacher corrects mistakes immediately, "
        "which an app cannot do, so students improve their pronunciation and their confidence quickly.\n\n"
        "In conclusion, I believe that a teacher is still the best way to learn."
    )
    assert any("does not develop it" in p.advice for p in points(short)["task_response"])


def test_a_complex_sentence_without_errors_is_shown_as_the_model_to_follow() -> None:
    text = (
        "Many students who study alone make slow progress, because nobody corrects them. "
        "A teacher which know the student's weaknesses plan the lessons. Apps are cheap."
    )
    found = points(essay(text))["grammatical_range_accuracy"]
    [model] = [p for p in found if "no error the checker found" in p.advice]
    assert model.quote.startswith("Many students who study alone")  # not the longer sentence with its errors


def test_what_works_is_shown_too_each_point_on_the_candidates_own_sentence() -> None:
    letter = next(t for t in sample_paper()["tasks"] if t["kind"] == "general_letter")
    task = WritingTask(1, letter["prompt"], letter["text"], 150, "general_letter", tuple(letter["bullets"]))
    found = points(task)
    [purpose] = [p for p in found["task_achievement"] if "purpose of the letter is clear" in p.advice]
    assert purpose.quote.startswith("I am writing to complain")
    [link] = [p for p in found["coherence_cohesion"] if "cohesive devices" in p.advice]
    assert link.quote.startswith("As a result") and "'As a result'" in link.advice
    sample = next(t for t in sample_paper()["tasks"] if t["kind"] == "essay")
    found = points(essay(sample["text"]))
    [position] = [p for p in found["task_response"] if "Your position is clear" in p.advice]
    assert position.quote.startswith("In my opinion")
    # A link word inside a sentence ("is still necessary") is not taken for a link between sentences.
    [link] = [p for p in found["coherence_cohesion"] if "cohesive devices" in p.advice]
    assert link.quote.startswith("In addition")


def test_one_point_per_sentence_quoted() -> None:
    letter = (
        "Dear Mr Brown,\n\nI am writing to complain about the washing machine I bought from your shop last week. "
        "The door was broken and water leaked all over my kitchen floor.\n\nI would be grateful if you could reply "
        "soon.\n\nYours sincerely,\nAnna"
    )
    bullets = ("describe the problem", "say how you paid", "suggest a time when an engineer could visit")
    task = WritingTask(1, "Write a letter to the shop manager.", letter, 150, "general_letter", bullets)
    bands = {k.replace("task_response", "task_achievement"): 4 for k in BANDS}
    found, _ = criterion_feedback(task, analyse(task), bands, ("under_length",))["task_achievement"]
    spans = [(p.start, p.end) for p in found]
    assert len(spans) == len(set(spans))
    [closing] = [p for p in found if p.quote.startswith("I would be grateful")]
    # Short of the length, and two bullets missing: one point on that sentence, the bullets named once together.
    assert "short of the 150 words" in closing.advice
    assert "'say how you paid' or 'suggest a time when an engineer could visit'" in closing.advice
    assert closing.advice.count("task band is held") == 1


def test_every_criterion_of_the_sample_gets_a_point_on_the_candidates_own_words() -> None:
    for paper in sample_paper()["tasks"]:
        task = WritingTask(
            int(paper["task"]), paper["prompt"], paper["text"], 150, paper["kind"], tuple(paper.get("bullets") or ())
        )
        for key, found in points(task).items():
            assert found, f"task {paper['task']}: no point on {key}"
            assert all(task.text[p.start : p.end].startswith(p.quote[:20]) for p in found)
    letter = next(t for t in sample_paper()["tasks"] if t["kind"] == "general_letter")
    task = WritingTask(1, letter["prompt"], letter["text"], 150, "general_letter", tuple(letter["bullets"]))
    [precise] = [p for p in points(task)["lexical_resource"] if "less common words" in p.advice]
    assert "'receptionist'" in precise.advice and "'lifeguard'" in precise.advice
    assert "Daniel" not in precise.advice and "swimming" not in precise.advice  # a name; the question's own word
    assert all(word in precise.quote for word in re.findall(r"'(\w+)'", precise.advice.split(":")[0]))  # shown


def test_a_general_word_is_shown_with_the_exact_words_to_choose_from() -> None:
    text = (
        "Many people move to cities for work. My brother got a job in London last year. He has got a flat there "
        "now, and he soon got used to the noise. Some people find this difficult at first."
    )
    [general] = [p for p in points(essay(text))["lexical_resource"] if "says little on its own" in p.advice]
    assert general.quote.startswith("My brother got a job") and "received, obtained" in general.advice
    # "have got" (possession) and "get used to" (a fixed phrase) are left alone.
    text = "He has got a flat there now. He soon got used to the noise. Some people never get used to it."
    assert not [p for p in points(essay(text))["lexical_resource"] if "says little" in p.advice]


def test_an_answer_without_a_kind_of_complex_sentence_is_told_which_to_try() -> None:
    plain = (
        "Cities are growing quickly in many countries today. Young people move there to find better paid work. "
        "Rents in the centre rise every year as a result. Families often have to live far from their jobs now. "
        "The government should build more homes near the centre."
    )
    [variety] = [p for p in points(essay(plain))["grammatical_range_accuracy"] if "None of your sentences" in p.advice]
    assert "'which' or 'who' clause" in variety.advice and "'if' or 'unless' clause" in variety.advice
    assert variety.quote in plain and not variety.quote.startswith("Cities")  # a plain sentence, not the opening
    varied = plain + " If rents keep rising, workers who cannot pay them will leave, although the city needs them."
    assert not [p for p in points(essay(varied))["grammatical_range_accuracy"] if "None of your sentences" in p.advice]
