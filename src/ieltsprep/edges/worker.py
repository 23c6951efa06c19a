"""The speaking worker: one asynchronous invocation runs one speaking test (DESIGN.md "Speaking on AWS").

Invoked with ``{"assessment_id", "user_id", "candidate_connection_id", "worker_token"}``, it joins the WebSocket API
as a peer (``?token=<worker_token>``), receives the candidate's ``audio``/``stop`` messages forwarded by the WebSocket
edge (and ``candidate_reconnected``/``candidate_disconnected`` notices), opens the speech engine, and posts the
examiner's audio, transcripts and state straight to the candidate's connection through ``container.connections``.
The test flow is the controller's; this module only moves messages between the three parties and the store.
Only transcript text is stored; audio lives in memory on its way through and is never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ieltsprep.adapters.speech.port import PartAware
from ieltsprep.adapters.storage.port import Key, Table
from ieltsprep.edges.connections import ConnectionGone
from ieltsprep.errors import AppError
from ieltsprep.scoring.port import ScoringFailed
from ieltsprep.speaking.controller import (
    Action,
    Controller,
    Finish,
    LineSpoken,
    SaveState,
    Say,
    StoreTurn,
    ToClient,
    script_sentences,
)
from ieltsprep.speaking.protocol import HistoryMessage, InputEvents, SessionConfig
from ieltsprep.speaking.sessions import SpeakingStore, Turn

if TYPE_CHECKING:
    from ieltsprep.adapters.speech.port import SpeechEngine, SpeechSession
    from ieltsprep.container import Container
    from ieltsprep.settings import Settings

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
CLOSING_LINE_TIMEOUT = 20.0  # wait this long for the closing line's audio (and the last words) before scoring anyway
RECONNECT_WAIT_SECONDS = 120.0  # a candidate who dropped has this long to come back to this worker
HANDOVER_SECONDS = 30.0  # hand the test over to a new worker this long before the Lambda timeout
RESTART_MESSAGE = {
    "type": "error",
    "code": "examiner_restart",
    "message": "The examiner needs to reconnect; send start again to continue.",
}
REORDER_WINDOW = 64  # audio messages held back waiting for a missing seq before it is given up as lost
SYSTEM_PROMPT = (
    "You are Maya, an IELTS Speaking examiner, in a live speaking test. Use British English as your language for "
    "your responses. You never decide what to ask: whenever you receive an instruction of the form 'Say exactly "
    "the following words, word for word, and nothing else: <<...>>', speak exactly the words between << and >>, "
    "nothing more. Otherwise stay silent and listen to the candidate. Never give feedback, scores or hints."
)


class WorkerEvent(BaseModel):
    """The invocation payload of the speaking worker."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    assessment_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=64)
    candidate_connection_id: str = Field(min_length=1, max_length=128)
    worker_token: str = Field(min_length=1, max_length=4096)


def build_speech_engine(settings: Settings) -> SpeechEngine:
    """The speech engine named by ``settings.speech_engine`` (local by default)."""
    if settings.speech_engine == "nova-sonic":
        from ieltsprep.adapters.speech.nova_sonic import NovaSonicEngine  # type: ignore[import-not-found,unused-ignore]

        engine: SpeechEngine = NovaSonicEngine(settings)
        return engine
    from ieltsprep.adapters.speech.local import LocalSpeechEngine

    return LocalSpeechEngine(settings)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (asynchronous invocation)."""
    from ieltsprep.container import get_container

    return run(get_container(), event, context)


def run(container: Container, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Run one speaking test to its end against ``container`` (Lambda body, also used in-process locally)."""
    try:
        payload = WorkerEvent.model_validate(event)
    except ValidationError as exc:
        logger.error("speaking worker invoked with a bad payload: %s", exc.errors(include_input=False))
        return {"status": "rejected"}
    worker = SpeakingWorker(container, payload, context=context)
    try:
        return asyncio.run(worker.run())
    except Exception:
        # Not re-raised: Lambda would retry an asynchronous invocation and start a twin worker. The candidate is
        # told, and the stored state lets their next start resume the test with a new worker.
        logger.exception("speaking worker for assessment %s failed", payload.assessment_id)
        worker.give_up()
        return {"status": "failed"}


class AudioReorderer:
    """Puts candidate audio back in ``seq`` order: each WebSocket message is handled by its own Lambda invocation
    (or thread locally), so forwarded messages can overtake each other."""

    def __init__(self, window: int = REORDER_WINDOW) -> None:
        self.window = window
        self.expected: int | None = None
        self.pending: dict[int, str] = {}

    def push(self, seq: Any, data: str) -> list[str]:
        """Accept one message; returns the chunks now ready, in order (late duplicates are dropped)."""
        if not isinstance(seq, int) or seq < 0:
            return [data]  # unnumbered audio cannot be ordered: play it as it comes
        if self.expected is None:
            self.expected = seq
        if seq < self.expected:
            return []
        self.pending[seq] = data
        ready: list[str] = []
        while True:
            if self.expected in self.pending:
                ready.append(self.pending.pop(self.expected))
                self.expected += 1
            elif len(self.pending) > self.window:
                self.expected = min(self.pending)  # the missing message is lost: move past the gap
            else:
                return ready


class SpeakingWorker:
    """Moves messages between the candidate, the speech engine, the controller and the store for one test."""

    def __init__(
        self, container: Container, payload: WorkerEvent, engine: SpeechEngine | None = None, context: Any = None
    ) -> None:
        self.container = container
        self.context = context
        self.payload = payload
        self.engine = engine
        self.sessions = SpeakingStore(container.store)
        self.candidate_id = payload.candidate_connection_id
        self.candidate_gone = False
        self.finish_reason: str | None = None
        self.closing_spoken = asyncio.Event()
        self.transcripts_stored = asyncio.Event()  # no candidate turn is waiting for its words
        self.transcripts_stored.set()
        self.stopped = asyncio.Event()
        self.speech: SpeechSession | None = None
        self.build: InputEvents | None = None
        self._outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.controller: Controller | None = None
        self.audio = AudioReorderer()
        self.listening = False  # true once the test has begun: earlier candidate audio has no examiner to hear it
        self.stop_requested = False

    async def run(self) -> dict[str, Any]:
        """Run the test; returns a summary (status and why it ended)."""
        p = self.payload
        assessment = self.container.store.get(
            Table.ASSESSMENTS, Key(f"USER#{p.user_id}", f"ASSESSMENT#{p.assessment_id}")
        )
        session = self.sessions.get(p.assessment_id)
        if assessment is None or session is None or session.user_id != p.user_id:
            logger.warning("speaking worker: no session for assessment %s", p.assessment_id)
            return {"status": "no_session"}
        if session.finished or assessment.get("status") != "in_progress":
            return {"status": "already_finished"}
        if session.candidate_connection_id:
            self.candidate_id = session.candidate_connection_id
        settings = self.container.settings
        parts = list(assessment.get("parts") or [])
        self.controller = Controller.restore(
            p.assessment_id, parts, session.state, time_scale=settings.speaking_time_scale
        )
        engine = self.engine or self.container.speech_engine
        turns = self.sessions.turns(p.user_id, p.assessment_id)
        history = tuple(
            HistoryMessage("USER" if t.role == "candidate" else "ASSISTANT", t.text) for t in turns if t.text
        )
        import aiohttp

        ws_url = settings.ws_url
        if not ws_url:
            raise AppError("no WebSocket URL configured for the speaking worker", code="not_configured", status=503)
        sender = asyncio.create_task(self._send_loop())
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(ws_url, params={"token": p.worker_token}, heartbeat=30) as ws,
            ):
                # Read the socket from the start: audio forwarded while the engine loads is dropped, not replayed
                # in a burst that would fast-forward the test clock.
                tasks = [asyncio.create_task(self._candidate_loop(ws))]
                self.speech = await engine.open(SessionConfig(system_prompt=SYSTEM_PROMPT, history=history))
                self.build = InputEvents(self.speech.prompt_name)
                # Build the @connections client now: its first use would otherwise delay Maya's first words.
                await asyncio.to_thread(lambda: self.container.connections.client)
                prerender = asyncio.create_task(engine.prerender(script_sentences(parts)))
                await self._apply(self.controller.begin())
                self.listening = True
                if self.stop_requested:
                    await self._apply(self.controller.stop())
                tasks += [asyncio.create_task(self._engine_loop()), asyncio.create_task(self._heartbeat_loop())]
                await self.stopped.wait()
                for task in [*tasks, prerender]:
                    task.cancel()
                await asyncio.gather(*tasks, prerender, return_exceptions=True)
                with contextlib.suppress(Exception):
                    await self.speech.close()
                await self._conclude()
                await self._outbox.put(None)
                await sender
        finally:
            if not sender.done():
                sender.cancel()
        return {"status": "finished", "reason": self.finish_reason or "ended"}

    def give_up(self) -> None:
        """After an unexpected failure: tell the candidate and free the session for a new worker."""
        message = {
            "type": "error",
            "code": "examiner_unavailable",
            "message": "The examiner stopped; send start to resume.",
        }
        with contextlib.suppress(Exception):
            self.container.connections.post(self.candidate_id, message)
        with contextlib.suppress(Exception):
            self.sessions.detach_worker(self.payload.assessment_id)

    # --- loops ---------------------------------------------------------------------------------------------------
    async def _candidate_loop(self, ws: Any) -> None:
        import aiohttp

        assert self.controller is not None
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
                continue
            try:
                message = json.loads(frame.data)
            except ValueError:
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "audio":
                if not self.listening:
                    continue
                for data in self.audio.push(message.get("seq"), str(message.get("data", ""))):
                    await self._on_candidate_audio(data)
            elif kind == "stop":
                if self.listening:
                    await self._apply(self.controller.stop())
                else:
                    self.stop_requested = True
            elif kind == "candidate_reconnected":
                self.candidate_id = str(message.get("connection_id") or self.candidate_id)
                self.candidate_gone = False
                self.audio = AudioReorderer()  # a new connection numbers its audio from 0 again
                if self.listening:
                    await self._apply(self.controller.reconnected())
            elif kind == "candidate_disconnected":
                self.candidate_gone = True
                asyncio.get_running_loop().call_later(RECONNECT_WAIT_SECONDS, self._give_up_if_gone)
        # Our own connection closed: the WebSocket API is gone, nothing more can reach the candidate.
        if self.finish_reason is None:
            self.finish_reason = "error:worker_disconnected"
        self.stopped.set()

    async def _on_candidate_audio(self, data: str) -> None:
        assert self.controller is not None and self.speech is not None and self.build is not None
        try:
            pcm = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return  # the WebSocket edge validates audio; a bad frame here is dropped, never stored
        await self.speech.send(self.build.audio_input(self.speech.audio_content_name, pcm))
        await self._apply(self.controller.on_audio(pcm))

    async def _engine_loop(self) -> None:
        assert self.controller is not None and self.speech is not None
        async for event in self.speech.events():
            await self._apply(self.controller.on_engine_event(event))
            if self.stopped.is_set():
                return

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await asyncio.to_thread(self.sessions.heartbeat, self.payload.assessment_id)
            if self._time_left() < HANDOVER_SECONDS and self.finish_reason is None:
                # Lambda stops a function at its timeout: hand over while the state is consistent; the client's
                # next start launches a new worker that resumes from the stored transcript and state.
                await self._outbox.put(RESTART_MESSAGE)
                self.finish_reason = "error:worker_timeout"
                self.stopped.set()

    def _time_left(self) -> float:
        remaining = getattr(self.context, "get_remaining_time_in_millis", None)
        return remaining() / 1000 if callable(remaining) else float("inf")

    async def _send_loop(self) -> None:
        # One sender keeps the candidate's messages in order and keeps boto3's blocking calls off the event loop.
        while True:
            message = await self._outbox.get()
            if message is None:
                return
            if self.candidate_gone:
                continue
            try:
                await asyncio.to_thread(self.container.connections.post, self.candidate_id, message)
            except ConnectionGone:
                self.candidate_gone = True
            except AppError as exc:
                logger.warning("could not post %s to the candidate: %s", message.get("type"), exc.message)

    def _give_up_if_gone(self) -> None:
        if self.candidate_gone and not self.stopped.is_set():
            # Leave the test resumable: a later start launches a new worker from the stored state.
            self.finish_reason = self.finish_reason or "error:candidate_gone"
            self.stopped.set()

    # --- actions -------------------------------------------------------------------------------------------------
    async def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, ToClient):
                await self._outbox.put(action.message)
            elif isinstance(action, Say):
                assert self.speech is not None and self.build is not None
                if isinstance(self.speech, PartAware) and self.controller is not None:
                    self.speech.set_part(self.controller.part)
                for event in self.build.say(action.text):
                    await self.speech.send(event)
            elif isinstance(action, StoreTurn):
                self._store_turn(action.index, action.turn)
            elif isinstance(action, SaveState):
                self.sessions.save_state(self.payload.assessment_id, action.state)
            elif isinstance(action, LineSpoken):
                if self.finish_reason is not None:
                    self.closing_spoken.set()
            elif isinstance(action, Finish):
                await self._begin_finish(action.reason)
        if self.controller is not None and self.controller.transcripts_pending:
            self.transcripts_stored.clear()
        else:
            self.transcripts_stored.set()

    def _store_turn(self, index: int, turn: Turn) -> None:
        self.sessions.append_turn(self.payload.user_id, self.payload.assessment_id, index, turn)

    async def _begin_finish(self, reason: str) -> None:
        if self.finish_reason is not None and not self.finish_reason.startswith("error:"):
            return
        self.finish_reason = reason
        if reason.startswith("error:"):
            self.stopped.set()
            return

        async def after_closing_line() -> None:
            # Maya may close the test the moment the last answer ends: its words are still on their way to the store.
            async def settled() -> None:
                await self.closing_spoken.wait()
                await self.transcripts_stored.wait()

            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settled(), CLOSING_LINE_TIMEOUT)
            self.stopped.set()

        asyncio.get_running_loop().create_task(after_closing_line())

    async def _conclude(self) -> None:
        p = self.payload
        reason = self.finish_reason or "error:ended"
        if reason.startswith("error:"):
            # Not scored: the stored transcript and state let the next start resume the test with a new worker.
            with contextlib.suppress(AppError):
                self.sessions.detach_worker(p.assessment_id)
            return
        complete = reason == "completed"
        await asyncio.to_thread(score_and_store, self.container, p.user_id, p.assessment_id, complete=complete)
        self.sessions.finish(p.assessment_id)
        await self._outbox.put({"type": "complete", "assessment_id": p.assessment_id})


def score_and_store(container: Container, user_id: str, assessment_id: str, *, complete: bool) -> dict[str, Any]:
    """Score the stored transcript of a test and record the result on the assessment (or fail it). ``complete``:
    the test reached its closing line (a stopped test gets a provisional band at most)."""
    turns = SpeakingStore(container.store).turns(user_id, assessment_id)
    try:
        result = container.speaking_scorer.score(turns, complete=complete).model_dump()
    except ScoringFailed as exc:
        container.assessments.fail(user_id, assessment_id, exc.code, exc.message)
        return {"status": "failed", "code": exc.code}
    container.assessments.complete_with_result(user_id, assessment_id, result)
    return result
