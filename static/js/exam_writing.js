// The writing exam (two tasks, timers, word counts, autosave, submit, wait for the score) and its result.
import { h, mount, safeSvg } from './dom.js';
import { confirmDialog } from './dialog.js';
import { formatClock, startPaperClock } from './paper_clock.js';
import { ApiError } from './mobile_api_client.js';

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
  too_short: 'Far too short to mark fully',
  empty: 'No answer',
  non_english: 'Not written in English',
  off_topic: 'Partly off topic',
  missing_bullets: 'A bullet point not covered',
  no_overview: 'No overview',
  no_data: 'No details from the visual',
};

const isTimeUp = (e) => e instanceof ApiError && e.code === 'time_up';

/** Words as the server counts them: whitespace-separated tokens holding at least one letter or digit. */
export function countWords(text) {
  return text.split(/\s+/).filter((token) => /[\p{L}\p{N}]/u.test(token)).length;
}

/** The Task 1 visual: the wide drawing, and the phone drawing (pairs stacked) shown instead on narrow screens. */
function taskChart(chart) {
  const wide = chart.svg ? safeSvg(chart.svg) : null;
  const narrow = chart.svg_narrow ? safeSvg(chart.svg_narrow) : null;
  if (!wide && !narrow) return null;
  wide?.classList.add('chart-wide');
  narrow?.classList.add('chart-narrow');
  // Pies and maps come in pairs, compared side by side: a wide screen keeps the wide drawing for them.
  const pairs = chart.type === 'pie' || chart.type === 'map';
  return h('figure', { class: `task-chart${wide && narrow ? ' has-narrow' : ''}${pairs ? ' pairs' : ''}` }, wide, narrow);
}

export async function writingExam(view, id, app) {
  const { assessment } = await app.api.get(`/api/assessments/${id}`);
  if (assessment.status !== 'in_progress') return writingResult(view, assessment, app);
  const panels = [];
  const tabs = [];
  const pending = new Map(); // task -> timer of a debounced save
  const saving = new Map(); // task -> promise of the save in flight
  let active = 0;
  let submitted = false;

  const barCount = h('span', { class: 'count', id: 'paper-count', 'aria-live': 'off' });
  const timer = h('span', { class: 'timer', role: 'timer', 'aria-label': 'Time left on the paper', 'data-testid': 'paper-clock' });
  const timeNote = h('p', { class: 'time-note', role: 'status', hidden: true, 'data-testid': 'time-warning' });

  const save = async (task, textarea, status) => {
    pending.delete(task);
    status.textContent = 'Saving...';
    const run = app.api.put(`/api/assessments/${id}/answers/${task}`, { text: textarea.value });
    saving.set(task, run);
    try {
      await run;
      status.textContent = `Saved at ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (isTimeUp(e)) {
        status.textContent = 'Time is up: changes after the end are not kept';
        throw e;
      }
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
    const textarea = h('textarea', { id: textareaId, spellcheck: 'false', autocapitalize: 'sentences', 'aria-describedby': `count-${task.task} brief-${task.task}` }, answer);
    textarea.value = answer;
    const count = h('span', { class: 'count', id: `count-${task.task}` });
    const status = h('span', { class: 'muted', 'data-save-status': task.task, 'aria-live': 'polite' }, answer ? 'Saved' : '');
    const updateCount = () => {
      const words = countWords(textarea.value);
      const text = `${words} / ${task.min_words} words`;
      const kind = `count ${words >= task.min_words ? 'met' : 'under'}`;
      count.textContent = text;
      count.className = kind;
      if (index === active) {
        barCount.textContent = `Task ${task.task}: ${text}`;
        barCount.className = kind;
      }
    };
    textarea.addEventListener('input', () => {
      updateCount();
      status.textContent = 'Editing...';
      const previous = pending.get(task.task);
      if (previous) clearTimeout(previous.timer);
      const run = () => save(task.task, textarea, status).catch(() => {});
      pending.set(task.task, { run, timer: setTimeout(run, AUTOSAVE_MS) });
    });
    const tab = h('button', {
      type: 'button', role: 'tab', id: `tab-${task.task}`, 'aria-controls': `panel-${task.task}`,
      'aria-selected': index === 0 ? 'true' : 'false', tabindex: index === 0 ? '0' : '-1',
    }, `Task ${task.task}`);
    // Task and visual on the left, the answer on the right (stacked on a phone); each side scrolls on its own.
    const panel = h('section', { role: 'tabpanel', id: `panel-${task.task}`, 'aria-labelledby': `tab-${task.task}`, hidden: index !== 0, class: 'paper-grid' },
      h('div', { class: 'task-pane', tabindex: '0', 'aria-label': `Task ${task.task} question` },
        h('p', { class: 'muted', id: `brief-${task.task}` }, `Task ${task.task}: suggested ${task.minutes} minutes · at least ${task.min_words} words`),
        h('p', { class: 'prompt' }, task.prompt),
        task.bullets?.length ? h('ul', {}, task.bullets.map((b) => h('li', {}, b))) : null,
        task.chart ? taskChart(task.chart) : null),
      h('div', { class: 'answer-pane' },
        h('label', { for: textareaId }, `Your answer to Task ${task.task}`),
        textarea,
        h('div', { class: 'answer-foot' }, count, status)));
    panel.updateCount = updateCount;
    panel.task = task.task;
    panel.textarea = textarea;
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
    panels[index].updateCount();
    if (focus) tabs[index].focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(i));
    tab.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowRight') select((i + 1) % tabs.length, true);
      if (event.key === 'ArrowLeft') select((i - 1 + tabs.length) % tabs.length, true);
    });
  });
  panels.forEach((panel) => panel.updateCount());
  select(0);

  const error = h('p', { class: 'error-text', role: 'alert', hidden: true });
  const submit = h('button', { type: 'button' }, 'Submit paper');
  let stopClock = () => {};

  const handIn = async () => {
    submit.disabled = true;
    try {
      // After the paper's clock the server refuses drafts (409 time_up) and keeps those saved in time: hand those in.
      await flushSaves().catch((e) => {
        if (!isTimeUp(e)) throw e;
      });
      submitted = true;
      stopClock();
      await app.api.post(`/api/assessments/${id}/submit`, undefined, { idempotent: true });
      app.navigate(`#/result/${id}`);
    } catch (e) {
      submitted = false;
      submit.disabled = false;
      error.textContent = app.errorText(e);
      error.hidden = false;
    }
  };

  submit.addEventListener('click', async () => {
    const short = assessment.tasks.filter((t) => countWords(panels.find((p) => p.task === t.task).textarea.value) < t.min_words);
    const ok = await confirmDialog({
      title: 'Hand in your paper?',
      body: [
        short.length ? `Task ${short.map((t) => t.task).join(' and ')} is under the minimum length, which lowers the band.` : 'Both tasks are long enough.',
        'Once handed in, your answers are marked and can no longer be changed.',
      ],
      confirm: 'Submit paper',
      cancel: 'Keep writing',
    });
    if (ok) await handIn();
  });

  // One clock for the whole paper, from the server (it started when the paper did; it does not pause).
  stopClock = startPaperClock({
    secondsLeft: assessment.seconds_left ?? assessment.time_limit_seconds ?? 3600,
    limit: assessment.time_limit_seconds ?? 3600,
    onTick: (left) => {
      timer.textContent = `${formatClock(left)} left`;
      timer.classList.toggle('low', left <= (assessment.time_limit_seconds ?? 3600) / 12);
    },
    onWarning: (warning) => {
      timeNote.textContent = warning.text;
      timeNote.hidden = false;
    },
    onTimeUp: async () => {
      if (submitted) return;
      timeNote.textContent = 'Time is up. Your paper is being handed in with what you have written.';
      timeNote.hidden = false;
      for (const panel of panels) panel.textarea.readOnly = true;
      await handIn();
    },
  });

  app.onLeave(async () => {
    stopClock();
    if (!submitted) await flushSaves().catch(() => {});
  });

  view.classList.add('paper-room');
  mount(view,
    h('h1', {}, app.label(assessment.module)),
    h('p', { class: 'muted' }, 'One clock for the whole paper: about 20 minutes for Task 1 and 40 for Task 2. Saved as you type; the clock runs on if you leave.'),
    h('div', { class: 'paper-bar' },
      h('div', { class: 'paper-head' },
        h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Writing tasks' }, tabs),
        h('div', { class: 'paper-status' }, timer, barCount),
        timeNote),
      h('div', { class: 'paper-actions' }, submit, h('a', { class: 'button secondary', href: '#/dashboard' }, 'Save and leave'))),
    error,
    panels);
  return view;
}

/** The candidate's text with the annotations marked (offsets are in Unicode code points, as the server counts). */
export function annotatedText(text, annotations) {
  const chars = Array.from(text);
  const parts = [];
  let cursor = 0;
  // Notes on whole paragraphs are listed under the text with the paragraph's opening words: marked inline they would
  // cover the word-level notes inside them (overlaps are skipped) and highlight the whole essay.
  const sorted = [...(annotations || [])].filter((a) => a.end > a.start && !WHOLE_PARAGRAPH.has(a.kind)).sort((a, b) => a.start - b.start);
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

/** A criterion's feedback: what held the band down, the ranked points quoting the answer, what the next band needs. */
export function criterionFeedback(value) {
  if (!value.points?.length && !value.next_band) return [value.feedback];
  return [
    ...(value.limits || []).map((limit) => h('p', { class: 'limit' }, limit)),
    value.points?.length
      ? h('ol', { class: 'points' }, value.points.map((p) =>
        h('li', {}, h('q', { class: 'quote' }, p.quote), ' ', h('span', { class: 'advice' }, p.advice))))
      : null,
    value.next_band ? h('p', { class: 'next-band' }, value.next_band) : null,
  ];
}

function criteriaTable(criteria, names) {
  return h('table', { class: 'criteria' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Band'), h('th', { scope: 'col' }, 'Criterion and feedback'))),
    h('tbody', {}, Object.entries(criteria).sort(([a], [b]) => rank(names, a) - rank(names, b)).map(([key, value]) =>
      h('tr', {}, h('td', { class: 'num' }, String(value.band)), h('td', {}, h('strong', {}, names[key] || key), h('br'), ...criterionFeedback(value))))));
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

const NOTE_LABELS = { spelling: 'Spelling', grammar: 'Grammar', vocabulary: 'Vocabulary', cohesion: 'Linking', length: 'Length', task: 'Task' };
const WHOLE_PARAGRAPH = new Set(['task', 'length']);
const OPENING_WORDS = 6;

/**
 * The notes under the text, one line per distinct note ("(in 3 places)" when it repeats): a note on a paragraph opens
 * with the paragraph's first words, a correction is offered as `Try “…”`, advice (a sentence) is shown as it is.
 */
export function noteLines(annotations, text = '') {
  const chars = Array.from(text);
  const lines = new Map();
  for (const a of annotations || []) {
    const paragraph = WHOLE_PARAGRAPH.has(a.kind) && a.end - a.start < chars.length * 0.9; // not the whole text
    const words = paragraph ? chars.slice(a.start, a.end).join('').trim().split(/\s+/).filter(Boolean) : [];
    const where = words.length ? `“${words.slice(0, OPENING_WORDS).join(' ')}${words.length > OPENING_WORDS ? ' …' : ''}” ` : '';
    const key = `${a.kind}\u0000${where}\u0000${a.message}\u0000${a.suggestion || ''}`;
    const seen = lines.get(key);
    if (seen) seen.count += 1;
    else lines.set(key, { kind: a.kind, where, message: a.message, suggestion: (a.suggestion || '').trim(), count: 1 });
  }
  return [...lines.values()].map(({ kind, where, message, suggestion, count }) => {
    const advice = /[.!?]$/.test(suggestion) ? ` ${suggestion}` : '';
    const correction = suggestion && !advice ? ` Try “${suggestion}”.` : '';
    return { label: NOTE_LABELS[kind] || kind, text: `${where}${message}${correction}${advice}${count > 1 ? ` (in ${count} places)` : ''}` };
  });
}

/** Who marked a result, in plain words. */
export function markedBy(engine) {
  return { local: 'Marked on this computer by the offline scorer', bedrock: 'Marked by Amazon Nova' }[engine] || 'Marked by AI';
}

/** A band as IELTS writes it, with one decimal: "6.0", "6.5". */
export function bandText(band) {
  return Number(band).toFixed(1);
}

/** The likely range of a band, "(likely 6.0–7.0)", or null when the scorer gives none (or a single band). */
export function rangeText(range) {
  return Array.isArray(range) && range.length === 2 && range[0] !== range[1] ? `(likely ${bandText(range[0])}–${bandText(range[1])})` : null;
}

export async function writingResult(view, scoring, app, { sample = false } = {}) {
  const assessment = await scoredOrNull(view, scoring, app, 'writing');
  if (!assessment) return view;
  const result = assessment.result;
  mount(view,
    h('h1', {}, sample ? `Sample result: ${app.label(assessment.module)}` : `${app.label(assessment.module)}: your result`),
    h('section', { class: 'card' },
      h('p', { class: 'muted' }, 'Overall writing band'),
      h('p', { class: 'band', 'data-testid': 'overall-band' }, bandText(result.overall_band)),
      h('p', { class: 'muted' }, `${markedBy(result.engine)}. Task 2 counts twice as much as Task 1. A mock result is an estimate, not an official IELTS score.`)),
    result.tasks.map((task) => {
      const text = assessment.answers?.[String(task.task)]?.text || '';
      const range = rangeText(task.band_range);
      return h('section', { class: 'card', 'aria-labelledby': `result-task-${task.task}` },
        h('h2', { id: `result-task-${task.task}` }, `Task ${task.task}: band ${bandText(task.band)}`, range ? ' ' : null, range ? h('span', { class: 'range' }, range) : null),
        sample && assessment.tasks ? h('details', {}, h('summary', {}, 'The question'), h('p', { class: 'prompt' }, assessment.tasks.find((t) => t.task === task.task)?.prompt || '')) : null,
        h('p', { class: 'muted' }, `${task.word_count} words`),
        range
          ? h('p', { class: 'muted', 'data-testid': `band-range-${task.task}` },
            `Why a range? An examiner would most likely give this answer between ${bandText(task.band_range[0])} and ${bandText(task.band_range[1])}: when this scorer was checked against examiners on essays from another source, at least 8 in 10 of their bands fell inside a range this wide around its mark. Read ${bandText(task.band)} as the middle of that range, not an exact score.`)
          : null,
        task.flags?.length ? h('p', {}, task.flags.map((f) => h('span', { class: 'badge failed' }, FLAGS[f] || f.replaceAll('_', ' '))).flatMap((b) => [b, ' '])) : null,
        criteriaTable(task.criteria, CRITERIA),
        h('h3', {}, 'Your text, with notes'),
        annotatedText(text, task.annotations),
        task.annotations?.length
          ? h('ul', { class: 'annotations' }, noteLines(task.annotations, text).map((note) =>
            h('li', {}, h('strong', {}, `${note.label}: `), note.text)))
          : h('p', { class: 'muted' }, 'No specific notes on this text.'));
    }),
    h('div', { class: 'actions' }, sample ? h('a', { class: 'button', href: '#/pricing' }, 'See prices') : h('a', { class: 'button', href: '#/dashboard' }, 'Back to the dashboard')));
  return view;
}
