// The writing exam (two tasks, timers, word counts, autosave, submit, wait for the score) and its result.
import { h, mount, safeSvg } from './dom.js';

const AUTOSAVE_MS = 1500;
const POLL_MS = 1500;

const CRITERIA = {
  task_achievement: 'Task achievement',
  task_response: 'Task response',
  coherence_cohesion: 'Coherence and cohesion',
  lexical_resource: 'Lexical resource',
  grammatical_range_accuracy: 'Grammatical range and accuracy',
};

const FLAGS = {
  under_length: 'Under the minimum length',
  off_topic: 'Partly off topic',
};

/** Words as the server counts them: whitespace-separated tokens holding at least one letter or digit. */
export function countWords(text) {
  return text.split(/\s+/).filter((token) => /[\p{L}\p{N}]/u.test(token)).length;
}

function formatClock(seconds) {
  const sign = seconds < 0 ? '-' : '';
  const abs = Math.abs(Math.round(seconds));
  return `${sign}${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, '0')}`;
}

/** Time used per task survives a reload (kept on the device, keyed by assessment). */
function timeStore(assessmentId) {
  const key = `ieltsprep.timers.${assessmentId}`;
  let used = {};
  try {
    used = JSON.parse(localStorage.getItem(key) || '{}');
  } catch {
    used = {};
  }
  return {
    get: (task) => used[task] || 0,
    add(task, seconds) {
      used[task] = (used[task] || 0) + seconds;
      try {
        localStorage.setItem(key, JSON.stringify(used));
      } catch {
        // Private mode: the timer still runs for this page.
      }
    },
  };
}

export async function writingExam(view, id, app) {
  const { assessment } = await app.api.get(`/api/assessments/${id}`);
  if (assessment.status !== 'in_progress') return writingResult(view, assessment, app);
  const times = timeStore(id);
  const panels = [];
  const tabs = [];
  const pending = new Map(); // task -> timer of a debounced save
  const saving = new Map(); // task -> promise of the save in flight
  let active = 0;
  let submitted = false;

  const save = async (task, textarea, status) => {
    pending.delete(task);
    status.textContent = 'Saving...';
    const run = app.api.put(`/api/assessments/${id}/answers/${task}`, { text: textarea.value });
    saving.set(task, run);
    try {
      await run;
      status.textContent = `Saved at ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      status.textContent = 'Not saved yet: will retry when you type';
      app.toast(app.errorText(e), 'error');
      throw e;
    } finally {
      if (saving.get(task) === run) saving.delete(task);
    }
  };

  const flushSaves = async () => {
    for (const [, entry] of pending) {
      clearTimeout(entry.timer);
      await entry.run();
    }
    await Promise.all(saving.values());
  };

  assessment.tasks.forEach((task, index) => {
    const textareaId = `answer-${task.task}`;
    const answer = assessment.answers?.[String(task.task)]?.text || '';
    const textarea = h('textarea', { id: textareaId, spellcheck: 'false', autocapitalize: 'sentences', 'aria-describedby': `count-${task.task}` }, answer);
    textarea.value = answer;
    const count = h('span', { class: 'count', id: `count-${task.task}`, 'aria-live': 'polite' });
    const status = h('span', { class: 'muted', 'data-save-status': task.task }, answer ? 'Saved' : '');
    const timer = h('span', { class: 'timer', role: 'timer', 'aria-label': `Task ${task.task} time left` });
    const updateCount = () => {
      const words = countWords(textarea.value);
      count.textContent = `${words} / ${task.min_words} words`;
      count.className = `count ${words >= task.min_words ? 'met' : 'under'}`;
    };
    const updateTimer = () => {
      const left = task.minutes * 60 - times.get(task.task);
      timer.textContent = left >= 0 ? `${formatClock(left)} left` : `${formatClock(-left)} over time`;
      timer.classList.toggle('low', left < 5 * 60);
    };
    updateCount();
    updateTimer();
    textarea.addEventListener('input', () => {
      updateCount();
      status.textContent = 'Editing...';
      const previous = pending.get(task.task);
      if (previous) clearTimeout(previous.timer);
      const run = () => save(task.task, textarea, status).catch(() => {});
      pending.set(task.task, { run, timer: setTimeout(run, AUTOSAVE_MS) });
    });
    const chart = task.chart?.svg ? safeSvg(task.chart.svg) : null;
    const tab = h('button', {
      type: 'button', role: 'tab', id: `tab-${task.task}`, 'aria-controls': `panel-${task.task}`,
      'aria-selected': index === 0 ? 'true' : 'false', tabindex: index === 0 ? '0' : '-1',
    }, `Task ${task.task}`);
    const panel = h('section', { role: 'tabpanel', id: `panel-${task.task}`, 'aria-labelledby': `tab-${task.task}`, hidden: index !== 0 },
      h('p', { class: 'muted' }, `About ${task.minutes} minutes · at least ${task.min_words} words`),
      h('div', { class: 'card' },
        h('p', { class: 'prompt' }, task.prompt),
        task.bullets?.length ? h('ul', {}, task.bullets.map((b) => h('li', {}, b))) : null,
        chart ? h('figure', { class: 'task-chart', 'aria-label': task.chart.title || 'Chart' }, chart) : null),
      h('label', { for: textareaId }, `Your answer to Task ${task.task}`),
      textarea,
      // Kept in view while typing: the clock and the word count matter most mid-answer.
      h('div', { class: 'exam-bar writing-bar' }, count, timer, status));
    panel.updateTimer = updateTimer;
    panel.task = task.task;
    tabs.push(tab);
    panels.push(panel);
  });

  const select = (index, focus = false) => {
    active = index;
    tabs.forEach((tab, i) => {
      tab.setAttribute('aria-selected', i === index ? 'true' : 'false');
      tab.tabIndex = i === index ? 0 : -1;
      panels[i].hidden = i !== index;
    });
    if (focus) tabs[index].focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(i));
    tab.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowRight') select((i + 1) % tabs.length, true);
      if (event.key === 'ArrowLeft') select((i - 1 + tabs.length) % tabs.length, true);
    });
  });

  // Each task's clock runs only while its tab is shown (candidates split their hour as they like).
  const tick = setInterval(() => {
    if (document.hidden || submitted) return;
    times.add(panels[active].task, 1);
    panels[active].updateTimer();
  }, 1000);

  const error = h('p', { class: 'error-text', role: 'alert', hidden: true });
  const submit = h('button', { type: 'button' }, 'Submit both tasks for scoring');
  submit.addEventListener('click', async () => {
    const short = assessment.tasks.filter((t) => countWords(panels.find((p) => p.task === t.task).querySelector('textarea').value) < t.min_words);
    if (short.length && !window.confirm(`Task ${short.map((t) => t.task).join(' and ')} is under the minimum length, which lowers the band. Submit anyway?`)) return;
    submit.disabled = true;
    try {
      await flushSaves();
      submitted = true;
      await app.api.post(`/api/assessments/${id}/submit`, undefined, { idempotent: true });
      app.navigate(`#/result/${id}`);
    } catch (e) {
      submitted = false;
      submit.disabled = false;
      error.textContent = app.errorText(e);
      error.hidden = false;
    }
  });

  app.onLeave(async () => {
    clearInterval(tick);
    if (!submitted) await flushSaves().catch(() => {});
  });

  mount(view,
    h('h1', {}, app.label(assessment.module)),
    h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Writing tasks' }, tabs),
    panels,
    error,
    h('div', { class: 'actions' }, submit, h('a', { class: 'button secondary', href: '#/dashboard' }, 'Save and leave')),
    h('p', { class: 'muted' }, 'Your answers are saved as you type. You can leave and come back.'));
  return view;
}

/** The candidate's text with the annotations marked (offsets are in Unicode code points, as the server counts). */
export function annotatedText(text, annotations) {
  const chars = Array.from(text);
  const parts = [];
  let cursor = 0;
  const sorted = [...(annotations || [])].filter((a) => a.end > a.start).sort((a, b) => a.start - b.start);
  for (const ann of sorted) {
    if (ann.start < cursor || ann.end > chars.length) continue; // overlapping or out of range: listed below only
    parts.push(chars.slice(cursor, ann.start).join(''));
    const title = ann.suggestion ? `${ann.message} Suggestion: ${ann.suggestion}` : ann.message;
    parts.push(h('mark', { class: `ann ann-${ann.kind}`, title, tabindex: '0' }, chars.slice(ann.start, ann.end).join('')));
    cursor = ann.end;
  }
  parts.push(chars.slice(cursor).join(''));
  return h('div', { class: 'essay' }, parts);
}

// Criteria in the official order (the order of `names`), whatever order the result object has.
const rank = (names, key) => {
  const index = Object.keys(names).indexOf(key);
  return index < 0 ? Number.MAX_SAFE_INTEGER : index;
};

function criteriaTable(criteria, names) {
  return h('table', { class: 'criteria' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Band'), h('th', { scope: 'col' }, 'Criterion and feedback'))),
    h('tbody', {}, Object.entries(criteria).sort(([a], [b]) => rank(names, a) - rank(names, b)).map(([key, value]) =>
      h('tr', {}, h('td', { class: 'num' }, String(value.band)), h('td', {}, h('strong', {}, names[key] || key), h('br'), value.feedback)))));
}

export { criteriaTable };

/** Poll until an assessment leaves `scoring`; returns it. Stops when the screen is left. */
export async function waitForScore(app, id, onTick) {
  let alive = true;
  app.onLeave(() => {
    alive = false;
  });
  for (;;) {
    const { assessment } = await app.api.get(`/api/assessments/${id}`);
    if (assessment.status !== 'scoring' && assessment.status !== 'in_progress') return assessment;
    if (!alive) return null;
    onTick?.(assessment);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!alive) return null;
  }
}

/**
 * Show a waiting screen until the assessment is scored; returns the scored assessment, or null when the screen
 * already shows the outcome (scoring failed, or the user left).
 */
export async function scoredOrNull(view, assessment, app, what) {
  if (assessment.status === 'scoring' || assessment.status === 'in_progress') {
    mount(view, h('h1', {}, `Scoring your ${what}`),
      h('p', { class: 'card', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ` Your ${what} is being scored. This usually takes a few seconds.`));
    // Shown while waiting; the router mounts `view` after this screen returns, so mount it now.
    document.getElementById('main').replaceChildren(view);
    assessment = await waitForScore(app, assessment.id);
    if (!assessment) return null;
  }
  if (assessment.status === 'failed') {
    mount(view, h('h1', {}, 'Scoring failed'),
      h('p', { class: 'card', role: 'alert' }, assessment.error?.message || 'This assessment could not be scored. Your credit was returned.'));
    return null;
  }
  return assessment;
}

export async function writingResult(view, scoring, app) {
  const assessment = await scoredOrNull(view, scoring, app, 'writing');
  if (!assessment) return view;
  const result = assessment.result;
  mount(view,
    h('h1', {}, `${app.label(assessment.module)}: your result`),
    h('section', { class: 'card' },
      h('p', { class: 'muted' }, 'Overall writing band'),
      h('p', { class: 'band', 'data-testid': 'overall-band' }, String(result.overall_band)),
      h('p', { class: 'muted' }, `Scored by the ${result.engine} engine. Task 2 counts twice as much as Task 1.`)),
    result.tasks.map((task) => {
      const text = assessment.answers?.[String(task.task)]?.text || '';
      return h('section', { class: 'card', 'aria-labelledby': `result-task-${task.task}` },
        h('h2', { id: `result-task-${task.task}` }, `Task ${task.task}: band ${task.band}`),
        h('p', { class: 'muted' }, `${task.word_count} words`),
        task.flags?.length ? h('p', {}, task.flags.map((f) => h('span', { class: 'badge failed' }, FLAGS[f] || f.replaceAll('_', ' '))).flatMap((b) => [b, ' '])) : null,
        criteriaTable(task.criteria, CRITERIA),
        h('h3', {}, 'Your text, with notes'),
        annotatedText(text, task.annotations),
        task.annotations?.length
          ? h('ul', { class: 'annotations' }, task.annotations.map((a) =>
            h('li', {}, h('strong', {}, `${a.kind}: `), a.message, a.suggestion ? ` Try: "${a.suggestion}".` : '')))
          : h('p', { class: 'muted' }, 'No specific notes on this text.'));
    }),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/dashboard' }, 'Back to the dashboard')));
  return view;
}
