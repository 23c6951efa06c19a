// The speaking result (the test room itself is speaking_room.js; the result's sections are speaking_result.js).
import { h, mount } from './dom.js';
import { scoredOrNull } from './exam_writing.js';
import { speakingResultSections } from './speaking_result.js';

export async function speakingResult(view, scoring, app) {
  const assessment = await scoredOrNull(view, scoring, app, 'speaking');
  if (!assessment) return view;
  mount(view,
    h('h1', {}, `${app.label(assessment.module)}: your result`),
    speakingResultSections(assessment.result),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/dashboard' }, 'Back to the dashboard')));
  return view;
}
