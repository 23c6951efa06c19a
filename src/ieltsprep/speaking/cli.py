"""``ieltsprep speak --wav-dir DIR``: run a whole speaking test over the WebSocket API, as a candidate would.

For operators and tests. It logs in (or takes a token), creates or reuses a speaking assessment, connects to ``/ws``,
streams microphone-like audio continuously (silence included) and answers each of Maya's questions with the next WAV
file of ``DIR`` (sorted by name), then saves Maya's audio (one WAV per line, 24 kHz) and the transcript to an output
directory and prints the result. ``--speed`` > 1 streams faster than real time; the server's clock follows the audio.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

INPUT_RATE = 16_000
OUTPUT_RATE = 24_000
ANSWER_PHASES = frozenset({"intro", "question", "talk", "discussion"})
RESUME_CODES = frozenset({"examiner_restart", "examiner_unavailable", "worker_unavailable"})
MAX_RESTARTS = 3


class SpeakError(Exception):
    """The test could not be run (login, assessment or connection failed)."""


def read_wav_16k(path: Path) -> bytes:
    """A WAV file as 16 kHz mono 16-bit PCM (resampled and mixed down when needed)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise SpeakError(f"{path.name}: only 16-bit PCM WAV files are supported")
        rate, channels = wav.getframerate(), wav.getnchannels()
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1).astype("<i2")
    if rate != INPUT_RATE:
        import soxr

        audio = soxr.resample(audio.astype(np.float32) / 32768, rate, INPUT_RATE)
        audio = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    return audio.astype("<i2").tobytes()


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    """Write 16-bit mono PCM as a WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


@dataclass
class TurnTiming:
    """When a candidate answer ended and when Maya's next audio arrived (wall-clock seconds)."""

    answer_end: float
    first_audio: float | None = None
    phase: str = "question"  # the API.md phase the answer was given in ("talk": the Part 2 long turn)

    @property
    def latency(self) -> float | None:
        """Seconds from the end of the answer to the first examiner audio message."""
        return None if self.first_audio is None else self.first_audio - self.answer_end


@dataclass
class SpeakingRun:
    """What one run of the client saw."""

    assessment_id: str
    transcript: list[dict[str, Any]] = field(default_factory=list)
    examiner_lines: list[bytes] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    timings: list[TurnTiming] = field(default_factory=list)
    interrupted: int = 0
    answers_sent: int = 0
    restarts: int = 0
    completed: bool = False
    result: dict[str, Any] | None = None
    audio_seconds_sent: float = 0.0
    wall_seconds: float = 0.0


class SpeakingClient:
    """Runs one test over the WebSocket API with pre-recorded answers."""

    def __init__(
        self,
        base_url: str,
        token: str,
        answers: list[bytes],
        *,
        speed: float = 1.0,
        chunk_ms: int = 100,
        trailing_silence: float = 0.0,
        timeout: float = 1800.0,
    ) -> None:
        if speed <= 0:
            raise SpeakError("speed must be positive")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.answers = list(answers)
        self.speed = speed
        self.chunk_bytes = INPUT_RATE * 2 * chunk_ms // 1000
        self.trailing_silence = trailing_silence
        self.timeout = timeout

    async def run(self, assessment_id: str) -> SpeakingRun:
        """Run the test of ``assessment_id`` to its end; returns what was seen."""
        import aiohttp

        run = SpeakingRun(assessment_id)
        ws_url = self.base_url.replace("http", "ws", 1) + "/ws"
        started = time.monotonic()
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, params={"token": self.token}) as ws:
            await ws.send_json({"action": "nova-sonic-stream", "type": "start", "assessment_id": assessment_id})
            state = _ClientState()
            sender = asyncio.create_task(self._send_audio(ws, state, run))
            try:
                await asyncio.wait_for(self._receive(ws, state, run), self.timeout)
            finally:
                state.done = True
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
            run.wall_seconds = time.monotonic() - started
            if run.completed:
                run.result = await self._fetch_result(http, assessment_id)
        return run

    async def _receive(self, ws: Any, state: _ClientState, run: SpeakingRun) -> None:
        import aiohttp

        current_line = bytearray()
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
                continue
            message = json.loads(frame.data)
            kind = message.get("type")
            if kind == "audio":
                pcm = base64.b64decode(message["data"])
                current_line += pcm
                now = state.audio_now
                # Maya's audio "plays" on the same audio clock the server keeps.
                state.play_until = max(state.play_until, now) + len(pcm) / (2 * OUTPUT_RATE)
                if run.timings and run.timings[-1].first_audio is None:
                    run.timings[-1].first_audio = time.monotonic()

            elif kind == "transcript":
                if message["role"] == "candidate":
                    _candidate_line(run.transcript, state, message)
                elif message.get("final"):
                    run.transcript.append({"role": message["role"], "text": message["text"]})
                    state.candidate_turn_open = False
                if message["role"] == "examiner" and not message.get("final"):
                    # A new line has begun: save the previous one's audio and wait for this one to be complete.
                    if current_line:
                        run.examiner_lines.append(bytes(current_line))
                        current_line.clear()
                    state.pending_question = False
                elif message["role"] == "examiner":
                    state.pending_question = True  # all of the line's audio is here; answer once it has played
            elif kind == "state":
                run.states.append(message)
                state.phase = message.get("phase", state.phase)
            elif kind == "interrupted":
                run.interrupted += 1
                state.play_until = state.audio_now
            elif kind == "error":
                run.errors.append(message)
                if message.get("code") in RESUME_CODES and run.restarts < MAX_RESTARTS:
                    # The examiner's worker was replaced: start again resumes the test where it stopped.
                    run.restarts += 1
                    state.ready.clear()
                    await ws.send_json(
                        {"action": "nova-sonic-stream", "type": "start", "assessment_id": run.assessment_id}
                    )
            elif kind == "ready":
                state.ready.set()
            elif kind == "complete":
                run.completed = True
                break
        if current_line:
            run.examiner_lines.append(bytes(current_line))
        run.transcript[:] = [t for t in run.transcript if t["text"]]  # a place kept for words that never came

    async def _send_audio(self, ws: Any, state: _ClientState, run: SpeakingRun) -> None:
        seq = 0
        silence = bytes(self.chunk_bytes)
        queue: list[bytes] = []
        await state.ready.wait()  # nobody listens before the examiner is ready
        clock_start = time.monotonic()
        while not state.done:
            if not state.ready.is_set():  # a new examiner is joining: nobody is listening meanwhile
                paused = time.monotonic()
                await state.ready.wait()
                clock_start += time.monotonic() - paused
            if (
                not queue
                and state.pending_question
                and state.phase in ANSWER_PHASES
                and state.audio_now >= state.play_until
            ):
                state.pending_question = False
                if self.answers:
                    answer = self.answers.pop(0)
                    run.answers_sent += 1
                    queue = [answer[i : i + self.chunk_bytes] for i in range(0, len(answer), self.chunk_bytes)]
                    queue += [silence] * int(self.trailing_silence * INPUT_RATE * 2 / self.chunk_bytes)
                    state.answer_chunks_left = len(queue)
                else:
                    await ws.send_json({"action": "nova-sonic-stream", "type": "stop"})
            chunk = queue.pop(0) if queue else silence
            await ws.send_json(
                {"action": "nova-sonic-stream", "type": "audio", "seq": seq, "data": base64.b64encode(chunk).decode()}
            )
            seq += 1
            state.audio_now += len(chunk) / (2 * INPUT_RATE)
            run.audio_seconds_sent = state.audio_now
            if state.answer_chunks_left:
                state.answer_chunks_left -= 1
                if state.answer_chunks_left == 0:
                    run.timings.append(TurnTiming(answer_end=time.monotonic(), phase=state.phase))
            # Pace the stream: audio time runs ``speed`` times faster than the wall clock.
            ahead = state.audio_now / self.speed - (time.monotonic() - clock_start)
            if ahead > 0:
                await asyncio.sleep(ahead)

    async def _fetch_result(self, http: Any, assessment_id: str) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {self.token}"}
        for _ in range(60):
            async with http.get(f"{self.base_url}/api/assessments/{assessment_id}", headers=headers) as response:
                body = await response.json()
            assessment = body.get("assessment", {})
            if assessment.get("status") in ("scored", "failed"):
                return dict(assessment)
            await asyncio.sleep(0.5)
        return None


@dataclass
class _ClientState:
    audio_now: float = 0.0
    play_until: float = 0.0
    phase: str = "intro"
    pending_question: bool = False
    answer_chunks_left: int = 0
    candidate_slots: list[int] = field(default_factory=list)  # candidate lines awaiting their words, oldest first
    candidate_turn_open: bool = False  # the newest slot is still the candidate's current turn (no examiner line since)
    done: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def _candidate_line(transcript: list[dict[str, Any]], state: _ClientState, message: dict[str, Any]) -> None:
    """The candidate's words may come after Maya's next line (API.md, WebSocket): each line keeps its place."""
    if not message.get("final"):
        if not state.candidate_turn_open:
            state.candidate_slots.append(len(transcript))
            transcript.append({"role": "candidate", "text": ""})
            state.candidate_turn_open = True
        return
    if state.candidate_slots:
        transcript[state.candidate_slots.pop(0)]["text"] = message["text"]
        state.candidate_turn_open = state.candidate_turn_open and bool(state.candidate_slots)
    else:
        transcript.append({"role": "candidate", "text": message["text"]})


async def login(base_url: str, email: str, password: str) -> str:
    """A session token for ``email``."""
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base_url.rstrip('/')}/api/auth/login", json={"email": email, "password": password}) as response,
    ):
        body = await response.json()
        if response.status != 200:
            raise SpeakError(f"login failed: {body.get('error', {}).get('message', response.status)}")
        return str(body["token"])


async def create_assessment(base_url: str, token: str, module: str) -> str:
    """A new speaking assessment (one credit is consumed)."""
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base_url.rstrip('/')}/api/assessments",
            json={"module": module},
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        body = await response.json()
        if response.status != 201:
            raise SpeakError(
                f"could not start a {module} test: {body.get('error', {}).get('message', response.status)}"
            )
        return str(body["assessment"]["id"])


def save_run(run: SpeakingRun, out_dir: Path) -> None:
    """Maya's lines as WAV files and the transcript and result as JSON under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, pcm in enumerate(run.examiner_lines, start=1):
        write_wav(out_dir / f"maya_{index:03d}.wav", pcm, OUTPUT_RATE)
    (out_dir / "transcript.json").write_text(json.dumps(run.transcript, indent=2), encoding="utf-8")
    if run.result is not None:
        (out_dir / "result.json").write_text(json.dumps(run.result, indent=2), encoding="utf-8")
    latencies = [t.latency for t in run.timings if t.latency is not None]
    summary = {
        "assessment_id": run.assessment_id,
        "completed": run.completed,
        "answers_sent": run.answers_sent,
        "examiner_lines": len(run.examiner_lines),
        "interrupted": run.interrupted,
        "errors": run.errors,
        "audio_seconds": round(run.audio_seconds_sent, 2),
        "wall_seconds": round(run.wall_seconds, 2),
        "answer_to_examiner_audio_seconds": [round(x, 3) for x in latencies],
    }
    (out_dir / "run.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


def _command(args: argparse.Namespace) -> int:
    wav_dir = Path(args.wav_dir)
    files = sorted(wav_dir.glob("*.wav"))
    if not files:
        print(f"no .wav files in {wav_dir}")
        return 2
    try:
        answers = [read_wav_16k(path) for path in files]
    except (SpeakError, wave.Error, EOFError) as exc:
        print(f"cannot read the answers: {exc}")
        return 2
    speed = 4.0 if args.fast else args.speed
    if not 20 <= args.chunk_ms <= 1000:
        print("--chunk-ms must be between 20 and 1000")
        return 2

    async def main() -> SpeakingRun:
        token = args.token or await login(args.base_url, args.email or "", args.password or "")
        assessment_id = args.assessment_id or await create_assessment(args.base_url, token, args.module)
        client = SpeakingClient(args.base_url, token, answers, speed=speed, chunk_ms=args.chunk_ms)
        return await client.run(assessment_id)

    if not args.token and not (args.email and args.password):
        print("give --token, or --email and --password")
        return 2
    try:
        run = asyncio.run(main())
    except (SpeakError, OSError) as exc:
        print(f"speaking test failed: {exc}")
        return 1
    out_dir = Path(args.out or f"speak-{run.assessment_id}")
    save_run(run, out_dir)
    result = (run.result or {}).get("result", {})
    band = result.get("overall_band")
    if band is None and result.get("provisional_band") is not None:
        band = f"{result['provisional_band']} (provisional)"
    print(
        f"assessment {run.assessment_id}: {'completed' if run.completed else 'not completed'}, "
        f"{len(run.examiner_lines)} examiner lines, {run.audio_seconds_sent:.0f} s of audio in {run.wall_seconds:.0f} s, "
        f"overall band {band}; saved to {out_dir}"
    )
    return 0 if run.completed else 1


def add_parser(subparsers: Any) -> None:
    """Register ``ieltsprep speak``."""
    parser = subparsers.add_parser("speak", help="run a speaking test over the WebSocket API with WAV answers")
    parser.add_argument("--wav-dir", required=True, help="directory of answer WAV files, used in name order")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--email")
    parser.add_argument("--password")
    parser.add_argument("--token", help="a session token instead of --email/--password")
    parser.add_argument("--assessment-id", help="an existing speaking assessment (default: start a new one)")
    parser.add_argument("--module", default="academic_speaking", choices=("academic_speaking", "general_speaking"))
    parser.add_argument("--speed", type=float, default=1.0, help="audio time per wall-clock second (default 1.0)")
    parser.add_argument("--fast", action="store_true", help="stream four times faster than real time")
    parser.add_argument("--chunk-ms", type=int, default=100, help="milliseconds of audio per message (20-1000)")
    parser.add_argument("--out", help="output directory (default: speak-<assessment id>)")
    parser.set_defaults(func=_command)
