// The dashboard's progress chart: bands per criterion over time, drawn as inline SVG from the results.
import { h, s } from './dom.js';

const COLOURS = ['#2b63c6', '#e8833a', '#1f7a4d', '#9b3fb5', '#b3261e'];

const WRITING = [
  ['task', 'Task achievement / response'],
  ['coherence_cohesion', 'Coherence and cohesion'],
  ['lexical_resource', 'Lexical resource'],
  ['grammatical_range_accuracy', 'Grammatical range and accuracy'],
];
const SPEAKING = [
  ['fluency_coherence', 'Fluency and coherence'],
  ['lexical_resource', 'Lexical resource'],
  ['grammatical_range_accuracy', 'Grammatical range and accuracy'],
  ['pronunciation', 'Pronunciation'],
];

/** Criterion bands of one writing result, averaged over its two tasks (Task 1 and Task 2 name the first differently). */
export function writingPoints(result) {
  const sums = {};
  for (const task of result.tasks || []) {
    for (const [key, value] of Object.entries(task.criteria || {})) {
      const name = key === 'task_achievement' || key === 'task_response' ? 'task' : key;
      (sums[name] ||= []).push(value.band);
    }
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0) / v.length]));
}

export function speakingPoints(result) {
  // A criterion not measured (band null) has no point.
  return Object.fromEntries(Object.entries(result.criteria || {}).filter(([, v]) => v.band !== null && v.band !== undefined).map(([k, v]) => [k, v.band]));
}

function lineChart(title, series, criteria) {
  // Sized for a phone: the SVG scales to the card, so a narrow viewBox keeps its labels readable at 360 px.
  const width = 360;
  const height = 200;
  const pad = { left: 26, right: 12, top: 10, bottom: 24 };
  const x = (i) => pad.left + (series.length === 1 ? (width - pad.left - pad.right) / 2 : (i * (width - pad.left - pad.right)) / (series.length - 1));
  const y = (band) => pad.top + ((9 - band) * (height - pad.top - pad.bottom)) / 9;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${title}: bands per criterion over ${series.length} assessments` },
    s('title', {}, `${title} progress`));
  for (let band = 0; band <= 9; band += 1) {
    svg.appendChild(s('line', { x1: pad.left, x2: width - pad.right, y1: y(band), y2: y(band), stroke: band % 3 === 0 ? '#c9d2e0' : '#eef1f6' }));
    if (band % 3 === 0) svg.appendChild(s('text', { x: pad.left - 8, y: y(band) + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#5b6575' }, String(band)));
  }
  series.forEach((point, i) => {
    svg.appendChild(s('text', { x: x(i), y: height - 8, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6575' }, point.date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })));
  });
  criteria.forEach(([key], c) => {
    // Criteria sit a few pixels apart on each date so equal bands do not hide one another.
    const shift = (c - (criteria.length - 1) / 2) * 5;
    const points = series.map((p, i) => (p.bands[key] === undefined ? null : [x(i) + shift, y(p.bands[key])])).filter(Boolean);
    if (points.length > 1) {
      svg.appendChild(s('polyline', { points: points.map((p) => p.join(',')).join(' '), fill: 'none', stroke: COLOURS[c], 'stroke-width': 2.5 }));
    }
    for (const [px, py] of points) svg.appendChild(s('circle', { cx: px, cy: py, r: 4, fill: COLOURS[c] }));
  });
  const legend = h('div', { class: 'legend' }, criteria.map(([, name], c) => {
    const item = h('span', {}, name);
    item.style.setProperty('--swatch', COLOURS[c]);
    return item;
  }));
  return h('figure', { class: 'card chart-wrap', style: null }, h('h3', {}, title), svg, legend);
}

/** Charts of the scored assessments (writing and speaking separately), oldest first. */
export function progressChart(assessments) {
  const scored = assessments.filter((a) => a.status === 'scored' && a.result)
    .sort((a, b) => a.created_at.localeCompare(b.created_at));
  const writing = scored.filter((a) => a.module.endsWith('_writing'))
    .map((a) => ({ date: new Date(a.created_at), bands: writingPoints(a.result) }));
  const speaking = scored.filter((a) => a.module.endsWith('_speaking'))
    .map((a) => ({ date: new Date(a.created_at), bands: speakingPoints(a.result) }));
  if (!writing.length && !speaking.length) {
    return h('p', { class: 'card' }, 'Your bands per criterion appear here after your first scored assessment.');
  }
  return h('div', { class: 'grid grid-2' },
    writing.length ? lineChart('Writing', writing, WRITING) : null,
    speaking.length ? lineChart('Speaking', speaking, SPEAKING) : null);
}
