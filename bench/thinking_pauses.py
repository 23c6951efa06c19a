"""The thinking-pause test set: IELTS-style answers spoken by espeak-ng, made at run time (never stored in the repo).

Thirty answers, each in two forms: said straight through ("finished"), and with a thinking pause of 1.0-3.0 s after
"because", "and", "I think" or "the" before the rest follows ("paused"); a third form ("drawn-out") has the same
pauses with the cue word spoken slowly, as hesitant speakers stretch it. A turn-taking policy must answer the first
form quickly and must not start speaking during the pause of the second. Voices (en-gb, en-us, en-gb-scotland) and
speeds (120-160 words a minute) vary across answers; pause lengths are spread evenly over 1.0-3.0 s. Every clip is
trimmed to its voice and surrounded by digital silence, so the true end of the answer (and the pause) is known to the
sample (sox converts espeak-ng's 22 kHz output to the microphone format). The fragment before a pause is spoken ending in "...", so espeak-ng holds the pitch level as a speaker does
while searching for the next word.

Run ``python bench/thinking_pauses.py DIR`` to write the clips as WAV files (through sox) for listening.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

RATE = 16000
LEAD_SECONDS = 0.5
TAIL_SECONDS = 4.0
VOICES = ("en-gb", "en-us", "en-gb-scotland")
SPEEDS = (120, 135, 150, 160)

# (said before the pause, ending with the cue word; the rest of the answer)
ANSWERS: tuple[tuple[str, str], ...] = (
    ("I enjoy living in my city because", "there are so many parks and museums."),
    ("I chose to study engineering because", "my father was an engineer."),
    ("I prefer the morning because", "my mind is clearer before work."),
    ("Young people leave the countryside because", "the jobs are in the cities."),
    ("I would not like to be famous because", "I value my privacy."),
    ("Public transport is important because", "it reduces traffic and pollution."),
    ("I liked that teacher because", "she always listened to us."),
    ("Reading is still popular because", "people like to escape into a story."),
    ("I usually cook at home and", "sometimes I invite my friends."),
    ("We walked along the river and", "then we had dinner in a small cafe."),
    ("My hometown is quiet and", "everybody knows each other."),
    ("I play tennis on Saturdays and", "I go swimming on Sundays."),
    ("The government should build more schools and", "pay teachers better."),
    ("My grandmother was patient and", "she taught me how to cook."),
    ("Technology helps us work faster and", "it connects people around the world."),
    ("In my opinion, I think", "children should learn to save money early."),
    ("To be honest, I think", "cities will become much greener."),
    ("Well, I think", "the best holiday is one with family."),
    ("For older people, I think", "online banking can be confusing."),
    ("When I was a child, I think", "I wanted to be a pilot."),
    ("About advertising, I think", "it makes people buy things they do not need."),
    ("Nowadays, I think", "most people read the news on their phones."),
    ("My favourite place is the", "library near my house."),
    ("The gift I remember best is the", "watch my uncle gave me."),
    ("I usually spend my weekends at the", "beach with my cousins."),
    ("What I like most about my job is the", "people I work with."),
    ("The biggest problem in my city is the", "traffic in the morning."),
    ("Last summer I visited the", "mountains in the north of Italy."),
    ("My best friend works at the", "hospital as a nurse."),
    ("The most useful thing I learnt at school was the", "ability to work in a team."),
)

# A second set, never used to choose a setting: pauses after other words a thinking speaker stops on, to see how a
# policy does beyond the four cues of the set above (``thinking_pause_set(answers=OTHER_CUES)``).
OTHER_CUES: tuple[tuple[str, str], ...] = (
    ("I moved to the capital last year, so", "now I live closer to my work."),
    ("The food was cheap, so", "we went there every weekend."),
    ("I like my job, but", "the hours are very long."),
    ("Cars are convenient, but", "they make the air dirty."),
    ("For my birthday I got a", "bicycle from my parents."),
    ("I have always wanted a", "small garden with vegetables."),
    ("The person I admire most is my", "aunt, who runs her own business."),
    ("On Sundays I usually visit my", "grandparents in the village."),
    ("I feel most relaxed when", "I am walking by the sea."),
    ("People were friendlier when", "I was growing up."),
    ("I studied history, which", "helped me understand politics."),
    ("We stayed in an old hotel, which", "was right next to the beach."),
    ("I went to the concert with", "two friends from university."),
    ("I usually share a flat with", "my younger brother."),
    ("My favourite season is, um", "autumn, because of the colours."),
    ("The best way to learn is, um", "to practise every day."),
)


@dataclass(frozen=True)
class Clip:
    """One answer as the microphone would send it; times are sample indices into ``pcm``."""

    name: str
    pcm: np.ndarray  # 16 kHz 16-bit mono: lead silence, the answer, tail silence
    answer_end: int  # where the voice of the whole answer ends
    pause: tuple[int, int] | None  # (voice stops, voice resumes) for a paused answer; None when finished
    cue: str
    kind: str  # "finished", "paused", or "drawn-out" (paused, the cue word drawn out)


def speak(text: str, voice: str, words_per_minute: int, *, ssml: bool = False) -> np.ndarray:
    """``text`` (SSML if ``ssml``) spoken by espeak-ng as 16 kHz 16-bit samples, trimmed to its voice."""
    wav = subprocess.run(
        ["espeak-ng", *(["-m"] if ssml else []), "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    raw = subprocess.run(  # sox resamples to the microphone format: 16 kHz, 16-bit, mono
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=wav,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 300)
    return pcm[int(loud[0]) : int(loud[-1]) + 1]


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def _cue(before: str) -> str:
    return "I think" if before.endswith("I think") else before.split()[-1].strip(",")


def _head(before: str) -> tuple[str, str]:
    cue = _cue(before)
    return before[: len(before) - len(cue)], cue


class PiperSpeaker:
    """The same answers in the Piper voice the examiner uses (joe, en_US): a neural voice with more natural prosody
    than espeak-ng, for comparison; it is not the set the issue asks for, and never the default."""

    def __init__(self) -> None:
        from ieltsprep.adapters.speech.tts import PiperSynthesizer

        self._piper = PiperSynthesizer()

    def __call__(self, text: str, voice: str, words_per_minute: int, *, ssml: bool = False) -> np.ndarray:
        audio, rate = self._piper.synthesize(text.removesuffix("..."))
        pcm = (np.clip(soxr.resample(audio, rate, RATE), -1.0, 1.0) * 32767.0).astype(np.int16)
        loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 300)
        return pcm[int(loud[0]) : int(loud[-1]) + 1]


def thinking_pause_set(
    *, drawn_out: bool = True, piper: bool = False, answers: tuple[tuple[str, str], ...] = ANSWERS
) -> list[Clip]:
    """Each answer finished, then paused (in ``ANSWERS`` order), then (``drawn_out``, espeak-ng only) paused with the
    cue word drawn out, as a speaker stretches the word before a thinking pause ("becaaause..."): espeak-ng's SSML
    x-slow rate on the cue word alone. ``piper``: spoken by the Piper voice instead of espeak-ng (for comparison)."""
    say = PiperSpeaker() if piper else speak
    count = len(answers)
    clips: list[Clip] = []
    lead = _silence(LEAD_SECONDS)
    for i, (before, after) in enumerate(answers):
        voice, speed = VOICES[i % len(VOICES)], SPEEDS[i % len(SPEEDS)]
        whole = say(f"{before} {after}", voice, speed)
        pcm = np.concatenate([lead, whole, _silence(TAIL_SECONDS)])
        clips.append(Clip(f"finished-{i:02d}", pcm, lead.size + whole.size, None, _cue(before), "finished"))
    for kind in ("paused", "drawn-out") if drawn_out and not piper else ("paused",):
        for i, (before, after) in enumerate(answers):
            voice, speed = VOICES[i % len(VOICES)], SPEEDS[i % len(SPEEDS)]
            pause_seconds = 1.0 + 2.0 * ((i * 7) % count) / (count - 1)  # 1.0 to 3.0 s, shuffled across cues
            if kind == "paused":
                first = say(f"{before}...", voice, speed)
            else:
                head, cue = _head(before)
                first = say(f"<speak>{head}<prosody rate='x-slow'>{cue}</prosody></speak>", voice, speed, ssml=True)
            rest = say(after, voice, speed)
            stop = lead.size + first.size
            resume = stop + int(pause_seconds * RATE)
            pcm = np.concatenate([lead, first, _silence(pause_seconds), rest, _silence(TAIL_SECONDS)])
            clips.append(Clip(f"{kind}-{i:02d}", pcm, resume + rest.size, (stop, resume), _cue(before), kind))
    return clips


def main() -> None:
    """Write the set as WAV files into the directory given."""
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for clip in thinking_pause_set():
        raw = target / f"{clip.name}.raw"
        raw.write_bytes(clip.pcm.tobytes())
        subprocess.run(
            [
                "sox",
                "-t",
                "raw",
                "-r",
                str(RATE),
                "-e",
                "signed",
                "-b",
                "16",
                "-c",
                "1",
                str(raw),
                str(raw.with_suffix(".wav")),
            ],
            check=True,
        )
        raw.unlink()
    print(f"wrote {len(ANSWERS) * 3} clips to {target}")


if __name__ == "__main__":
    main()
