"""Grammar errors: planted learner errors are found on their exact words with the right type and correction, and
good British and American writing passes unflagged."""

from __future__ import annotations

import itertools
import re

import pytest

from ieltsprep.scoring.grammar import GRAMMAR_TYPES, TYPES, GrammarError, find_errors

# The essay: a Task 1 process description with twelve planted errors, each marked [[like this]], and for
# each in reading order its type and correction.
PLANTED_MARKED = (
    "The diagram [[illustrate]] how plastic bottles are recycled. First, used bottles are collected and sorted, and "
    "each one can [[goes]] through a washing machine. After they are crushed, the pieces are melted and turned into "
    "[[a new bottles]]. The company has [[went]] on to sell them to any person who [[admire]] recycling, and it "
    "didn't [[went]] badly. Many [[person]] agree that [[economy]] growth is [[benefit]] for the town. Customers "
    "also want to [[studied]] the [[informations]] on the label. The leaflet is [[an]] useful guide, and it depends "
    "[[of]] the season."
)
PLANTED = [
    ("agreement", "illustrates"),
    ("verb_form", "go"),
    ("article", "new bottles"),
    ("verb_form", "gone"),
    ("agreement", "admires"),
    ("verb_form", "go"),
    ("noun_number", "people"),
    ("word_form", "economic"),
    ("word_form", "beneficial"),
    ("verb_form", "study"),
    ("noun_number", "information"),
    ("article", "a"),
    ("preposition", "on"),
]


def unmark(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without its [[markers]], and the span each marker enclosed."""
    text, spans, pos = "", [], 0
    for m in re.finditer(r"\[\[(.*?)\]\]", marked):
        text += marked[pos : m.start()]
        spans.append((len(text), len(text) + len(m.group(1))))
        text += m.group(1)
        pos = m.end()
    return text + marked[pos:], spans


PLANTED_ESSAY, PLANTED_SPANS = unmark(PLANTED_MARKED)

BRITISH = (
    "The chart compares the proportion of households with broadband in four regions between 2000 and 2020. "
    "Overall, access rose steadily everywhere, although the pace differed considerably. In Britain, the figure "
    "climbed from a quarter to nine tenths, while in Scotland it grew more gradually. My colleagues and I think "
    "that the government's policies have been effective. Neither of the options is perfect, but each has its "
    "merits. The colour of each bar shows the organisation responsible, and an honest reader will notice that "
    "the figures for the last two years are estimates. A university in Leeds, which has studied the data, "
    "suggests that people who live in cities are more likely to be online. If I were the minister, I would "
    "invest in rural lines, since there are many villages that still have no connection at all."
)
AMERICAN = (
    "Many people believe that children should learn a second language in elementary school. I agree with this "
    "view, because young learners pick up new sounds quickly and are less afraid of making mistakes. The "
    "students in my neighborhood who started Spanish at the age of six now speak it with confidence. However, "
    "schools need qualified teachers, and a program that is poorly funded can do more harm than good. Whoever "
    "designs the curriculum has to balance these demands. In my opinion, the benefits outweigh the costs, and "
    "the government should help every school offer at least one foreign language. It was an important decision "
    "for our city, and the results so far have been encouraging."
)


@pytest.fixture(scope="module")
def planted() -> list[GrammarError]:
    return find_errors(PLANTED_ESSAY)


def test_each_planted_error_is_found_on_its_exact_words_with_type_and_correction(
    planted: list[GrammarError],
) -> None:
    found = [(e.start, e.end, e.type, e.suggestion) for e in planted]
    expected = [(s, e, kind, fix) for (s, e), (kind, fix) in zip(PLANTED_SPANS, PLANTED, strict=True)]
    assert [PLANTED_ESSAY[s:e] + f" ({kind})" for s, e, kind, _ in expected if (s, e, kind, _) not in found] == []
    assert len(planted) == len(PLANTED)  # and nothing else is flagged


def test_messages_name_the_words_and_the_fix(planted: list[GrammarError]) -> None:
    first = planted[0]
    assert first.message == "'illustrate' should agree with 'The diagram': use 'illustrates'."
    assert all(e.message.endswith(".") and e.type in GRAMMAR_TYPES for e in planted)


@pytest.mark.parametrize("text", [BRITISH, AMERICAN], ids=["british", "american"])
def test_good_writing_in_either_spelling_has_no_errors(text: str) -> None:
    assert find_errors(text) == []


@pytest.mark.parametrize(
    ("marked", "kind", "fix"),
    [
        ("They [[was]] late for the meeting.", "agreement", "were"),
        ("There [[is]] many reasons for this.", "agreement", "are"),
        ("In my view, natural beauty [[are]] here to stay.", "agreement", "is"),
        ("Many people [[thinks]] so.", "agreement", "think"),
        ("She doesn't [[likes]] coffee.", "verb_form", "like"),
        ("Students [[must to]] wear a uniform.", "verb_form", "must"),
        ("He [[buyed]] a new car last year.", "verb_form", "bought"),
        ("It can [[is]] seen that sales rose.", "verb_form", "be"),
        ("Countries need to [[developed]] their skills.", "verb_form", "develop"),
        ("I waited for [[a]] hour.", "article", "an"),
        ("[[This]] problems are serious.", "article", "These"),
        ("She gave me [[an advice]] about it.", "article", "advice"),
        ("It is one of the best [[place]] to live.", "noun_number", "places"),
        ("Two [[student]] were absent.", "noun_number", "students"),
        ("Most of the [[student]] passed.", "noun_number", "students"),
        ("The price rose [[dramatic]] in May.", "word_form", "dramatically"),
        ("We must consider the [[important]] of sleep.", "word_form", "importance"),
        ("On the other hand, it is cheap. [[In]] the other hand, it is slow.", "preposition", "On"),
        ("We [[discussed about]] the plan.", "preposition", "discussed"),
        ("I have lived here [[since]] five years.", "preposition", "for"),
        ("Yesterday [[i]] went home.", "capitalisation", "I"),
        ("It was the[[ the]] best day.", "repetition", ""),
    ],
)
def test_single_errors(marked: str, kind: str, fix: str) -> None:
    text, [(start, end)] = unmark(marked)
    assert [(e.start, e.end, e.type, e.suggestion) for e in find_errors(text)] == [(start, end, kind, fix)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "A university and a European union need a one-off payment.",
        "An hour later, an honest man came by.",
        "If it were cheaper, more people would buy it.",
        "The number of students has risen, and a number of teachers have left.",
        "I suggest that he take the train.",
        "The data show a clear trend, e.g. more people cycle.",
        "These days, this kind of job is rare.",
        "I look forward to meeting you and hope you are used to the weather.",
        "You have only got to ask, and the wool is sheared in spring.",
        "After that the figure plateaus at 10,000 and the tourism industry grows.",
        "Firms made every effort to win, and I will elaborate on my view below.",
        "Ireland did not have refuse figures in 1990.",
        "Queens lay eggs, and founders want to found a company in May.",
        "e.g. the chart shows it, i.e. the trend.",
        "Most of the country's resources are used by other countries.",
    ],
)
def test_correct_constructions_are_left_alone(text: str) -> None:
    assert find_errors(text) == []


def test_errors_are_ordered_and_never_overlap(planted: list[GrammarError]) -> None:
    assert all(a.end <= b.start for a, b in itertools.pairwise(planted))
    assert set(TYPES) >= {e.type for e in planted}
