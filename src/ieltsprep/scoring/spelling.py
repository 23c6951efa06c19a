"""Spelling for the writing engines: British and American English are both correct.

A word is misspelt only when none of three word lists knows it: pyspellchecker's English frequency list (which also
ranks suggestions), and the Hunspell en-GB and en-US dictionaries (Debian's ``hunspell-en-gb`` and
``hunspell-en-us``, read by ``spylls``, a pure-Python Hunspell that runs on Lambda too). Hunspell knows inflections
through its affix rules ("moulds", "organisations"), which a frequency list misses. A word that only one of the two
dictionaries accepts tells which variety the candidate writes; mixing varieties is worth a note, never a mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ieltsprep.errors import AppError

if TYPE_CHECKING:
    from spellchecker import SpellChecker
    from spylls.hunspell import Dictionary

Variety = Literal["en-GB", "en-US"]
DICTIONARIES: dict[Variety, str] = {"en-GB": "en_GB", "en-US": "en_US"}
# Where the dictionaries are looked for: the package's own copy (the Lambda build puts one there), then Debian's.
SYSTEM_DIR = Path("/usr/share/hunspell")
PACKAGED_DIR = "data/hunspell"
# Two words run together: one edit away from a single word that is the wrong fix ("alot" is not "lot").
RUN_TOGETHER = {
    "alot": "a lot",
    "infact": "in fact",
    "aswell": "as well",
    "eachother": "each other",
    "atleast": "at least",
    "incase": "in case",
    "everytime": "every time",
    "inorder": "in order",
    "nowdays": "nowadays",
}


class SpellingDictionaryMissing(AppError):
    """The Hunspell dictionaries are not installed."""

    status = 503
    code = "spelling_dictionary_missing"


def dictionary_dir() -> Path:
    """The folder holding en_GB and en_US .aff/.dic files; raises SpellingDictionaryMissing naming the fix."""
    packaged = Path(str(resources.files("ieltsprep.scoring").joinpath(PACKAGED_DIR)))
    for folder in (packaged, SYSTEM_DIR):
        if all((folder / f"{name}{ext}").is_file() for name in DICTIONARIES.values() for ext in (".aff", ".dic")):
            return folder
    raise SpellingDictionaryMissing(
        "The writing scorer needs the Hunspell en-GB and en-US dictionaries: install the Debian packages "
        "hunspell-en-gb and hunspell-en-us (`make system-deps` does this)."
    )


@dataclass(frozen=True, eq=False)
class Speller:
    """Knows English words in either spelling, tells the variety and suggests corrections."""

    frequency: SpellChecker
    hunspell: dict[Variety, Dictionary]

    def known(self, word: str) -> bool:
        """True when the word (any case, straight apostrophe) is correct in British or American English."""
        lower = word.lower()
        return lower in self.frequency.word_frequency.dictionary or bool(self._accepted(lower))

    def variety(self, word: str) -> Variety | None:
        """'en-GB' or 'en-US' when only that dictionary accepts the word, else None."""
        lower = word.lower()
        accepted = self._accepted(lower)
        if len(accepted) != 1:
            return None
        # "english" is a missing capital, not American: the other dictionary knows the word as a proper noun.
        other = next(v for v in self.hunspell if v != accepted[0])
        return None if self.hunspell[other].lookup(lower.capitalize()) else accepted[0]

    def _accepted(self, lower: str) -> tuple[Variety, ...]:
        return _accepted_by(self, lower)

    def count(self, word: str) -> int:
        """The word's count in the frequency list (0 when unknown there); ranks suggestions and rare words."""
        return int(self.frequency.word_frequency.dictionary.get(word.lower(), 0))

    def suggest(self, word: str) -> str:
        """The most frequent known word one edit away, or "" when there is none."""
        lower = word.lower()
        return RUN_TOGETHER.get(lower) or _suggest(self, lower)


@lru_cache(maxsize=65536)
def _accepted_by(speller: Speller, lower: str) -> tuple[Variety, ...]:
    # Hunspell lookups cost about 0.3 ms each in pure Python; an essay's words repeat, and so do essays' words.
    return tuple(v for v, d in speller.hunspell.items() if d.lookup(lower))


@lru_cache(maxsize=4096)
def _suggest(speller: Speller, word: str) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {left + right[1:] for left, right in splits if right}
    edits |= {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    edits |= {left + c + right[1:] for left, right in splits if right for c in letters}
    edits |= {left + c + right for left, right in splits for c in letters}
    edits.discard(word)
    counted = [(speller.count(w), w) for w in edits]
    best = max((c, w) for c, w in counted if c > 0) if any(c > 0 for c, _ in counted) else None
    if best:
        return best[1]
    british = sorted(w for w in edits if speller.hunspell["en-GB"].lookup(w))
    return british[0] if british else ""


@lru_cache(maxsize=1)
def speller() -> Speller:
    """The process-wide speller (about 2.5 s to load the two Hunspell dictionaries)."""
    from spellchecker import SpellChecker
    from spylls.hunspell import Dictionary

    folder = dictionary_dir()
    hunspell = {v: Dictionary.from_files(str(folder / name)) for v, name in DICTIONARIES.items()}
    return Speller(SpellChecker(language="en", distance=1), hunspell)
