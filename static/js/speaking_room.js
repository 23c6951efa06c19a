// The speaking test room: Maya's presence (her voice as a live level), the candidate's microphone level, the part and
// its clock, the Part 2 cue card with its preparation minute and notes, the live transcript, and every way out
// (stop with a result, resume after a drop, or leave an unanswered test with the credit back).
import { h, mount } from './dom.js';
import { SpeakingSession, startMicrophone } from './mobile_api_client.js';
import { confirmDialog } from './dialog.js';
import { formatClock } from './paper_clock.js';

const PHASES = {
  intro: 'Introduction',
  question: 'Interview questions',
  prep: 'Preparation: one minute to make notes',
  talk: 'Your long turn: speak for up to two minutes',
  discussion: 'Discussion',
  closing: 'Closing',
};

// How long "Ending the test..." may wait for the examiner before the page offers the ways out.
const END_WAIT_MS = 20000;

function wsUrlFor(app) {
  return app.isNativeApp ? app.api.wsUrl : `${location.origin.replace(/^http/, 'ws')}/ws`;
}

/** A level meter (0..1 drives the bar's width); `.set(level)` updates it. */
function levelMeter(labelText, testId) {
  const bar = h('div', { class: 'level-bar' });
  const meter = h('div', { class: 'meter', role: 'meter', 'aria-label': labelText, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0', 'data-testid': testId, 'data-peak': '0' }, bar);
  meter.set = (level) => {
    const percent = Math.min(100, Math.round(level * 400));
    bar.style.width = `${percent}%`;
    meter.setAttribute('aria-valuenow', String(percent));
    if (percent > Number(meter.dataset.peak)) meter.dataset.peak = String(percent);
  };
  return meter;
}

/** A microphone check before the test: a live level for three seconds, then a verdict. */
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
      meter.set(rms);
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

  const checkMeter = levelMeter('Microphone level (check)', 'mic-check-level');
  const verdict = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Speak for three seconds to test your microphone.');
  const checkButton = h('button', { type: 'button', class: 'secondary' }, 'Check microphone');
  const startButton = h('button', { type: 'button' }, 'Start the test');
  const leaveButton = h('button', { type: 'button', class: 'link-button' }, 'Leave without taking the test (credit returned)');
  const stopButton = h('button', { type: 'button', class: 'danger', hidden: true }, 'Stop the test');
  const connection = h('span', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'connection' }, 'Not started');
  const partLabel = h('span', { class: 'phase', 'data-testid': 'phase' }, 'Part 1');
  const countdown = h('span', { class: 'timer', role: 'timer', 'aria-label': 'Time left in this part' });
  // Maya's voice: how many chunks arrived (tests see the audio path work) and its live level while she speaks.
  const voice = h('span', { class: 'voice-state', 'data-testid': 'voice', 'data-chunks': '0' }, 'Waiting');
  const mayaLevel = levelMeter("Maya's voice level", 'maya-level');
  const micLevel = levelMeter('Your microphone level', 'mic-level');
  // Small copies in the bar that stays on screen (a phone scrolls the large ones away during the cue card).
  const mayaMini = levelMeter("Maya's voice level", 'maya-level-mini');
  const micMini = levelMeter('Your microphone level', 'mic-level-mini');
  let voiceChunks = 0;
  const transcript = h('ol', { class: 'transcript', 'aria-label': 'Transcript', 'aria-live': 'polite', 'data-testid': 'transcript', tabindex: '0' });
  const notes = h('textarea', { id: 'cue-notes', placeholder: 'Your notes (kept on this device only)' });
  const prepClock = h('p', { class: 'prep-clock', role: 'timer', 'aria-label': 'Preparation time left', hidden: true, 'data-testid': 'prep-clock' });
  const cueCard = h('section', { class: 'card cue-card', hidden: true, 'aria-labelledby': 'cue-title', 'data-testid': 'cue-card' },
    h('h2', { id: 'cue-title' }, 'Part 2 cue card'),
    prepClock,
    card ? [h('p', { class: 'cue-topic' }, card.topic), h('p', {}, 'You should say:'), h('ul', {}, (card.points || []).map((p) => h('li', {}, p))), card.explain ? h('p', {}, card.explain) : null] : null,
    h('label', { for: 'cue-notes' }, 'Notes'),
    notes);
  const trouble = h('section', { class: 'card trouble', role: 'alert', hidden: true, 'data-testid': 'trouble' });

  let session = null;
  let microphone = null;
  let deadline = null;
  let phase = null;
  let everOpen = false;
  let answered = false;
  let ending = null;
  const interim = { examiner: null, candidate: null };
  // The candidate's words can arrive after Maya's next line has begun: each of their lines waits in its place.
  const waiting = [];

  const tick = setInterval(() => {
    if (session?.player) {
      mayaLevel.set(session.player.level());
      mayaMini.set(session.player.level());
      // What the candidate hears decides the words: audio arrives faster than it plays.
      if (voiceChunks) voice.textContent = session.player.playing ? 'Maya is speaking' : 'Listening to you';
    }
    if (microphone) {
      micLevel.set(microphone.level());
      micMini.set(microphone.level());
    }
    if (deadline === null) return;
    const left = Math.max(0, (deadline - performance.now()) / 1000);
    countdown.textContent = formatClock(left);
    if (phase === 'prep') prepClock.textContent = `${formatClock(left)} to prepare`;
  }, 100);

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
    if (role === 'candidate' && final && text) answered = true;
    if (role === 'examiner') interim.examiner = final ? null : li;
    else if (!final) interim.candidate = li;
    else if (interim.candidate === li) interim.candidate = null;
    transcript.scrollTop = transcript.scrollHeight;
  };

  const finish = () => {
    clearInterval(tick);
    clearTimeout(ending);
    if (microphone) microphone.stop();
    microphone = null;
    if (session) session.close();
    session = null;
  };

  const abandon = async () => {
    try {
      await app.api.post(`/api/assessments/${id}/abandon`, undefined, { idempotent: true });
      finish();
      app.toast('You left the test. Your credit was returned.', 'success');
      app.navigate('#/dashboard');
    } catch (e) {
      app.toast(app.errorText(e), 'error');
    }
  };

  /** Explain what went wrong and offer the ways out that apply. */
  const showTrouble = (title, text, retry = () => session?.resume()) => {
    const resume = h('button', { type: 'button' }, 'Try again');
    resume.addEventListener('click', () => {
      trouble.hidden = true;
      stopButton.disabled = false;
      connection.textContent = 'Connecting...';
      retry();
    });
    const leave = answered
      ? h('a', { class: 'button secondary', href: '#/dashboard' }, 'Go to the dashboard (resume later)')
      : h('button', { type: 'button', class: 'secondary', onclick: abandon }, 'Leave the test and get my credit back');
    mount(trouble, h('h2', {}, title), h('p', {}, text), h('div', { class: 'actions' }, resume, leave));
    trouble.hidden = false;
  };

  const onEvent = (message) => {
    switch (message.type) {
      case 'connection':
        if (message.state === 'open') everOpen = true;
        connection.textContent = { open: 'Connected', reconnecting: 'Connection lost, reconnecting...', lost: 'Not connected' }[message.state] || message.state;
        if (message.state === 'lost') {
          clearTimeout(ending);
          if (!everOpen) {
            showTrouble('The speaking examiner could not be reached',
              `The server at ${location.host} did not accept the connection for the live test (for example, this address is not one it allows). Nothing was recorded. Try again, or leave the test: its credit comes back.`);
          } else {
            showTrouble('The connection was lost',
              answered ? 'What you said so far is saved. Try again to resume the test where it stopped.' : 'Try again to resume the test, or leave it: you have not answered yet, so its credit comes back.');
          }
        }
        break;
      case 'ready':
        connection.textContent = 'Connected: Maya will begin in a moment';
        trouble.hidden = true;
        break;
      case 'state':
        phase = message.phase;
        partLabel.textContent = `Part ${message.part} · ${PHASES[message.phase] || message.phase}`;
        deadline = typeof message.seconds_left === 'number' ? performance.now() + message.seconds_left * 1000 : null;
        if (deadline === null) countdown.textContent = '';
        cueCard.hidden = !(message.part === 2 && (message.phase === 'prep' || message.phase === 'talk'));
        prepClock.hidden = message.phase !== 'prep';
        if (message.phase === 'prep') prepClock.dataset.shown = 'true';
        if (message.part === 2 && message.phase === 'prep') {
          // The whole card comes into view under the bar (its title and countdown too), and the notes take the keys.
          cueCard.scrollIntoView({ block: 'start' });
          notes.focus({ preventScroll: true });
        }
        break;
      case 'audio':
        voiceChunks += 1;
        voice.dataset.chunks = String(voiceChunks);
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
        app.navigate(`#/result/${id}`);
        break;
      default:
        break;
    }
  };

  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true;
    try {
      await checkMicrophone(checkMeter, verdict);
    } catch {
      verdict.textContent = 'The microphone could not be opened. Allow microphone access for this site and try again.';
    }
    checkButton.disabled = false;
  });

  leaveButton.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Leave this speaking test?',
      body: 'You have not started it, so its credit goes back to your account.',
      confirm: 'Leave and get my credit back',
      cancel: 'Stay',
    });
    if (ok) await abandon();
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
    introCard.hidden = true;
    room.hidden = false;
    stopButton.hidden = false;
    stopButton.focus();
  });

  /** Ask the examiner to end the test; "Ending the test..." always ends: a result, or (no answer) a way to go on. */
  const endTest = () => {
    stopButton.disabled = true;
    connection.textContent = 'Ending the test...';
    if (session?.socket) session.stop();
    else session?.resume(); // reconnect first; the candidate stops again once the test is back
    clearTimeout(ending);
    ending = setTimeout(() => {
      stopButton.disabled = false;
      showTrouble('The test has not ended yet', 'The examiner did not confirm the end of the test. Your answers are saved. Try again to end it, or come back to it later from the dashboard.', endTest);
    }, END_WAIT_MS);
  };

  stopButton.addEventListener('click', async () => {
    if (!session) return;
    const ok = await confirmDialog({
      title: 'Stop the test now?',
      body: answered ? 'What you have said so far will be marked.' : 'You have not answered yet, so there is nothing to mark: the test ends and its credit comes back.',
      confirm: 'Stop the test',
      cancel: 'Carry on',
      danger: true,
    });
    if (!ok || !session) return;
    if (!answered) {
      await abandon();
      return;
    }
    endTest();
  });

  app.onLeave(finish);

  // Shown before the test starts only: the phone screen then belongs to the test.
  const introCard = h('section', { class: 'card' },
    h('p', {}, 'Maya, your AI examiner, will talk with you for 11 to 14 minutes in three parts: an interview, a long turn on a cue card (with one minute to prepare), and a discussion. Speak naturally; Maya waits for you to finish.'),
    checkMeter,
    verdict,
    h('div', { class: 'actions' }, checkButton, startButton),
    h('p', {}, leaveButton));
  const room = h('div', { class: 'speaking-room', hidden: true },
    h('div', { class: 'live-bar' },
      h('div', { class: 'exam-bar' }, partLabel, h('span', { class: 'live-status' }, connection, countdown)),
      h('div', { class: 'exam-bar' },
        h('div', { class: 'mini-levels', 'aria-hidden': 'true' },
          h('span', { class: 'mini maya' }, 'Maya', mayaMini),
          h('span', { class: 'mini you' }, 'You', micMini)),
        stopButton)),
    h('div', { class: 'presence' },
      h('section', { class: 'card maya', 'aria-labelledby': 'maya-name' },
        h('div', { class: 'avatar', 'aria-hidden': 'true' }, 'M'),
        h('div', { class: 'presence-body' }, h('h2', { id: 'maya-name', class: 'h3' }, 'Maya, examiner'), voice, mayaLevel)),
      h('section', { class: 'card you', 'aria-labelledby': 'you-name' },
        h('div', { class: 'avatar you', 'aria-hidden': 'true' }, 'You'),
        h('div', { class: 'presence-body' }, h('h2', { id: 'you-name', class: 'h3' }, 'Your microphone'), h('span', { class: 'voice-state' }, 'On'), micLevel))),
    trouble,
    cueCard,
    h('section', { class: 'card' }, h('h2', {}, 'Live transcript'), transcript));
  mount(view,
    h('h1', {}, app.label(assessment.module)),
    introCard,
    room);
  return view;
}
