// The speaking result: the band (or why there is none), what was missing, three things to work on in the
// candidate's own words, plain figures beside bands 6 and 7, each answer's relevance, and the transcript with the
// words the recogniser was unsure of highlighted. Pure helpers are exported for node --test.
import { h } from './dom.js';
import { markedBy } from './exam_writing.js';

const CRITERIA = {
  fluency_coherence: 'Fluency and coherence',
  lexical_resource: 'Lexical resource',
  grammatical_range_accuracy: 'Grammatical range and accuracy',
  pronunciation: 'Pronunciation',
};

/** The headline: the band, a provisional band, or none, with a plain reason. */
export function bandSummary(result) {
  const missing = result.evidence?.missing || [];
  if (result.overall_band !== null && result.overall_band !== undefined) {
    return { label: 'Overall speaking band', band: String(result.overall_band), note: '' };
  }
  if (result.provisional_band !== null && result.provisional_band !== undefined) {
    return {
      label: 'Provisional band (not a full result)',
      band: String(result.provisional_band),
      note: `This is only an estimate. ${missing.join(' ')}`.trim(),
    };
  }
  return { label: 'No band', band: '–', note: missing.join(' ') || 'Too little of your speech was heard to mark.' };
}

/** A transcript text cut into pieces, the unsure spans marked. */
export function transcriptPieces(text, unsure = []) {
  const pieces = [];
  let at = 0;
  for (const span of [...unsure].sort((a, b) => a.start - b.start)) {
    if (span.start < at || span.end > text.length) continue;
    if (span.start > at) pieces.push({ text: text.slice(at, span.start), unsure: false });
    pieces.push({ text: text.slice(span.start, span.end), unsure: true });
    at = span.end;
  }
  if (at < text.length) pieces.push({ text: text.slice(at), unsure: false });
  return pieces;
}

/** One figure as plain text: its value and what bands 6 and 7 expect. */
export function figureText(figure) {
  const value = figure.value === null || figure.value === undefined ? 'not measured' : `${figure.value} ${figure.unit}`;
  const direction = figure.better === 'lower' ? 'at most' : 'about';
  return { value, typical: `Band 6: ${direction} ${figure.band_6} · band 7: ${direction} ${figure.band_7}` };
}

function criterionBand(criterion) {
  if (criterion.band === null || criterion.band === undefined) return criterion.measured === false ? 'not measured' : '–';
  return criterion.provisional ? `${criterion.band} (provisional)` : String(criterion.band);
}

const VERDICTS = { relevant: 'answered the question', off_topic: 'off the question', memorised: 'sounded prepared' };

/** The result's sections, for the result screen. */
export function speakingResultSections(result) {
  const summary = bandSummary(result);
  const evidence = result.evidence || {};
  return [
    h('section', { class: 'card' },
      h('p', { class: 'muted' }, summary.label),
      h('p', { class: 'band', 'data-testid': 'overall-band' }, summary.band),
      summary.note ? h('p', { class: 'notice', 'data-testid': 'evidence-note' }, summary.note) : null,
      h('p', { class: 'muted' },
        `Parts taken: ${(evidence.parts_taken || []).join(', ') || 'none'} · ${Math.round(evidence.candidate_seconds || 0)} s of your speech, ${evidence.candidate_words || 0} words · ${markedBy(result.engine)}.`)),
    (result.work_on || []).length ? h('section', { class: 'card' }, h('h2', {}, 'Work on these first'),
      h('ol', { class: 'work-on', 'data-testid': 'work-on' }, result.work_on.map((item) =>
        h('li', {}, h('strong', {}, item.title), h('blockquote', {}, `“${item.quote}” (Part ${item.part})`), h('p', {}, item.advice))))) : null,
    h('section', { class: 'card' }, h('h2', {}, 'Bands per criterion'),
      h('table', { class: 'criteria' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Band'), h('th', { scope: 'col' }, 'Criterion and feedback'))),
        h('tbody', {}, Object.keys(CRITERIA).filter((key) => result.criteria?.[key]).map((key) =>
          h('tr', {}, h('td', { class: 'num' }, criterionBand(result.criteria[key])),
            h('td', {}, h('strong', {}, CRITERIA[key]), h('br'), result.criteria[key].feedback)))))),
    (result.figures || []).length ? h('section', { class: 'card' }, h('h2', {}, 'Your figures'),
      h('div', { class: 'metrics', 'data-testid': 'figures' }, result.figures.map((figure) => {
        const text = figureText(figure);
        return h('div', {}, figure.label, h('strong', {}, text.value), h('span', { class: 'muted' }, text.typical));
      }))) : null,
    (result.relevance || []).length ? h('section', { class: 'card' }, h('h2', {}, 'Did you answer the question?'),
      h('ul', { class: 'relevance' }, result.relevance.map((item) =>
        h('li', { class: item.verdict }, h('span', { class: 'muted' }, `Part ${item.part}: ${item.question}`), h('br'),
          `“${item.answer}”: ${VERDICTS[item.verdict] || item.verdict}`)))) : null,
    h('section', { class: 'card' }, h('h2', {}, 'Transcript'),
      (result.transcript || []).some((t) => (t.unsure || []).length)
        ? h('p', { class: 'muted' }, 'Highlighted words are ones the speech recogniser was unsure of.') : null,
      h('ol', { class: 'transcript', 'data-testid': 'result-transcript', tabindex: '0', 'aria-label': 'Transcript of your test' }, (result.transcript || []).map((turn) =>
        h('li', { class: turn.role }, h('span', { class: 'who' }, `${turn.role === 'examiner' ? 'Maya' : 'You'} · Part ${turn.part}`),
          transcriptPieces(turn.text, turn.unsure).map((piece) => (piece.unsure ? h('mark', { class: 'unsure' }, piece.text) : piece.text)))))),
  ];
}
