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
from ieltsprep.adapters.speech.local import turn_policy  # noqa: E402
from ieltsprep.adapters.speech.smart_turn import SmartTurn  # noqa: E402
from ieltsprep.adapters.speech.turn_detection import ModelEndpointer, TurnPolicy  # noqa: E402
from ieltsprep.adapters.speech.vad import SileroVad  # noqa: E402
from ieltsprep.settings import Settings  # noqa: E402
from thinking_pauses import RATE, Clip, thinking_pause_set  # noqa: E402

CHUNK = RATE // 50  # 20 ms


@dataclass(frozen=True)
class Outcome:
    """Where one endpointer first ended the turn of one clip."""

    clip: Clip
    end_at: int | None  # sample at which the end of the turn was decided (None: never)
    compute_seconds: float  # wall time of the judgement that ended it (0 for the energy endpointer)

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


def run_clip(clip: Clip, endpointer: Endpointer, judge: Callable[[np.ndarray], tuple[float, float]]) -> Outcome:
    """Feed ``clip`` in 20 ms chunks; the first end of a turn with speech in it."""
    probability, seconds = 0.0, 0.0
    for start in range(0, clip.pcm.size, CHUNK):
        events = endpointer.feed(clip.pcm[start : start + CHUNK])
        while True:
            for event in events:
                if isinstance(event, SpeechEnded) and event.is_speech(endpointer.min_speech_ms):
                    return Outcome(clip, endpointer.samples_seen, seconds)
            wanted = endpointer.take_judgement()
            if wanted is not None:
                probability, seconds = judge(wanted)
            if not endpointer.decision_due:
                break
            events = endpointer.decide(probability) + endpointer.feed(np.zeros(0, dtype=np.int16))
    return Outcome(clip, None, 0.0)


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


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary(outcomes: list[Outcome], hidden_ms: float = 0.0) -> dict[str, float]:
    """The figures of one endpointer over the set (the drawn-out clips apart)."""
    paused = [o for o in outcomes if o.clip.kind == "paused"]
    drawn = [o for o in outcomes if o.clip.kind == "drawn-out"]
    finished = [o for o in outcomes if not o.clip.pause]
    replies = [o.reply_ms for o in finished if o.reply_ms is not None]
    with_compute = [
        o.reply_ms + max(0.0, o.compute_seconds * 1000 - hidden_ms) for o in finished if o.reply_ms is not None
    ]
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
    """Build the set, run both endpointers on it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also print the threshold x ceiling grid")
    parser.add_argument(
        "--piper", action="store_true", help="speak the set with the Piper voice instead of espeak-ng (a comparison)"
    )
    args = parser.parse_args()
    print(f"machine load (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.perf_counter()
    clips = thinking_pause_set(piper=args.piper)
    paused = [c for c in clips if c.kind == "paused"]
    finished = [c for c in clips if c.kind == "finished"]
    drawn = len(clips) - len(paused) - len(finished)
    pauses = [(c.pause[1] - c.pause[0]) / RATE for c in paused if c.pause]
    print(
        f"thinking-pause set ({'Piper' if args.piper else 'espeak-ng'}): {len(paused) + len(finished)} answers "
        f"({len(paused)} paused {min(pauses):.1f}-{max(pauses):.1f} s, {len(finished)} finished)"
        + (f", and the {drawn} paused ones again with the cue word drawn out" if drawn else "")
        + f"; made in {time.perf_counter() - started:.1f} s"
    )
    vad, judge = SileroVad(), CachedJudge(SmartTurn())
    policy = turn_policy(Settings())
    energy = [run_clip(c, EnergyVad(VadConfig.for_sensitivity("MEDIUM")), judge) for c in clips]
    model = [run_clip(c, ModelEndpointer(vad.stream(), policy), judge) for c in clips]
    print(line("energy (500 ms hangover, MEDIUM)", summary(energy)))
    print(line("Silero + Smart Turn (settings)", summary(model, policy.decision_ms - policy.judge_ms)))
    print(
        f"  policy: judged at {policy.judge_ms} ms of silence, decided at {policy.decision_ms} ms, finished at p >= {policy.complete_threshold}, ceiling "
        f"{policy.ceiling_part1_ms} ms (Part 1); Smart Turn judgement p50 {statistics.median(judge.seconds) * 1000:.0f}"
        f" ms wall over {len(judge.seconds)} judgements"
    )
    by_cue: dict[str, list[bool]] = {}
    for outcome in model:
        if outcome.clip.kind == "paused":
            by_cue.setdefault(outcome.clip.cue, []).append(outcome.cut_off)
    print("  model cut-offs by cue: " + ", ".join(f"{cue} {sum(v)}/{len(v)}" for cue, v in by_cue.items()))
    if args.sweep:
        print(
            "sweep (Part 1 ceiling): threshold, ceiling -> false cut-offs of paused (drawn out), "
            "reply p50 / p95 (audio ms)"
        )
        for threshold in (0.1, 0.3, 0.5, 0.7, 0.9, 1.01):
            cells = []
            for ceiling in (1000, 1500, 2000, 2500, 3000, 3500):
                swept: TurnPolicy = replace(policy, complete_threshold=threshold, ceiling_part1_ms=ceiling)
                figures = summary([run_clip(c, ModelEndpointer(vad.stream(), swept), judge) for c in clips])
                cells.append(
                    f"{ceiling}: {figures['cut_paused']:4.0%} ({figures['cut_drawn']:4.0%}) "
                    f"{figures['p50']:4.0f}/{figures['p95']:4.0f}"
                )
            print(f"  p >= {threshold:<4}  " + " | ".join(cells))


if __name__ == "__main__":
    main()
