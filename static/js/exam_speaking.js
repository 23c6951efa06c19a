// The speaking test with Maya (microphone check, live transcript, parts and phases, cue card, stop) and its result.
import { h, mount } from './dom.js';
import { SpeakingSession, startMicrophone } from './mobile_api_client.js';
import { scoredOrNull } from './exam_writing.js';
import { speakingResultSections } from './speaking_result.js';

const PHASES = {
  intro: 'Introduction',
  question: 'Interview questions',
  prep: 'Preparation: one minute to make notes',
  talk: 'Your long turn: speak for up to two minutes',
  discussion: 'Discussion',
  closing: 'Closing',
};

function wsUrlFor(app) {
  return app.isNativeApp ? app.api.wsUrl : `${location.origin.replace(/^http/, 'ws')}/ws`;
}

/** A microphone check: a live level meter for a few seconds, then a verdict. */
async function checkMicrophone(meter, verdict) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const data = new Float32Array(analyser.fftSize);
  let peak = 0;
  const started = performance.now();
  await new Promise((resolve) => {
    const step = () => {
      analyser.getFloatTimeDomainData(data);
      const rms = Math.sqrt(data.reduce((sum, v) => sum + v * v, 0) / data.length);
      peak = Math.max(peak, rms);
      meter.style.width = `${Math.min(100, Math.round(rms * 400))}%`;
      if (performance.now() - started < 3000) requestAnimationFrame(step);
      else resolve();
    };
    step();
  });
  for (const track of stream.getTracks()) track.stop();
  await context.close();
  verdict.textContent = peak > 0.01 ? 'Your microphone works. You are ready to start.' : 'We heard almost nothing. Check that the right microphone is selected and not muted.';
  return peak;
}

export async function speakingExam(view, id, app) {
  const { assessment } = await app.api.get(`/api/assessments/${id}`);
  if (assessment.status !== 'in_progress') {
    app.navigate(`#/result/${id}`);
    return view;
  }
  const part2 = (assessment.parts || []).find((p) => p.part === 2);
  const card = part2?.cue_card;

  const meter = h('div');
  const verdict = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Speak for three seconds to test your microphone.');
  const checkButton = h('button', { type: 'button', class: 'secondary' }, 'Check microphone');
  const startButton = h('button', { type: 'button' }, 'Start the test');
  const stopButton = h('button', { type: 'button', class: 'danger', hidden: true }, 'Stop the test');
  const connection = h('span', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'connection' }, 'Not started');
  const partLabel = h('span', { class: 'phase', 'data-testid': 'phase' }, 'Part 1');
  const countdown = h('span', { class: 'timer', role: 'timer' });
  // How much of Maya's voice has arrived and been scheduled for playback (also lets tests see the audio path work).
  const voice = h('span', { class: 'muted', 'data-testid': 'voice', 'data-chunks': '0' });
  let voiceChunks = 0;
  const transcript = h('ol', { class: 'transcript', 'aria-label': 'Transcript', 'aria-live': 'polite', 'data-testid': 'transcript' });
  const notes = h('textarea', { id: 'cue-notes', placeholder: 'Your notes (kept on this device only)' });
  notes.style.minHeight = '6rem';
  const cueCard = h('section', { class: 'card cue-card', hidden: true, 'aria-labelledby': 'cue-title' },
    h('h2', { id: 'cue-title' }, 'Part 2 cue card'),
    card ? [h('p', {}, h('strong', {}, card.topic)), h('p', {}, 'You should say:'), h('ul', {}, (card.points || []).map((p) => h('li', {}, p))), card.explain ? h('p', {}, card.explain) : null] : null,
    h('label', { for: 'cue-notes' }, 'Notes'),
    notes);

  let session = null;
  let microphone = null;
  let deadline = null;
  const interim = { examiner: null, candidate: null };
  // The candidate's words can arrive after Maya's next line has begun: each of their lines waits in its place.
  const waiting = [];

  const tick = setInterval(() => {
    if (deadline === null) return;
    const left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
    countdown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
  }, 250);

  const addLine = (role, text, final) => {
    let li = interim[role];
    if (role === 'candidate' && final && waiting.length) li = waiting.shift();
    if (!li) {
      li = h('li', { class: role }, h('span', { class: 'who' }, role === 'examiner' ? 'Maya' : 'You'), h('span', { class: 'text' }));
      transcript.appendChild(li);
      if (role === 'candidate' && !final) waiting.push(li);
    }
    if (role === 'examiner') interim.candidate = null; // Maya spoke: the candidate's next words are a new line
    li.querySelector('.text').textContent = text;
    li.classList.toggle('interim', !final);
    if (final && !text) li.remove(); // a line marked for words that never came (it was noise)
    if (role === 'examiner') interim.examiner = final ? null : li;
    else if (!final) interim.candidate = li;
    else if (interim.candidate === li) interim.candidate = null;
    transcript.scrollTop = transcript.scrollHeight;
  };

  const finish = () => {
    clearInterval(tick);
    if (microphone) microphone.stop();
    microphone = null;
    if (session) session.close();
    session = null;
  };

  const onEvent = (message) => {
    switch (message.type) {
      case 'connection':
        connection.textContent = { open: 'Connected', reconnecting: 'Connection lost, reconnecting...', lost: 'The connection was lost. Reload the page to resume your test.' }[message.state] || message.state;
        break;
      case 'ready':
        connection.textContent = 'Connected: Maya will begin in a moment';
        break;
      case 'state':
        partLabel.textContent = `Part ${message.part} · ${PHASES[message.phase] || message.phase}`;
        deadline = typeof message.seconds_left === 'number' ? performance.now() + message.seconds_left * 1000 : null;
        if (deadline === null) countdown.textContent = '';
        cueCard.hidden = !(message.part === 2 && (message.phase === 'prep' || message.phase === 'talk'));
        if (message.part === 2 && message.phase === 'prep') notes.focus();
        break;
      case 'audio':
        voiceChunks += 1;
        voice.dataset.chunks = String(voiceChunks);
        voice.textContent = 'Maya is speaking';
        clearTimeout(voice.quiet);
        voice.quiet = setTimeout(() => (voice.textContent = ''), 1500);
        break;
      case 'interrupted':
        voice.textContent = '';
        break;
      case 'transcript':
        connection.textContent = 'Live';
        addLine(message.role, message.text, message.final);
        break;
      case 'error':
        app.toast(message.message || 'Something went wrong in the speaking test.', 'error');
        break;
      case 'complete':
        finish();
        app.toast('Test complete. Scoring your speaking...', 'success');
        app.navigate(`#/result/${id}`);
        break;
      default:
        break;
    }
  };

  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true;
    try {
      await checkMicrophone(meter, verdict);
    } catch {
      verdict.textContent = 'The microphone could not be opened. Allow microphone access for this site and try again.';
    }
    checkButton.disabled = false;
  });

  startButton.addEventListener('click', async () => {
    startButton.disabled = true;
    checkButton.disabled = true;
    session = new SpeakingSession({ wsUrl: wsUrlFor(app), token: app.api.token, assessmentId: id, onEvent });
    try {
      microphone = await startMicrophone(session, { workletUrl: new URL('./pcm_capture_worklet.js', import.meta.url).href });
    } catch {
      session = null;
      startButton.disabled = false;
      checkButton.disabled = false;
      verdict.textContent = 'The microphone could not be opened. Allow microphone access for this site and try again.';
      return;
    }
    connection.textContent = 'Connecting...';
    session.connect();
    startButton.hidden = true;
    checkButton.hidden = true;
    for (const el of intro) el.hidden = true;
    stopButton.hidden = false;
    stopButton.focus();
  });

  stopButton.addEventListener('click', () => {
    if (!session) return;
    if (!window.confirm('End the test now? What you have said so far will be scored.')) return;
    stopButton.disabled = true;
    session.stop();
    connection.textContent = 'Ending the test...';
  });

  app.onLeave(finish);

  // Shown before the test starts only: the phone screen then belongs to the transcript.
  const intro = [
    h('p', {}, 'Maya, a British examiner, will talk with you for 11 to 14 minutes in three parts: an interview, a long turn on a cue card (with one minute to prepare), and a discussion. Speak naturally; Maya waits for you to finish.'),
    h('div', { class: 'meter', role: 'img', 'aria-label': 'Microphone level' }, meter),
    verdict,
  ];
  mount(view,
    h('h1', {}, app.label(assessment.module)),
    h('section', { class: 'card' }, intro, h('div', { class: 'actions' }, checkButton, startButton, stopButton)),
    h('div', { class: 'live-bar' }, h('div', { class: 'exam-bar' }, partLabel, countdown), h('div', { class: 'exam-bar' }, connection, voice)),
    cueCard,
    h('section', { class: 'card' }, h('h2', {}, 'Live transcript'), transcript));
  return view;
}

export async function speakingResult(view, scoring, app) {
  const assessment = await scoredOrNull(view, scoring, app, 'speaking');
  if (!assessment) return view;
  mount(view,
    h('h1', {}, `${app.label(assessment.module)}: your result`),
    speakingResultSections(assessment.result),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/dashboard' }, 'Back to the dashboard')));
  return view;
}
