"""Turn-taking on the thinking-pause set: the energy endpointer and the model endpointer side by side, in one run.

Run: ``.venv/bin/python bench/bench_turn_taking.py [--sweep]``. Prints figures; asserts nothing.
The set (``thinking_pauses.py``: 30 answers said straight through, the same 30 with a 1-3 s thinking pause after
"because", "and", "I think" or "the") is made with espeak-ng and sox into memory at run time. Each clip is fed to
each endpointer in 20 ms chunks, as the microphone sends it; times are audio time, so the figures do not depend on
the machine's load, except the Smart Turn compute time, which is wall time and reported apart.
- false cut-off: the endpointer ends the turn (Maya would start speaking) in the pause of a paused answer, or
  before the end of a finished one.
- reply time: from the end of the voice of a finished answer to the end of the turn, p50 and p95, in audio time;
  "+ compute" adds what of the wall time of the Smart Turn judgement that ended it is not hidden in the wait
  between the judgement's start (``judge_ms``) and the decision (``decision_ms``).
- draws: sox dithers when it converts espeak-ng's output to 16-bit samples, so every making of the set differs by
  noise of about one least significant bit; that is enough to move Smart Turn and Whisper on a clip near a threshold
  (one run's false cut-offs moved by a clip or two between processes). ``--draws N`` (default 3) makes the set N
  times and reports the rates over all draws, with the range of the per-draw rate.
``--sweep`` also prints the model endpointer's figures over a grid of the completion threshold and the ceiling
(the figures that chose the settings' defaults; judgements are cached, so the grid costs little more).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from ieltsprep.adapters.speech.endpointing import Endpointer, EnergyVad, SpeechEnded, VadConfig  # noqa: E402
from ieltsprep.adapters.speech.last_words import LastWords, Verdict  # noqa: E402
from ieltsprep.adapters.speech.local import turn_policy  # noqa: E402
from ieltsprep.adapters.speech.models import model_cache_dir, whisper_model_dir  # noqa: E402
from ieltsprep.adapters.speech.smart_turn import SmartTurn  # noqa: E402
from ieltsprep.adapters.speech.turn_detection import ModelEndpointer, TurnPolicy  # noqa: E402
from ieltsprep.adapters.speech.vad import SileroVad  # noqa: E402
from ieltsprep.settings import Settings  # noqa: E402
from thinking_pauses import ANSWERS, OTHER_CUES, RATE, Clip, thinking_pause_set  # noqa: E402

CHUNK = RATE // 50  # 20 ms


@dataclass(frozen=True)
class Outcome:
    """Where one endpointer first ended the turn of one clip."""

    clip: Clip
    end_at: int | None  # sample at which the end of the turn was decided (None: never)
    spill_ms: float  # wall time of the judgements that ended it not hidden before the decision point (0 for energy)
    reads: tuple[str, ...] = ()  # the last words read at each pause (with a reader)

    @property
    def cut_off(self) -> bool:
        """Maya would have spoken before the candidate finished."""
        if self.end_at is None:
            return False
        limit = self.clip.pause[1] if self.clip.pause else self.clip.answer_end
        return self.end_at < limit

    @property
    def reply_ms(self) -> float | None:
        """Audio time from the end of the answer's voice to the end of the turn."""
        if self.end_at is None or self.cut_off:
            return None
        return (self.end_at - self.clip.answer_end) * 1000 / RATE


Judge = Callable[[np.ndarray], tuple[float, float]]  # audio -> (probability finished, seconds)
Reader = Callable[[np.ndarray], tuple[Verdict, float, str]]  # audio -> (what its last words say, seconds, text)


def run_clip(
    clip: Clip, endpointer: Endpointer, judge: Judge, reader: Reader | None = None, policy: TurnPolicy | None = None
) -> Outcome:
    """Feed ``clip`` in 20 ms chunks; the first end of a turn with speech in it. Without ``reader`` the last words
    are never read (Smart Turn alone); ``policy`` says how much of each judgement's compute the wait hides."""
    probability, seconds, read_seconds, words, spill = 0.0, 0.0, 0.0, Verdict.OPEN, 0.0
    reads: list[str] = []
    for start in range(0, clip.pcm.size, CHUNK):
        events = endpointer.feed(clip.pcm[start : start + CHUNK])
        while True:
            for event in events:
                if isinstance(event, SpeechEnded) and event.is_speech(endpointer.min_speech_ms):
                    return Outcome(clip, endpointer.samples_seen, spill, tuple(reads))
            wanted = endpointer.take_reading()
            if wanted is not None and reader is not None:
                words, read_seconds, text = reader(wanted)
                reads.append(text)
            wanted = endpointer.take_judgement()
            if wanted is not None:
                probability, seconds = judge(wanted)
            if not endpointer.decision_due:
                break
            if policy is not None:  # the two run side by side, each started at its own point of the silence
                spill = max(
                    0.0,
                    seconds * 1000 - (policy.decision_ms - policy.judge_ms),
                    read_seconds * 1000 - (policy.decision_ms - policy.read_ms) if reader is not None else 0.0,
                )
            events = endpointer.decide(probability, words) + endpointer.feed(np.zeros(0, dtype=np.int16))
    return Outcome(clip, None, 0.0, tuple(reads))


class CachedJudge:
    """Smart Turn with its judgements cached by the audio judged (a sweep judges the same pauses again)."""

    def __init__(self, model: SmartTurn) -> None:
        self.model = model
        self.cache: dict[bytes, tuple[float, float]] = {}
        self.seconds: list[float] = []

    def __call__(self, audio: np.ndarray) -> tuple[float, float]:
        key = audio.tobytes()
        if key not in self.cache:
            probability = self.model.probability_complete(audio)
            self.cache[key] = (probability, self.model.last_seconds)
            self.seconds.append(self.model.last_seconds)
        return self.cache[key]


class CachedReader:
    """The last words read by Whisper, cached by the audio read."""

    def __init__(self, model: LastWords) -> None:
        self.model = model
        self.cache: dict[bytes, tuple[Verdict, float, str]] = {}
        self.seconds: list[float] = []

    def __call__(self, audio: np.ndarray) -> tuple[Verdict, float, str]:
        key = audio.tobytes()
        if key not in self.cache:
            reading = self.model.read(audio)
            text = f"{reading.text} [{reading.last_word_probability:.2f}]"
            self.cache[key] = (reading.verdict(), self.model.last_seconds, text)
            self.seconds.append(self.model.last_seconds)
        return self.cache[key]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary(outcomes: list[Outcome]) -> dict[str, float]:
    """The figures of one endpointer over the set (the drawn-out clips apart)."""
    paused = [o for o in outcomes if o.clip.kind == "paused"]
    drawn = [o for o in outcomes if o.clip.kind == "drawn-out"]
    finished = [o for o in outcomes if not o.clip.pause]
    replies = [o.reply_ms for o in finished if o.reply_ms is not None]
    with_compute = [o.reply_ms + o.spill_ms for o in finished if o.reply_ms is not None]
    return {
        "cut_paused": sum(o.cut_off for o in paused) / len(paused),
        "cut_drawn": sum(o.cut_off for o in drawn) / len(drawn) if drawn else float("nan"),
        "cut_finished": sum(o.cut_off for o in finished) / len(finished),
        "never": sum(o.end_at is None for o in outcomes),
        "p50": statistics.median(replies) if replies else float("nan"),
        "p95": percentile(replies, 95) if replies else float("nan"),
        "p50_compute": statistics.median(with_compute) if with_compute else float("nan"),
    }


def line(name: str, figures: dict[str, float]) -> str:
    """One row of the side-by-side table."""
    return (
        f"{name:<34} false cut-offs {figures['cut_paused']:6.1%} of paused ({figures['cut_drawn']:5.1%} drawn out), "
        f"{figures['cut_finished']:5.1%} of finished"
        f" | reply p50 {figures['p50']:4.0f} ms, p95 {figures['p95']:5.0f} ms, p50 + compute {figures['p50_compute']:4.0f}"
        f" ms | never ended {figures['never']:.0f}"
    )


def main() -> None:
    """Build the set, run the endpointers on it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also print the threshold x ceiling grid")
    parser.add_argument(
        "--piper", action="store_true", help="speak the set with the Piper voice instead of espeak-ng (a comparison)"
    )
    parser.add_argument(
        "--other-cues", action="store_true", help="the second set: pauses after other words (never used to tune)"
    )
    parser.add_argument("--show", action="store_true", help="print what was read of each clip the policy got wrong")
    parser.add_argument("--draws", type=int, default=3, help="makings of the set (sox's dither differs each time)")
    args = parser.parse_args()
    print(f"machine load (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.perf_counter()
    draws = [
        thinking_pause_set(piper=args.piper, answers=OTHER_CUES if args.other_cues else ANSWERS)
        for _ in range(max(1, args.draws))
    ]
    clips = draws[0]
    every = [c for draw in draws for c in draw]
    paused = [c for c in clips if c.kind == "paused"]
    finished = [c for c in clips if c.kind == "finished"]
    drawn = len(clips) - len(paused) - len(finished)
    pauses = [(c.pause[1] - c.pause[0]) / RATE for c in paused if c.pause]
    print(
        f"thinking-pause set{' (other cues)' if args.other_cues else ''} ({'Piper' if args.piper else 'espeak-ng'}): "
        f"{len(paused) + len(finished)} answers "
        f"({len(paused)} paused {min(pauses):.1f}-{max(pauses):.1f} s, {len(finished)} finished)"
        + (f", and the {drawn} paused ones again with the cue word drawn out" if drawn else "")
        + f"; made {len(draws)} times in {time.perf_counter() - started:.1f} s"
    )
    settings = Settings()
    vad, judge = SileroVad(), CachedJudge(SmartTurn())
    reader = CachedReader(LastWords(whisper_model_dir(model_cache_dir(settings))))
    policy = turn_policy(settings)
    endpointers: dict[str, Callable[[Clip], Outcome]] = {
        "energy (500 ms hangover, MEDIUM)": lambda c: run_clip(
            c, EnergyVad(VadConfig.for_sensitivity("MEDIUM")), judge
        ),
        "Silero + Smart Turn alone": lambda c: run_clip(c, ModelEndpointer(vad.stream(), policy), judge, None, policy),
        "Silero + Smart Turn + last words": lambda c: run_clip(
            c, ModelEndpointer(vad.stream(), policy), judge, reader, policy
        ),
    }
    runs = {name: [[run(c) for c in draw] for draw in draws] for name, run in endpointers.items()}
    for name, per_draw in runs.items():
        print(line(name, summary([o for outcomes in per_draw for o in outcomes])))
        if len(draws) > 1:
            rates = [summary(outcomes) for outcomes in per_draw]
            print(
                f"{'':<34} per draw: false cut-offs of paused "
                + ", ".join(f"{r['cut_paused']:.1%}" for r in rates)
                + "; of drawn out "
                + ", ".join(f"{r['cut_drawn']:.1%}" for r in rates)
                + "; of finished "
                + ", ".join(f"{r['cut_finished']:.1%}" for r in rates)
            )
    acoustic = [o for outcomes in runs["Silero + Smart Turn alone"] for o in outcomes]
    model = [o for outcomes in runs["Silero + Smart Turn + last words"] for o in outcomes]
    print(
        f"  policy (settings): last words read at {policy.read_ms} ms of silence, Smart Turn at {policy.judge_ms} ms, "
        f"decided at {policy.decision_ms} ms; words closing a sentence end the turn unless p < {policy.veto_threshold}"
        f", words left open end it at p >= {policy.complete_threshold}; ceiling {policy.ceiling_part1_ms} ms (Part 1)."
        f" Wall time p50: Smart Turn {statistics.median(judge.seconds) * 1000:.0f} ms over {len(judge.seconds)}, "
        f"last words {statistics.median(reader.seconds) * 1000:.0f} ms "
        f"(p95 {percentile(reader.seconds, 95) * 1000:.0f} ms) over {len(reader.seconds)}"
    )
    for name, outcomes in (("Smart Turn alone", acoustic), ("with last words", model)):
        by_cue: dict[str, list[bool]] = {}
        for outcome in outcomes:
            if outcome.clip.pause:
                by_cue.setdefault(outcome.clip.cue, []).append(outcome.cut_off)
        print(
            f"  {name}, cut-offs by cue (paused and drawn out): "
            + ", ".join(f"{cue} {sum(v)}/{len(v)}" for cue, v in by_cue.items())
        )
    if args.show:
        for outcome in model:
            late = outcome.reply_ms is not None and outcome.reply_ms > policy.ceiling_part1_ms / 2
            if outcome.cut_off or late:
                print(
                    f"    {outcome.clip.name} ({'cut off' if outcome.cut_off else 'late'}): {' / '.join(outcome.reads)}"
                )
    if args.sweep:
        print(
            "sweep (Part 1 ceiling): threshold for words left open, ceiling -> false cut-offs of paused (drawn out), "
            "reply p50 / p95 (audio ms)"
        )
        for threshold in (0.3, 0.5, 0.7, 0.9, 1.01):
            cells = []
            for ceiling in (2500, 3000, 3500, 4000):
                swept: TurnPolicy = replace(policy, complete_threshold=threshold, ceiling_part1_ms=ceiling)
                figures = summary([run_clip(c, ModelEndpointer(vad.stream(), swept), judge, reader) for c in every])
                cells.append(
                    f"{ceiling}: {figures['cut_paused']:4.0%} ({figures['cut_drawn']:4.0%}) "
                    f"{figures['p50']:4.0f}/{figures['p95']:4.0f}"
                )
            print(f"  p >= {threshold:<4}  " + " | ".join(cells))
        for veto in (0.0, 0.02, 0.05, 0.1, 0.2):
            swept = replace(policy, veto_threshold=veto)
            figures = summary([run_clip(c, ModelEndpointer(vad.stream(), swept), judge, reader) for c in every])
            print(f"  words closing a sentence overruled below p {veto}: {line('', figures)}")


if __name__ == "__main__":
    main()
