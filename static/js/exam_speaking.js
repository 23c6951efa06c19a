// The speaking result (the test room itself is speaking_room.js).
import { h, mount } from './dom.js';
import { criteriaTable, markedBy, scoredOrNull } from './exam_writing.js';

const CRITERIA = {
  fluency_coherence: 'Fluency and coherence',
  lexical_resource: 'Lexical resource',
  grammatical_range_accuracy: 'Grammatical range and accuracy',
  pronunciation: 'Pronunciation',
};

const METRICS = {
  speech_rate_wpm: ['Speech rate', (v) => `${Math.round(v)} words/min`],
  mean_length_of_run: ['Mean length of run', (v) => `${v.toFixed(1)} words`],
  pause_ratio: ['Time in pauses', (v) => `${Math.round(v * 100)} %`],
};

export async function speakingResult(view, scoring, app) {
  const assessment = await scoredOrNull(view, scoring, app, 'speaking');
  if (!assessment) return view;
  const result = assessment.result;
  const metrics = result.metrics || {};
  mount(view,
    h('h1', {}, `${app.label(assessment.module)}: your result`),
    h('section', { class: 'card' },
      h('p', { class: 'muted' }, 'Overall speaking band'),
      h('p', { class: 'band', 'data-testid': 'overall-band' }, String(result.overall_band)),
      h('p', { class: 'muted' }, `${markedBy(result.engine)}.`)),
    h('section', { class: 'card' }, h('h2', {}, 'Bands per criterion'), criteriaTable(result.criteria, CRITERIA)),
    h('section', { class: 'card' }, h('h2', {}, 'Fluency'),
      h('div', { class: 'metrics' }, Object.entries(metrics).filter(([, v]) => typeof v === 'number').map(([key, value]) => {
        const [name, format] = METRICS[key] || [key.replaceAll('_', ' '), (v) => String(Math.round(v * 100) / 100)];
        return h('div', {}, name, h('strong', {}, format(value)));
      }))),
    h('section', { class: 'card' }, h('h2', {}, 'Transcript'),
      h('ol', { class: 'transcript', 'data-testid': 'result-transcript', tabindex: '0', 'aria-label': 'Transcript of your test' }, (result.transcript || []).map((turn) =>
        h('li', { class: turn.role }, h('span', { class: 'who' }, `${turn.role === 'examiner' ? 'Maya' : 'You'} · Part ${turn.part}`), turn.text)))),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/dashboard' }, 'Back to the dashboard')));
  return view;
}
